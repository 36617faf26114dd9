"""The REST API: the same requests as on MQTT, for tills that prefer HTTP, and the
store's own (products, stock, loyalty, pickups, orders, the manager's views, sync).

``create_api`` builds the app from the hub's parts (``deps.ApiServices``); the routes,
one module per resource, are in ``routes/``, and what they are given in ``deps``.
Callers authenticate with ``Authorization: Bearer <client-id>:<secret>``, the same id
and secret they use on MQTT.  Request and response bodies are the bus envelopes; the
HTTP status mirrors the error code so plain HTTP clients can react without reading
the body, and every error, whoever gives it, has that envelope (``refusals``).
OpenAPI is served at ``/openapi.json``, and read at ``/docs`` and ``/redoc``, whose
scripts come from the hub itself (``fastapi-offline``), not a CDN.
"""

from fastapi import FastAPI, HTTPException
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bus.payloads import MAX_REQUEST_BYTES, ErrorCode
from hub.api.deps import ApiServices
from hub.api.refusals import JsonRoute, install_refusals, refusal
from hub.api.routes import devices, health, loyalty, manager, orders, pickups, products, stock, sync

#: Where /docs and /redoc find their scripts, styles and icon (the fastapi-offline package's).
DOCS_ASSETS = "/docs/assets"

#: The cloud's inbound batches may carry a whole price book page (5,000 items).
MAX_INBOUND_BYTES = 4 * 1024 * 1024
LARGER_BODIES = {"/api/v1/sync/inbound": MAX_INBOUND_BYTES}


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"body exceeds the limit of {limit} bytes")


class BodyLimit:
    """Refuses bodies over the limit, whether announced (Content-Length) or streamed (chunked)."""

    def __init__(self, app: ASGIApp, limit: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.limit)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            # Out here no exception handler would catch BodyTooLarge: answer it directly.
            answer = refusal(413, ErrorCode.INVALID_REQUEST, BodyTooLarge(limit).detail)
            await answer(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


#: What the OpenAPI document says first, on /docs too.
API_DESCRIPTION = """\
Every call but the health checks and these pages needs `Authorization: Bearer <client-id>:<secret>`.

**One envelope for every error.** Whatever refuses a call (a missing token, an unknown path, a bad
body, a role, a device, the store, the hub failing), the answer is the bus's
`{"request_id", "ok": false, "result": null, "error": {"code", "message", "retryable", "details"}}`,
and the HTTP status follows `error.code` (docs/rest.md).
"""


def create_api(services: ApiServices) -> FastAPI:
    app = FastAPIOffline(
        title="StoreHub",
        summary="The in-store server: devices, arbitration and the store's omnichannel link.",
        description=API_DESCRIPTION,
        version=services.version,
        # /docs and /redoc load Swagger UI and ReDoc from the hub itself (a shop's back
        # office may have no internet), and Swagger UI asks no online validator.
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.services = services
    # Every route reads its body through the JSON door: the routers of routes/ say so
    # themselves, and a route put on the app itself gets it from here.
    app.router.route_class = JsonRoute
    install_refusals(app)
    app.add_middleware(BodyLimit, limit=MAX_REQUEST_BYTES, larger=LARGER_BODIES)
    for resource in (health, devices, products, stock, loyalty, pickups, orders, manager, sync):
        app.include_router(resource.router)
    return app
