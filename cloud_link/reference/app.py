"""The reference cloud's HTTP face.  ``create_cloud_app`` takes its collaborators and builds the routes.

Stores authenticate with their own bearer token, the admin with the admin token; the
cloud keeps SHA-256 digests only.  Blocking SQLite work runs in the thread pool, so a
batch being committed never stalls a long poll.  docs/cloud.md is the contract.
"""

# No ``from __future__ import annotations``: the routes' Annotated aliases are local to
# create_cloud_app, and FastAPI must see them evaluated.
import asyncio
import contextlib
import datetime as dt
import hmac
import logging
from collections.abc import Mapping
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud_link.contract import INBOUND_KINDS, MAX_SERIAL, BatchReceipt, InboundPage, Position, PublishedItems
from cloud_link.reference import db
from cloud_link.reference.bell import InboundBell
from cloud_link.reference.body import read_body
from cloud_link.reference.config import CloudConfig, token_digest
from cloud_link.reference.errors import CloudError, Forbidden, InvalidRequest, Unauthorized, UnknownStore, invalid
from cloud_link.reference.faults import Faults, InjectedFault
from cloud_link.reference.intake import parse_json, read_batch
from cloud_link.reference.page import render_page
from cloud_link.reference.puller import StorePuller
from cloud_link.reference.schemas import (
    DEFAULT_EVENTS_PAGE,
    DEFAULT_INBOUND_PAGE,
    MAX_BODY_BYTES,
    MAX_EVENTS_PAGE,
    MAX_INBOUND_PAGE,
    MAX_INBOUND_WAIT_S,
    ErrorBody,
    FaultChange,
    FaultSettings,
    Published,
    StoreList,
    StoreSummary,
)

log = logging.getLogger("storehub.cloud")

#: What the refusals look like, for the OpenAPI description.
REFUSALS = {status: {"model": ErrorBody} for status in (400, 401, 403, 404, 413, 415)}


