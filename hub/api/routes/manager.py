"""The manager's views: the shelf labels a price change made stale, and the pickups past
their deadline (docs/store.md: Products and prices for the label queue, Pickups)."""

from typing import Annotated

from fastapi import APIRouter, Query

from hub.api.deps import Manager, Store
from hub.api.refusals import STORE_REFUSALS, JsonRoute
from hub.store.schemas import LabelQueue, PickupList

router = APIRouter(prefix="/api/v1", tags=["manager"], responses=STORE_REFUSALS, route_class=JsonRoute)


@router.get("/labels", summary="Shelf labels whose price is no longer the price: count and list.")
def labels(client: Manager, store: Store, limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> LabelQueue:
    return store.labels(limit)


@router.get("/pickups-overdue", summary="Pickups past their deadline, still waiting.")
def overdue_pickups(client: Manager, store: Store) -> PickupList:
    return store.pickups(overdue=True)
