"""The store domain as the hub's other parts use it: one object, built at start-up.

Reads run on the caller's thread against the reader engine (a snapshot beside the
writer); writes go to the one ``StoreWriter``.  The REST API, the bus's ``hub``
target and the fiscal registers' closed receipts all come through here, so a till
gets the same answer whichever door it uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session

from bus.payloads import ErrorCode
from cloud_link.contract import Event, Feed
from devices.fiscal_register import ClosedReceipt
from devices.labels.tag import LabelSelection, LabelsPrinted, TagData
from hub.store import catalogue, labels, loyalty, orders, outbox, parked, pickups, sales, stock
from hub.store.errors import StoreError
from hub.store.requests import once
from hub.store.room import DatabaseRoom
from hub.store.schemas import (
    AccrualCreate,
    Ignored,
    InboundBatch,
    InboundReport,
    KioskOrderCreate,
    KioskOrderPublic,
    LabelJournal,
    LabelQueue,
    LoyaltyMovePublic,
    LoyaltyPublic,
    PickupIn,
    PickupList,
    PickupPublic,
    PickupTransition,
    PriceIn,
    ProductPublic,
    ProductSearch,
    RedemptionCreate,
    ShelfTruth,
    StockMoveCreate,
    StoreDay,
    SyncAckResult,
)
from hub.store.writer import StoreWriter

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How often the hub looks for prices whose effective time has come.
PRICE_CHECK_INTERVAL_S = 30.0

#: The pull feed's longest wait: under common proxies' and load balancers' idle limits.
MAX_FEED_WAIT_S = 30.0

#: After a commit, the label queue's numbers are looked at no sooner than this after the
#: last look: a busy checkout commits many times a second, the shelf changes far slower.
LABELS_LOOK_MIN_INTERVAL_S = 0.25

ShelfWatcher = Callable[[ShelfTruth], None]


class StoreDomain:
    def __init__(
        self,
        *,
        store_id: str,
        writer_engine: Engine,
        reader_engine: Engine,
        accrual_percent: Decimal,
        clock: Callable[[], float] = time.time,
        room: DatabaseRoom | None = None,
        store_name: str | None = None,
    ) -> None:
        self.store_id = store_id
        #: Printed small on every shelf tag.
        self.store_name = store_name or store_id
        self.accrual_percent = accrual_percent
        self.clock = clock
        self._reader = reader_engine
        self.writer = StoreWriter(writer_engine, on_commit=self._committed, room=room)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_events = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._price_task: asyncio.Task[None] | None = None
        #: Set at shutdown: long polls answer at once instead of holding the API open.
        self._closing = False
        #: A receipt's booking failed (the database was full): the journal is swept again.
        self._receipts_unbooked = False
        self._shelf_watchers: list[ShelfWatcher] = []
        #: The label queue's numbers last told to the watchers: (count, oldest queued_at).
        self._shelf_told: tuple[int, dt.datetime | None] | None = None
        self._shelf_look: asyncio.TimerHandle | None = None
        self._shelf_looked_at = 0.0

    # -- life ------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._new_events = asyncio.Event()
        self.writer.start()
        await self.apply_due_prices()
        await self.book_journal_receipts()
        self._price_task = asyncio.create_task(self._upkeep(), name="store-upkeep")

    async def stop(self) -> None:
        if self._shelf_look is not None:
            self._shelf_look.cancel()
        if self._price_task is not None:
            self._price_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._price_task
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)
        await asyncio.to_thread(self.writer.stop)

    def _committed(self) -> None:
        """From the writer's thread: wake long-polling feed readers."""
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake)

    def release_waiters(self) -> None:
        """At shutdown: every long poll answers now with what it has."""
        self._closing = True
        self._wake()

    async def wait_for_commit(self, timeout: float) -> None:
        """Returns at the writer's next commit, or after ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._new_events.wait(), timeout)

    def _wake(self) -> None:
        self._new_events.set()
        self._new_events = asyncio.Event()
        self._look_at_shelf_soon()

    async def _upkeep(self) -> None:
        """Prices whose time has come, and receipts whose booking failed."""
        while True:
            await asyncio.sleep(PRICE_CHECK_INTERVAL_S)
            try:
                await self.apply_due_prices()
                self._look_at_shelf()
                if self._receipts_unbooked:
                    self._receipts_unbooked = False
                    await self.book_journal_receipts()
            except Exception:
                log.exception("store upkeep failed; next try in %.0f s", PRICE_CHECK_INTERVAL_S)

    async def _once(
        self, client: str, operation: str, body: Any, work: Callable[[Session], BaseModel]
    ) -> dict[str, Any]:
        """A till's write, done once per its ``idempotency_key`` (``hub.store.requests``)."""
        return await self.writer.run(
            lambda s: once(
                session=s,
                client=client,
                key=body.idempotency_key,
                operation=operation,
                request=body,
                work=lambda: work(s),
            )
        )

    def read(self, work: Callable[[Session], T]) -> T:
        with Session(self._reader) as session:
            return work(session)

    # -- catalogue ---------------------------------------------------------------------

    def product(self, *, sku: str | None = None, gtin: str | None = None) -> ProductPublic:
        return self.read(lambda s: catalogue.lookup_product(session=s, sku=sku, gtin=gtin, now=self.clock()))

    def search(self, query: str, limit: int, *, offset: int = 0) -> ProductSearch:
        return self.read(lambda s: catalogue.search_products(session=s, query=query, limit=limit, offset=offset))

    def labels(
        self, limit: int = 1000, *, offset: int = 0, search: str | None = None, category: str | None = None
    ) -> LabelQueue:
        return self.read(
            lambda s: catalogue.label_queue(
                session=s, now=self.clock(), limit=limit, offset=offset, search=search, category=category
            )
        )

    def label_categories(self) -> list[str]:
        return self.read(lambda s: catalogue.label_categories(session=s))

    # -- shelf labels ------------------------------------------------------------------

    def shelf_truth(self) -> ShelfTruth:
        return self.read(lambda s: catalogue.shelf_truth(session=s, now=self.clock()))

    def label_tags(self, selection: LabelSelection) -> list[tuple[TagData, int]]:
        """The tags a label printer is asked for (``DevicePort.label_tags``); reads only."""
        shop = labels.Shop(name=self.store_name, today=dt.datetime.fromtimestamp(self.clock()).date())
        try:
            return self.read(lambda s: labels.label_tags(session=s, selection=selection, shop=shop))
        except StoreError as refusal:
            log.warning("shelf labels refused, nothing printed: %s", refusal.message)
            raise

    def labels_printed(self, outcome: LabelsPrinted) -> int | None:
        """A print run's outcome into the store, in one write (``DevicePort.labels_printed``).
        Blocks its caller, a device's worker thread, until committed; returns the event's seq."""
        seq = self.writer.run_sync(lambda s: labels.record_printed(session=s, outcome=outcome, now=self.clock()))
        tags = sum(tag.copies for tag in outcome.printed)
        log.info(
            "%s printed %d labels for %s (%s); event %s", outcome.device, tags, outcome.client, outcome.template, seq
        )
        return seq

    def label_journal(self, *, sku: str | None = None, limit: int = 100) -> LabelJournal:
        return self.read(lambda s: labels.label_journal(session=s, sku=sku, limit=limit))

    def watch_shelf(self, watcher: ShelfWatcher) -> Callable[[], None]:
        """``watcher`` hears the label queue's numbers now and whenever they change (on
        the hub's loop).  Returns the way to stop."""
        self._shelf_watchers.append(watcher)
        truth = self.shelf_truth()
        self._shelf_told = (truth.count, truth.oldest_queued_at)
        watcher(truth)
        return lambda: self._shelf_watchers.remove(watcher)

    def _look_at_shelf_soon(self) -> None:
        if not self._shelf_watchers or self._shelf_look is not None or self._loop is None:
            return
        wait = max(0.0, self._shelf_looked_at + LABELS_LOOK_MIN_INTERVAL_S - time.monotonic())
        self._shelf_look = self._loop.call_later(wait, self._look_at_shelf)

    def _look_at_shelf(self) -> None:
        """Tell the watchers when the count or the oldest entry moved."""
        self._shelf_look = None
        self._shelf_looked_at = time.monotonic()
        if not self._shelf_watchers:
            return
        try:
            truth = self.shelf_truth()
        except Exception:
            log.exception("reading the label queue's numbers failed")
            return
        numbers = (truth.count, truth.oldest_queued_at)
        if numbers == self._shelf_told:
            return
        self._shelf_told = numbers
        for watcher in list(self._shelf_watchers):
            try:
                watcher(truth)
            except Exception:
                log.exception("telling the label queue's numbers failed")

    async def apply_due_prices(self) -> int:
        stale = await self.writer.run(lambda s: catalogue.apply_due_prices(session=s, now=self.clock()))
        if stale:
            log.info("%d prices took effect; %d shelf labels to print", stale, stale)
        return stale

    # -- stock -------------------------------------------------------------------------

    async def book_stock_move(self, move: StockMoveCreate, client: str) -> dict[str, Any]:
        return await self._once(
            client, "stock_move", move, lambda s: stock.book_move(session=s, move=move, client=client, now=self.clock())
        )

    # -- loyalty -----------------------------------------------------------------------

    def balance(self, card: str) -> LoyaltyPublic:
        return self.read(lambda s: loyalty.card_balance(session=s, card=card))

    async def accrue(self, card: str, body: AccrualCreate, client: str) -> dict[str, Any]:
        if (body.points is None) == (body.paid_amount is None):
            raise StoreError(ErrorCode.INVALID_REQUEST, "give either points or paid_amount", field="points")
        points = (
            body.points if body.points is not None else loyalty.accrual_for(body.paid_amount or 0, self.accrual_percent)
        )

        def work(s: Session) -> LoyaltyMovePublic:
            return loyalty.accrue(
                session=s, card=card, points=points, reference=body.reference, client=client, now=self.clock()
            )

        return await self._once(client, f"accrue:{card}", body, work)

    async def redeem(self, card: str, body: RedemptionCreate, client: str) -> dict[str, Any]:
        def work(s: Session) -> LoyaltyMovePublic:
            return loyalty.redeem(
                session=s, card=card, points=body.points, reference=body.reference, client=client, now=self.clock()
            )

        return await self._once(client, f"redeem:{card}", body, work)

    # -- pickups -----------------------------------------------------------------------

    def pickup(self, order_id: str) -> PickupPublic:
        return self.read(lambda s: pickups.get_pickup(session=s, order_id=order_id, now=self.clock()))

    def pickups(
        self,
        *,
        state: str | None = None,
        overdue: bool = False,
        search: str | None = None,
        open_only: bool = False,
        due_before: float | None = None,
    ) -> PickupList:
        return self.read(
            lambda s: pickups.list_pickups(
                session=s,
                state=state,
                overdue=overdue,
                now=self.clock(),
                search=search,
                open_only=open_only,
                due_before=due_before,
            )  # fmt: skip
        )

    async def transition_pickup(self, order_id: str, body: PickupTransition, client: str) -> PickupPublic:
        return await self.writer.run(
            lambda s: pickups.transition_pickup(
                session=s, order_id=order_id, to=body.to, code=body.code, client=client, now=self.clock()
            )
        )

    # -- kiosk orders ------------------------------------------------------------------

    async def create_kiosk_order(self, body: KioskOrderCreate, client: str) -> dict[str, Any]:
        return await self._once(
            client,
            "kiosk_order",
            body,
            lambda s: orders.create_kiosk_order(session=s, order=body, client=client, now=self.clock()),
        )

    def kiosk_order(self, order_id: str) -> KioskOrderPublic:
        return self.read(lambda s: orders.get_kiosk_order(session=s, order_id=order_id))

    # -- sales from receipts -------------------------------------------------------------

    def receipt_closed(self, device_id: str, receipt: ClosedReceipt) -> None:
        """A fiscal register closed a document (called on the hub's loop): book it."""
        task = asyncio.create_task(self.book_receipt(device_id, receipt), name=f"book-{receipt.reference(device_id)}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def book_receipt(self, device_id: str, receipt: ClosedReceipt) -> int | None:
        try:
            seq = await self.writer.run(
                lambda s: sales.record_receipt(
                    session=s,
                    device_id=device_id,
                    receipt=receipt,
                    accrual_percent=self.accrual_percent,
                    now=self.clock(),
                )
            )
        except Exception:
            # Still in the fiscal journal: booked at the next sweep (every
            # PRICE_CHECK_INTERVAL_S, and at every start).
            self._receipts_unbooked = True
            log.exception(
                "booking receipt %s failed; the journal is swept again within %.0f s",
                receipt.reference(device_id),
                PRICE_CHECK_INTERVAL_S,
            )
            return None
        if seq is None:
            log.info("receipt %s was booked already", receipt.reference(device_id))
        else:
            log.info("receipt %s booked as event %d", receipt.reference(device_id), seq)
        return seq

    def day(self, on: dt.date | None = None) -> StoreDay:
        """The store's day ``on`` (today by default): local midnight to midnight in the
        hub's own time zone (the box's: ``TZ`` or /etc/localtime), in all and per till."""
        since = local_midnight(on or dt.datetime.fromtimestamp(self.clock()).date())
        until = local_midnight(since.date() + dt.timedelta(days=1))
        whole, tills = self.read(lambda s: sales.store_day(session=s, since=since.timestamp(), until=until.timestamp()))
        return StoreDay(**whole.model_dump(), since=since, until=until, timezone=since.tzname() or "", tills=tills)

    async def book_journal_receipts(self) -> int:
        found = self.read(lambda s: sales.unbooked_journal_receipts(session=s))
        for device_id, receipt in found:
            await self.book_receipt(device_id, receipt)
        if found:
            log.info("booked %d receipts the fiscal journal had and the store had not", len(found))
        return len(found)

    # -- sync (the cloud) ----------------------------------------------------------------

    async def inbound(self, batch: InboundBatch) -> InboundReport:
        return await self.writer.run(lambda s: apply_inbound(session=s, batch=batch, now=self.clock()))

    async def events(self, *, after: int, limit: int, wait_s: float) -> Feed:
        deadline = time.monotonic() + min(wait_s, MAX_FEED_WAIT_S)
        while True:
            waiter = self._new_events
            page = self.read(lambda s: self._page(s, after, limit))
            remaining = deadline - time.monotonic()
            if page.events or remaining <= 0 or self._closing:
                return page
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), remaining)

    def _page(self, session: Session, after: int, limit: int) -> Feed:
        _, encoded = outbox.encoded_events_after(session=session, after=after, limit=limit, store_id=self.store_id)
        position = outbox.outbox_position(session=session)
        return Feed(
            events=[Event.model_validate(event) for event in orjson.loads(encoded)],
            last_seq=position.last_seq,
            acked_seq=position.acked_seq,
        )

    async def acknowledge(self, upto_seq: int) -> SyncAckResult:
        def work(s: Session) -> SyncAckResult:
            last = outbox.outbox_position(session=s).last_seq
            if upto_seq > last:
                raise StoreError(
                    ErrorCode.INVALID_REQUEST,
                    f"upto_seq {upto_seq} is past the last event ({last})",
                    field="upto_seq",
                    last_seq=last,
                )
            acked, moved = outbox.acknowledge(session=s, upto_seq=upto_seq, now=self.clock())
            return SyncAckResult(acked_seq=acked, moved=moved)

        # Upkeep, as the pusher's mark: a pulling cloud's word is recorded even on a full disk.
        return await self.writer.run(work, upkeep=True)


