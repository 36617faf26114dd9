"""The payment terminal: card payments over ZVT (TCP, port 20007), exactly once per key.

A till claims the terminal (it is exclusive: one sale's payment at a time) and asks it to
``pay``; the terminal runs the card dialogue with the shopper, which can take two
minutes, while the till hears each ``stage`` ("insert card", "enter PIN"…) as an event.
The bytes come from ``devices/zvt.py``; this actor keeps one TCP connection to the
terminal (asyncio streams: nothing waits in a worker thread or blocks the loop), runs
one command at a time, and keeps the device journal (``devices/journal.py``) so that a
card is charged once whatever is lost on the way:

1. ``pay`` and ``refund`` need an ``idempotency_key``.  The request is written to the
   journal before anything goes to the terminal.
2. What the actor knows of the terminal's last transaction (its trace number: the
   "baseline") is written as a checkpoint, then the command is sent.
3. The outcome is written: the approval (amount, receipt and trace number, masked card,
   approval code, time) with ``finish``, or a final refusal with ``fail``.

A retry under a key whose entry is done or failed gets the stored answer and the
terminal is not touched; the same key for a different request is a ``conflict``.

When the answer is lost (the connection drops after the terminal approved, the hub is
killed mid-dialogue), the entry stays ``started``.  Before the actor takes new work after
(re)connecting, and before it charges again on a retry, it asks the terminal for its
last transaction (Repeat Receipt, ``06 20``; why that command: ``devices/zvt.py``).  If
that transaction is approved, has the entry's amount and currency, and a trace number
other than the baseline, it is this payment: the entry is finished with it and the retry
gets the original approval (with ``"recovered": true``).  If the terminal's last
transaction is still the baseline, nothing was charged: the entry is voided and the retry
runs the card dialogue afresh.  If the terminal cannot say (it refuses the question, or
the baseline was never known), the entry fails with ``outcome_unknown``: the till must not
charge again under that key, and a person checks the terminal's journal.

Which outcomes are final (a retry with the same key gets the same answer, no second card
dialogue): approved, and everything the shopper or the card caused: declined, wrong PIN,
not enough funds, expired or unreadable card, aborted at the terminal or by the till.
A till retries with the same key only when it did not hear the answer; a shopper who
wants to try again (the PIN, another card) is a new attempt, with a new key.  Answering
a lost decline by starting a second card dialogue would surprise the shopper and could,
for a slow first answer, run two dialogues for one sale.  Technical refusals before any
card was read (the terminal busy or not registered, the card network unreachable, a
``84 xx`` to the command) leave the entry void: nothing happened, and the same key may
simply be retried.

Abort: the actor runs one job at a time, and a ``pay`` runs for as long as the card
dialogue does, so ``abort`` is an immediate action (``@action(..., immediate=True)``):
it is answered at once beside the running job, after the same argument and claim checks
a queued job passes.  It writes ZVT Abort (``06 B0``) on the open connection (allowed while the
terminal is master) and returns ``{"abort_sent": true, …}``; the running ``pay`` then ends
with ``cancelled`` ("aborted by the till") when the terminal stops, or is approved if the
card had already been authorised: the pay's own answer is the truth.

Outcomes map to bus errors with a ``reason`` in the details: ``device_error`` for the
card's and the terminal's refusals (declined, wrong_pin, insufficient_funds, aborted…,
with ``result_code``), ``cancelled`` for an abort by the till, ``device_offline`` when the
terminal went away (the supervisor reconnects; the retry is reconciled).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bus.payloads import Count, DeviceError, ErrorCode, Money, now
from devices import zvt
from devices.actor import DeviceActor, DeviceGone, DevicePort, DeviceSpec, Job, action
from devices.journal import JournalEntry, JournalState, error_record
from devices.queue import Priority
from devices.zvt import Apdu, Dialogue, DialogueState, IntermediateStatus, Message, StatusInformation

log = logging.getLogger(__name__)

#: The port ZVT terminals listen on for an ECR (the specification's default).
DEFAULT_PORT = 20007

#: How long connecting may take.  A terminal on the shop's LAN answers in milliseconds;
#: one that is off never does, and the supervisor tries again a second later.
CONNECT_TIMEOUT_S = 3.0

#: How long the terminal has to acknowledge a command (``80 00``).  The specification
#: gives it a few seconds; a terminal that takes longer is not listening.
ACK_TIMEOUT_S = 5.0

#: The longest the terminal may say nothing during a card dialogue.  It is quiet while
#: the shopper types the PIN or the card network answers, and ends a dialogue nobody
#: finishes itself within about two minutes (abort ``6C``); three minutes of silence
#: means it is gone, and the payment is reconciled when it is back.
CARD_SILENCE_S = 180.0

#: The longest silence during End-of-Day: the terminal sends the day's batch to the card
#: network first, which on a slow line takes minutes.
END_OF_DAY_SILENCE_S = 300.0

#: The longest silence answering a question (Registration, Status-Enquiry, Repeat
#: Receipt): no card, no network, only the terminal's own memory.
QUERY_SILENCE_S = 15.0

#: How often an idle terminal is asked whether it is there (Status-Enquiry), so one
#: switched off shows offline before the next customer, not during their payment.
IDLE_CHECK_S = 10.0

#: Bytes read from the connection at once.
READ_CHUNK = 4096

#: Reasons that end a payment for good: the shopper, the card or the till decided.  A
#: retry under the same key gets the same answer (see the module's docstring).
FINAL_REASONS = frozenset(
    {
        "declined",
        "wrong_pin",
        "pin_tries_exceeded",
        "insufficient_funds",
        "card_expired",
        "card_not_readable",
        "aborted",
        "aborted_by_till",
        "wrong_currency",
        "amount_too_high",
        "amount_too_low",
        "already_reversed",
        "reversal_not_possible",
    }
)

Operation = Literal["payment", "refund", "reversal"]


def _terminal_currency(code: str) -> str:
    """An ISO 4217 code the terminal can be given, upper-cased (ZvtError is a ValueError)."""
    zvt.currency_number(code)
    return code.upper()


Currency = Annotated[str, AfterValidator(_terminal_currency)]


class PaymentTerminalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1, description="The terminal's address on the shop's LAN.")
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="Its ZVT port (20007 unless set otherwise on it).")
    password: str = Field(
        "000000", pattern=r"^\d{6}$", description="The terminal's six-digit ECR password (refunds, reversals, reports)."
    )
    currency: Currency = Field(
        "EUR", description=f"ISO 4217 code of payments that name none; one of {', '.join(zvt.CURRENCIES)}."
    )
    connect_timeout_s: float = Field(CONNECT_TIMEOUT_S, gt=0, le=60, description="Longest wait to connect.")
    ack_timeout_s: float = Field(ACK_TIMEOUT_S, gt=0, le=60, description="Longest wait for a command's 80 00.")
    card_silence_s: float = Field(
        CARD_SILENCE_S,
        gt=0,
        le=900,
        description="Longest terminal silence in a card dialogue before it counts as gone.",
    )
    end_of_day_silence_s: float = Field(END_OF_DAY_SILENCE_S, gt=0, le=1800, description="The same for End-of-Day.")
    query_silence_s: float = Field(QUERY_SILENCE_S, gt=0, le=120, description="The same for questions.")


class MoneyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Money = Field(gt=0, le=zvt.MAX_AMOUNT, description="Minor units (cents, kopecks).")
    currency: Currency | None = Field(None, description="ISO 4217 code; default: the terminal's configured currency.")
    reference: str | None = Field(None, max_length=64, description="The till's sale reference, kept with the outcome.")


class ReverseArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    receipt_no: Count = Field(ge=0, le=zvt.MAX_RECEIPT_NO, description="The payment's receipt number.")


class AbortArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- the connection


class TerminalLink:
    """One TCP connection to the terminal: whole commands out, whole APDUs in.

    Every failure of the transport (refused, reset, closed, silent too long, bytes that
    are not ZVT) raises ``DeviceGone``: the supervisor marks the terminal offline and
    connects again, and a fresh connection starts the APDU stream afresh.
    """

    def __init__(self, address: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.address = address
        self._reader = reader
        self._writer = writer
        self._apdus = zvt.ApduReader()
        self._backlog: list[Apdu] = []

    @classmethod
    async def connect(cls, host: str, port: int, timeout: float) -> TerminalLink:
        address = f"{host}:{port}"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            raise DeviceGone(f"cannot reach the terminal at {address}: {exc or 'timed out'}") from None
        return cls(address, reader, writer)

    def send(self, message: Apdu) -> None:
        """Queue one whole APDU for sending (one write: never interleaved with another)."""
        if self._writer.is_closing():
            raise DeviceGone(f"the connection to {self.address} is closed")
        self._writer.write(message.to_bytes())

    async def converse(
        self,
        dialogue: Dialogue,
        *,
        ack_timeout: float,
        silence: float,
        heard: Callable[[Message], None] = lambda message: None,
    ) -> Dialogue:
        """Send the dialogue's command and answer the terminal until it is finished."""
        if self._backlog:
            log.info("%s: dropping %d stale APDUs before a new command", self.address, len(self._backlog))
            self._backlog.clear()
        self.send(dialogue.command)
        await self._drain()
        while not dialogue.finished:
            wait = ack_timeout if dialogue.state is DialogueState.AWAITING_ACK else silence
            messages = await self._receive(wait)
            for index, message in enumerate(messages):
                typed, reply = dialogue.receive(message)
                if reply:
                    self._writer.write(reply)
                heard(typed)
                if dialogue.finished:
                    self._backlog = messages[index + 1 :]
                    break
            await self._drain()
        return dialogue

    async def _receive(self, wait: float) -> list[Apdu]:
        while True:
            try:
                chunk = await asyncio.wait_for(self._reader.read(READ_CHUNK), wait)
            except TimeoutError:
                raise DeviceGone(f"the terminal at {self.address} said nothing for {wait:g} s") from None
            except (ConnectionError, OSError) as exc:
                raise DeviceGone(f"the connection to {self.address} failed: {exc}") from None
            if not chunk:
                raise DeviceGone(f"the terminal at {self.address} closed the connection")
            try:
                found = self._apdus.feed(chunk)
            except zvt.ZvtError as exc:
                raise DeviceGone(f"the terminal at {self.address} sent bytes that are not ZVT ({exc})") from None
            if found:
                return found

    async def _drain(self) -> None:
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise DeviceGone(f"the connection to {self.address} failed: {exc}") from None

    async def close(self) -> None:
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), CONNECT_TIMEOUT_S)
        except (ConnectionError, OSError, TimeoutError):
            pass  # gone either way


