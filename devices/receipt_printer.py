"""The receipt printer: ESC/POS over TCP 9100, serial, USB or a device file.

Tills send a receipt as a document of blocks (``devices.escpos_receipt``); the actor lays
it out for this printer's profile, asks the printer whether it can print (``DLE EOT``,
``devices.escpos_status``), sends the whole receipt in one write and asks again.  A
printer out of paper or with its cover open puts the device in ``error`` with the
reason, the requester gets ``device_error`` and nothing is sent; while in error the
actor asks the printer about once a second and returns to ``idle`` (``paper_ok``) as
soon as someone has loaded a roll.  A printer that stops answering on its transport is
gone: the supervisor marks it offline and reconnects.

Events: ``output_complete`` (to the requester too), ``paper_low`` (on reaching the
near-end mark), ``paper_out``, ``cover_open``, ``printer_error``, ``printer_offline``
(entering an error), ``paper_ok`` / ``ready`` (leaving it).
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Literal, get_args

from escpos.capabilities import CAPABILITIES, get_profile
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bus.payloads import DeviceError, ErrorCode, Flag
from devices.actor import DevicePort, DeviceSpec, Job, action
from devices.escpos_link import EscposActor, EscposLink, LinkOptions, Question, driver_can_read
from devices.escpos_receipt import (
    CutBlock,
    PaperLayout,
    ReceiptDocument,
    ReceiptRefused,
    Symbology,
    cut_bytes,
    drawer_kick_bytes,
    receipt_bytes,
)
from devices.escpos_status import FULL_QUERY, FULL_STATUS_REQUEST, Paper, PrinterStatus, SensorLevel, parse_status
from devices.queue import Priority

log = logging.getLogger(__name__)

#: The profile when neither the options nor the model name one: the most common
#: receipt printer in the field, with CP866 at page 17 like every Epson.
DEFAULT_PROFILE = "TM-T88V"

#: How often a printer in error is asked whether it is fine again.  Someone is standing
#: at the till with a new roll in hand; a second is as long as they should wait, and
#: four status bytes a second cost the printer nothing.
ERROR_POLL_S = 1.0


def known_profiles() -> frozenset[str]:
    return frozenset(CAPABILITIES["profiles"])


def profile_code_pages(profile: str) -> dict[str, int]:
    """The profile's code pages: name -> the number ``ESC t`` selects it with."""
    return {name: int(number) for name, number in get_profile(profile).get_code_pages().items()}


class ReceiptPrinterOptions(LinkOptions):
    profile: str | None = Field(
        None,
        description=(
            "python-escpos capability profile (TM-T88V, TM-T20II, CT-S651, …): code pages, columns, "
            f"cutter, native QR.  Default: the device's model if it is a profile name, else {DEFAULT_PROFILE}."
        ),
    )
    code_page: str = Field(
        "CP866", description="The code page text is printed in (CP866 for Cyrillic); the profile must have it."
    )
    columns: int | None = Field(None, ge=16, le=96, description="Characters per line (font A); default: the profile's.")
    drawer_pin: Literal[2, 5] = Field(2, description="The drawer connector pin the cash drawer is wired to.")
    drawer_open_when: SensorLevel = Field("high", description="Which drawer sensor level means open (drawers differ).")
    cut: Literal["partial", "full"] = Field("partial", description="What the `cut` action does unless told.")

    @field_validator("code_page")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _profile_has_the_code_page(self) -> ReceiptPrinterOptions:
        if self.profile is not None:
            if self.profile not in known_profiles():
                raise ValueError(f"profile {self.profile!r} is not in python-escpos's printer database")
            if self.code_page not in profile_code_pages(self.profile):
                raise ValueError(f"profile {self.profile} has no code page {self.code_page}")
        elif self.code_page not in profile_code_pages(DEFAULT_PROFILE):
            raise ValueError(f"profile {DEFAULT_PROFILE} (the default) has no code page {self.code_page}")
        return self


class PrintArgs(ReceiptDocument):
    open_drawer: Flag = Field(False, description="Kick the cash drawer as the receipt starts printing.")


class CutArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["partial", "full"] | None = Field(None, description="Default: the printer's `cut` option.")


class OpenDrawerArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pin: Literal[2, 5] | None = Field(None, description="Default: the printer's `drawer_pin` option.")


