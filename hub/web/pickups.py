"""The Pickups page: the click-and-collect orders waiting at the counter (docs/web.md).

Today's and overdue orders first (overdue ones highlighted), a search by order number or
the shopper's name, and each order's next steps as forms: set aside (ready), collected
with the shopper's code, returned.  A step goes through the store domain as REST's
``POST /api/v1/pickups/{id}/transitions`` does; a refusal is shown next to the field it
is about, in the page's language.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bus.payloads import DeviceError, ErrorCode
from hub.api.deps import Store
from hub.permissions import check_store_access
from hub.store.schemas import PickupTransition
from hub.web.frame import PostedBySignedIn, SignedIn, local_time, quantity, render

log = logging.getLogger(__name__)

router = APIRouter(prefix="/manage", include_in_schema=False)

PAGE = "/manage/pickups"
#: The views: what is due by tonight (overdue included), everything still waiting, all.
VIEWS = ("today", "open", "all")
MAX_SEARCH = 64
#: The steps the counter takes; ``arrived`` is the cloud's, ``cancelled`` the shopper's.
COUNTER_STEPS = ("ready", "collected", "returned")
ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CODE = re.compile(r"^[A-Za-z0-9]{1,16}$")


def _end_of_today() -> float:
    """Midnight ahead, in the hub's own time zone: the shop's day."""
    now = dt.datetime.now().astimezone()
    return (now.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)).timestamp()


def _listing(store: Any, view: str, search: str) -> Any:
    due_before = _end_of_today() if view == "today" else None
    return store.pickups(search=search or None, open_only=view != "all", due_before=due_before)


def _page(
    request: Request,
    session: Any,
    store: Any,
    *,
    view: str = "today",
    search: str = "",
    status: int = 200,
    problems: dict[str, str] | None = None,
    order: str | None = None,
    done: str | None = None,
) -> HTMLResponse:
    """The page; ``problems`` (field -> msgid) belong to ``order``'s row, or to the search."""
    listing = _listing(store, view if view in VIEWS else "today", search if len(search) <= MAX_SEARCH else "")
    return render(
        request, "pickups.html", status=status, session=session, listing=listing, view=view, views=VIEWS,
        search=search, problems=problems or {}, order=order, done=done, steps=COUNTER_STEPS,
        may_act=_may_act(session.role), local=local_time, quantity=quantity,
    )  # fmt: skip


def _may_act(role: str) -> bool:
    try:
        check_store_access(role, "pickup_transitions")
    except DeviceError:
        return False
    return True


@router.get("/pickups", response_class=HTMLResponse)
async def pickups_page(
    request: Request, session: SignedIn, store: Store, view: str = "today", q: str = "", done: str = ""
) -> HTMLResponse:
    problems: dict[str, str] = {}
    if view not in VIEWS:
        problems["view"] = "Choose one of the lists shown."
    if len(q) > MAX_SEARCH:
        problems["q"] = "A search is at most 64 characters."
    status = 422 if problems else 200
    return _page(request, session, store, view=view, search=q, status=status, problems=problems, done=done[:80] or None)


#: A store refusal's msgid on the page, by its code and the field it is about.
REFUSALS = {
    (ErrorCode.FORBIDDEN, "code"): ("code", "Wrong collection code: ask the shopper for the code in their message."),
    (ErrorCode.CONFLICT, "to"): ("to", "This order cannot take that step now; the page shows what it can do."),
    (ErrorCode.CONFLICT, "lines"): ("to", "Not enough stock to set this order aside."),
    (ErrorCode.NOT_FOUND, "id"): ("to", "This store has no such order."),
}


@router.post("/pickups/{order_id}", response_class=HTMLResponse)
async def pickup_step(
    request: Request,
    order_id: str,
    session: PostedBySignedIn,
    store: Store,
    to: Annotated[str, Form(max_length=32)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
    view: Annotated[str, Form(max_length=16)] = "today",
    q: Annotated[str, Form(max_length=MAX_SEARCH)] = "",
) -> Response:
    def refused(status: int, field: str, message: str) -> HTMLResponse:
        return _page(
            request, session, store, view=view, search=q, status=status, problems={field: message}, order=order_id
        )

    if not _may_act(session.role):
        return refused(403, "to", "Only managers take pickup orders through their steps.")
    if not ORDER_ID.match(order_id):
        return refused(404, "to", "This store has no such order.")
    if to not in COUNTER_STEPS:
        return refused(422, "to", "Choose one of the steps shown.")
    code = code.strip()
    if to == "collected" and not CODE.match(code):
        return refused(422, "code", "Type the shopper's collection code: letters and digits, up to 16.")
    try:
        moved = await store.transition_pickup(order_id, PickupTransition(to=to, code=code or None), session.client_id)
    except DeviceError as refusal:
        field = (refusal.details or {}).get("field")
        where, message = REFUSALS.get((refusal.code, field), ("to", refusal.message))
        log.info("web pickup step %s -> %s by %s refused: %s", order_id, to, session.client_id, refusal.message)
        return refused(403 if refusal.code == ErrorCode.FORBIDDEN else 409, where, message)
    log.info("web pickup step: %s is %s (by %s)", order_id, moved.state, session.client_id)
    back = f"{PAGE}?view={view if view in VIEWS else 'today'}&done={order_id}:{moved.state}"
    return RedirectResponse(back, status_code=303)
