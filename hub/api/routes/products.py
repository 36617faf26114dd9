"""Products: what a till or kiosk looks up by barcode, article number or part of a name,
with its price and stock here and in other stores (docs/store.md, Products and prices).
The bus's ``hub`` target answers the same lookups (hub.actions)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import ConfigDict

from hub.actions import ProductSearchQuery
from hub.api.deps import Shopper, Store
from hub.api.refusals import STORE_REFUSALS, JsonRoute
from hub.store.schemas import Gtin, ProductPublic, ProductSearch, Sku

router = APIRouter(prefix="/api/v1", tags=["products"], responses=STORE_REFUSALS, route_class=JsonRoute)


class SearchParams(ProductSearchQuery):
    """``search_products``'s arguments read from the query string, ``?q=…&limit=…``: its
    values are text, and a parameter the search does not take is ignored, as on any GET."""

    model_config = ConfigDict(extra="ignore", strict=False, validate_by_name=False, validate_by_alias=True)


@router.get("/products/gtin/{gtin}", summary="A scanned barcode: product, price, stock here and elsewhere.")
async def product_by_gtin(gtin: Annotated[Gtin, Path()], client: Shopper, store: Store) -> ProductPublic:
    return store.product(gtin=gtin)


@router.get("/products/{sku}", summary="A product by article number, as the gtin lookup.")
async def product_by_sku(sku: Annotated[Sku, Path()], client: Shopper, store: Store) -> ProductPublic:
    return store.product(sku=sku)


@router.get("/products", summary="Search products by name, article or barcode.")
def search_products(client: Shopper, store: Store, search: Annotated[SearchParams, Query()]) -> ProductSearch:
    return store.search(search.query, search.limit)
