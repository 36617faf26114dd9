"""A tag's preview on the Labels page: one product's tag as a label printer would print
it on a template, before anything prints (docs/web.md).

The tag's words come from the store as a print run's do (``StoreDomain.label_tags``
with the product named, as a reprint asks for it), and its picture from the label
printer's own layout and dots (``devices.labels.preview``) at the chosen printer's dots
per mm — the print form's first printer when none is named, as the form's default is.
An empty template is the printer's own, as in the print form.

``/labels/preview`` is the dialog's contents with ``HX-Request``, or without htmx a page
of its own where the printer and the template are chosen; ``/labels/preview.png`` is the
picture.  Nothing is kept: the browser asks again at every look (a price may have
changed), and the ETag — the tag's words, the template, the dots — spares the drawing
when nothing did.  Drawing is CPU work, so it runs in a worker thread, a few at once,
and a drawing that takes too long is given up with a page saying so.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from devices.labels.layout import lay_out, tag_barcode
from devices.labels.preview import tag_png
from devices.labels.raster import PRINTER_DPMM
from devices.labels.tag import LabelItem, LabelRefused, LabelSelection, TagData
from devices.labels.template import Template, known_templates, load_template
from devices.labels.wording import rubles
from hub.api.deps import Devices, Store
from hub.store.errors import StoreError
from hub.web.frame import SignedIn, WebRefusal, render
from hub.web.labels_print import label_printers, print_choices

log = logging.getLogger(__name__)

router = APIRouter(prefix="/manage", include_in_schema=False)

T = TypeVar("T")

#: Dots per mm without a printer that says its own: 203 dpi, most shelf-label printers'.
PREVIEW_DPMM = 8
#: Tags drawn at once: one takes 3-7 ms of a CPU (measured, 58x40 mm at 8 and 12 dots a
#: mm; the first a few tens while its fonts load), and the hub's box has two CPUs that
#: the tills need too; more managers looking wait their turn.
DRAWINGS_AT_ONCE = 2
#: A preview not drawn in this long is given up: drawing takes milliseconds, so this is
#: a hub too busy to draw now, and the manager is told to look again.
DRAWING_TIMEOUT_S = 5.0
#: The browser may keep a preview but asks again before showing it: a price changes.
CACHE_CONTROL = "private, no-cache"


@dataclass(frozen=True)
class Preview:
    """One product's tag on a template, at a printer's dots."""

    tag: TagData
    template: Template
    printer: str | None
    dpmm: int
    resident_font: bool

    @property
    def etag(self) -> str:
        """Changes when anything on the picture may: the tag's words (its price, the
        day), the template's file, the dots."""
        drawn = (self.tag.model_dump_json(), self.template.model_dump_json(), str(self.dpmm), str(self.resident_font))
        return '"' + hashlib.sha256("\n".join(drawn).encode()).hexdigest()[:32] + '"'

    @property
    def size(self) -> tuple[int, int]:
        """The picture in dots, as the printer's raster rounds the tag's millimetres."""
        return round(self.template.width * self.dpmm), round(self.template.height * self.dpmm)

    @property
    def barcode(self) -> str:
        return tag_barcode(self.tag)[1]

    def query(self) -> dict[str, str]:
        """The picture's address: what was chosen, the template resolved."""
        return {"sku": self.tag.sku, "template": self.template.name, "printer": self.printer or ""}

    def lay_out(self) -> None:
        """``LabelRefused`` when the tag cannot print right on this template."""
        lay_out(self.tag, self.template)

    def png(self) -> bytes:
        return tag_png(self.tag, self.template, dpmm=self.dpmm, resident_font=self.resident_font)


@dataclass(frozen=True)
class Chosen:
    """The preview's choices as asked for: a product, a printer, a template."""

    sku: str
    printer: str
    template: str

    @classmethod
    def read(cls, sku: str, printer: str, template: str) -> Chosen:
        return cls(sku=sku.strip(), printer=printer.strip(), template=template.strip())


def _printer(devices: Any, chosen: Chosen) -> dict[str, Any] | None:
    """The printer the preview is drawn for: the chosen one, else the form's first."""
    printers = label_printers(devices)
    if not chosen.printer:
        return printers[0] if printers else None
    for printer in printers:
        if printer["id"] == chosen.printer:
            return printer
    raise WebRefusal(422, "Choose one of the label printers.")


