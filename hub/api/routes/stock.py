"""Stock: goods received, written off or counted, booked on the store's ledger of moves
(docs/store.md, Stock).  Sales and pickups move stock on their own."""

from fastapi import APIRouter

from hub.api.deps import Stocker, Store
from hub.api.refusals import STORE_REFUSALS, JsonRoute
from hub.store.schemas import StockMoveCreate, StockMovePublic

router = APIRouter(prefix="/api/v1", tags=["stock"], responses=STORE_REFUSALS, route_class=JsonRoute)


@router.post("/stock/moves", summary="Book goods received, a write-off or an inventory count.")
async def book_stock_move(body: StockMoveCreate, client: Stocker, store: Store) -> StockMovePublic:
    return StockMovePublic.model_validate(await store.book_stock_move(body, client.id))
