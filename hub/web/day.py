"""The store's day: what the tills took today, and how the cloud link stands (docs/web.md).

The day's receipts, revenue and average receipt, large; how it was paid (card, cash,
loyalty points) and the refunds; the same per till.  Everything is the store's own
figures, the ones REST's ``GET /api/v1/day`` answers (``StoreDomain.day``: local
midnight to midnight, refunds taken off).  Below them, read-only, the cloud link as
``GET /api/v1/sync/state`` tells it: its level, the events not yet in the cloud and how
long the oldest has waited, and what is wrong.  Pausing the link is a technician's act
in the console, not here.

Another day is one ``date`` away (the form's date field, or the links to the day before
and after); a date the form cannot read is told next to the field, today below it.
Today's page refreshes itself, so a manager watching it sees the receipts come in.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from devices.labels.wording import rubles
from hub.api.deps import Link, Store
from hub.api.routes.manager import FIRST_DAY, LAST_DAY
from hub.web.frame import SignedIn, largest_unit, local_time, render

log = logging.getLogger(__name__)

router = APIRouter(prefix="/manage", include_in_schema=False)

PAGE = "/manage/day"
#: How often today's open page asks for the figures again.
POLL_S = 15


@dataclass
class DayForm:
    """The day asked for, as typed, and what is wrong with it."""

    typed: str = ""
    day: dt.date | None = None
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, date: str) -> DayForm:
        form = cls(typed=date.strip()[:32])
        if not form.typed:
            return form
        try:
            day = dt.date.fromisoformat(form.typed)
        except ValueError:
            form.problems["date"] = "A day is written as year-month-day: 2026-12-04."
            return form
        if not FIRST_DAY <= day <= LAST_DAY:
            form.problems["date"] = "The store keeps days from %(first)s to %(last)s."
        else:
            form.day = day
        return form


@router.get("/day", response_class=HTMLResponse)
async def day_page(request: Request, session: SignedIn, store: Store, link: Link, date: str = "") -> HTMLResponse:
    form = DayForm.read(date)
    if form.problems:
        log.info("day page: %s asked for the day %r, refused: %s", session.client_id, form.typed, form.problems)
    figures = store.day(form.day)
    shown = figures.since.date()
    today = dt.date.fromtimestamp(store.clock())
    cloud = await link.refresh()
    fragment = bool(request.headers.get("hx-request"))  # today's poll: only the live part
    return render(
        request,
        "day_live.html" if fragment else "day.html",
        status=422 if form.problems else 200,
        session=session,
        form=form,
        day=figures,
        shown=shown,
        today=today,
        earlier=shown - dt.timedelta(days=1) if shown > FIRST_DAY else None,
        later=shown + dt.timedelta(days=1) if shown < today else None,
        live=shown == today,
        poll_s=POLL_S,
        cloud=cloud,
        waited=largest_unit(cloud.oldest_undelivered_age_s),
        last_contact=_moment(cloud.last_contact_at),
        limits={"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
        money=rubles,
    )


def _moment(timestamp: float | None) -> str | None:
    return local_time(dt.datetime.fromtimestamp(timestamp)) if timestamp is not None else None
