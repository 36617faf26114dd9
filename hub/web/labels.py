"""The Labels page: what a price change left stale on the shelves (docs/web.md).  It
reads the store's own label queue, the one REST's ``GET /api/v1/labels`` answers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from devices.labels.wording import rubles
from hub.api.deps import Store
from hub.web.frame import SignedIn, render

router = APIRouter(prefix="/manage", include_in_schema=False)

#: The rows shown at once (paging comes with the search).
PAGE_SIZE = 100


def _age(seconds: float | None) -> tuple[int, str] | None:
    """The oldest label's age in its largest whole unit: (number, msgid of the unit)."""
    if seconds is None:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return int(seconds // size), unit
    return int(seconds), "s"


@router.get("/labels", response_class=HTMLResponse)
async def labels_page(request: Request, session: SignedIn, store: Store) -> HTMLResponse:
    queue = store.labels(PAGE_SIZE)
    return render(request, "labels.html", session=session, queue=queue, age=_age(queue.oldest_age_s), money=rubles)