class Tokens:
    """Who a bearer token belongs to: a store, the admin, or nobody."""

    def __init__(self, config: CloudConfig) -> None:
        self._stores = [(store.id, store.token_sha256) for store in config.stores]
        self._admin = config.admin_token_sha256

    def store_for(self, token: str | None) -> str | None:
        if not token:
            return None
        digest = token_digest(token)
        # Compare with every store, no early exit: the time says nothing about which one.
        matches = [store_id for store_id, expected in self._stores if hmac.compare_digest(digest, expected)]
        return matches[0] if matches else None

    def is_admin(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token_digest(token), self._admin)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_cloud_app(
    *,
    config: CloudConfig,
    database: db.CloudDatabase,
    pullers: Mapping[str, StorePuller] | None = None,
    faults: Faults | None = None,
    bell: InboundBell | None = None,
) -> FastAPI:
    pullers = pullers or {}
    faults = faults or Faults()
    bell = bell or InboundBell()
    tokens = Tokens(config)
    names = {store.id: store.name for store in config.stores}
    bearer = HTTPBearer(auto_error=False, description="A store's token, or the admin token.")
    Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    StorePath = Annotated[str, Path(description="The store's id.")]

    async def store_caller(store: StorePath, credentials: Credentials, request: Request) -> str:
        caller = tokens.store_for(credentials.credentials if credentials else None)
        if caller is None:
            raise Unauthorized("a store's bearer token is needed")
        if store not in names:
            raise UnknownStore(f"no store {store!r} here")
        if caller != store:
            raise Forbidden(f"this token is {caller}'s, not {store}'s")
        await faults.before_answer(f"{request.method} {request.url.path}")
        return store

    async def admin(credentials: Credentials) -> None:
        token = credentials.credentials if credentials else None
        if tokens.is_admin(token):
            return
        if tokens.store_for(token):
            raise Forbidden("a store's token does not open the admin endpoints")
        raise Unauthorized("the admin bearer token is needed")

    def known(store: str) -> str:
        if store not in names:
            raise UnknownStore(f"no store {store!r} here")
        return store

    StoreCaller = Annotated[str, Depends(store_caller)]
    KnownStore = Annotated[str, Depends(known)]

    app = FastAPIOffline(
        title="StoreHub reference cloud",
        version="1",
        summary="Receives every store's events exactly once and publishes prices, products and pickups to them.",
        responses=REFUSALS,
        # The demo's cloud runs beside the hub, offline too: its /docs loads nothing from a CDN.
        static_url="/docs/assets",
        swagger_ui_parameters={"validatorUrl": None},
    )

    # -- errors --------------------------------------------------------------------------

    @app.exception_handler(CloudError)
    async def refused(request: Request, exc: CloudError) -> JSONResponse:
        log.info("%s %s refused: %s %s", request.method, request.url.path, exc.code, exc.message)
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"][1:]) or str(first["loc"][0])
        return await refused(request, InvalidRequest(f"{field}: {first['msg']}", field=field))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code)

    @app.exception_handler(InjectedFault)
    async def injected(request: Request, exc: InjectedFault) -> Response:
        return Response(exc.body, status_code=exc.status, media_type="application/json")

    # -- for people ----------------------------------------------------------------------

    @app.get("/healthz", tags=["health"], summary="The process is alive.")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/", response_class=HTMLResponse, tags=["page"], summary="One row per store; counts only.")
    async def page() -> HTMLResponse:
        stores = await run_in_threadpool(db.store_summaries, db=database, names=names)
        return HTMLResponse(render_page([with_pull(store) for store in stores], utc_now()))

    def with_pull(store: StoreSummary) -> StoreSummary:
        puller = pullers.get(store.store_id)
        return store.model_copy(update={"pull": puller.status()}) if puller else store

    # -- for the stores ------------------------------------------------------------------

    @app.get("/v1/stores/{store}/position", tags=["store"], summary="How far the cloud holds this store's events.")
    async def store_position(store_id: StoreCaller) -> Position:
        return await run_in_threadpool(db.position, db=database, store_id=store_id)

    def take_batch(store_id: str, body: bytes, idempotency_key: str | None) -> BatchReceipt:
        batch, received = read_batch(body, store_id=store_id, idempotency_key=idempotency_key)
        receipt = db.ingest_batch(
            db=database,
            store_id=store_id,
            idempotency_key=f"{batch.first_seq}-{batch.last_seq}",
            received=received,
            head_seq=batch.head_seq,
            now=utc_now(),
        )
        log.info(
            "%s batch %d-%d: %d new, %d duplicates, %d conflicts; contiguous %d, head %d",
            store_id, batch.first_seq, batch.last_seq, receipt.accepted, receipt.duplicates, receipt.conflicts,
            receipt.contiguous_seq, batch.head_seq,
        )  # fmt: skip
        return receipt

    @app.post(
        "/v1/stores/{store}/events",
        tags=["store"],
        summary="A batch of the store's events (gzip or plain JSON); held once each, in one transaction.",
    )
    async def receive_batch(
        store_id: StoreCaller,
        request: Request,
        idempotency_key: Annotated[str | None, Header(description="first_seq-last_seq of the batch.")] = None,
    ) -> BatchReceipt:
        body = await read_body(request, limit=MAX_BODY_BYTES)
        receipt = await run_in_threadpool(take_batch, store_id, body, idempotency_key)
        await faults.hang_after_commit(request, f"{store_id} batch {idempotency_key}")
        return receipt

    @app.get(
        "/v1/stores/{store}/inbound",
        tags=["store"],
        summary="What was published for this store after a cursor; waits up to wait_s for news.",
        response_model=InboundPage,
    )
    async def inbound(
        store_id: StoreCaller,
        after: Annotated[int, Query(ge=0, le=MAX_SERIAL, description="The cursor of the last answer.")] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_INBOUND_PAGE)] = DEFAULT_INBOUND_PAGE,
        wait_s: Annotated[float, Query(ge=0, le=MAX_INBOUND_WAIT_S, description="Long poll.")] = 0,
    ) -> Response:
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            news = bell.next_ring(store_id)
            rows = await run_in_threadpool(
                db.publications_after, db=database, store_id=store_id, after=after, limit=limit
            )
            remaining = deadline - asyncio.get_running_loop().time()
            if rows or remaining <= 0 or bell.closed:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(news.wait(), remaining)
        page: dict[str, object] = {"cursor": rows[-1][0] if rows else after, **{kind: [] for kind in INBOUND_KINDS}}
        for _, kind, body in rows:
            page[kind].append(orjson.Fragment(body))
        return Response(orjson.dumps(page), media_type="application/json")

    # -- for the admin -------------------------------------------------------------------

    admin_routes = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(admin)])

    @admin_routes.get("/stores", summary="Every store: what it sent, how far it is safe, its lag and gaps.")
    async def list_stores() -> StoreList:
        stores = await run_in_threadpool(db.store_summaries, db=database, names=names)
        return StoreList(stores=[with_pull(store) for store in stores])

    @admin_routes.post(
        "/stores/{store}/inbound", summary="Publish products, prices, pickups, loyalty, stock for a store."
    )
    async def publish(store: KnownStore, request: Request) -> Published:
        body = await read_body(request, limit=MAX_BODY_BYTES)
        try:
            items = PublishedItems.model_validate(parse_json(body))
        except ValidationError as exc:
            raise invalid(exc) from None
        published = await run_in_threadpool(
            db.publish, db=database, store_id=store, items=items.model_dump(), now=utc_now()
        )
        bell.ring(store)
        counts = ", ".join(f"{len(v)} {kind}" for kind, v in items.model_dump().items() if v) or "nothing"
        log.info("%s: published %s (cursor %d)", store, counts, published.cursor)
        return published

    @admin_routes.get("/stores/{store}/events", summary="The events held for a store, in seq order, as received.")
    async def list_events(
        store: KnownStore,
        after: Annotated[int, Query(ge=0, le=MAX_SERIAL)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_PAGE)] = DEFAULT_EVENTS_PAGE,
    ) -> Response:
        documents = await run_in_threadpool(db.event_documents, db=database, store_id=store, after=after, limit=limit)
        return Response(
            orjson.dumps({"events": [orjson.Fragment(d) for d in documents]}), media_type="application/json"
        )

    @admin_routes.get("/faults", summary="The faults set now.")
    async def show_faults() -> FaultSettings:
        return faults.settings

    @admin_routes.post("/faults", summary="Set the faults given; the others stay as they are.")
    async def set_faults(change: FaultChange) -> FaultSettings:
        return faults.change(change)

    @admin_routes.delete("/faults", summary="Clear every fault.")
    async def clear_faults() -> FaultSettings:
        return faults.clear()

    app.include_router(admin_routes)
    return app
