"""The fiscal register: a Shtrikh-M on a serial port, exactly one receipt per sale.

A till asks for a receipt (``fiscalize``) with its lines and payments; the register
prints it and the fiscal storage signs it.  The bytes come from ``devices/shtrikh.py``;
this actor owns the port (pyserial, ``exclusive=True``), runs each document as one job
and keeps the device journal (``devices/journal.py``) so that a receipt is printed once
whatever happens:

1. The request and its idempotency key are written to the journal before the register
   is touched.
2. The register's last fiscal document number is noted (the "baseline") before the
   document is opened.
3. The document is opened, filled and closed; its number, fiscal sign and time are read
   back from the fiscal storage and written to the journal as the outcome.

After any interruption (the hub killed, the register's power cut, the line gone silent)
the entry is still ``started``.  Before the actor takes new work it reconciles each such
entry with the register: a fiscal document newer than the baseline means the receipt
closed, and its real result is recorded; a document still open is ours and is
cancelled (nothing fiscal happened, the till's retry prints it whole); otherwise nothing
was printed.  A retry with the same key then gets the recorded result or runs afresh;
it never prints a second receipt.  Cancelling rather than completing an interrupted
document is deliberate: the till may have changed its mind while it had no answer, and
a cancelled document is not a sale.

Register states a till must act on come back as ``device_error`` with a ``reason``:
``shift_over_24h`` (run ``z_report``), ``paper_out``, ``cover_open``, ``document_open``
(left open by somebody else: ``cancel_open_document``), ``wrong_password`` (the config).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal, TypeVar

import serial
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bus.payloads import Count, DeviceError, ErrorCode, Event, Money, Quantity, now
from devices import shtrikh
from devices.actor import DeviceActor, DeviceGone, DevicePort, DeviceSpec, Job, action
from devices.journal import JournalEntry, JournalState, error_record
from devices.queue import Priority
from devices.serial_port import open_serial
from devices.shtrikh import (
    DocumentType,
    FiscalDocument,
    FiscalDocumentType,
    Frame,
    LinkState,
    RegisterError,
    Reply,
    ShortStatus,
    ShtrikhLink,
    Submode,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Serial speeds the register can be set to (table 1 of its settings).
BAUD_RATES = (2400, 4800, 9600, 19200, 38400, 57600, 115200)

#: How often an idle register is asked for its status: a power cut, paper out or an
#: opened cover shows on the device's state within this, not at the next receipt.  A
#: status is ENQ, NAK, 8 bytes out and 19 back: well under a millisecond of line time.
IDLE_CHECK_S = 5.0

#: Tries for a status probe on opening or while idle.  A register that is off answers
#: nothing; three answer timeouts tell that without holding the device for ten.
PROBE_ATTEMPTS = 3

#: Lines on one receipt.  A register's receipt buffer holds a few hundred operations;
#: a till sending more is broken, not busy.
MAX_LINES = 200

#: A receipt line's name longer than this is a mistake in the till; the register
#: prints the first 40 characters (shtrikh.TEXT_WIDTH) of anything shorter.
MAX_NAME = 256

#: How long ``close`` waits for a running exchange to finish before closing the port
#: under it: one command's reply timeout.
CLOSE_WAIT_S = shtrikh.REPLY_TIMEOUT

PaymentType = Literal["cash", "card", "loyalty"]

#: Register error codes a till must act on, by the reason it is told.
TYPED_ERRORS: dict[int, tuple[str, str]] = {
    shtrikh.ERROR_SHIFT_OVER_24H: ("shift_over_24h", "the shift is over 24 hours old: run z_report, then try again"),
    shtrikh.ERROR_NO_RECEIPT_PAPER: ("paper_out", "the register has no receipt paper: load a roll"),
    shtrikh.ERROR_NO_JOURNAL_PAPER: ("paper_out", "the register has no journal paper: load a roll"),
    shtrikh.ERROR_WRONG_PASSWORD: ("wrong_password", "the register refused the configured password"),
    shtrikh.ERROR_DOCUMENT_OPEN: ("document_open", "a document is open on the register: cancel_open_document first"),
    shtrikh.ERROR_OTHER_OPERATORS_DOCUMENT: (
        "other_operators_document",
        "another cashier's document is open on the register: close or cancel it where it was opened",
    ),
}

#: Typed errors after which nothing was printed and the same request may simply be
#: sent again once somebody has acted (paper loaded, Z report run, the stray document
#: cancelled).  Retryable, so the hub keeps no answer for their key.
RETRYABLE_REASONS = frozenset({"paper_out", "cover_open", "shift_over_24h", "document_open"})


class FiscalRegisterOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    baudrate: int = Field(115200, description=f"Serial speed set on the register: one of {BAUD_RATES}.")
    operator_password: int = Field(
        shtrikh.DEFAULT_OPERATOR_PASSWORD,
        ge=0,
        le=0xFFFF_FFFF,
        description="The cashier's password (operator 1 by default).",
    )
    admin_password: int = Field(
        shtrikh.DEFAULT_ADMIN_PASSWORD, ge=0, le=0xFFFF_FFFF, description="The administrator's password, for reports."
    )
    card_payment_type: int = Field(2, ge=2, le=4, description="Which of the register's payment types 2..4 is card.")
    loyalty_payment_type: int = Field(
        3, ge=2, le=4, description="Which of the register's payment types 2..4 is loyalty points."
    )
    answer_timeout_s: float = Field(
        shtrikh.ANSWER_TIMEOUT, gt=0, le=10, description="Wait for the register's ACK or NAK to one byte or frame."
    )
    reply_timeout_s: float = Field(
        shtrikh.REPLY_TIMEOUT, gt=0, le=120, description="Wait for a reply while the register executes (prints)."
    )

    @model_validator(mode="after")
    def _payment_types_differ(self) -> FiscalRegisterOptions:
        if self.baudrate not in BAUD_RATES:
            raise ValueError(f"baudrate {self.baudrate} is not one of {BAUD_RATES}")
        if self.card_payment_type == self.loyalty_payment_type:
            raise ValueError("card_payment_type and loyalty_payment_type must be different register payment types")
        return self


# --------------------------------------------------------------------------- requests


class ReceiptLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=MAX_NAME, description="As printed; the register prints 40 characters.")
    quantity: Quantity = Field(gt=0, le=Decimal("9999999.999"), decimal_places=3, description="Pieces, kg or litres.")
    price: Money = Field(ge=0, le=shtrikh.MAX_MONEY, description="Price per unit in minor units (kopecks).")
    tax_group: Count = Field(ge=1, le=shtrikh.MAX_TAX_GROUP, description="The register's tax group 1..4.")
    department: Count = Field(1, ge=1, le=16, description="The register's department (section) 1..16.")
    sku: str | None = Field(None, max_length=64, description="The store's article, for stock and the sale event.")
    gtin: str | None = Field(None, max_length=14, description="The scanned barcode, for the sale event.")

    @field_validator("quantity")
    @classmethod
    def _in_thousandths(cls, quantity: Decimal) -> Decimal:
        # One spelling per quantity (2, 2.0 and "2.000" are the same line), so a retry
        # compares equal to its first attempt in the journal.
        return quantity.quantize(Decimal("0.001"))

    @property
    def thousandths(self) -> int:
        return int(self.quantity * shtrikh.QUANTITY_SCALE)

    @property
    def total(self) -> int:
        return shtrikh.line_amount(self.thousandths, self.price)


class Payment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: PaymentType = Field(description="cash, card or loyalty (points).")
    amount: Money = Field(gt=0, le=shtrikh.MAX_MONEY, description="Minor units.")


class FiscalizeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[ReceiptLine] = Field(min_length=1, max_length=MAX_LINES)
    payments: list[Payment] = Field(min_length=1, max_length=3, description="At most one of each type.")
    loyalty_card: str | None = Field(None, max_length=64, description="The shopper's card, for accrual.")
    customer_contact: str | None = Field(
        None,
        max_length=shtrikh.TEXT_WIDTH,
        description="E-mail or phone for the electronic receipt; printed on a line of its own.",
    )

    @field_validator("payments")
    @classmethod
    def _one_of_each_type(cls, payments: list[Payment]) -> list[Payment]:
        types = [payment.type for payment in payments]
        if len(set(types)) != len(types):
            raise ValueError("give each payment type once, with its whole amount")
        return payments

    @model_validator(mode="after")
    def _payments_cover_the_total(self) -> FiscalizeArgs:
        total = self.total
        paid = sum(payment.amount for payment in self.payments)
        non_cash = sum(payment.amount for payment in self.payments if payment.type != "cash")
        if paid < total:
            raise ValueError(f"payments {paid} are less than the receipt total {total}")
        if non_cash > total:
            raise ValueError(f"non-cash payments {non_cash} exceed the receipt total {total}; only cash gives change")
        return self

    @property
    def total(self) -> int:
        return sum(line.total for line in self.lines)


class ClosedLine(BaseModel):
    """A line of a closed receipt: what the till asked for, with the line's total."""

    # Read back from journals of every version: what a newer one adds is left out.
    model_config = ConfigDict(extra="ignore")
    name: str
    quantity: Decimal
    price: int
    total: int
    tax_group: int | None = None
    department: int | None = None
    sku: str | None = None
    gtin: str | None = None