class ReceiptPrinter(EscposActor):
    kind = "receipt_printer"
    sharing = "shared"
    Options = ReceiptPrinterOptions

    def __init__(self, spec: DeviceSpec, port: DevicePort) -> None:
        super().__init__(spec, port)
        self.options: ReceiptPrinterOptions
        profile_name = self._profile_name(spec)
        profile = get_profile(profile_name)
        self.layout = PaperLayout(
            profile=profile_name,
            columns=self.options.columns or profile.get_columns("a"),
            code_page=self.options.code_page,
        )
        self._paper: Paper = "unknown"
        width = profile.profile_data.get("media", {}).get("width", {}).get("pixels")
        self.capabilities = {
            "profile": profile_name,
            "columns": self.layout.columns,
            "code_page": self.layout.code_page,
            "code_page_number": profile_code_pages(profile_name)[self.layout.code_page],
            "paper_width_dots": width if isinstance(width, int) else None,
            "cutter": {
                "partial": bool(profile.supports("paperPartCut")),
                "full": bool(profile.supports("paperFullCut")),
            },
            "native_qr": bool(profile.supports("qrCode")),
            "barcodes": list(get_args(Symbology))
            if profile.supports("barcodeA") or profile.supports("barcodeB")
            else [],
            "blocks": ["text", "line", "kv", "barcode", "qr", "image", "feed", "cut"],
            "drawer_pin": self.options.drawer_pin,
            "status": driver_can_read(spec.driver),
        }
        self.counters |= {"receipts_printed": 0, "drawer_kicks": 0}

    def _profile_name(self, spec: DeviceSpec) -> str:
        if self.options.profile is not None:
            return self.options.profile
        model = spec.model
        if model in known_profiles() and self.options.code_page in profile_code_pages(model):
            return model
        if model:
            log.info(
                "%s: model %r is not a python-escpos profile with %s; using %s",
                spec.id,
                model,
                self.options.code_page,
                DEFAULT_PROFILE,
            )
        return DEFAULT_PROFILE

    # -- the transport ----------------------------------------------------------------

    def opening_question(self, link: EscposLink) -> Question | None:
        return (FULL_STATUS_REQUEST, len(FULL_QUERY)) if link.can_read else None

    async def watch(self) -> None:
        await self.keep_asking(self._status_now, poll_s=ERROR_POLL_S)

    async def _status_now(self) -> PrinterStatus:
        """Ask the printer and take in what it says (hold ``_talking``)."""
        link = self._link()
        if not link.can_read:
            return PrinterStatus()
        replies = await self.blocking(link.ask, FULL_STATUS_REQUEST, len(FULL_QUERY))
        status = parse_status(replies, drawer_open_when=self.options.drawer_open_when)
        self._note(status)
        return status

    def _note(self, status: PrinterStatus) -> None:
        """Move in or out of error, and tell people, as the printer's status changes."""
        if status.paper == "near_end" and self._paper != "near_end":
            self.emit("paper_low", {"message": f"{self.id} is near the end of its roll"})
        if status.paper != "unknown":
            self._paper = status.paper
        problem = status.problem()
        if problem is not None:
            code, words = problem
            self.printer_trouble(code, words, status.as_dict())
        elif status.answered:
            self.printer_fine()

    def _cannot_print(self, status: PrinterStatus, *, sent: int = 0) -> DeviceError:
        problem = status.problem()
        assert problem is not None
        code, words = problem
        if sent:
            words = f"{words}; it stopped while printing, so the receipt may be incomplete: print it again"
        return DeviceError(
            ErrorCode.DEVICE_ERROR,
            f"{self.id}: {words}",
            {"reason": code, "bytes_sent": sent, "status": status.as_dict()},
            # Nothing went out: the same request (and idempotency key) may simply be sent
            # again once the paper is in.
            retryable=sent == 0,
        )

    # -- actions ----------------------------------------------------------------------

    @action("print", PrintArgs, priority=Priority.INTERACTIVE)
    async def print_receipt(self, job: Job) -> dict[str, Any]:
        args: PrintArgs = job.args
        pin = self.options.drawer_pin if args.open_drawer else None
        try:
            data = await self.blocking(functools.partial(receipt_bytes, args.blocks, self.layout, drawer_pin=pin))
        except ReceiptRefused as exc:
            raise DeviceError(ErrorCode.INVALID_REQUEST, f"{self.id} cannot print this receipt: {exc}") from None
        async with self._talking:
            before = await self._status_now()
            if before.problem() is not None:
                raise self._cannot_print(before)
            await self.blocking(self._link().write, data)
            after = await self._status_now()
        if after.problem() is not None:
            raise self._cannot_print(after, sent=len(data))
        self.counters["receipts_printed"] += 1
        if pin is not None:
            self.counters["drawer_kicks"] += 1
        self.emit("output_complete", {"request_id": job.request_id, "bytes": len(data)}, to_client=job.client)
        return {
            "printed": True,
            "bytes": len(data),
            "paper": after.paper,
            "cut": any(isinstance(b, CutBlock) for b in args.blocks),
        }

    @action("cut", CutArgs)
    async def cut(self, job: Job) -> dict[str, Any]:
        mode = job.args.mode or self.options.cut
        async with self._talking:
            await self.blocking(self._link().write, cut_bytes(self.layout, mode))
        return {"cut": mode}

    @action("open_drawer", OpenDrawerArgs, priority=Priority.INTERACTIVE)
    async def open_drawer(self, job: Job) -> dict[str, Any]:
        pin = job.args.pin or self.options.drawer_pin
        async with self._talking:
            await self.blocking(self._link().write, drawer_kick_bytes(pin))
        self.counters["drawer_kicks"] += 1
        return {"kicked": True, "pin": pin}

    @action("status", needs_claim=False)
    async def printer_status(self, job: Job) -> dict[str, Any]:
        async with self._talking:
            status = await self._status_now()
        return status.as_dict() | {"answered": status.answered, "problem": self.error}
