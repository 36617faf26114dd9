"""Pickups: the click-and-collect orders waiting at the counter, and their way from ready
to collected or returned (docs/store.md, Pickups)."""

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import StringConstraints

from hub.api.deps import PickupReader, PickupWriter, Store
from hub.api.refusals import STORE_REFUSALS, JsonRoute
from hub.store.schemas import PickupList, PickupPublic, PickupState, PickupTransition

router = APIRouter(prefix="/api/v1", tags=["pickups"], responses=STORE_REFUSALS, route_class=JsonRoute)

OrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


@router.get("/pickups", summary="Click-and-collect orders by deadline; overdue=true for the late ones.")
def list_pickups(
    client: PickupReader, store: Store, state: PickupState | None = None, overdue: bool = False
) -> PickupList:
    return store.pickups(state=state, overdue=overdue)


@router.get("/pickups/{order_id}", summary="One click-and-collect order.")
def get_pickup(order_id: Annotated[OrderId, Path()], client: PickupReader, store: Store) -> PickupPublic:
    return store.pickup(order_id)


@router.post(
    "/pickups/{order_id}/transitions",
    summary="ready (sets the goods aside), collected (with the shopper's code), returned or cancelled.",
)
async def transition_pickup(
    order_id: Annotated[OrderId, Path()], body: PickupTransition, client: PickupWriter, store: Store
) -> PickupPublic:
    return await store.transition_pickup(order_id, body, client.id)