class ClosedPayment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: PaymentType
    amount: int


class ClosedReceipt(BaseModel):
    """A fiscal document the register closed: the answer to ``fiscalize`` and ``refund``,
    what the journal keeps, the ``receipt_closed`` event, and what the store books as a
    sale (handed to it as this model, through ``DevicePort.receipt_closed``)."""

    model_config = ConfigDict(extra="ignore")
    operation: Literal["sale", "refund"]
    #: The fiscal storage that numbered and signed it: with the number, the document's
    #: name (a replaced storage numbers from 1 again).  "" for receipts the journal kept
    #: before the storage was recorded: they match the sales booked then.
    fn_serial: str = ""
    document_number: int
    fiscal_sign: int | None = None
    issued_at: str | None = None
    total: int
    change: int = 0
    lines: list[ClosedLine] = Field(min_length=1)
    payments: list[ClosedPayment]
    loyalty_card: str | None = None
    customer_contact: str | None = None
    #: Who asked, under which key, and when it closed (Unix time): on the event, not in
    #: the answer.
    client: str = ""
    idempotency_key: str | None = None
    closed_at: float | None = None

    @property
    def paid_with_points(self) -> int:
        return sum(p.amount for p in self.payments if p.type == "loyalty")

    def reference(self, device_id: str) -> str:
        """How stock moves and loyalty name the document: ``fiscal-1/9960440300000001#3``
        (``fiscal-1#3`` for a receipt from before the storage was recorded)."""
        storage = f"/{self.fn_serial}" if self.fn_serial else ""
        return f"{device_id}{storage}#{self.document_number}"

    def answer(self) -> dict[str, Any]:
        """The result a till gets, and the journal keeps."""
        return self.model_dump(mode="json", exclude={"client", "idempotency_key", "closed_at"})


class CashArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Money = Field(gt=0, le=shtrikh.MAX_MONEY, description="Minor units put into (or taken from) the drawer.")


# --------------------------------------------------------------------------- the line


class LineSilent(Exception):
    """The register did not answer (off, power cut, cable out)."""


class OutcomeUnknown(Exception):
    """The register took a command and its answer was lost: only its state tells."""


class RegisterLine:
    """Commands to the register over a serial port, one at a time, blocking.

    Used from worker threads only.  The lock keeps a status poll from slipping between
    two commands of another exchange.
    """

    def __init__(self, port: serial.SerialBase, *, answer_timeout: float, reply_timeout: float) -> None:
        self.port = port
        self.answer_timeout = answer_timeout
        self.reply_timeout = reply_timeout
        self.lock = threading.Lock()

    def exchange(self, request: Frame, *, attempts: int = shtrikh.MAX_ATTEMPTS) -> Reply:
        link = ShtrikhLink(max_attempts=attempts, answer_timeout=self.answer_timeout, reply_timeout=self.reply_timeout)
        self._write(link.start(request))
        while link.busy:
            self.port.timeout = link.wait_seconds
            data = self.port.read(1)
            if data and self.port.in_waiting:
                data += self.port.read(self.port.in_waiting)
            self._write(link.receive(data) if data else link.timed_out())
        if link.state is LinkState.DONE:
            assert link.reply is not None
            return shtrikh.parse_reply(link.reply)
        if link.answer_lost:
            raise OutcomeUnknown(link.error)
        raise LineSilent(link.error)

    def _write(self, data: bytes) -> None:
        if data:
            self.port.write(data)


# --------------------------------------------------------------------------- the actor


