"""Printing from the Labels page: the chosen labels (or the whole filtered queue), a
template and a label printer — a Zebra, a TSC, or the A4 sheet printer whose PDF the
page then offers to download.

The page sends the same ``print_labels`` request a till sends over the bus and
``storehub labels print`` through REST, to the same request router; nothing here
prints.  A run answers when its last tag is done, so the page starts it in the
background and polls a fragment of it (``/manage/labels/runs/{id}``) until it answers:
the tags printed, or what stopped it and which tags did not print.  Meanwhile the
fragment shows how many tags the printer has printed and how many it was sent: the run
listens (``hub.job_events``) for the printer's ``progress`` events to the manager about
this request, in the hub's own process, and stops listening once it is answered."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from bus.payloads import Event, JobProgress
from bus.payloads import Request as DeviceRequest
from bus.payloads import Response as DeviceResponse
from devices.label_printer import PROBLEM_WORDS
from devices.labels.tag import MAX_TAGS
from devices.labels.template import known_templates
from devices.labels.wording import rubles
from hub.api.deps import Config, Devices, JobEventsDep, Router, Store
from hub.job_events import JobEvents
from hub.label_sheets import sheet_path
from hub.store.errors import StoreError
from hub.web.frame import PostedBySignedIn, SignedIn, WebRefusal, render

log = logging.getLogger(__name__)

router = APIRouter(prefix="/manage", include_in_schema=False)

#: The journal's lines on the page: the last day or two of a shop's printing.
JOURNAL_LINES = 200
#: The runs a page can still look at; older ones are forgotten (the journal keeps what printed).
KEPT_RUNS = 50


@dataclass
class PrintRun:
    """One print run the page started: who, where, how many, and the printer's answer."""

    id: str
    client: str
    printer: str
    sheet: bool
    tags: int
    task: asyncio.Task[DeviceResponse] | None = None
    answer: DeviceResponse | None = None
    #: The printer's last word on the way (its ``progress``): tags sent to it, and out of it.
    sent: int = 0
    printed: int = 0
    #: The tags in the run as the printer counts them (0 until it first says).
    total: int = 0

    @property
    def done(self) -> bool:
        return self.answer is not None

    def heard(self, event: Event) -> None:
        """The printer told the manager how far this run has come."""
        if event.type != "progress":
            return
        try:
            progress = JobProgress.model_validate(event.data)
        except ValidationError:
            log.warning("labels page: run %s: unreadable progress from %s: %r", self.id, self.printer, event.data)
            return
        self.sent, self.total = progress.done, progress.total
        self.printed = progress.printed or 0


@dataclass
class PrintRuns:
    runs: OrderedDict[str, PrintRun] = field(default_factory=OrderedDict)

    def add(self, run: PrintRun) -> None:
        self.runs[run.id] = run
        while len(self.runs) > KEPT_RUNS:
            self.runs.popitem(last=False)


def _runs(request: Request) -> PrintRuns:
    if not hasattr(request.app.state, "label_runs"):
        request.app.state.label_runs = PrintRuns()
    return request.app.state.label_runs


def label_printers(devices: Any) -> list[dict[str, Any]]:
    """The label printers for the form: id, status, whether it writes an A4 PDF, and its
    capabilities (dots per mm, template: what a preview draws it at)."""
    printers = []
    for actor in devices.actors():
        state = actor.state_document()
        if state.kind == "label_printer":
            capabilities = state.capabilities or {}
            sheet = capabilities.get("language") == "pdf"
            printers.append(
                {"id": state.device_id, "status": state.status, "sheet": sheet, "capabilities": capabilities}
            )
    return printers


def print_choices(devices: Any) -> dict[str, Any]:
    """What the print form offers: the printers and the templates."""
    return {"printers": label_printers(devices), "templates": known_templates()}


def _selection(store: Any, skus: list[str], everything: bool, search: str, category: str) -> dict[str, Any]:
    """The request's ``queue``: the ticked labels, or every one the list's filter matches."""
    if not everything:
        return {"skus": skus[:MAX_TAGS]}
    queue = store.labels(MAX_TAGS, search=search or None, category=category or None)
    if queue.matching > MAX_TAGS:
        raise WebRefusal(422, "At most 5000 labels print at once: narrow the search.")
    return {"skus": [label.sku for label in queue.labels]}