def _preview(store: Any, printer: dict[str, Any] | None, chosen: Chosen) -> Preview:
    """The product's tag on the template (blocking: the template's file, the store)."""
    capabilities = printer["capabilities"] if printer else {}
    name = chosen.template or capabilities.get("template") or ""
    if name not in known_templates():
        raise WebRefusal(422, "Choose one of the templates.")
    template = load_template(name)
    try:
        selection = LabelSelection(items=[LabelItem(sku=chosen.sku)])
    except ValidationError:  # no SKU, or one longer than any product's
        raise _no_such_product(chosen.sku) from None
    try:
        [(tag, _)] = store.label_tags(selection)
    except StoreError as refusal:
        if (refusal.details or {}).get("skus"):  # the SKUs the store does not know
            raise _no_such_product(chosen.sku) from None
        raise _cannot_print(refusal.message) from None
    dpmm = capabilities.get("dpmm")
    sheet = printer is not None and printer["sheet"]
    return Preview(
        tag=tag,
        template=template,
        printer=printer["id"] if printer else None,
        dpmm=dpmm if dpmm in PRINTER_DPMM else PREVIEW_DPMM,
        # An A4 sheet's text is the template's own font, as a bitmap's is; a label
        # printer with a Cyrillic font draws text in it.
        resident_font=bool(capabilities.get("resident_cyrillic")) and not sheet,
    )


def _no_such_product(sku: str) -> WebRefusal:
    return WebRefusal(404, "This store has no product with the SKU %(sku)s.", values={"sku": sku[:64]})


def _cannot_print(reason: str) -> WebRefusal:
    """The store's or the layout's own words for why (no price, a wrong GTIN, no old price)."""
    return WebRefusal(422, "This tag cannot print: %(reason)s", values={"reason": reason})


def _drawings(request: Request) -> asyncio.Semaphore:
    if not hasattr(request.app.state, "label_previews"):
        request.app.state.label_previews = asyncio.Semaphore(DRAWINGS_AT_ONCE)
    return request.app.state.label_previews


async def _in_worker(request: Request, work: Callable[[], T]) -> T:
    """``work`` in a worker thread, a few at once, given up after ``DRAWING_TIMEOUT_S``;
    a tag that cannot print right is a 422 naming why."""
    try:
        async with _drawings(request):
            # A drawing given up still runs to its end in its thread (a thread cannot be
            # stopped), no longer counted in DRAWINGS_AT_ONCE.
            return await asyncio.wait_for(asyncio.to_thread(work), DRAWING_TIMEOUT_S)
    except TimeoutError:
        log.warning("labels page: a tag preview took over %.0f s to draw; given up", DRAWING_TIMEOUT_S)
        raise WebRefusal(
            503, "The tag took too long to draw. Look again in a moment.", headers={"Retry-After": "5"}
        ) from None
    except LabelRefused as refusal:
        raise _cannot_print(refusal.message) from None


async def _prepared(request: Request, store: Any, devices: Any, chosen: Chosen, *, laid_out: bool = False) -> Preview:
    """The preview, in one worker trip; ``laid_out``: checked that its tag prints right."""
    printer = _printer(devices, chosen)

    def prepare() -> Preview:
        preview = _preview(store, printer, chosen)
        if laid_out:
            preview.lay_out()
        return preview

    return await _in_worker(request, prepare)


@router.get("/labels/preview", response_class=HTMLResponse)
async def tag_preview(
    request: Request, session: SignedIn, store: Store, devices: Devices, sku: str = "", printer: str = "",
    template: str = "",
) -> HTMLResponse:  # fmt: skip
    """The dialog's tag (with ``HX-Request``), or a page of its own with the choices."""
    chosen = Chosen.read(sku, printer, template)
    preview, problem = None, None
    try:
        preview = await _prepared(request, store, devices, chosen, laid_out=True)
    except WebRefusal as refusal:
        log.info("labels page: preview of %r for %s refused: %s", chosen, session.client_id, refusal.message)
        preview, problem = None, refusal
    fragment = bool(request.headers.get("hx-request"))
    return render(
        request, "labels_preview_tag.html" if fragment else "labels_preview.html",
        status=problem.status if problem else 200, session=session, preview=preview, problem=problem,
        chosen=chosen, choices=print_choices(devices), money=rubles,
    )  # fmt: skip


@router.get("/labels/preview.png")
async def tag_preview_png(
    request: Request, session: SignedIn, store: Store, devices: Devices, sku: str = "", printer: str = "",
    template: str = "",
) -> Response:  # fmt: skip
    """The tag's picture, one pixel a printer's dot; a refusal is a page, as elsewhere."""
    preview = await _prepared(request, store, devices, Chosen.read(sku, printer, template))
    headers = {"ETag": preview.etag, "Cache-Control": CACHE_CONTROL}
    asked = request.headers.get("if-none-match", "")
    if preview.etag in (tag.strip().removeprefix("W/") for tag in asked.split(",")):
        return Response(status_code=304, headers=headers)
    png = await _in_worker(request, preview.png)
    return Response(png, media_type="image/png", headers=headers)
