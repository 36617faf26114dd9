"""The REST API's refusals (docs/rest.md).

``JsonRoute`` reads every JSON body with the bus's parser, so the REST door refuses
what the MQTT door refuses, with the same ``invalid_request``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import pydantic_core
from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response as StarletteResponse

# -- the JSON door ---------------------------------------------------------------------


class JsonBody(Request):
    """A request whose JSON body is read by the bus's own parser (pydantic-core's, as
    ``Request.model_validate_json`` on MQTT), so REST refuses what MQTT refuses: lone
    surrogates (which no answer could carry back), invalid UTF-8, and nesting deeper than
    its 200 levels (which would exhaust the stack of whatever walks the value later)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = pydantic_core.from_json(await self.body())
            except ValueError as exc:
                # FastAPI turns a JSONDecodeError into a validation error: invalid_request.
                raise json.JSONDecodeError(str(exc), "", 0) from exc
        return self._json


class JsonRoute(APIRoute):
    """Every route of the API: its JSON body is read strictly."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, StarletteResponse]]:
        handler = super().get_route_handler()

        async def through_the_door(request: Request) -> StarletteResponse:
            return await handler(JsonBody(request.scope, request.receive))

        return through_the_door
