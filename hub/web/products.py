"""The Products page: what the store has, as the till and the kiosk see it (docs/web.md).

One search box finds products by part of the name (Cyrillic in either case), by SKU or
by barcode; a whole GTIN — a scanner types one and Enter — opens that product.  Each
product shows its price, unit price, stock here and in the other stores (as of the
cloud's last snapshot), and whether its shelf label is stale, with the way to the
Labels page.  Everything comes from the store's own lookups, the ones REST's
``GET /api/v1/products`` and ``/products/gtin/{gtin}`` answer; the page only reads, so
technicians may look too.

The form's fields arrive as plain text and are checked here: a search too long or a
wrong page number is told next to the search, never answered with an error page.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from stdnum import ean

from devices.labels.wording import rubles, unbreakable_units
from hub.api.deps import Store
from hub.store.catalogue import MAX_PRODUCT_SEARCH
from hub.store.errors import StoreError
from hub.store.schemas import ProductPublic
from hub.web.frame import SignedIn, local_time, quantity, render

log = logging.getLogger(__name__)

router = APIRouter(prefix="/manage", include_in_schema=False)

PAGE = "/manage/products"
#: The products shown at once: each is a card with its stock in the other stores, so a
#: page of them reads at a glance and loads in one go on a phone.
PAGE_SIZE = 20
#: The highest page number: 10,000 pages of 20 is more than any shop's range.
MAX_PAGE = 10_000
#: A barcode as a scanner types it: GTIN-8, -12, -13 or -14 (its check digit is checked apart).
GTIN = re.compile(r"^([0-9]{8}|[0-9]{12,14})$")
SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class ProductsForm:
    """The search as the manager typed it, and what is wrong with it."""

    search: str = ""
    page: int = 1
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, search: str, page: str) -> ProductsForm:
        form = cls(search=search.strip())
        if len(form.search) > MAX_PRODUCT_SEARCH:
            form.problems["q"] = "The search is too long: at most %(most)d characters."
        page = page.strip()
        if page and (not page.isdigit() or not 1 <= int(page) <= MAX_PAGE):
            form.problems["page"] = "The page is a whole number from 1 to %(most)d."
        elif page:
            form.page = int(page)
        return form

    @property
    def gtin(self) -> str | None:
        """The search when it is a whole barcode with a right check digit."""
        return self.search if GTIN.match(self.search) and ean.is_valid(self.search) else None

    def query(self, page: int) -> dict[str, str | int]:
        """The link to another page of the same search."""
        return {"q": self.search, "page": page}


def _found(store: Any, shown: ProductsForm) -> tuple[list[ProductPublic], bool]:
    """The page's products in full, and whether another page follows.  The search gives
    the page's products by name (one more than shown, to know of a next page); each
    one's lookup gives what a till sees of it."""
    summaries = store.search(shown.search, PAGE_SIZE + 1, offset=(shown.page - 1) * PAGE_SIZE).products
    return [store.product(sku=summary.sku) for summary in summaries[:PAGE_SIZE]], len(summaries) > PAGE_SIZE


def _page(
    request: Request,
    session: Any,
    products: list[ProductPublic],
    *,
    form: ProductsForm,
    shown: ProductsForm | None = None,
    more: bool = False,
    opened: bool = False,
    status: int = 200,
    missing: str | None = None,
) -> HTMLResponse:
    """The page: ``form`` as typed in the search field, ``shown`` the search listed below."""
    return render(
        request, "products.html", status=status, session=session, products=products, form=form,
        shown=shown or form, more=more, opened=opened, missing=missing,
        limits={"q": MAX_PRODUCT_SEARCH, "page": MAX_PAGE}, money=rubles, units=unbreakable_units,
        quantity=quantity, local=local_time,
    )  # fmt: skip


@router.get("/products", response_class=HTMLResponse)
async def products_page(request: Request, session: SignedIn, store: Store, q: str = "", page: str = "") -> Response:
    form = ProductsForm.read(q, page)
    if form.problems:
        log.info(
            "products page: %s asked for %r, refused: %s", session.client_id, dict(request.query_params), form.problems
        )
    elif form.gtin is not None:
        try:
            scanned = store.product(gtin=form.gtin)
        except StoreError:
            log.info("products page: no product has the barcode %s (asked by %s)", form.gtin, session.client_id)
        else:
            return RedirectResponse(f"{PAGE}/{scanned.sku}", status_code=303)
    shown = ProductsForm() if form.problems else form  # a wrong search: the first page of all, below the message
    products, more = _found(store, shown)
    return _page(request, session, products, form=form, shown=shown, more=more, status=422 if form.problems else 200)


@router.get("/products/{sku}", response_class=HTMLResponse)
async def product_page(request: Request, session: SignedIn, store: Store, sku: str) -> HTMLResponse:
    """One product, opened from the list or by its scanned barcode; the search stays above
    it, empty and ready for the next scan."""
    try:
        product = store.product(sku=sku) if SKU.match(sku) else None
    except StoreError:
        product = None
    if product is None:
        return _page(request, session, [], form=ProductsForm(), opened=True, status=404, missing=sku[:64])
    return _page(request, session, [product], form=ProductsForm(), opened=True)
