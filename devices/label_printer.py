"""The label printer: shelf tags in ZPL II or TSPL over TCP 9100, serial, USB or a device
file, or on A4 sheets (a PDF file in a folder) for an office printer.

A manager asks for tags by product or from the stale-label queue (``print_labels``); the
store gives the tags (``DevicePort.label_tags``), the actor refuses the run before
anything prints if any tag cannot be printed right, then per tag: lays it out on the
template (``labels.layout``), draws it in the printer's dots (``labels.raster``), encodes
it in the profile's language, sends it and asks the printer's status.  A tag counts as
printed once the printer's answer says it has left its buffer (ZPL) or, where the
language cannot say (TSPL), once its bytes went out and the answer after them is clean.
The batch is bulk work: after each tag a waiting receipt or status question runs first.

Paper out, ribbon out, head open or a paused printer stop the run: the store hears which
tags printed (``DevicePort.labels_printed``, always, on failure too), the requester gets
``device_error`` naming the printed and the unprinted SKUs, and the device shows
``error`` until the printer says it is fine again (asked about once a second).  A printer
that stops answering on its transport is gone: the supervisor marks it offline and
reconnects.

The profile (``labels.profiles``) is data: language, dots per mm, print width, longest
label, resident Cyrillic font, status support and the default template.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import importlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bus.payloads import DeviceError, ErrorCode
from devices.actor import DeviceGone, DevicePort, DeviceSpec, Job, action
from devices.escpos_link import EscposActor, EscposLink, LinkOptions, Question, driver_can_read
from devices.labels.language import LabelLanguage, LabelStatus
from devices.labels.layout import TagLayout, lay_out
from devices.labels.profiles import LabelProfile, ProfileError, known_profiles, load_profile
from devices.labels.raster import rasterize
from devices.labels.tag import (
    MAX_COPIES,
    MAX_TAGS,
    LabelItem,
    LabelRefused,
    LabelSelection,
    LabelsPrinted,
    PrintedTag,
    QueueFilter,
    TagData,
)
from devices.labels.template import Template, known_templates, load_template
from devices.queue import Priority

log = logging.getLogger(__name__)

#: How often a printer in error is asked whether it is fine again: someone is standing
#: at it with a new roll; a status line a second costs the printer nothing.
ERROR_POLL_S = 1.0

#: While a printer works through the labels in its buffer it is asked this often how
#: many are left; a buffer that does not shrink for BUFFER_STALL_S stops the run (the
#: longest label, 991 mm, takes about 20 s at the slowest speed, 2 inches a second).
BUFFER_POLL_S = 0.2
BUFFER_STALL_S = 60.0

#: The longest status answer read: ZPL's ``~HS`` is three short lines (~80 bytes), TSPL's
#: ``<ESC>!?`` one byte.  A printer that babbles past this is cut off, not waited for.
STATUS_REPLY_MAX = 512

#: Which module holds each language's ``LabelLanguage`` object (named ``LANGUAGE``).
LANGUAGE_MODULES = {"zpl": "devices.labels.zpl", "tspl": "devices.labels.tspl"}

#: Sheets the ``sheets`` action lists, newest first: a day's runs, not a year's.
SHEETS_LISTED = 100

#: What each problem the printer reports is in the shop's words.
PROBLEM_WORDS = {
    "paper_out": "the printer is out of labels; load a new roll",
    "ribbon_out": "the printer is out of ribbon; load a new one",
    "head_open": "the print head is open; close it",
    "paused": "the printer is paused; press its pause button to resume",
    "paper_jam": "the labels are jammed; open the printer and clear the path",
    "cover_open": "the printer's cover is open; close it",
    "head_too_hot": "the print head is too hot; let it cool",
    "head_too_cold": "the print head is too cold; let the printer warm up",
    "temperature_out_of_range": "the print head is too hot or too cold; wait a little",
    "settings_lost": "the printer lost its settings; calibrate it",
    "not_printing": "the printer holds labels and prints none; look at it, then print the rest again",
}


def language_for(name: str) -> LabelLanguage:
    """The printer language a profile names (imported when a store has such a printer)."""
    return importlib.import_module(LANGUAGE_MODULES[name]).LANGUAGE


class LabelPrinterOptions(LinkOptions):
    profile: str | None = Field(
        None,
        description="The printer's profile (devices/labels/profiles/): zebra-zd421-203, tsc-te200, a4-sheet, …  "
        "Default: the device's model if it names a profile.",
    )
    template: str | None = Field(
        None,
        max_length=64,
        description="The template printed when a request names none.  Default: the profile's "
        "(shelf-58x40; a4-70x37 for a4-sheet).",
    )
    output_folder: str | None = Field(
        None, description="The a4-sheet profile: the folder PDF sheets are written to.  Default: the device's port."
    )
    status_after_each: bool = Field(
        True,
        description="Ask the printer's status after every tag, so a stop names exactly the tags that printed.  "
        "Off: asked after the last one only; a stop then counts as printed what the printer says left its "
        "buffer (ZPL), or none of the run (TSPL).",
    )

    @model_validator(mode="after")
    def _known_profile_and_template(self) -> LabelPrinterOptions:
        if self.profile is not None and self.profile not in known_profiles():
            raise ValueError(f"profile {self.profile!r} is not one of {', '.join(known_profiles())}")
        if self.template is not None and self.template not in known_templates():
            raise ValueError(f"template {self.template!r} is not one of {', '.join(known_templates())}")
        return self


class PrintLabelsArgs(BaseModel):
    """What to print: named products (``items``) or the stale-label queue (``queue``)."""

    model_config = ConfigDict(extra="forbid")

    items: list[LabelItem] | None = Field(None, max_length=MAX_TAGS, description="Tags of these products.")
    queue: QueueFilter | None = Field(None, description="Tags from the stale-label queue; {} for all of it.")
    template: str | None = Field(None, min_length=1, max_length=64, description="Default: the printer's template.")
    copies: int | None = Field(
        None, strict=True, ge=1, le=MAX_COPIES, description="Copies of each tag whose item does not say."
    )

    @model_validator(mode="after")
    def _one_selection(self) -> PrintLabelsArgs:
        if not self.items and self.queue is None:
            raise ValueError("name the tags: items (sku, copies) or queue (category, skus, limit)")
        if self.items and self.queue is not None:
            raise ValueError("ask for items or the queue, not both in one run")
        return self

    def selection(self) -> LabelSelection:
        if self.items is None or self.copies is None:
            return LabelSelection(items=self.items, queue=self.queue)
        items = [
            item if "copies" in item.model_fields_set else LabelItem(sku=item.sku, copies=self.copies)
            for item in self.items
        ]
        return LabelSelection(items=items)


@dataclass(frozen=True)
class LabelRun:
    """One ``print_labels`` after its checks: every tag laid out, nothing printed yet."""

    template: Template
    from_queue: bool
    tags: list[tuple[TagData, int]]
    layouts: list[TagLayout]

    def outcome(self, device: str, client: str, printed: list[PrintedTag]) -> LabelsPrinted:
        return LabelsPrinted(
            device=device, client=client, template=self.template.name, from_queue=self.from_queue, printed=printed
        )

    def unprinted(self, printed: int) -> list[str]:
        return [tag.sku for tag, _ in self.tags[printed:]]

    def so_far(self, printed: list[PrintedTag]) -> str:
        return f"printed {len(printed)} of {len(self.tags)} tags"

    def details(self, printed: list[PrintedTag], reason: str) -> dict[str, Any]:
        """What a stopped run's answer says: why, and which SKUs printed and which not."""
        return {"reason": reason, "printed": [tag.sku for tag in printed], "not_printed": self.unprinted(len(printed))}