@dataclass
class CardDialogue:
    """The card dialogue running now: whose it is, and whether the till asked to abort."""

    job: Job
    operation: Operation
    abort_requested: bool = False


@dataclass(frozen=True, slots=True)
class LastTransaction:
    """What the terminal said its last transaction is (``known`` False: it would not say)."""

    known: bool
    status: StatusInformation | None = None

    @property
    def trace_no(self) -> int | None:
        return self.status.trace_no if self.status is not None else None


UNKNOWN = LastTransaction(known=False)


# --------------------------------------------------------------------------- the actor


class PaymentTerminal(DeviceActor):
    kind = "payment_terminal"
    sharing = "exclusive"
    Options = PaymentTerminalOptions

    def __init__(self, spec: DeviceSpec, port: DevicePort) -> None:
        super().__init__(spec, port)
        self.options: PaymentTerminalOptions
        self._link: TerminalLink | None = None
        #: One conversation with the terminal at a time (a job's, the idle check's).
        self._talking = asyncio.Lock()
        self._card_dialogue: CardDialogue | None = None
        #: The terminal's last transaction as far as this actor knows: the baseline a
        #: payment is checkpointed with.  Learnt on connecting, kept up to date after.
        self._last = UNKNOWN
        self.capabilities = {
            "protocol": "zvt",
            "currency": self.options.currency,
            "currencies": sorted(zvt.CURRENCIES),
            "terminal_id": None,
            "max_amount": zvt.MAX_AMOUNT,
        }
        self.counters |= {
            "payments": 0,
            "refunds": 0,
            "reversals": 0,
            "declined": 0,
            "aborted": 0,
            "reconciled": 0,
        }

    # -- the transport ----------------------------------------------------------------

    async def open(self) -> None:
        options = self.options
        link = await TerminalLink.connect(options.host, options.port, options.connect_timeout_s)
        self._link = link
        try:
            registered = await self._converse(
                zvt.registration(options.password, currency=zvt.currency_number(options.currency)),
                silence=options.query_silence_s,
            )
            if registered.refusal is not None or registered.abort is not None:
                raise _terminal_error(
                    registered.failure_code,
                    lambda words: (
                        f"{self.id}: the terminal refused registration ({words}); check the password and currency"
                    ),
                )
            if registered.completion is not None:
                self.capabilities["terminal_id"] = registered.completion.terminal_id
            # The baseline for the next payment, and what reconciliation compares with.
            await self._settle(await self._ask_last_transaction())
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await link.close()

    async def watch(self) -> None:
        """Ask an idle terminal whether it is there; one that went away goes offline."""
        while True:
            await asyncio.sleep(IDLE_CHECK_S)
            if self._running or self._talking.locked():
                continue
            async with self._talking:
                await self._converse(zvt.status_enquiry(self.options.password), silence=self.options.query_silence_s)

    def _connection(self) -> TerminalLink:
        if self._link is None:
            raise DeviceGone(f"{self.id} is not connected")
        return self._link

    async def _converse(
        self, command: Apdu, *, silence: float, heard: Callable[[Message], None] = lambda message: None
    ) -> Dialogue:
        return await self._connection().converse(
            Dialogue(command), ack_timeout=self.options.ack_timeout_s, silence=silence, heard=heard
        )

    @action("abort", AbortArgs, priority=Priority.INTERACTIVE, immediate=True)
    async def abort(self, job: Job) -> dict[str, Any]:
        """Answered at once, beside the running pay: never queued behind it."""
        return self._request_abort(job)

    def _request_abort(self, job: Job) -> dict[str, Any]:
        running = self._card_dialogue
        if running is None or self._link is None:
            return {"abort_sent": False, "reason": "no card dialogue is running"}
        if running.job.client != job.client:
            raise DeviceError(ErrorCode.NOT_CLAIMED, f"the running {running.operation} on {self.id} is not yours")
        if not running.abort_requested:
            running.abort_requested = True
            self._link.send(zvt.abort_request())
            self.counters["aborted"] += 1
            log.info("%s: %s asked to abort %s %s", self.id, job.client, running.operation, running.job.request_id)
        return {
            "abort_sent": True,
            "request_id": running.job.request_id,
            "operation": running.operation,
            "note": "the terminal stops the card dialogue if it can; the payment's own answer says how it ended",
        }

    # -- money ---------------------------------------------------------------------------

    @action("pay", MoneyArgs, priority=Priority.INTERACTIVE)
    async def pay(self, job: Job) -> dict[str, Any]:
        return await self._money(job, "payment", zvt.authorization)

    @action("refund", MoneyArgs, priority=Priority.INTERACTIVE)
    async def refund(self, job: Job) -> dict[str, Any]:
        return await self._money(job, "refund", functools.partial(zvt.refund, self.options.password))

    async def _money(self, job: Job, operation: Operation, build: Callable[[int, int], Apdu]) -> dict[str, Any]:
        args: MoneyArgs = job.args
        currency = args.currency or self.options.currency
        request = {"amount": args.amount, "currency": currency, "reference": args.reference}
        command = build(args.amount, zvt.currency_number(currency))
        return await self._transaction(job, operation, command, request, key_required=True)

    @action("reverse", ReverseArgs, priority=Priority.INTERACTIVE)
    async def reverse(self, job: Job) -> dict[str, Any]:
        """Take back a payment of today's batch.  The terminal refuses a second reversal
        of the same receipt by itself; with a key, a retry also gets the first answer."""
        args: ReverseArgs = job.args
        request = {"receipt_no": args.receipt_no}
        command = zvt.reversal(self.options.password, args.receipt_no)
        return await self._transaction(job, "reversal", command, request, key_required=False)

    async def _transaction(
        self, job: Job, operation: Operation, command: Apdu, request: dict[str, Any], *, key_required: bool
    ) -> dict[str, Any]:
        key = job.idempotency_key
        if key is None and key_required:
            raise DeviceError(
                ErrorCode.INVALID_REQUEST,
                f"{job.action} needs an idempotency_key: a retry must never charge the card twice",
            )
        async with self._talking:
            if key is not None:
                answered = await self._begin_or_answer(job, key, request)
                if answered is not None:
                    return answered
                await self._journal(
                    "checkpoint",
                    key,
                    baseline_known=self._last.known,
                    baseline_trace=self._last.trace_no,
                    sent_at=now(),
                )
            running = CardDialogue(job, operation)
            self._card_dialogue = running
            try:
                dialogue = await self._converse(
                    command,
                    silence=self.options.card_silence_s,
                    heard=functools.partial(self._heard, running),
                )
            finally:
                self._card_dialogue = None
            return await self._conclude(job, key, operation, request, dialogue, running)

    async def _begin_or_answer(self, job: Job, key: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """Journal the request; the stored answer if this key has one (None: go ahead)."""
        entry, started = await self._begin(job, key, request)
        if started:
            return None
        if not entry.same_request(job.client, job.action, request):
            raise DeviceError(
                ErrorCode.CONFLICT,
                f"idempotency key {key!r} was used on {self.id} for a different request",
            )
        if entry.state is JournalState.STARTED:
            # An earlier attempt lost its answer and was not settled yet: ask the terminal
            # before anything could charge the card a second time.
            entry = await self._reconcile(entry, await self._ask_last_transaction())
            if entry.state is JournalState.VOID:
                entry, started = await self._begin(job, key, request)
                if started:
                    return None
        return entry.answer()

    async def _begin(self, job: Job, key: str, request: dict[str, Any]) -> tuple[JournalEntry, bool]:
        journal = self.port.journal
        return await self.blocking(
            functools.partial(journal.begin, self.id, key, client=job.client, action=job.action, request=request)
        )

    async def _journal(self, what: str, key: str, *args: Any, **progress: Any) -> None:
        method = getattr(self.port.journal, what)
        await self.blocking(functools.partial(method, self.id, key, *args, **progress))

    def _heard(self, running: CardDialogue, message: Message) -> None:
        """Each message of a card dialogue: stages go to the till, and keep its lease."""
        job = running.job
        self.claims.touch(job.client)  # a two-minute dialogue must not outlive the claim
        if isinstance(message, IntermediateStatus):
            self.emit(
                "stage",
                {
                    "request_id": job.request_id,
                    "operation": running.operation,
                    "stage": message.stage,
                    "text": message.text,
                    "code": message.code,
                    "remove_card": message.remove_card,
                },
                to_client=job.client,
            )

    async def _conclude(
        self,
        job: Job,
        key: str | None,
        operation: Operation,
        request: dict[str, Any],
        dialogue: Dialogue,
        running: CardDialogue,
    ) -> dict[str, Any]:
        """Turn how the dialogue ended into the answer, and write it to the journal."""
        if dialogue.refusal is not None:
            # 84 xx: the terminal did not take the command; nothing happened.
            code = dialogue.refusal.code
            error = _terminal_error(
                code,
                lambda words: f"{self.id} refused the {operation}: {words}; nothing was charged, try again",
                retryable=True,
            )
            if key is not None:
                _reason, words = zvt.describe_result(code)
                await self._journal("void", key, f"the terminal refused the command: {words}")
            raise error
        status = dialogue.status
        if dialogue.abort is None and status is not None and status.approved:
            result = _transaction_result(operation, request, status)
            if key is not None:
                await self._journal("finish", key, result)
            self._count(operation)
            self._last = LastTransaction(True, status)
            return result
        code = dialogue.abort.result_code if dialogue.abort is not None else status.result_code if status else None
        if code is None:
            # Completion without a result: only the terminal's memory can tell.
            if key is None:
                raise DeviceError(
                    ErrorCode.DEVICE_ERROR, f"{self.id} ended the {operation} without a result", {"reason": "no_result"}
                )
            entry = await self._journal_entry(key)
            settled = await self._reconcile(entry, await self._ask_last_transaction())
            if settled.state is JournalState.VOID:
                raise DeviceError(
                    ErrorCode.DEVICE_ERROR,
                    f"{self.id} ended the {operation} without a result and charged nothing; try again",
                    {"reason": "no_result"},
                    retryable=True,
                )
            return settled.answer()
        error = _refusal(self.id, operation, code, aborted_by_till=running.abort_requested)
        reason = (error.details or {}).get("reason")
        if reason in FINAL_REASONS:
            if reason not in ("aborted", "aborted_by_till"):
                self.counters["declined"] += 1
            if key is not None:
                await self._journal("fail", key, error_record(error))
            raise error
        if key is not None:
            await self._journal("void", key, f"refused before a card was charged: {error.message}")
        error.retryable = True
        raise error

    def _count(self, operation: Operation) -> None:
        self.counters[{"payment": "payments", "refund": "refunds", "reversal": "reversals"}[operation]] += 1

    async def _journal_entry(self, key: str) -> JournalEntry:
        entry = await self.blocking(self.port.journal.get, self.id, key)
        assert entry is not None, "the entry was begun in this job"
        return entry

    # -- reconciliation ------------------------------------------------------------------

    async def _ask_last_transaction(self) -> LastTransaction:
        """Repeat Receipt: the terminal's last transaction (``known`` False if it won't say)."""
        dialogue = await self._converse(zvt.repeat_receipt(self.options.password), silence=self.options.query_silence_s)
        if dialogue.refusal is not None or dialogue.abort is not None:
            log.warning("%s: the terminal would not repeat its last receipt: %s", self.id, dialogue.outcome())
            # What we knew may be old now: a payment after it must not take it as its
            # baseline, or a lost answer would be matched against the wrong transaction.
            self._last = UNKNOWN
            return UNKNOWN
        # The terminal's own word: the baseline from now on.
        self._last = LastTransaction(True, dialogue.status)
        return self._last

    async def _settle(self, last: LastTransaction) -> None:
        """Reconcile every entry an interruption left ``started``, newest first: only the
        newest can be the terminal's last transaction."""
        entries = await self.blocking(self.port.journal.unfinished, self.id)
        for entry in sorted(entries, key=lambda e: e.created_at, reverse=True):
            await self._reconcile(entry, last)
            # Older ones cannot be told apart by the last transaction alone (only one is
            # ever unsettled unless settling itself failed): a person checks them.
            last = UNKNOWN

    async def _reconcile(self, entry: JournalEntry, last: LastTransaction) -> JournalEntry:
        journal = self.port.journal
        self.counters["reconciled"] += 1
        checkpoint = entry.checkpoint
        operation: Operation = {"pay": "payment", "refund": "refund"}.get(entry.action, "reversal")  # type: ignore[assignment]
        if "sent_at" not in checkpoint:
            await self.blocking(journal.void, self.id, entry.key, "interrupted before the terminal was asked")
            settled = dataclasses.replace(entry, state=JournalState.VOID)
            log.warning("%s: %s for key %s never reached the terminal; voided", self.id, entry.action, entry.key)
        elif not last.known or not checkpoint.get("baseline_known"):
            error = DeviceError(
                ErrorCode.DEVICE_ERROR,
                f"{self.id} lost the answer to this {operation} and the terminal cannot tell whether it went "
                "through: check the terminal's journal before charging again (use a new key)",
                {"reason": "outcome_unknown"},
            )
            await self.blocking(journal.fail, self.id, entry.key, error_record(error))
            settled = dataclasses.replace(entry, state=JournalState.FAILED, error=error_record(error))
            log.error("%s: outcome of key %s unknown; left for a person to check", self.id, entry.key)
        elif _is_this_one(entry.request, checkpoint.get("baseline_trace"), last.status):
            assert last.status is not None
            result = _transaction_result(operation, entry.request, last.status, recovered=True)
            await self.blocking(journal.finish, self.id, entry.key, result)
            settled = dataclasses.replace(entry, state=JournalState.DONE, result=result)
            self._count(operation)
            log.warning(
                "%s: %s for key %s had gone through (trace %s); recorded",
                self.id,
                entry.action,
                entry.key,
                last.status.trace_no,
            )
        else:
            await self.blocking(
                journal.void, self.id, entry.key, "the terminal's last transaction is not this one: nothing was charged"
            )
            settled = dataclasses.replace(entry, state=JournalState.VOID)
            log.warning("%s: %s for key %s did not go through; voided", self.id, entry.action, entry.key)
        return settled  # what was just written, without reading it back

    # -- the rest ------------------------------------------------------------------------

    @action("end_of_day")
    async def end_of_day(self, job: Job) -> dict[str, Any]:
        async with self._talking:
            dialogue = await self._converse(
                zvt.end_of_day(self.options.password), silence=self.options.end_of_day_silence_s
            )
        if dialogue.refusal is not None or dialogue.abort is not None:
            raise _terminal_error(dialogue.failure_code, lambda words: f"{self.id}: end of day failed: {words}")
        status = dialogue.status
        return {
            "done": True,
            "total": status.amount if status else None,
            "currency": self.options.currency,
            "terminal_time": _terminal_time(status) if status else None,
        }

    @action("status", needs_claim=False)
    async def terminal_status(self, job: Job) -> dict[str, Any]:
        async with self._talking:
            dialogue = await self._converse(
                zvt.status_enquiry(self.options.password), silence=self.options.query_silence_s
            )
        completion = dialogue.completion
        code = completion.terminal_status if completion else None
        return {
            "ready": code == 0 and dialogue.refusal is None,
            "terminal_status": code,
            "software": completion.software if completion else None,
            "terminal_id": self.capabilities.get("terminal_id"),
            "last_trace_no": self._last.trace_no,
        }


# --------------------------------------------------------------------------- helpers


def _is_this_one(request: dict[str, Any], baseline_trace: int | None, last: StatusInformation | None) -> bool:
    """Whether the terminal's last transaction is the request's: approved, newer than the
    baseline (any trace number but the baseline's: they wrap after 999999), same money."""
    if last is None or not last.approved or last.trace_no is None or last.trace_no == baseline_trace:
        return False
    amount = request.get("amount")
    if amount is not None and last.amount != amount:
        return False
    currency = request.get("currency")
    return currency is None or last.currency is None or zvt.currency_name(last.currency) == currency


def _transaction_result(
    operation: Operation, request: dict[str, Any], status: StatusInformation, *, recovered: bool = False
) -> dict[str, Any]:
    card = status.card
    return {
        "approved": True,
        "operation": operation,
        "amount": status.amount if status.amount is not None else request.get("amount"),
        "currency": zvt.currency_name(status.currency) if status.currency is not None else request.get("currency"),
        "reference": request.get("reference"),
        "receipt_no": status.receipt_no,
        "trace_no": status.trace_no,
        "approval_code": status.approval_code,
        "card": {"name": card.name, "type": card.type, "pan": card.pan},
        "terminal_id": status.terminal_id,
        "terminal_time": _terminal_time(status),
        "recorded_at": now(),
        "recovered": recovered,
        **({"reversed_receipt_no": request["receipt_no"]} if operation == "reversal" else {}),
    }


def _terminal_time(status: StatusInformation) -> str | None:
    """The terminal's clock as "MM-DD HH:MM:SS" (ZVT sends no year)."""
    if status.date is None and status.time is None:
        return None
    return " ".join(part for part in (status.date, status.time) if part)


def _refusal(device: str, operation: Operation, code: int, *, aborted_by_till: bool) -> DeviceError:
    error = _terminal_error(code, lambda words: f"{device}: {operation} {words}", retryable=False)
    if aborted_by_till and (error.details or {}).get("reason") == "aborted":
        return DeviceError(
            ErrorCode.CANCELLED,
            f"the {operation} was aborted by the till; nothing was charged",
            {"reason": "aborted_by_till", "result_code": code},
        )
    return error


def _terminal_error(code: int, say: Callable[[str], str], *, retryable: bool | None = None) -> DeviceError:
    """What the terminal refused or aborted, with result ``code``, as a ``device_error``:
    ``say`` puts the code's words (``zvt.describe_result``) into the sentence for the till."""
    reason, words = zvt.describe_result(code)
    return DeviceError(ErrorCode.DEVICE_ERROR, say(words), {"reason": reason, "result_code": code}, retryable=retryable)