def local_midnight(day: dt.date) -> dt.datetime:
    """The start of ``day`` in the hub's local time zone, with that moment's offset."""
    return dt.datetime.combine(day, dt.time()).astimezone()


def apply_inbound(*, session: Session, batch: InboundBatch, now: float) -> InboundReport:
    """Everything the cloud sent, in dependency order (products before their prices and
    pickups), each item applied at most once by id and version.

    A price or pickup naming a product the store does not know yet is parked, not lost:
    the cloud may send the product later (another page, another call).  Parked items go
    first in line at every later batch, so a product that arrives brings them in."""
    applied = {"products": 0, "prices": 0, "pickups": 0, "loyalty": 0, "stock_elsewhere": 0}
    ignored: list[Ignored] = []
    pending = 0
    arrived: set[str] = set()
    for product in batch.products:
        refused = catalogue.apply_product(session=session, product=product, now=now)
        if refused is None:
            applied["products"] += 1
            arrived.add(product.sku)
        else:
            ignored.append(refused)
    session.flush()
    waiting_prices, waiting_pickups = parked.take_for(session=session, skus=arrived)
    shelf = parked.MAX_PARKED - parked.count(session=session)

    def park(kind: str, item_id: str, item: PriceIn | PickupIn) -> bool:
        nonlocal shelf
        if shelf <= 0:
            return False
        parked.park(session=session, kind=kind, item_id=item_id, item=item, now=now)
        shelf -= 1
        return True

    for price in [*waiting_prices, *batch.prices]:
        outcome = catalogue.apply_price(session=session, price=price, now=now)
        if isinstance(outcome, Ignored) and outcome.reason == "unknown_product":
            if not park("prices", price.sku, price):
                ignored.append(outcome)
        elif isinstance(outcome, Ignored):
            ignored.append(outcome)
        elif outcome == "pending":
            pending += 1
        else:
            applied["prices"] += 1
    for order in [*waiting_pickups, *batch.pickups]:
        try:
            outcome = pickups.receive_pickup(session=session, order=order, now=now)
        except StoreError as exc:  # a product this store does not know yet
            if not park("pickups", order.id, order):
                ignored.append(
                    Ignored(kind="pickup", id=order.id, version=order.version, reason=f"unknown_product: {exc.message}")
                )
            continue
        if outcome in ("arrived", "updated", "cancelled"):
            applied["pickups"] += 1
        else:
            ignored.append(Ignored(kind="pickup", id=order.id, version=order.version, reason=outcome))
    for snapshot in batch.loyalty:
        if loyalty.apply_snapshot(session=session, snapshot=snapshot):
            applied["loyalty"] += 1
        else:
            ignored.append(Ignored(kind="loyalty", id=snapshot.card, reason="older_version"))
    for item in batch.stock_elsewhere:
        if stock.apply_stock_elsewhere(session=session, snapshot=item):
            applied["stock_elsewhere"] += 1
        else:
            ignored.append(Ignored(kind="stock_elsewhere", id=f"{item.store_id}/{item.sku}", reason="older_version"))
    return InboundReport(applied=applied, pending=pending, parked=parked.count(session=session), ignored=ignored)