def _vouch(sent: list[PrintedTag], printed: list[PrintedTag], status: LabelStatus) -> None:
    """Extend ``printed`` with the sent tags this status answer vouches for, or raise
    ``LabelStopped`` when it reports a problem.

    A printer that says how many labels wait in its buffer vouches for all but those; one
    that does not, for everything sent when its answer is clean.  With a problem, the
    last label that left the buffer is not vouched for either: it may be the one the
    roll ran out on, half printed."""
    if status.waiting is not None:
        vouched = len(sent) - status.waiting - (1 if status.problems else 0)
    else:
        vouched = len(printed) if status.problems else len(sent)
    if vouched > len(printed):
        printed += sent[len(printed) : vouched]
    if status.problems:
        raise LabelStopped(status)


class LabelStopped(Exception):
    """The printer reported a problem during a run."""

    def __init__(self, status: LabelStatus) -> None:
        super().__init__(status.problems[0])
        self.status = status


class LabelPrinter(EscposActor):
    kind = "label_printer"
    sharing = "shared"
    Options = LabelPrinterOptions
    port_names_driver = True

    def __init__(self, spec: DeviceSpec, port: DevicePort) -> None:
        super().__init__(spec, port)
        self.options: LabelPrinterOptions
        self.profile: LabelProfile | None = self._profile(spec)
        self._language: LabelLanguage | None = None
        self.counters |= {"tags_printed": 0, "labels_printed": 0, "sheets_written": 0}
        if self.profile is not None:
            self.capabilities = self._capabilities(self.profile)

    def _profile(self, spec: DeviceSpec) -> LabelProfile | None:
        """The printer's profile; without one the device stays offline, the reason shown
        as a bad address's is (``EscposActor``: no address, the problem as the reason)."""
        name = self.options.profile or (spec.model if spec.model in known_profiles() else None)
        if name is None:
            self._address_problem = (
                f"no label printer profile: set options.profile (or model) to one of {', '.join(known_profiles())}"
            )
            self.address = None
            return None
        try:
            return load_profile(name)
        except ProfileError as exc:
            self._address_problem, self.address = str(exc), None
            return None

    def _capabilities(self, profile: LabelProfile) -> dict[str, Any]:
        sheet = profile.language == "pdf"
        language = None if sheet else language_for(profile.language)
        return {
            "profile": profile.name,
            "language": profile.language,
            "dpmm": profile.dpmm,
            "print_width_mm": profile.print_width_mm,
            "max_length_mm": profile.max_length_mm,
            "resident_cyrillic": profile.resident_cyrillic,
            "cutter": profile.cutter,
            "peeler": profile.peeler,
            "template": self.options.template or profile.default_template,
            "status": self._can_ask(),
            "feed": language is not None and language.feed_bytes is not None,
            "calibrate": language is not None and language.calibrate_bytes is not None,
        }

    @property
    def sheet(self) -> bool:
        """Whether this printer is an A4 sheet (a PDF file), not a label printer."""
        return self.profile is not None and self.profile.language == "pdf"

    def _can_ask(self) -> bool:
        profile = self.profile
        return profile is not None and profile.status and driver_can_read(self.address and self.address.driver)

    def _lang(self) -> LabelLanguage:
        assert self.profile is not None and not self.sheet
        if self._language is None:
            self._language = language_for(self.profile.language)
        return self._language

    # -- the transport ----------------------------------------------------------------

    @property
    def folder(self) -> Path:
        """Where an A4-sheet printer writes its PDF files."""
        where = self.options.output_folder or self.spec.port
        if not where:
            raise ValueError("an a4-sheet printer needs a folder: options.output_folder or port")
        return Path(where)

    async def open(self) -> None:
        if self.profile is None or not self.sheet:
            await super().open()
            return
        folder = self.folder
        await self.blocking(lambda: folder.mkdir(parents=True, exist_ok=True))
        if not os.access(folder, os.W_OK):
            raise DeviceGone(f"cannot write sheets to {folder}")

    def opening_question(self, link: EscposLink) -> Question | None:
        if not self._can_ask():
            return None
        language = self._lang()
        return (language.status_query, STATUS_REPLY_MAX, language.status_reply_complete)

    async def watch(self) -> None:
        if not self._can_ask():
            await super().watch()
            return
        await self.keep_asking(self._status_now, poll_s=ERROR_POLL_S)

    async def _status_now(self, *, after_label: bool = False) -> LabelStatus | None:
        """Ask the printer and take in what it says (hold ``_talking``); None: no answer.

        ``after_label``: the answer vouches for the label just sent, so a dropped
        connection is the printer gone, never a reconnect and a fresh answer."""
        if not self._can_ask():
            return None
        language = self._lang()
        ask = functools.partial(self._link().ask, reconnect=not after_label)
        reply = await self.blocking(ask, language.status_query, STATUS_REPLY_MAX, language.status_reply_complete)
        if not language.status_reply_complete(reply):
            log.info("%s: no whole status answer (%d bytes); status unknown", self.id, len(reply))
            return None
        try:
            status = language.parse_status(reply)
        except ValueError as exc:
            log.warning("%s: a status answer it cannot read (%s): %r", self.id, exc, reply[:80])
            return None
        self._note(status)
        return status

    def _note(self, status: LabelStatus) -> None:
        """Move in or out of error, and tell people, as the printer's status changes."""
        if status.problems:
            self.printer_trouble(status.problems[0], self._words(status), status_dict(status))
        else:
            self.printer_fine()

    @staticmethod
    def _words(status: LabelStatus) -> str:
        return "; ".join(PROBLEM_WORDS.get(problem, f"the printer reports {problem}") for problem in status.problems)

    # -- print_labels: the checks ---------------------------------------------------------

    async def _prepare(self, job: Job) -> LabelRun:
        """Everything that may refuse the run, before a single tag is sent."""
        args: PrintLabelsArgs = job.args
        assert self.profile is not None
        name = args.template or self.options.template or self.profile.default_template
        template = await self.blocking(self._template, name)
        tags = await self.blocking(self.port.label_tags, args.selection())
        if args.queue is not None and args.copies is not None:
            tags = [(tag, args.copies) for tag, _ in tags]
        try:
            layouts = await self.blocking(lambda: [lay_out(tag, template) for tag, _ in tags])
        except LabelRefused as exc:
            raise DeviceError(
                ErrorCode.INVALID_REQUEST, f"{self.id} cannot print this run: tag {exc.sku}: {exc.message}", exc.details
            ) from None
        return LabelRun(template=template, from_queue=args.queue is not None, tags=tags, layouts=layouts)

    def _template(self, name: str) -> Template:
        """The template, if this printer can print it (``TemplateError`` when it is unknown)."""
        assert self.profile is not None
        template = load_template(name)
        profile = self.profile
        if template.width > profile.print_width_mm or template.height > profile.max_length_mm:
            raise DeviceError(
                ErrorCode.INVALID_REQUEST,
                f"template {name} is {template.width:g}x{template.height:g} mm; {self.id} ({profile.name}) prints "
                f"at most {profile.print_width_mm:g} mm across and {profile.max_length_mm:g} mm long",
            )
        return template

    # -- print_labels: on a label printer ---------------------------------------------------

    async def _print_run(self, job: Job, run: LabelRun, printed: list[PrintedTag]) -> None:
        """Send the run tag by tag, adding to ``printed`` each tag the printer vouched for;
        ``LabelStopped`` when it reports a problem, ``DeviceGone`` when it went away."""
        async with self._talking:
            before = await self._status_now()
        if before is not None and before.problems:
            raise LabelStopped(before)
        sent: list[PrintedTag] = []
        after: LabelStatus | None = None
        for index, ((tag, copies), layout) in enumerate(zip(run.tags, run.layouts, strict=True)):
            data = await self.blocking(self._label_bytes, layout, copies)
            ask = self.options.status_after_each or index == len(run.tags) - 1
            async with self._talking:
                await self.blocking(self._link().write, data)
                after = await self._status_now(after_label=True) if ask else None
            sent.append(PrintedTag(sku=tag.sku, price_version=tag.price_version, copies=copies))
            if ask:  # no whole answer (or none to ask) vouches as before: for what went out
                _vouch(sent, printed, after or LabelStatus())
            self.progress(job, index + 1, len(run.tags), printed=len(printed))
            await self.between_items()
        await self._until_printed(job, sent, printed, after)

    async def _until_printed(
        self, job: Job, sent: list[PrintedTag], printed: list[PrintedTag], last: LabelStatus | None
    ) -> None:
        """Wait while the printer works through the labels in its buffer: a tag is printed
        when it has left the buffer, not when it reached it (a Zebra takes in a batch far
        faster than it prints it, and a roll running out strands what is still inside).
        The requester hears each time the count of printed tags grows."""
        stalled_since = time.monotonic()
        while last is not None and last.waiting:
            await asyncio.sleep(BUFFER_POLL_S)
            async with self._talking:
                answer = await self._status_now(after_label=True)
            if answer is not None:
                vouched = len(printed)
                _vouch(sent, printed, answer)
                if len(printed) > vouched:
                    stalled_since = time.monotonic()
                    self.progress(job, len(sent), len(sent), printed=len(printed))
                last = answer
            if time.monotonic() - stalled_since > BUFFER_STALL_S:
                raise LabelStopped(LabelStatus(other=("not_printing",), waiting=last.waiting))

    def _label_bytes(self, layout: TagLayout, copies: int) -> bytes:
        assert self.profile is not None
        dots = rasterize(layout, dpmm=self.profile.dpmm, resident_font=self.profile.resident_cyrillic)
        return self._lang().label_bytes(dots, copies=copies)

    async def _on_printer(self, job: Job, run: LabelRun) -> dict[str, Any]:
        printed: list[PrintedTag] = []
        try:
            await self._print_run(job, run, printed)
        except LabelStopped as exc:
            await self._strand_nothing(exc.status)
            raise self._stopped(run, printed, exc.status) from None
        except DeviceGone as exc:
            raise DeviceGone(f"{exc.message}; {run.so_far(printed)}", run.details(printed, "disconnected")) from None
        except DeviceError as exc:  # a tag its language cannot say: the run stops there
            details = (exc.details or {}) | run.details(printed, "not_encoded")
            raise DeviceError(exc.code, f"{exc.message}; {run.so_far(printed)}", details) from None
        finally:
            await self._report(job, run, printed)
        return self._done(job, run, printed)

    async def _strand_nothing(self, status: LabelStatus) -> None:
        """A stopped run's labels still in the buffer are thrown away (ZPL's ``~JA``): they
        are not printed, so they stay in the queue, and must not come out by themselves
        with the next roll, beside the ones a manager prints again."""
        cancel = self._lang().cancel_bytes
        if not status.waiting or cancel is None:
            return
        try:
            async with self._talking:
                await self.blocking(self._link().write, cancel)
        except DeviceGone as exc:
            log.warning("%s: %d labels left in its buffer, not cancelled: %s", self.id, status.waiting, exc.message)
            return
        log.info("%s: the run stopped; %d labels in its buffer cancelled", self.id, status.waiting)

    def _stopped(self, run: LabelRun, printed: list[PrintedTag], status: LabelStatus) -> DeviceError:
        return DeviceError(
            ErrorCode.DEVICE_ERROR,
            f"{self.id}: {self._words(status)}; {run.so_far(printed)}",
            run.details(printed, status.problems[0]) | {"status": status_dict(status)},
            # Nothing printed: the same request may simply be sent again once it is fixed.
            retryable=not printed,
        )

    async def _report(self, job: Job, run: LabelRun, printed: list[PrintedTag]) -> None:
        """The store hears what reached the paper, whatever happened after."""
        self.counters["tags_printed"] += len(printed)
        self.counters["labels_printed"] += sum(tag.copies for tag in printed)
        outcome = run.outcome(self.id, job.client, printed)
        # Shielded: a device stopping mid-run must not lose the news of what printed.
        await asyncio.shield(self.blocking(self.port.labels_printed, outcome))

    def _done(self, job: Job, run: LabelRun, printed: list[PrintedTag], **extra: Any) -> dict[str, Any]:
        self.emit(
            "output_complete",
            {"request_id": job.request_id, "printed": len(printed), "template": run.template.name} | extra,
            to_client=job.client,
        )
        return {
            "printed": len(printed),
            "tags": [tag.model_dump() for tag in printed],
            "template": run.template.name,
        } | extra

    # -- print_labels: on A4 sheets -------------------------------------------------------

    async def _on_sheet(self, job: Job, run: LabelRun) -> dict[str, Any]:
        from devices.labels.pdf import a4_sheet  # reportlab loads only where a store prints sheets

        printed: list[PrintedTag] = []
        try:
            sheet = await self.blocking(a4_sheet, run.tags, run.template, self.folder)
            printed = [PrintedTag(sku=tag.sku, price_version=tag.price_version, copies=c) for tag, c in run.tags]
        except OSError as exc:
            raise DeviceError(
                ErrorCode.DEVICE_ERROR,
                f"{self.id}: cannot write the sheet to {self.folder}: {exc.strerror or exc}",
                run.details([], "write_failed"),
            ) from None
        finally:
            await self._report(job, run, printed)
        self.counters["sheets_written"] += 1
        self.progress(job, len(run.tags), len(run.tags), printed=len(printed))
        return self._done(job, run, printed, file=sheet.path.name, pages=sheet.pages)

    # -- actions ----------------------------------------------------------------------

    @action("print_labels", PrintLabelsArgs, priority=Priority.BULK)
    async def print_labels(self, job: Job) -> dict[str, Any]:
        """Print tags by product or from the stale-label queue; see the module's docstring."""
        run = await self._prepare(job)
        if not run.tags:
            return {"printed": 0, "tags": [], "template": run.template.name}
        if self.sheet:
            return await self._on_sheet(job, run)
        return await self._on_printer(job, run)

    @action("status", needs_claim=False)
    async def printer_status(self, job: Job) -> dict[str, Any]:
        """The printer's own answer now: paper, ribbon, head, paused, and what is wrong."""
        if self.sheet:
            writable = os.access(self.folder, os.W_OK)
            return {"answered": True, "folder": str(self.folder), "problems": [] if writable else ["not_writable"]}
        async with self._talking:
            status = await self._status_now()
        if status is None:
            return {"answered": False, "problems": [], "problem": self.error}
        return status_dict(status) | {"answered": True, "problem": self.error}

    @action("feed")
    async def feed(self, job: Job) -> dict[str, Any]:
        """Feed one blank label."""
        await self._send_command("feed", None if self.sheet else self._lang().feed_bytes)
        return {"fed": True}

    @action("calibrate")
    async def calibrate(self, job: Job) -> dict[str, Any]:
        """Measure the labels and the gaps between them (after loading a new kind of roll)."""
        await self._send_command("calibrate", None if self.sheet else self._lang().calibrate_bytes)
        return {"calibrated": True}

    async def _send_command(self, what: str, data: bytes | None) -> None:
        if data is None:
            assert self.profile is not None
            speaks = "an A4 sheet" if self.sheet else self.profile.language.upper()
            raise DeviceError(ErrorCode.INVALID_REQUEST, f"{self.id} cannot {what}: {speaks} has no such command")
        async with self._talking:
            await self.blocking(self._link().write, data)

    @action("sheets", needs_claim=False)
    async def sheets(self, job: Job) -> dict[str, Any]:
        """The PDF sheets written to the folder, newest first."""
        if not self.sheet:
            raise DeviceError(ErrorCode.INVALID_REQUEST, f"{self.id} prints labels, not sheets: it has no folder")
        return await self.blocking(self._list_sheets)

    def _list_sheets(self) -> dict[str, Any]:
        found = [(path, path.stat()) for path in self.folder.glob("labels-*.pdf")]
        found.sort(key=lambda entry: (entry[1].st_mtime, entry[0].name), reverse=True)
        listed = []
        for path, stat in found[:SHEETS_LISTED]:
            written = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).isoformat(timespec="seconds")
            listed.append({"file": path.name, "bytes": stat.st_size, "written_at": written})
        return {"folder": str(self.folder), "sheets": listed, "total": len(found)}


def status_dict(status: LabelStatus) -> dict[str, Any]:
    return {
        "paper_out": status.paper_out,
        "ribbon_out": status.ribbon_out,
        "head_open": status.head_open,
        "paused": status.paused,
        "problems": list(status.problems),
    }
