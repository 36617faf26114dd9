"""Kiosk orders: what a shopper orders at an endless-aisle kiosk for home delivery
(docs/store.md, Kiosk orders)."""

from typing import Annotated

from fastapi import APIRouter, Path

from hub.api.deps import Orderer, Store
from hub.api.refusals import STORE_REFUSALS, JsonRoute
from hub.store.schemas import KioskOrderCreate, KioskOrderPublic

router = APIRouter(prefix="/api/v1", tags=["orders"], responses=STORE_REFUSALS, route_class=JsonRoute)


@router.post("/orders", summary="An endless-aisle order for home delivery.", status_code=201)
async def create_order(body: KioskOrderCreate, client: Orderer, store: Store) -> KioskOrderPublic:
    return KioskOrderPublic.model_validate(await store.create_kiosk_order(body, client.id))


@router.get("/orders/{order_id}", summary="One endless-aisle order.")
def get_order(order_id: Annotated[str, Path(max_length=64)], client: Orderer, store: Store) -> KioskOrderPublic:
    return store.kiosk_order(order_id)