class FiscalRegister(DeviceActor):
    kind = "fiscal_register"
    sharing = "shared"
    Options = FiscalRegisterOptions

    def __init__(self, spec: DeviceSpec, port: DevicePort) -> None:
        super().__init__(spec, port)
        self.capabilities = {
            "protocol": "shtrikh-m",
            "payment_types": ["cash", "card", "loyalty"],
            "tax_groups": list(range(1, shtrikh.MAX_TAX_GROUP + 1)),
            "text_width": shtrikh.TEXT_WIDTH,
        }
        self._line: RegisterLine | None = None
        #: Journal entries left ``started`` may exist: settle them before new work.
        self._unsettled = True
        self.counters |= {"receipts": 0, "reconciled": 0, "documents_cancelled": 0}

    # -- the transport ----------------------------------------------------------

    async def open(self) -> None:
        port = await self.blocking(self._connect)
        self._line = RegisterLine(
            port, answer_timeout=self.options.answer_timeout_s, reply_timeout=self.options.reply_timeout_s
        )
        try:
            model = await self._run_on_line(self._identify)
        except BaseException:
            await self.close()
            raise
        self.capabilities["model"] = model
        # Before the first job: whatever an earlier life of this actor left unfinished.
        self._unsettled = True
        try:
            await self._settle()
        except (RegisterError, OutcomeUnknown) as exc:
            # The register answers but cannot settle yet (no paper to cancel on…): it
            # is online, and the next receipt or idle check settles first.
            log.warning("%s: unfinished receipts wait to be settled: %s", self.id, exc)

    def _connect(self) -> serial.SerialBase:
        port = open_serial(
            self.id, self.spec.port, baudrate=self.options.baudrate, timeout=self.options.answer_timeout_s
        )
        # Whatever waited in the buffer (an answer to a command of an earlier life of the
        # hub) is not an answer to our next one; what it meant, reconciliation asks.
        port.reset_input_buffer()
        return port

    def _identify(self, line: RegisterLine) -> str:
        reply = line.exchange(shtrikh.device_type(), attempts=PROBE_ATTEMPTS)
        return shtrikh.parse_device_type(reply).name

    async def close(self) -> None:
        line, self._line = self._line, None
        if line is not None:
            await self.blocking(self._close_line, line)

    @staticmethod
    def _close_line(line: RegisterLine) -> None:
        # A job's exchange in a worker may still hold the line; let it finish its command.
        if line.lock.acquire(timeout=CLOSE_WAIT_S):
            line.lock.release()
        line.port.close()

    async def _run_on_line(self, work: Callable[[RegisterLine], T]) -> T:
        """``work`` in a worker thread with the line to itself.  A port that vanished or
        a register that stopped answering takes the device offline."""
        line = self._line
        if line is None:
            raise DeviceGone(f"{self.id} is not open")

        def locked() -> T:
            with line.lock:
                return work(line)

        try:
            return await self.blocking(locked)
        except (serial.SerialException, OSError) as exc:
            raise DeviceGone(f"the register's port failed: {exc}") from exc
        except LineSilent as exc:
            raise DeviceGone(f"the register stopped answering: {exc}") from exc

    async def watch(self) -> None:
        """Ask an idle register how it is: a power cut takes it offline, paper out or an
        open cover shows as ``error``, and an unfinished receipt is settled on return."""
        while True:
            await asyncio.sleep(IDLE_CHECK_S)
            if self._running:
                continue
            try:
                status = await self._run_on_line(self._probe)
            except RegisterError as exc:
                # It answers, and refuses: the config's password, most likely.  That is
                # the device's state until someone fixes it, not a crash to restart.
                refusal = _typed_error(exc)
                self._show_problem(refusal.details["reason"], refusal.message)
                continue
            self._show_condition(status)
            if self._unsettled and not (status.paper_out or status.cover_open):
                try:
                    await self._settle()
                except (RegisterError, OutcomeUnknown) as exc:
                    log.warning("%s: unfinished receipts wait to be settled: %s", self.id, exc)

    def _probe(self, line: RegisterLine) -> ShortStatus:
        return shtrikh.parse_short_status(
            line.exchange(shtrikh.short_status(self.options.operator_password), attempts=PROBE_ATTEMPTS)
        )

    def _show_condition(self, status: ShortStatus) -> None:
        if status.paper_out:
            self._show_problem("paper_out", "the register has no receipt paper: load a roll")
        elif status.cover_open:
            self._show_problem("cover_open", "the register's cover is open: close it")
        elif self.status == "error" and self.error is not None:
            # As the receipt printer says it: paper_ok after paper out, ready after the rest.
            cleared = self.error["code"]
            self.status, self.error = "idle", None
            self.emit("paper_ok" if cleared == "paper_out" else "ready", {"cleared": cleared})
            self._state_changed()

    def _show_problem(self, reason: str, message: str) -> None:
        """The register's own problem as the device's state: ``error`` with its reason."""
        if self.status == "error" and self.error is not None and self.error["code"] == reason:
            return
        log.warning("%s: %s", self.id, message)
        self.status = "error"
        self.error = {"code": reason, "message": message}
        self.emit(reason, {"message": message})
        self._state_changed()

    # -- reconciliation -------------------------------------------------------------

    async def _settle(self) -> None:
        """Reconcile every journal entry an interruption left ``started``."""
        journal = self.port.journal
        for entry in await self.blocking(journal.unfinished, self.id):
            await self._reconcile(entry)
        self._unsettled = False

    async def _reconcile(self, entry: JournalEntry, *, report: bool = True) -> JournalEntry:
        outcome, detail = await self._run_on_line(lambda line: self._reconcile_on(line, entry))
        journal = self.port.journal
        self.counters["reconciled"] += 1
        if outcome == "closed":
            receipt: ClosedReceipt = detail
            result = receipt.answer()
            await self.blocking(journal.finish, self.id, entry.key, result)
            log.warning(
                "%s: receipt for key %s had closed (document %s); recorded",
                self.id,
                entry.key,
                receipt.document_number,
            )
            self._receipt_closed(entry.client, entry.key, receipt)
            said = {"printed": True, "document_number": receipt.document_number, "fn_serial": receipt.fn_serial}
        elif outcome == "unknown":
            error = _storage_replaced(entry.key, detail)
            await self.blocking(journal.fail, self.id, entry.key, error_record(error))
            log.error("%s: %s", self.id, error.message)
            said = {"printed": None, "reason": error.message} | detail
        else:
            if outcome == "cancelled":
                self.counters["documents_cancelled"] += 1
            await self.blocking(journal.void, self.id, entry.key, detail)
            log.warning("%s: receipt for key %s was not printed (%s); a retry prints it", self.id, entry.key, detail)
            said = {"printed": False, "reason": detail}
        if report:  # else the till is being answered with the refusal itself
            # Technicians (dev/{id}/event) and the till that asked hear how it ended.
            self.emit(
                "receipt_reconciled",
                {"idempotency_key": entry.key, "action": entry.action, "outcome": outcome} | said,
                to_client=entry.client,
            )
        # What was just written, without reading it back.
        if outcome == "closed":
            return dataclasses.replace(entry, state=JournalState.DONE, result=result)
        if outcome == "unknown":
            return dataclasses.replace(entry, state=JournalState.FAILED, error=error_record(error))
        return dataclasses.replace(entry, state=JournalState.VOID)

    def _reconcile_on(self, line: RegisterLine, entry: JournalEntry) -> tuple[str, Any]:
        baseline = entry.checkpoint.get("last_document")
        status = self._short_status(line)
        if baseline is None:
            return "void", "interrupted before the register was asked to open a document"
        storage = self._fn_status(line)
        # The baseline is a number in the storage the receipt started on.  Entries from
        # before the storage was noted started on this one: no storage is replaced while
        # a receipt is open.
        started_on = entry.checkpoint.get("fn_serial", storage.storage_number)
        if storage.storage_number != started_on:
            # Its documents are not ours, and the old storage, which would say whether
            # the receipt closed, is out of the register: neither "printed" nor "not
            # printed" can be known, so a person must look before anything prints again.
            return "unknown", {"fn_serial_then": started_on, "fn_serial_now": storage.storage_number}
        last = storage.last_document_number
        operation = shtrikh.ReceiptOperation.RETURN_SALE if entry.action == "refund" else shtrikh.ReceiptOperation.SALE
        args = FiscalizeArgs.model_validate(entry.request)
        for number in range(baseline + 1, last + 1):
            document = self._find_document(line, number)
            if (
                document.type == FiscalDocumentType.RECEIPT
                and document.operation == operation
                and document.total == args.total
            ):
                return "closed", self._result(
                    entry.action, args, document, change=_change(args), fn_serial=storage.storage_number
                )
        if status.document_open:
            self._cancel_document(line, status)
            return "cancelled", "interrupted with the document open; the register cancelled it"
        return "void", "interrupted before the receipt closed; the register has no document for it"

    # -- one exchange each ------------------------------------------------------------

    def _command(self, line: RegisterLine, frame: Frame) -> Reply:
        reply = line.exchange(frame)
        if not reply.ok:
            raise RegisterError(reply.cmd, reply.error)
        return reply

    def _short_status(self, line: RegisterLine) -> ShortStatus:
        return shtrikh.parse_short_status(self._command(line, shtrikh.short_status(self.options.operator_password)))

    def _fn_status(self, line: RegisterLine) -> shtrikh.FnStatus:
        return shtrikh.parse_fn_status(self._command(line, shtrikh.fn_status(self.options.admin_password)))

    def _find_document(self, line: RegisterLine, number: int) -> FiscalDocument:
        return shtrikh.parse_fiscal_document(
            self._command(line, shtrikh.fn_find_document(self.options.admin_password, number))
        )

    def _cancel_document(self, line: RegisterLine, status: ShortStatus) -> None:
        if status.submode == Submode.WAITING_CONTINUE:
            self._command(line, shtrikh.continue_printing(self.options.operator_password))
        self._command(line, shtrikh.cancel_document(self.options.operator_password))

    # -- receipts -----------------------------------------------------------------------

    @action("fiscalize", FiscalizeArgs, priority=Priority.INTERACTIVE)
    async def fiscalize(self, job: Job) -> dict[str, Any]:
        return await self._receipt(job, DocumentType.SALE)

    @action("refund", FiscalizeArgs, priority=Priority.INTERACTIVE)
    async def refund(self, job: Job) -> dict[str, Any]:
        return await self._receipt(job, DocumentType.RETURN_SALE)

    async def _receipt(self, job: Job, document_type: DocumentType) -> dict[str, Any]:
        if not job.idempotency_key:
            raise DeviceError(
                ErrorCode.INVALID_REQUEST,
                f"{job.action} needs an idempotency_key: the till's retry must never print a second receipt",
            )
        if self._unsettled:
            await self._settle()
        args: FiscalizeArgs = job.args
        journal = self.port.journal
        request = args.model_dump(mode="json")
        entry, started = await self.blocking(
            lambda: journal.begin(self.id, job.idempotency_key, client=job.client, action=job.action, request=request)
        )
        if not started:
            if not entry.same_request(job.client, job.action, request):
                raise DeviceError(
                    ErrorCode.CONFLICT,
                    f"idempotency key {job.idempotency_key!r} was used on {self.id} for a different receipt",
                )
            if entry.state is JournalState.STARTED:  # settling failed earlier: try again now
                entry = await self._reconcile(entry)
                if entry.state is JournalState.VOID:
                    entry, _ = await self.blocking(
                        lambda: journal.begin(
                            self.id, job.idempotency_key, client=job.client, action=job.action, request=request
                        )
                    )
            if entry.state is not JournalState.STARTED:
                return entry.answer()
        try:
            outcome = await self._run_on_line(
                lambda line: self._print_receipt(line, job.idempotency_key, args, document_type)
            )
        except DeviceGone:
            self._unsettled = True  # settled when the register answers again
            raise
        except (RegisterError, DeviceError) as exc:
            # Refused before the document opened, or mid-document: settled now, so the
            # entry is void (nothing printed) and the till may retry.
            await self._after_interruption(job.idempotency_key, report=False)
            if isinstance(exc, RegisterError):
                raise await self._explain(exc) from None
            raise
        except OutcomeUnknown:
            entry = await self._after_interruption(job.idempotency_key)
            if entry is not None and entry.state in (JournalState.DONE, JournalState.FAILED):
                return entry.answer()
            settled = entry is not None and entry.state is JournalState.VOID
            raise DeviceError(
                ErrorCode.DEVICE_ERROR,
                f"{self.id} lost the answer to a command; "
                + ("the receipt was not printed" if settled else "the receipt is settled when the register answers")
                + "; retry with the same key",
                {"reason": "interrupted"},
                retryable=True,
            ) from None
        answer = outcome.answer()
        await self.blocking(journal.finish, self.id, job.idempotency_key, answer)
        self.counters["receipts"] += 1
        self._receipt_closed(job.client, job.idempotency_key, outcome)
        return answer

    async def _explain(self, exc: RegisterError) -> DeviceError:
        """The refusal as a typed error; "wrong submode" with the cover open is the cover."""
        if exc.code == shtrikh.ERROR_WRONG_SUBMODE:
            try:
                status = await self._run_on_line(self._short_status)
            except (RegisterError, OutcomeUnknown, DeviceGone):
                status = None
            if status is not None and status.cover_open:
                return DeviceError(
                    ErrorCode.DEVICE_ERROR,
                    "the register's cover is open: close it",
                    {"reason": "cover_open", "register_error": exc.code},
                    retryable=True,
                )
        return _typed_error(exc)

    async def _after_interruption(self, key: str, *, report: bool = True) -> JournalEntry | None:
        """Settle the entry at once if the register answers; else before the next job."""
        entry = await self.blocking(self.port.journal.get, self.id, key)
        if entry is None or entry.state is not JournalState.STARTED:
            return entry
        try:
            return await self._reconcile(entry, report=report)
        except (RegisterError, OutcomeUnknown, DeviceGone) as exc:
            log.warning("%s: could not settle key %s yet: %s", self.id, key, exc)
            self._unsettled = True
            return entry

    def _print_receipt(
        self, line: RegisterLine, key: str, args: FiscalizeArgs, document_type: DocumentType
    ) -> ClosedReceipt:
        """The whole document, in one worker: checked, opened, filled, closed, read back."""
        pwd = self.options.operator_password
        journal = self.port.journal
        status = self._short_status(line)
        _refuse_unless_ready(status)
        if status.document_open:
            raise RegisterError(shtrikh.Command.OPEN_DOCUMENT, shtrikh.ERROR_DOCUMENT_OPEN)
        if not status.shift_open:
            self._command(line, shtrikh.open_shift(pwd))
        storage = self._fn_status(line)
        # Durable before the document exists: reconciliation compares against it.  A
        # document number means something only in its storage, so the storage is noted too.
        journal.checkpoint(self.id, key, last_document=storage.last_document_number, fn_serial=storage.storage_number)
        self._command(line, shtrikh.open_document(pwd, document_type))
        item = shtrikh.sale if document_type == DocumentType.SALE else shtrikh.return_sale
        for receipt_line in args.lines:
            self._command(
                line,
                item(
                    pwd,
                    qty=receipt_line.thousandths,
                    price=receipt_line.price,
                    department=receipt_line.department,
                    tax_groups=(receipt_line.tax_group,),
                    name=receipt_line.name,
                ),
            )
        if args.customer_contact:
            for text in ("Покупатель:", args.customer_contact):
                self._command(line, shtrikh.print_line(pwd, text))
        closed = shtrikh.parse_close_document(
            self._command(line, shtrikh.close_document(pwd, payments=self._payment_slots(args)))
        )
        storage = self._fn_status(line)
        document = self._find_document(line, storage.last_document_number)
        return self._result(
            "fiscalize" if document_type == DocumentType.SALE else "refund",
            args,
            document,
            change=closed.change,
            fn_serial=storage.storage_number,
        )

    def _payment_slots(self, args: FiscalizeArgs) -> list[int]:
        slots = [0, 0, 0, 0]
        index = {"cash": 1, "card": self.options.card_payment_type, "loyalty": self.options.loyalty_payment_type}
        for payment in args.payments:
            slots[index[payment.type] - 1] += payment.amount
        return slots

    def _result(
        self, action_: str, args: FiscalizeArgs, document: FiscalDocument, *, change: int, fn_serial: str
    ) -> ClosedReceipt:
        issued = dt.datetime(*document.issued).isoformat() if document.issued else None
        return ClosedReceipt(
            operation="sale" if action_ == "fiscalize" else "refund",
            fn_serial=fn_serial,
            document_number=document.number,
            fiscal_sign=document.fiscal_sign,
            issued_at=issued,
            total=document.total,
            change=change,
            lines=[ClosedLine(**line.model_dump(), total=line.total) for line in args.lines],
            payments=[ClosedPayment(**payment.model_dump()) for payment in args.payments],
            loyalty_card=args.loyalty_card,
            customer_contact=args.customer_contact,
        )

    def _receipt_closed(self, client: str, key: str, closed: ClosedReceipt) -> None:
        """The whole receipt to the till that asked and to the store; to ``dev/{id}/event``,
        which every technician reads, the same without the shopper's contact and with the
        loyalty card cut to its last digits (as a scan's code stays off that topic)."""
        receipt = closed.model_copy(update={"client": client, "idempotency_key": key, "closed_at": now()})
        data = receipt.model_dump(mode="json")
        card = receipt.loyalty_card
        shared = data | {"customer_contact": None, "loyalty_card": f"…{card[-4:]}" if card else None}
        self.port.publish_event(Event(type="receipt_closed", device=self.id, data=shared))
        self.port.send_to_client(client, Event(type="receipt_closed", device=self.id, data=data))
        self.port.receipt_closed(self.id, receipt)

    # -- the other documents ----------------------------------------------------------

    @action("status", needs_claim=False)
    async def status_(self, job: Job) -> dict[str, Any]:
        def read(line: RegisterLine) -> dict[str, Any]:
            full = shtrikh.parse_full_status(self._command(line, shtrikh.full_status(self.options.operator_password)))
            storage = self._fn_status(line)
            return {
                "mode": shtrikh.Mode(full.mode).name.lower(),  # the low nibble: every value is named
                "submode": full.submode,
                "shift_open": full.shift_open,
                "shift_over_24h": full.shift_over_24h,
                "document_open": full.document_open,
                "paper_out": full.paper_out,
                "cover_open": full.cover_open,
                "document_number": full.document_number,
                "last_fiscal_document": storage.last_document_number,
                "fn_serial": storage.storage_number,
                "last_closed_shift": full.last_closed_shift,
                "serial_number": full.serial_number,
                "clock": dt.datetime(*full.clock).isoformat(),
            }

        status = await self._on_register(read)
        return status | {"model": self.capabilities.get("model")}

    @action("open_shift", priority=Priority.INTERACTIVE)
    async def open_shift(self, job: Job) -> dict[str, Any]:
        def run(line: RegisterLine) -> dict[str, Any]:
            status = self._short_status(line)
            if status.shift_open:
                return {"shift_open": True, "opened_now": False, "shift_over_24h": status.shift_over_24h}
            self._command(line, shtrikh.open_shift(self.options.operator_password))
            return {"shift_open": True, "opened_now": True, "shift_over_24h": False}

        return await self._on_register(run)

    @action("cancel_open_document", priority=Priority.INTERACTIVE)
    async def cancel_open_document(self, job: Job) -> dict[str, Any]:
        if self._unsettled:
            await self._settle()

        def run(line: RegisterLine) -> dict[str, Any]:
            status = self._short_status(line)
            if not status.document_open:
                return {"cancelled": False, "reason": "no document is open"}
            self._cancel_document(line, status)
            return {"cancelled": True}

        result = await self._on_register(run)
        self.counters["documents_cancelled"] += result["cancelled"]
        return result

    @action("x_report")
    async def x_report(self, job: Job) -> dict[str, Any]:
        await self._on_register(lambda line: self._command(line, shtrikh.x_report(self.options.admin_password)))
        return {"printed": "x_report"}

    @action("z_report")
    async def z_report(self, job: Job) -> dict[str, Any]:
        def run(line: RegisterLine) -> dict[str, Any]:
            self._command(line, shtrikh.z_report(self.options.admin_password))
            full = shtrikh.parse_full_status(self._command(line, shtrikh.full_status(self.options.operator_password)))
            return {"printed": "z_report", "closed_shift": full.last_closed_shift}

        return await self._on_register(run)

    @action("cash_in", CashArgs, priority=Priority.INTERACTIVE)
    async def cash_in(self, job: Job) -> dict[str, Any]:
        return await self._cash(job, shtrikh.cash_in)

    @action("cash_out", CashArgs, priority=Priority.INTERACTIVE)
    async def cash_out(self, job: Job) -> dict[str, Any]:
        return await self._cash(job, shtrikh.cash_out)

    async def _cash(self, job: Job, build: Callable[[int, int], Frame]) -> dict[str, Any]:
        args: CashArgs = job.args
        moved = await self._on_register(
            lambda line: shtrikh.parse_cash_movement(
                self._command(line, build(self.options.operator_password, args.amount))
            )
        )
        return {"amount": args.amount, "document_number": moved.document_number}

    async def _on_register(self, work: Callable[[RegisterLine], T]) -> T:
        """One piece of register work; its refusals become typed errors."""
        try:
            return await self._run_on_line(work)
        except RegisterError as exc:
            raise _typed_error(exc) from None
        except OutcomeUnknown as exc:
            raise DeviceError(
                ErrorCode.DEVICE_ERROR, f"{self.id} lost the answer to a command: {exc}", {"reason": "interrupted"}
            ) from None


