"""The Labels page: what a price change left stale on the shelves (docs/web.md).  It
reads the store's own label queue, the one REST's ``GET /api/v1/labels`` answers: a
search in the name or SKU, a category, a page at a time — one query each, in the store.

The form's fields arrive as plain text and are checked here, so a wrong page number or
a search too long is told next to its field, never answered with an error page."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from devices.labels.wording import rubles, unbreakable_units
from hub.api.deps import Devices, Store
from hub.store.catalogue import MAX_LABEL_SEARCH
from hub.web.frame import SignedIn, largest_unit, render
from hub.web.labels_print import print_choices

log = logging.getLogger(__name__)

router = APIRouter(prefix="/manage", include_in_schema=False)

#: The rows shown at once.
PAGE_SIZE = 100
#: How often the open page asks whether the queue changed (new prices from the cloud).
POLL_S = 5
#: The highest page number the form takes: 10,000 pages of 100 is more than any shop's queue.
MAX_PAGE = 10_000


@dataclass
class QueueForm:
    """The list's form as the manager filled it in, and what is wrong with it."""

    search: str = ""
    category: str = ""
    page: int = 1
    #: The page number as typed, shown back in its field when it is wrong.
    page_typed: str = ""
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, search: str, category: str, page: str, categories: list[str]) -> QueueForm:
        form = cls(search=search.strip(), category=category)
        if len(form.search) > MAX_LABEL_SEARCH:
            form.problems["q"] = "The search is too long: at most %(most)d characters."
        if form.category and form.category not in categories:
            form.problems["category"] = "No stale labels in this category."
        form.page_typed = page.strip()[: len(str(MAX_PAGE)) + 10]
        form.page = form._page_number(page.strip())
        return form

    def _page_number(self, page: str) -> int:
        if not page:
            return 1
        if not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
            self.problems["page"] = "The page is a whole number from 1 to %(most)d."
            return 1
        return int(page)

    def query(self, page: int) -> dict[str, str | int]:
        """The link to another page of the same list."""
        return {"q": self.search, "category": self.category, "page": page}


@router.get("/labels", response_class=HTMLResponse)
async def labels_page(
    request: Request, session: SignedIn, store: Store, devices: Devices, q: str = "", category: str = "", page: str = ""
) -> HTMLResponse:
    categories = store.label_categories()
    form = QueueForm.read(q, category, page, categories)
    if form.problems:
        log.info(
            "labels page: %s asked for %r, refused: %s", session.client_id, dict(request.query_params), form.problems
        )
        queue = store.labels(PAGE_SIZE)
    else:
        queue = store.labels(
            PAGE_SIZE,
            offset=(form.page - 1) * PAGE_SIZE,
            search=form.search or None,
            category=form.category or None,
        )
    pages = max(1, -(-queue.matching // PAGE_SIZE))
    fragment = bool(request.headers.get("hx-request"))  # the page's poll: only the live part
    return render(
        request,
        "labels_queue.html" if fragment else "labels.html",
        fragment=fragment,
        poll_s=POLL_S,
        status=422 if form.problems else 200,
        session=session,
        queue=queue,
        age=largest_unit(queue.oldest_age_s),
        money=rubles,
        units=unbreakable_units,
        form=form,
        categories=categories,
        pages=pages,
        choices=print_choices(devices),
        limits={"q": MAX_LABEL_SEARCH, "page": MAX_PAGE},
    )
