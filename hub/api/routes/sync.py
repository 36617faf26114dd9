"""Sync: the cloud's pull feed and inbound batches, and how replication stands, for the
technicians who watch and pause it (docs/sync.md; docs/store.md, The outbox and the
cloud's feed)."""

from typing import Annotated

from fastapi import APIRouter, Query

from cloud_link.contract import MAX_SERIAL, Feed
from cloud_link.state import SyncState
from hub.api.deps import Cloud, Link, Puller, Store, SyncController, SyncWatcher
from hub.api.refusals import STORE_REFUSALS, JsonRoute
from hub.store.domain import MAX_FEED_WAIT_S
from hub.store.schemas import InboundBatch, InboundReport, SyncAck, SyncAckResult

router = APIRouter(prefix="/api/v1", tags=["sync"], responses=STORE_REFUSALS, route_class=JsonRoute)

#: Most events one feed page carries: a few hundred kilobytes at most.
MAX_FEED_PAGE = 1000


@router.get("/sync/events", summary="The outbox in seq order, after a seq; waits up to wait_s for news.")
async def sync_events(
    client: Puller,
    store: Store,
    after: Annotated[int, Query(ge=0, le=MAX_SERIAL, description="The last seq the cloud holds.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_FEED_PAGE)] = 500,
    wait_s: Annotated[float, Query(ge=0, le=MAX_FEED_WAIT_S, description="Long-poll: wait this long for news.")] = 0,
) -> Feed:
    return await store.events(after=after, limit=limit, wait_s=wait_s)


@router.post("/sync/ack", summary="Everything up to upto_seq is safely in the cloud.")
async def sync_ack(body: SyncAck, client: Puller, store: Store) -> SyncAckResult:
    return await store.acknowledge(body.upto_seq)


@router.post(
    "/sync/inbound",
    summary="Prices, products, pickup orders, loyalty balances and other stores' stock, applied by id and version.",
)
async def sync_inbound(body: InboundBatch, client: Cloud, store: Store) -> InboundReport:
    return await store.inbound(body)


@router.get(
    "/sync/state",
    summary="How replication stands: backlog, oldest undelivered, disk, cloud reachable, warnings and alarms.",
)
async def sync_state(client: SyncWatcher, link: Link) -> SyncState:
    return await link.refresh()


@router.post("/sync/pause", summary="Stop talking to the cloud (a WAN outage drill); the store keeps selling.")
async def sync_pause(client: SyncController, link: Link) -> SyncState:
    return await link.pause(by=client.id)


@router.post("/sync/resume", summary="Talk to the cloud again; the backlog drains.")
async def sync_resume(client: SyncController, link: Link) -> SyncState:
    return await link.resume(by=client.id)