@router.post("/labels/print", response_class=HTMLResponse)
async def print_labels(
    request: Request,
    session: PostedBySignedIn,
    store: Store,
    devices: Devices,
    request_router: Router,
    job_events: JobEventsDep,
    printer: Annotated[str, Form(max_length=64)] = "",
    template: Annotated[str, Form(max_length=64)] = "",
    sku: Annotated[list[str] | None, Form()] = None,
    everything: Annotated[str, Form(alias="all", max_length=8)] = "",
    q: Annotated[str, Form(max_length=256)] = "",
    category: Annotated[str, Form(max_length=256)] = "",
    reprint: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    printers = {p["id"]: p for p in label_printers(devices)}
    if printer not in printers:
        raise WebRefusal(422, "Choose one of the label printers.")
    if template and template not in known_templates():
        raise WebRefusal(422, "Choose one of the templates.")
    skus = sku or []
    if not skus and not everything and not reprint:
        raise WebRefusal(422, "Tick the labels to print, or choose all of them.")
    what: dict[str, Any] = (
        {"items": [{"sku": reprint}]}  # a tag from the journal, stale or not
        if reprint
        else {"queue": _selection(store, skus, bool(everything), q.strip(), category)}
    )
    args = what | ({"template": template} if template else {})
    run = PrintRun(
        id=secrets.token_urlsafe(9),
        client=session.client_id,
        printer=printer,
        sheet=printers[printer]["sheet"],
        tags=len(what["items"] if reprint else what["queue"]["skus"]),
    )
    device_request = DeviceRequest(action="print_labels", args=args, request_id=f"web-{run.id}")
    run.task = asyncio.create_task(_run(request_router, job_events, run, device_request))
    _runs(request).add(run)
    log.info("labels page: %s prints %d labels on %s (run %s)", session.client_id, run.tags, printer, run.id)
    return RedirectResponse(f"/manage/labels/runs/{run.id}", status_code=303)


async def _run(
    request_router: Any, job_events: JobEvents, run: PrintRun, device_request: DeviceRequest
) -> DeviceResponse:
    stop_listening = job_events.listen(run.client, device_request.request_id, run.heard)
    try:
        answer = await request_router.execute(run.client, run.printer, device_request)
    finally:
        stop_listening()
    run.answer = answer
    if not answer.ok:
        log.info("labels page: run %s on %s stopped: %s", run.id, run.printer, answer.error)
    return answer


def _find(request: Request, run_id: str, session: Any) -> PrintRun:
    run = _runs(request).runs.get(run_id)
    if run is None or run.client != session.client_id:
        raise WebRefusal(404, "This print run is not known here any more; the journal shows what printed.")
    return run


@router.get("/labels/runs/{run_id}", response_class=HTMLResponse)
async def print_run(request: Request, session: SignedIn, run_id: Annotated[str, Path(max_length=32)]) -> Response:
    """The run's page, or with htmx only its progress fragment (polled until it answers)."""
    run = _find(request, run_id, session)
    fragment = bool(request.headers.get("hx-request"))
    template = "labels_run_fragment.html" if fragment else "labels_run.html"
    return render(request, template, session=session, run=run, outcome=_outcome(run))


def _outcome(run: PrintRun) -> dict[str, Any] | None:
    """The printer's answer as the page shows it: printed tags, or the problem and the rest."""
    if run.answer is None:
        return None
    if run.answer.ok:
        result = run.answer.result or {}
        return {
            "ok": True,
            "tags": result.get("tags", []),
            "file": result.get("file"),
            "template": result.get("template"),
        }
    error = run.answer.error
    details = (error.details if error else None) or {}
    return {
        "ok": False,
        "code": error.code if error else "internal",
        "message": error.message if error else "",
        "not_printed": details.get("not_printed", []),
        "printed": details.get("printed", []),
        "said": _in_words(error.code if error else None, details.get("reason")),
    }


#: Why a run stopped, beyond what the printer itself reports (``PROBLEM_WORDS``): each a
#: catalogue msgid, told to the manager in the page's language.
STOPPED_WORDS = {
    "disconnected": "the printer went off the line; check its cable or network, then print the rest again",
    "not_encoded": "a tag cannot be put in this printer's language; print it on another printer",
    "write_failed": "the sheet could not be written to the hub's disk; tell the technician",
}
OFFLINE_WORDS = "the printer is offline; check that it is on and connected, then print again"


def _in_words(code: str | None, reason: Any) -> str | None:
    """The msgid that tells a manager why the run stopped, or None to show the device's own words."""
    if isinstance(reason, str) and (said := PROBLEM_WORDS.get(reason) or STOPPED_WORDS.get(reason)):
        return said
    return OFFLINE_WORDS if code == "device_offline" else None


@router.get("/labels/sheets/{name}")
async def label_sheet(session: SignedIn, config: Config, name: Annotated[str, Path(max_length=256)]) -> FileResponse:
    """An A4 sheet the page printed, downloaded with the manager's session (REST's own file)."""
    try:
        path = sheet_path(config.label_sheets_dir, name)
    except StoreError as refusal:
        log.info("labels page: sheet %r refused to %s: %s", name[:80], session.client_id, refusal.message)
        raise WebRefusal(404, "No such label sheet.") from None
    return FileResponse(path, media_type="application/pdf", filename=path.name)


@router.get("/labels/journal", response_class=HTMLResponse)
async def label_journal(request: Request, session: SignedIn, store: Store, devices: Devices) -> HTMLResponse:
    """What reached the paper, newest first (the store's print journal), each with a reprint."""
    journal = store.label_journal(limit=JOURNAL_LINES)
    printers = {p["id"] for p in label_printers(devices)}
    return render(request, "labels_journal.html", session=session, journal=journal, printers=printers, money=rubles)
