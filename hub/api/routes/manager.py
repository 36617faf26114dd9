"""The manager's views: the shelf labels a price change made stale, what the label
printers printed (the print journal) and the A4 sheets they wrote, the pickups past
their deadline, and the store's day (docs/store.md: Shelf labels, Pickups, Sales).  Printing itself is a device
request, ``print_labels`` to a label printer, through the devices' route."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse

from bus.payloads import ErrorCode
from hub.api.deps import Config, Manager, Store
from hub.api.refusals import STORE_REFUSALS, JsonRoute
from hub.label_sheets import list_sheets, sheet_path
from hub.store.catalogue import MAX_LABEL_SEARCH
from hub.store.errors import StoreError
from hub.store.labels import MAX_JOURNAL_ENTRIES
from hub.store.schemas import LabelJournal, LabelQueue, LabelSheets, PickupList, Sku, StoreDay

router = APIRouter(prefix="/api/v1", tags=["manager"], responses=STORE_REFUSALS, route_class=JsonRoute)


@router.get("/labels", summary="Shelf labels whose price is no longer the price: count, oldest, list.")
def labels(
    client: Manager,
    store: Store,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000, description="Skip this many of the matching labels (paging).")
    ] = 0,
    search: Annotated[
        str | None, Query(min_length=1, max_length=MAX_LABEL_SEARCH, description="Part of a product's name or SKU.")
    ] = None,
    category: Annotated[str | None, Query(max_length=200, description="One category's labels only.")] = None,
) -> LabelQueue:
    return store.labels(limit, offset=offset, search=search, category=category)


@router.get("/labels/journal", summary="The labels printed, newest first: price version, printer, who asked.")
def label_journal(
    client: Manager,
    store: Store,
    sku: Annotated[Sku | None, Query(description="One product's prints only.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_JOURNAL_ENTRIES)] = 100,
) -> LabelJournal:
    return store.label_journal(sku=sku, limit=limit)


@router.get("/labels/sheets", summary="The A4 sheets of shelf labels written, newest first.")
def label_sheets(client: Manager, config: Config) -> LabelSheets:
    return list_sheets(config.label_sheets_dir)


@router.get(
    "/labels/sheets/{name}",
    summary="Download one A4 sheet of shelf labels (PDF).",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}}},
)
def label_sheet(name: Annotated[str, Path(max_length=256)], client: Manager, config: Config) -> FileResponse:
    path = sheet_path(config.label_sheets_dir, name)
    return FileResponse(path, media_type="application/pdf", filename=path.name)


@router.get("/pickups-overdue", summary="Pickups past their deadline, still waiting.")
def overdue_pickups(client: Manager, store: Store) -> PickupList:
    return store.pickups(overdue=True)


#: The days a store can have books for; outside them a day is a typing slip.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2999, 12, 31)


@router.get("/day", summary="The store's day: receipts, revenue, average receipt, card/cash, per till.")
def store_day(
    client: Manager,
    store: Store,
    date: Annotated[
        dt.date | None, Query(description="The day (YYYY-MM-DD), the hub's local one; today if left out.")
    ] = None,
) -> StoreDay:
    if date is not None and not FIRST_DAY <= date <= LAST_DAY:
        raise StoreError(
            ErrorCode.INVALID_REQUEST, f"no store day {date}: ask for one from {FIRST_DAY} to {LAST_DAY}", field="date"
        )
    return store.day(date)