# --------------------------------------------------------------------------- helpers


def _refuse_unless_ready(status: ShortStatus) -> None:
    """What the status already says would fail: refused before anything is printed."""
    if status.cover_open:
        raise DeviceError(
            ErrorCode.DEVICE_ERROR, "the register's cover is open: close it", {"reason": "cover_open"}, retryable=True
        )
    if status.paper_out:
        raise DeviceError(
            ErrorCode.DEVICE_ERROR,
            "the register has no receipt paper: load a roll",
            {"reason": "paper_out"},
            retryable=True,
        )
    if status.shift_over_24h:
        reason, message = TYPED_ERRORS[shtrikh.ERROR_SHIFT_OVER_24H]
        raise DeviceError(
            ErrorCode.DEVICE_ERROR, message, {"reason": reason, "action_needed": "z_report"}, retryable=True
        )


def _typed_error(exc: RegisterError) -> DeviceError:
    reason, message = TYPED_ERRORS.get(exc.code, ("register_error", exc.message))
    details = {"reason": reason, "register_error": exc.code, "register_message": exc.message, "command": exc.cmd}
    if reason == "shift_over_24h":
        details["action_needed"] = "z_report"
    elif reason == "document_open":
        details["action_needed"] = "cancel_open_document"
    return DeviceError(ErrorCode.DEVICE_ERROR, message, details, retryable=reason in RETRYABLE_REASONS)


def _storage_replaced(key: str, storages: dict[str, str]) -> DeviceError:
    """The final answer for a receipt interrupted on a fiscal storage that was replaced
    before it could be settled."""
    return DeviceError(
        ErrorCode.DEVICE_ERROR,
        f"the receipt for key {key!r} was interrupted on fiscal storage {storages['fn_serial_then']}, which was "
        f"replaced by {storages['fn_serial_now']} before it was settled: whether it printed cannot be read from the "
        "register. Look for it among the printed receipts; if it is not there, send it again with a new key",
        {"reason": "storage_replaced"} | storages,
        retryable=False,
    )


def _change(args: FiscalizeArgs) -> int:
    return sum(payment.amount for payment in args.payments) - args.total
