"""The REST API: the same requests as on MQTT, for tills that prefer HTTP, and the
store API (``hub.store_api``: products, stock, loyalty, pickups, orders, sync).

Callers authenticate with ``Authorization: Bearer <client-id>:<secret>``, the same id
and secret they use on MQTT.  Request and response bodies are the bus envelopes; the
HTTP status mirrors the error code so plain HTTP clients can react without reading
the body, and every error, whoever gives it, has that envelope (``hub.api_refusals``).
OpenAPI is served at ``/openapi.json``, and read at ``/docs`` and ``/redoc``, whose
scripts come from the hub itself (``fastapi-offline``), not a CDN.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bus.passwords import verify_secret
from bus.payloads import MAX_REQUEST_BYTES, DeviceError, DeviceStateDoc, ErrorCode, Request, Response
from cloud_link.link import CloudLink
from devices.supervisor import DeviceSupervisor
from hub.api_refusals import HTTP_STATUS, JsonRoute, install_refusals, refusal, refusal_responses
from hub.config import ClientConfig, StoreHubConfig
from hub.metrics import HubMetrics
from hub.requests import RequestRouter
from hub.store.domain import StoreDomain
from hub.store_api import store_router

if TYPE_CHECKING:
    from hub.app import Hub

#: Where /docs and /redoc find their scripts, styles and icon (the fastapi-offline package's).
DOCS_ASSETS = "/docs/assets"

#: The cloud's inbound batches may carry a whole price book page (5,000 items).
MAX_INBOUND_BYTES = 4 * 1024 * 1024
LARGER_BODIES = {"/api/v1/sync/inbound": MAX_INBOUND_BYTES}


@dataclass(frozen=True)
class ApiServices:
    config: StoreHubConfig
    router: RequestRouter
    devices: DeviceSupervisor
    metrics: HubMetrics
    store: StoreDomain
    link: CloudLink
    hub: "Hub"


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
        version=services.hub.version,
        # /docs and /redoc load Swagger UI and ReDoc from the hub itself (a shop's back
        # office may have no internet), and Swagger UI asks no online validator.
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},
    )
    # Before any route that reads a body: every route, the store API's too, reads it through the JSON door.
    app.router.route_class = JsonRoute
    install_refusals(app)
    bearer = HTTPBearer(auto_error=False, description="<client-id>:<secret>")

    def get_services() -> ApiServices:
        return services

    Services = Annotated[ApiServices, Depends(get_services)]

    # async: a sync dependency would cost every call a trip through the thread pool.
    async def authenticated_client(
        services: Services, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> ClientConfig:
        unknown_caller = HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a bearer token <client-id>:<secret> of a configured client is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
        if credentials is None:
            raise unknown_caller
        client_id, _, secret = credentials.credentials.partition(":")
        client = services.config.client(client_id)
        if client is None or not secret or not verify_secret(secret, client.secret_hash):
            raise unknown_caller
        return client

    Caller = Annotated[ClientConfig, Depends(authenticated_client)]

    app.add_middleware(BodyLimit, limit=MAX_REQUEST_BYTES, larger=LARGER_BODIES)

    @app.get("/healthz", tags=["health"], summary="The process is alive.")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"], summary="Connected to the broker and serving.")
    async def readyz(services: Services) -> JSONResponse:
        ready, reason = services.hub.ready()
        return JSONResponse({"ready": ready, "reason": reason}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics.", response_class=PlainTextResponse)
    async def metrics(services: Services) -> PlainTextResponse:
        return PlainTextResponse(services.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get(
        "/api/v1/devices", tags=["devices"], summary="Every device and its state.", responses=refusal_responses(401)
    )
    async def list_devices(services: Services, caller: Caller) -> list[DeviceStateDoc]:
        return [actor.state_document() for actor in services.devices.actors()]

    @app.get(
        "/api/v1/devices/{device_id}",
        tags=["devices"],
        summary="One device's state.",
        responses=refusal_responses(401, 404),
    )
    async def get_device(device_id: str, services: Services, caller: Caller) -> DeviceStateDoc:
        actor = services.devices.get(device_id)
        if actor is None:  # as a request to it would be answered
            raise DeviceError(ErrorCode.UNKNOWN_TARGET, f"no device {device_id!r} in this store")
        return actor.state_document()

    @app.post(
        "/api/v1/devices/{device_id}/requests",
        tags=["devices"],
        summary="Send a device the same request a till would send over MQTT.",
        response_model=Response,
        responses=refusal_responses(401, 413, 415, *HTTP_STATUS.values()),
    )
    async def device_request(device_id: str, request: Request, services: Services, caller: Caller) -> JSONResponse:
        response = await services.router.execute(caller.id, device_id, request)
        code = 200 if response.ok else HTTP_STATUS[response.error.code]  # type: ignore[union-attr]
        return JSONResponse(response.model_dump(mode="json"), status_code=code)

    app.include_router(store_router(services.store, services.link, authenticated_client))
    return app
