"""The store API: products, stock, loyalty, pickups, kiosk orders, labels and the
cloud's sync feed (docs/rest.md).  Mounted under ``/api/v1`` by ``hub.api``.

Each route names the part of the store it belongs to; ``hub.permissions.STORE_ROLES``
says which roles may use it.  Refusals are the bus's error envelope, as every error
of the API (``hub.api_refusals``), with the field at fault in ``error.details.field``.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import StringConstraints

from bus.payloads import ErrorCode
from cloud_link.contract import MAX_SERIAL, Feed
from cloud_link.link import CloudLink
from cloud_link.state import SyncState
from hub.api_refusals import JsonRoute, refusal_responses
from hub.config import ClientConfig
from hub.permissions import check_store_access
from hub.store.domain import MAX_FEED_WAIT_S, StoreDomain
from hub.store.errors import StoreError
from hub.store.schemas import (
    AccrualCreate,
    Card,
    Gtin,
    InboundBatch,
    InboundReport,
    KioskOrderCreate,
    KioskOrderPublic,
    LabelQueue,
    LoyaltyMovePublic,
    LoyaltyPublic,
    PickupList,
    PickupPublic,
    PickupState,
    PickupTransition,
    ProductPublic,
    ProductSearch,
    RedemptionCreate,
    Sku,
    StockMoveCreate,
    StockMovePublic,
    SyncAck,
    SyncAckResult,
)

#: Most events one feed page carries: a few hundred kilobytes at most.
MAX_FEED_PAGE = 1000


#: The refusals the store API gives, each with the bus's envelope as every error has.
REFUSALS = refusal_responses(400, 401, 403, 404, 409, 413, 415, 429, 507)

OrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


def store_router(domain: StoreDomain, link: CloudLink, caller: Callable[..., ClientConfig]) -> APIRouter:
    """``caller`` is the API's authentication dependency (it returns the client).

    The checkout's lookups (a product, a card) are ``async``: they read one indexed row
    or two in well under a millisecond, less than a trip through the thread pool costs.
    Searches and lists, which may read more, run in the pool."""
    router = APIRouter(prefix="/api/v1", responses=REFUSALS, route_class=JsonRoute)

    def role(part: str) -> Callable[..., Any]:
        async def allowed(client: Annotated[ClientConfig, Depends(caller)]) -> ClientConfig:
            check_store_access(client.role, part)
            return client

        return allowed

    Shopper = Annotated[ClientConfig, Depends(role("products"))]
    Stocker = Annotated[ClientConfig, Depends(role("stock_moves"))]
    LoyaltyReader = Annotated[ClientConfig, Depends(role("loyalty_read"))]
    LoyaltyWriter = Annotated[ClientConfig, Depends(role("loyalty_write"))]
    PickupReader = Annotated[ClientConfig, Depends(role("pickups"))]
    PickupWriter = Annotated[ClientConfig, Depends(role("pickup_transitions"))]
    Orderer = Annotated[ClientConfig, Depends(role("kiosk_orders"))]
    Manager = Annotated[ClientConfig, Depends(role("manager_views"))]
    SyncWatcher = Annotated[ClientConfig, Depends(role("sync_state"))]
    SyncController = Annotated[ClientConfig, Depends(role("sync_control"))]

    async def puller(client: Annotated[ClientConfig, Depends(role("sync"))]) -> ClientConfig:
        """The cloud, when this store lets itself be pulled now."""
        why_not = link.allows_pull()
        if why_not is not None:
            code = ErrorCode.BUSY if link.paused else ErrorCode.FORBIDDEN
            raise StoreError(code, why_not)
        return client

    Cloud = Annotated[ClientConfig, Depends(role("sync"))]
    Puller = Annotated[ClientConfig, Depends(puller)]

    # -- products ----------------------------------------------------------------------

    @router.get(
        "/products/gtin/{gtin}",
        tags=["products"],
        summary="A scanned barcode: product, price, stock here and elsewhere.",
    )
    async def product_by_gtin(gtin: Annotated[Gtin, Path()], client: Shopper) -> ProductPublic:
        return domain.product(gtin=gtin)

    @router.get("/products/{sku}", tags=["products"], summary="A product by article number, as the gtin lookup.")
    async def product_by_sku(sku: Annotated[Sku, Path()], client: Shopper) -> ProductPublic:
        return domain.product(sku=sku)

    @router.get("/products", tags=["products"], summary="Search products by name, article or barcode.")
    def search_products(
        client: Shopper,
        q: Annotated[str, Query(min_length=1, max_length=64, description="Part of a name, sku or gtin.")],
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> ProductSearch:
        return domain.search(q, limit)

    # -- stock -------------------------------------------------------------------------

    @router.post("/stock/moves", tags=["stock"], summary="Book goods received, a write-off or an inventory count.")
    async def book_stock_move(body: StockMoveCreate, client: Stocker) -> StockMovePublic:
        return StockMovePublic.model_validate(await domain.book_stock_move(body, client.id))

    # -- loyalty -----------------------------------------------------------------------

    @router.get("/loyalty/cards/{card}", tags=["loyalty"], summary="A card's balance and what it may spend now.")
    async def loyalty_balance(card: Annotated[Card, Path()], client: LoyaltyReader) -> LoyaltyPublic:
        return domain.balance(card)

    @router.post("/loyalty/cards/{card}/accruals", tags=["loyalty"], summary="Add points (always allowed).")
    async def accrue(card: Annotated[Card, Path()], body: AccrualCreate, client: LoyaltyWriter) -> LoyaltyMovePublic:
        return LoyaltyMovePublic.model_validate(await domain.accrue(card, body, client.id))

    @router.post(
        "/loyalty/cards/{card}/redemptions",
        tags=["loyalty"],
        summary="Spend points, up to the synced balance minus what this store spent since.",
    )
    async def redeem(card: Annotated[Card, Path()], body: RedemptionCreate, client: LoyaltyWriter) -> LoyaltyMovePublic:
        return LoyaltyMovePublic.model_validate(await domain.redeem(card, body, client.id))

    # -- pickups -----------------------------------------------------------------------

    @router.get(
        "/pickups", tags=["pickups"], summary="Click-and-collect orders by deadline; overdue=true for the late ones."
    )
    def list_pickups(client: PickupReader, state: PickupState | None = None, overdue: bool = False) -> PickupList:
        return domain.pickups(state=state, overdue=overdue)

    @router.get("/pickups/{order_id}", tags=["pickups"], summary="One click-and-collect order.")
    def get_pickup(order_id: Annotated[OrderId, Path()], client: PickupReader) -> PickupPublic:
        return domain.pickup(order_id)

    @router.post(
        "/pickups/{order_id}/transitions",
        tags=["pickups"],
        summary="ready (sets the goods aside), collected (with the shopper's code), returned or cancelled.",
    )
    async def transition_pickup(
        order_id: Annotated[OrderId, Path()], body: PickupTransition, client: PickupWriter
    ) -> PickupPublic:
        return await domain.transition_pickup(order_id, body, client.id)

    # -- kiosk orders ------------------------------------------------------------------

    @router.post("/orders", tags=["orders"], summary="An endless-aisle order for home delivery.", status_code=201)
    async def create_order(body: KioskOrderCreate, client: Orderer) -> KioskOrderPublic:
        return KioskOrderPublic.model_validate(await domain.create_kiosk_order(body, client.id))

    @router.get("/orders/{order_id}", tags=["orders"], summary="One endless-aisle order.")
    def get_order(order_id: Annotated[str, Path(max_length=64)], client: Orderer) -> KioskOrderPublic:
        return domain.kiosk_order(order_id)

    # -- the manager's views -------------------------------------------------------------

    @router.get("/labels", tags=["manager"], summary="Shelf labels whose price is no longer the price: count and list.")
    def labels(client: Manager, limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> LabelQueue:
        return domain.labels(limit)

    @router.get("/pickups-overdue", tags=["manager"], summary="Pickups past their deadline, still waiting.")
    def overdue_pickups(client: Manager) -> PickupList:
        return domain.pickups(overdue=True)

    # -- sync (the cloud) ----------------------------------------------------------------

    @router.get(
        "/sync/events", tags=["sync"], summary="The outbox in seq order, after a seq; waits up to wait_s for news."
    )
    async def sync_events(
        client: Puller,
        after: Annotated[int, Query(ge=0, le=MAX_SERIAL, description="The last seq the cloud holds.")] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_FEED_PAGE)] = 500,
        wait_s: Annotated[
            float, Query(ge=0, le=MAX_FEED_WAIT_S, description="Long-poll: wait this long for news.")
        ] = 0,
    ) -> Feed:
        return await domain.events(after=after, limit=limit, wait_s=wait_s)

    @router.post("/sync/ack", tags=["sync"], summary="Everything up to upto_seq is safely in the cloud.")
    async def sync_ack(body: SyncAck, client: Puller) -> SyncAckResult:
        return await domain.acknowledge(body.upto_seq)

    @router.post(
        "/sync/inbound",
        tags=["sync"],
        summary="Prices, products, pickup orders, loyalty balances and other stores' stock, applied by id and version.",
    )
    async def sync_inbound(body: InboundBatch, client: Cloud) -> InboundReport:
        return await domain.inbound(body)

    @router.get(
        "/sync/state",
        tags=["sync"],
        summary="How replication stands: backlog, oldest undelivered, disk, cloud reachable, warnings and alarms.",
    )
    async def sync_state(client: SyncWatcher) -> SyncState:
        return await link.refresh()

    @router.post(
        "/sync/pause", tags=["sync"], summary="Stop talking to the cloud (a WAN outage drill); the store keeps selling."
    )
    async def sync_pause(client: SyncController) -> SyncState:
        return await link.pause(by=client.id)

    @router.post("/sync/resume", tags=["sync"], summary="Talk to the cloud again; the backlog drains.")
    async def sync_resume(client: SyncController) -> SyncState:
        return await link.resume(by=client.id)

    return router
