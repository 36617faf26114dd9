"""The Labels page: what a price change left stale on the shelves (docs/web.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hub.web.frame import SignedIn, render

router = APIRouter(prefix="/manage", include_in_schema=False)


@router.get("/labels", response_class=HTMLResponse)
async def labels_page(request: Request, session: SignedIn) -> HTMLResponse:
    return render(request, "labels.html", session=session)
