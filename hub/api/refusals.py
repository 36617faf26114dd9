"""The REST API's refusals: one envelope for every error it gives (docs/rest.md).

Whoever refuses a call — the store or a device (``DeviceError``), the body's
validation, the door (no token, an unknown path, a wrong method, a body too large or
not JSON) or the hub failing — the answer is the bus's response envelope,
``{"request_id", "ok": false, "result": null, "error": {"code", "message", "retryable",
"details"}}``, and the HTTP status follows the code.  ``install_refusals`` puts the
handlers on an app once; ``JsonRoute`` reads every JSON body with the bus's parser.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

import pydantic_core
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response as StarletteResponse

from bus.payloads import DeviceError, ErrorCode, Response, describe_json_problem

log = logging.getLogger(__name__)

#: The HTTP status that goes with each error code.
HTTP_STATUS = {
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.UNKNOWN_TARGET: 404,
    ErrorCode.UNKNOWN_ACTION: 400,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_CLAIMED: 409,
    ErrorCode.CLAIMED_BY_OTHER: 409,
    ErrorCode.DEVICE_OFFLINE: 503,
    ErrorCode.DEVICE_ERROR: 502,
    ErrorCode.BUSY: 429,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.CONFLICT: 409,
    ErrorCode.CANCELLED: 409,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INSUFFICIENT_BALANCE: 409,
    ErrorCode.STORAGE_FULL: 507,
    ErrorCode.INTERNAL: 500,
}

#: The code of each refusal HTTP itself gives, before any request's code is known.
#: A 401 says ``forbidden``: the bus has no code for a caller it does not know (the
#: broker turns such clients away before they can ask anything).
HTTP_REFUSALS = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.FORBIDDEN,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.INVALID_REQUEST,
    413: ErrorCode.INVALID_REQUEST,
    415: ErrorCode.INVALID_REQUEST,
}

INTERNAL_MESSAGE = "the hub failed on this request; see its log"


def refusal(
    status: int,
    code: ErrorCode,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Response.failure(request_id, code, message, details)
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def install_refusals(app: FastAPI) -> None:
    """The envelope for every error ``app`` can give; called once, by the app factory."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [_field(error) for error in exc.errors()]
        request_id = exc.body.get("request_id") if isinstance(exc.body, dict) else None
        return refusal(
            400,
            ErrorCode.INVALID_REQUEST,
            "; ".join(f"{f['field']}: {f['reason']}" for f in fields),
            {"field": fields[0]["field"] if fields else None, "fields": fields},
            request_id=request_id if isinstance(request_id, str) else None,
        )

    @app.exception_handler(DeviceError)
    async def refused(request: Request, exc: DeviceError) -> JSONResponse:
        log.info("%s %s refused: %s %s", request.method, request.url.path, exc.code.value, exc.message)
        answer = exc.to_response(None)
        return JSONResponse(answer.model_dump(mode="json"), status_code=HTTP_STATUS[exc.code])

    @app.exception_handler(StarletteHTTPException)
    async def turned_away(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """No token, no such path, a method the path does not take, a body too large or not JSON."""
        status = exc.status_code
        code = HTTP_REFUSALS.get(status, ErrorCode.INTERNAL if status >= 500 else ErrorCode.INVALID_REQUEST)
        given = isinstance(exc.detail, str) and exc.detail != _phrase(status)
        message = exc.detail if given else _plain_message(request, exc)
        return refusal(status, code, message, headers=exc.headers)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        # Starlette raises the exception again once this answer is out, so the server logs
        # its traceback; this line says which call it was.  repr: a message may hold
        # anything, even characters the log file cannot take.
        log.error("%s %s failed (%r): answered internal", request.method, request.url.path, exc)
        return refusal(500, ErrorCode.INTERNAL, INTERNAL_MESSAGE)


def _field(error: Any) -> dict[str, str]:
    if error["type"] == "json_invalid":  # the whole body, at a byte offset that means little to a till
        return {"field": "body", "reason": error.get("ctx", {}).get("error", error["msg"])}
    return {"field": ".".join(str(p) for p in error["loc"]), "reason": error["msg"]}


def _plain_message(request: Request, exc: StarletteHTTPException) -> str:
    """Starlette's bare phrases ("Not Found"), said for the call at hand."""
    if exc.status_code == 404:
        return f"there is no {request.url.path} on this hub; /docs lists what there is"
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return f"{request.url.path} does not take {request.method}" + (f"; it takes {allowed}" if allowed else "")
    return _phrase(exc.status_code)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


# -- the JSON door ---------------------------------------------------------------------


class JsonBody(Request):
    """A request whose JSON body is read by the bus's own parser (pydantic-core's, as
    ``Request.model_validate_json`` on MQTT), so REST refuses what MQTT refuses: lone
    surrogates (which no answer could carry back), invalid UTF-8, and nesting deeper than
    its 200 levels (which would exhaust the stack of whatever walks the value later)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = pydantic_core.from_json(body)
            except ValueError as exc:
                # FastAPI turns a JSONDecodeError into a validation error: invalid_request,
                # with the same reason a till on MQTT would get.
                raise json.JSONDecodeError(describe_json_problem(str(exc), body), "", 0) from exc
        return self._json


def _declared_json(content_type: str | None) -> bool:
    kind = (content_type or "").partition(";")[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


class JsonRoute(APIRoute):
    """Every route of the API: its body is JSON, said so (415 otherwise) and read strictly."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, StarletteResponse]]:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None

        async def through_the_door(request: Request) -> StarletteResponse:
            request = JsonBody(request.scope, request.receive)
            if takes_body and await request.body() and not _declared_json(request.headers.get("content-type")):
                raise HTTPException(415, "send the body as JSON, with Content-Type: application/json")
            return await handler(request)

        return through_the_door


# -- what the OpenAPI document says ------------------------------------------------------


def refusal_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these refusals and any other (``default``): all the envelope.

    Declaring ``default`` also keeps FastAPI from adding its own 422 ``{"detail"}``, which
    this API never answers."""
    described = {status: {"model": Response, "description": _description(status)} for status in sorted(set(statuses))}
    return described | {"default": {"model": Response, "description": "Any other refusal: the same envelope."}}


def _description(status: int) -> str:
    codes = [code.value for code, http in HTTP_STATUS.items() if http == status]
    door = {
        401: "no valid bearer token: forbidden, with WWW-Authenticate: Bearer",
        405: "a method the path does not take: invalid_request",
        413: "a body over the size limit: invalid_request",
        415: "a body not sent as JSON: invalid_request",
    }
    return door.get(status) or ", ".join(codes) or _phrase(status)


#: The refusals the store's routes give (products to sync), each with the envelope.
STORE_REFUSALS = refusal_responses(400, 401, 403, 404, 409, 413, 415, 429, 507)
