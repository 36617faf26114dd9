"""The REST API: the same requests as on MQTT, for tills that prefer HTTP, and the
store API (``hub.store_api``: products, stock, loyalty, pickups, orders, sync).

Callers authenticate with ``Authorization: Bearer <client-id>:<secret>``, the same id
and secret they use on MQTT.  Request and response bodies are the bus envelopes; the
HTTP status mirrors the error code so plain HTTP clients can react without reading
the body.  OpenAPI is served at ``/openapi.json``, and read at ``/docs`` and
``/redoc`` (``hub.api_docs``).
"""

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi import Request as HttpRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bus.passwords import verify_secret
from bus.payloads import MAX_REQUEST_BYTES, DeviceError, DeviceStateDoc, ErrorCode, Request, Response
from cloud_link.link import CloudLink
from devices.supervisor import DeviceSupervisor
from hub.api_docs import install_docs
from hub.api_refusals import JsonRoute
from hub.config import ClientConfig, StoreHubConfig
from hub.metrics import HubMetrics
from hub.requests import RequestRouter
from hub.store.domain import StoreDomain
from hub.store_api import store_router

if TYPE_CHECKING:
    from hub.app import Hub

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

    def response(self) -> JSONResponse:
        """The envelope every refusal has, with HTTP 413."""
        body = Response.failure(None, ErrorCode.INVALID_REQUEST, self.detail)
        return JSONResponse(body.model_dump(mode="json"), status_code=413)


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
            await BodyTooLarge(limit).response()(scope, receive, send)
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


def _field(error: Any) -> dict[str, str]:
    if error["type"] == "json_invalid":  # the whole body, at a byte offset that means little to a till
        return {"field": "body", "reason": f"not valid JSON: {error.get('ctx', {}).get('error', error['msg'])}"}
    return {"field": ".".join(str(p) for p in error["loc"]), "reason": error["msg"]}


def create_api(services: ApiServices) -> FastAPI:
    app = FastAPI(
        title="StoreHub",
        summary="The in-store server: devices, arbitration and the store's omnichannel link.",
        version=services.hub.version,
        docs_url=None,  # served by install_docs, from the hub's own copy of Swagger UI
        redoc_url=None,
    )
    # Before any route: every route, the store API's too, reads its body through the JSON door.
    app.router.route_class = JsonRoute
    install_docs(app)
    bearer = HTTPBearer(auto_error=False, description="<client-id>:<secret>")

    def get_services() -> ApiServices:
        return services

    Services = Annotated[ApiServices, Depends(get_services)]

    # async: a sync dependency would cost every call a trip through the thread pool.
    async def authenticated_client(
        services: Services, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> ClientConfig:
        refusal = HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a bearer token <client-id>:<secret> of a configured client is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
        if credentials is None:
            raise refusal
        client_id, _, secret = credentials.credentials.partition(":")
        client = services.config.client(client_id)
        if client is None or not secret or not verify_secret(secret, client.secret_hash):
            raise refusal
        return client

    Caller = Annotated[ClientConfig, Depends(authenticated_client)]

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: HttpRequest, exc: RequestValidationError) -> JSONResponse:
        fields = [_field(error) for error in exc.errors()]
        problems = "; ".join(f"{f['field']}: {f['reason']}" for f in fields)
        request_id = exc.body.get("request_id") if isinstance(exc.body, dict) else None
        body = Response.failure(
            request_id if isinstance(request_id, str) else None,
            ErrorCode.INVALID_REQUEST,
            problems,
            {"field": fields[0]["field"] if fields else None, "fields": fields},
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=400)

    @app.exception_handler(DeviceError)
    async def refused(request: HttpRequest, exc: DeviceError) -> JSONResponse:
        log.info("%s %s refused: %s %s", request.method, request.url.path, exc.code.value, exc.message)
        return JSONResponse(exc.to_response(None).model_dump(mode="json"), status_code=HTTP_STATUS[exc.code])

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: HttpRequest, exc: BodyTooLarge) -> JSONResponse:
        return exc.response()

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

    @app.get("/api/v1/devices", tags=["devices"], summary="Every device and its state.")
    async def list_devices(services: Services, caller: Caller) -> list[DeviceStateDoc]:
        return [actor.state_document() for actor in services.devices.actors()]

    @app.get("/api/v1/devices/{device_id}", tags=["devices"], summary="One device's state.")
    async def get_device(device_id: str, services: Services, caller: Caller) -> DeviceStateDoc:
        actor = services.devices.get(device_id)
        if actor is None:
            raise HTTPException(404, detail=f"no device {device_id!r} in this store")
        return actor.state_document()

    @app.post(
        "/api/v1/devices/{device_id}/requests",
        tags=["devices"],
        summary="Send a device the same request a till would send over MQTT.",
        response_model=Response,
        responses={code: {"model": Response} for code in sorted(set(HTTP_STATUS.values()))},
    )
    async def device_request(device_id: str, request: Request, services: Services, caller: Caller) -> JSONResponse:
        response = await services.router.execute(caller.id, device_id, request)
        code = 200 if response.ok else HTTP_STATUS[response.error.code]  # type: ignore[union-attr]
        return JSONResponse(response.model_dump(mode="json"), status_code=code)

    app.include_router(store_router(services.store, services.link, authenticated_client))
    return app
