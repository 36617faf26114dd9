"""A simulated card payment terminal speaking ZVT on a real TCP socket (127.0.0.1).

It plays the terminal's half of ``devices/zvt.py``: it acknowledges each command, then
runs the card dialogue as master: Intermediate Status ("insert card", "enter PIN",
"waiting for the card network"…), a short pause at each stage, then Status-Information
with the result and Completion, or Abort with a result code.  It waits for the ECR's
``80 00 00`` after every message, as a terminal does, and an ECR Abort (``06 B0``) at any
stage of a card dialogue ends it with ``06 1E 6C``.

What the next card dialogue does is queued with ``queue(outcome)`` (or the desk): one of
``OUTCOMES``; with nothing queued the card is approved.  ``drop_after_approval`` books
the payment and then closes the connection before the ECR hears of it: the lost answer
the hub must recover with Repeat Receipt (``06 20``), which this terminal answers with
the Status-Information of its last approved transaction.

Every approved transaction is kept in ``transactions`` (receipt and trace numbers,
amount, card); ``charges`` are the approved payments not reversed: what the shopper's
card was really charged.  ``offline`` (connections refused), ``slow_ms`` (added to every
pause), ``busy`` (card commands refused with ``84 9C``) and ``stop()``/``start()``
(unplugged, back on the same port) are the rest of the failures.

    terminal = ZvtTerminalSimulator(step_s=0.01)
    await terminal.start()          # terminal.port is the port it listens on
    ...                             # options = {host = "127.0.0.1", port = terminal.port}
    await terminal.stop()
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from devices import zvt
from devices.sim.tcp import TcpDevice
from devices.zvt import Apdu, Card

log = logging.getLogger(__name__)

Outcome = Literal["approve", "decline", "insufficient_funds", "wrong_pin", "timeout", "drop_after_approval"]
OUTCOMES: tuple[Outcome, ...] = (
    "approve",
    "decline",
    "insufficient_funds",
    "wrong_pin",
    "timeout",
    "drop_after_approval",
)

#: The pause at each stage of a card dialogue: a second is what a shopper takes to tap a
#: card or type a PIN; tests set a few milliseconds.
STEP_S = 1.0

#: How long "insert card" waits for a card that never comes before the terminal gives
#: up with ``6C`` (real terminals: 30-60 s; the demo shows it in a few).
CARD_TIMEOUT_S = 5.0

#: How long the terminal waits for the ECR's ``80 00`` to one of its messages before it
#: takes the ECR for gone and hangs up.  The specification allows the ECR a few seconds.
ACK_TIMEOUT_S = 5.0


READ_CHUNK = 4096

#: The card every dialogue is paid with (masked as a terminal sends it).
DEFAULT_CARD = Card(name="Visa", type=10, pan="************4242", expiry="2812")

_DECLINE_CODES: dict[str, int] = {"decline": 5, "insufficient_funds": 51}
#: The network's "incorrect PIN" (55), once the terminal's own PIN retries are used up.
WRONG_PIN_CODE = 55
#: "Aborted via timeout or abort key".
ABORTED_CODE = 0x6C
#: Refusals of a command: function not possible, no such receipt, already reversed.
NOT_POSSIBLE, NO_SUCH_RECEIPT, ALREADY_REVERSED, WRONG_CURRENCY = 0x83, 0xB5, 0xB4, 0x6F
#: "Please wait": the terminal is busy with something else.
BUSY = 0x9C


@dataclass
class Transaction:
    kind: Literal["payment", "refund", "reversal"]
    amount: int
    currency: int
    receipt_no: int
    trace_no: int
    approval_code: str
    card: Card
    time: str
    date: str
    #: A payment taken back by a reversal.
    reversed: bool = False
    #: For a reversal: the receipt number it took back.
    reverses: int | None = None


class _EcrAborted(Exception):
    """The ECR sent 06 B0 during the dialogue."""


class _Hangup(Exception):
    """The connection is gone (or is being dropped on purpose)."""


class _Connection:
    """One ECR connection: a task reads APDUs into an inbox; the dialogue takes them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.inbox: asyncio.Queue[Apdu | None] = asyncio.Queue()
        self.abort_requested = False
        self._reader_task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        parser = zvt.ApduReader()
        try:
            while chunk := await reader.read(READ_CHUNK):
                for message in parser.feed(chunk):
                    self.inbox.put_nowait(message)
        except (ConnectionError, OSError, zvt.ZvtError) as exc:
            log.info("simulated terminal: connection ended: %s", exc)
        finally:
            self.inbox.put_nowait(None)

    def send(self, message: Apdu) -> None:
        self.writer.write(message.to_bytes())

    async def next(self, timeout: float | None = None) -> Apdu | None:
        """The ECR's next APDU, or None when ``timeout`` passed; ``_Hangup`` once it is gone."""
        try:
            message = await asyncio.wait_for(self.inbox.get(), timeout)
        except TimeoutError:
            return None
        if message is None:
            self.inbox.put_nowait(None)  # gone stays gone for every later call
            raise _Hangup
        return message

    def close(self, *, abrupt: bool = False) -> None:
        if abrupt:
            self.writer.transport.abort()  # an RST, as when a terminal loses power
        else:
            self.writer.close()
        self._reader_task.cancel()


class ZvtTerminalSimulator(TcpDevice):
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        password: str = "000000",
        terminal_id: str = "52500038",
        currency: str = "EUR",
        step_s: float = STEP_S,
        card_timeout_s: float = CARD_TIMEOUT_S,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        card: Card = DEFAULT_CARD,
        first_trace_no: int = 1,
        first_receipt_no: int = 1,
    ) -> None:
        super().__init__(host=host, port=port)
        self.password = password
        self.terminal_id = terminal_id
        self.currency = zvt.currency_number(currency)
        self.step_s = step_s
        self.card_timeout_s = card_timeout_s
        self.ack_timeout_s = ack_timeout_s
        self.card = card

        # Failure modes, flipped at will.
        self.next_outcomes: deque[Outcome] = deque()
        self.slow_ms = 0
        #: Busy (a service menu open, a batch running): card commands get ``84 9C``.
        self.busy = False

        # What happened, for tests and the demo.
        self.transactions: list[Transaction] = []
        self.received: list[Apdu] = []
        self.dialogues = 0
        self.aborted_by_ecr = 0

        self._trace_no = first_trace_no
        self._receipt_no = first_receipt_no
        self._batch_start = 0
        self._current: _Connection | None = None

    # -- what tests and the desk read and set -----------------------------------------

    @property
    def charges(self) -> list[Transaction]:
        """Payments that took the shopper's money and were not reversed."""
        return [t for t in self.transactions if t.kind == "payment" and not t.reversed]

    @property
    def last_transaction(self) -> Transaction | None:
        return self.transactions[-1] if self.transactions else None

    def queue(self, outcome: Outcome, count: int = 1) -> None:
        """What the next ``count`` card dialogues do."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        self.next_outcomes.extend([outcome] * count)

    # -- the socket -------------------------------------------------------------------

    def drop_connections(self) -> None:
        if self._current is not None:
            self._current.close(abrupt=True)

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._current is not None:
            # A terminal serves one ECR: a new connection replaces the old one.
            self._current.close()
        connection = _Connection(reader, writer)
        self._current = connection
        try:
            while True:
                message = await connection.next()
                assert message is not None  # no timeout: an APDU, or _Hangup
                self.received.append(message)
                await self._command(connection, message)
                await writer.drain()
        except (_Hangup, ConnectionError, OSError):
            pass
        except zvt.ZvtError as exc:
            log.warning("simulated terminal: bad command: %s", exc)
        finally:
            if self._current is connection:
                self._current = None
            connection.close()

    # -- commands ---------------------------------------------------------------------

    async def _command(self, connection: _Connection, message: Apdu) -> None:
        try:
            request = zvt.parse_request(message)
        except zvt.ZvtError:
            connection.send(zvt.nack(0x9A))  # ZVT protocol error
            return
        match request:
            case zvt.Registration():
                await self._register(connection, request)
            case zvt.Authorization(amount=amount, currency=currency):
                await self._card_transaction(connection, "payment", amount, currency)
            case zvt.Refund(password=pwd, amount=amount, currency=currency):
                if self._password_ok(connection, pwd):
                    await self._card_transaction(connection, "refund", amount, currency)
            case zvt.Reversal(password=pwd, receipt_no=receipt_no):
                if self._password_ok(connection, pwd):
                    await self._reversal(connection, receipt_no)
            case zvt.PasswordCommand(control=control, password=pwd):
                if self._password_ok(connection, pwd):
                    await self._password_command(connection, control)
            case zvt.AbortRequest():
                connection.send(zvt.ack())  # nothing running: nothing to abort
            case zvt.Acknowledgement():
                pass  # a late ACK to something already finished
            case _:
                connection.send(zvt.nack(NOT_POSSIBLE))

    def _password_ok(self, connection: _Connection, pwd: str) -> bool:
        if pwd != self.password:
            connection.send(zvt.nack(NOT_POSSIBLE))
            return False
        return True

    async def _register(self, connection: _Connection, request: zvt.Registration) -> None:
        if not self._password_ok(connection, request.password):
            return
        if request.currency is not None and request.currency != self.currency:
            connection.send(zvt.nack(WRONG_CURRENCY))
            return
        connection.send(zvt.ack())
        await self._say(
            connection,
            zvt.completion(status_byte=0, terminal_id=self.terminal_id, currency=self.currency),
        )

    async def _password_command(self, connection: _Connection, control: int) -> None:
        connection.send(zvt.ack())
        if control == zvt.Control.STATUS_ENQUIRY:
            await self._say(connection, zvt.completion(software="StoreHub ZVT sim 1.0", terminal_status=0))
        elif control == zvt.Control.REPEAT_RECEIPT:
            last = self.last_transaction
            if last is not None:
                await self._say(connection, self._status_of(last))
            await self._say(connection, zvt.completion())
        elif control == zvt.Control.END_OF_DAY:
            await self._say(connection, zvt.intermediate_status(0x0E))  # please wait
            await self._pause(connection, self.step_s)
            batch = self.transactions[self._batch_start :]
            total = sum(
                t.amount if t.kind == "payment" and not t.reversed else -t.amount if t.kind == "refund" else 0
                for t in batch
            )
            self._batch_start = len(self.transactions)
            now = dt.datetime.now()
            await self._say(
                connection,
                zvt.status_information(
                    result_code=0, amount=max(total, 0), time=now.strftime("%H%M%S"), date=now.strftime("%m%d")
                ),
            )
            await self._say(connection, zvt.completion())

    async def _card_transaction(
        self, connection: _Connection, kind: Literal["payment", "refund"], amount: int, currency: int | None
    ) -> None:
        if self.busy:
            connection.send(zvt.nack(BUSY))
            return
        if currency is not None and currency != self.currency:
            connection.send(zvt.ack())
            await self._say(connection, zvt.terminal_abort(WRONG_CURRENCY))
            return
        connection.send(zvt.ack())
        self.dialogues += 1
        outcome: Outcome = self.next_outcomes.popleft() if self.next_outcomes else "approve"
        connection.abort_requested = False
        try:
            await self._say(connection, zvt.intermediate_status(0x0A, timeout=min(int(self.card_timeout_s), 255)))
            if outcome == "timeout":
                await self._pause(connection, self.card_timeout_s)
                await self._say(connection, zvt.terminal_abort(ABORTED_CODE))
                return
            await self._pause(connection, self.step_s)  # the card is tapped
            await self._say(connection, zvt.intermediate_status(0x01))  # PIN
            await self._pause(connection, self.step_s)
            if outcome == "wrong_pin":
                await self._say(connection, zvt.intermediate_status(0x15))  # wrong PIN
                await self._pause(connection, self.step_s)
                await self._say(connection, zvt.terminal_abort(WRONG_PIN_CODE))
                return
            await self._say(connection, zvt.intermediate_status(0x04))  # waiting for the network
            await self._pause(connection, self.step_s)
            if outcome in _DECLINE_CODES:
                code = _DECLINE_CODES[outcome]
                await self._say(connection, self._declined_status(amount, code))
                await self._say(connection, zvt.terminal_abort(code))
                return
            transaction = self._book(kind, amount)
            if outcome == "drop_after_approval":
                # Booked, and the line dies before the ECR hears of it.
                connection.close(abrupt=True)
                raise _Hangup
            await self._say(connection, self._status_of(transaction))
            await self._say(connection, zvt.completion())
        except _EcrAborted:
            self.aborted_by_ecr += 1
            await self._say(connection, zvt.terminal_abort(ABORTED_CODE))

    async def _reversal(self, connection: _Connection, receipt_no: int | None) -> None:
        connection.send(zvt.ack())
        original = next((t for t in self.transactions if t.kind == "payment" and t.receipt_no == receipt_no), None)
        if original is None:
            await self._say(connection, zvt.terminal_abort(NO_SUCH_RECEIPT))
            return
        if original.reversed:
            await self._say(connection, zvt.terminal_abort(ALREADY_REVERSED))
            return
        await self._say(connection, zvt.intermediate_status(0x0E))
        await self._pause(connection, self.step_s)
        original.reversed = True
        reversal = self._book("reversal", original.amount, reverses=original.receipt_no)
        await self._say(connection, self._status_of(reversal))
        await self._say(connection, zvt.completion())

    # -- the dialogue's steps -----------------------------------------------------------

    async def _say(self, connection: _Connection, message: Apdu) -> None:
        """Send one message as master and wait for the ECR's ``80 00``.

        An ECR Abort arriving meanwhile is acknowledged and remembered: the dialogue
        raises it at its next step (after this message's ACK).
        """
        connection.send(message)
        await connection.writer.drain()
        while True:
            reply = await connection.next(self.ack_timeout_s)
            if reply is None:
                raise _Hangup  # the ECR stopped acknowledging: take it for gone
            self.received.append(reply)
            if reply.control == zvt.Control.ABORT_REQUEST:
                connection.abort_requested = True
                connection.send(zvt.ack())
                continue
            if reply.cls == zvt.POSITIVE:
                return
            log.info("simulated terminal: ignored %r while waiting for an ACK", reply)

    async def _pause(self, connection: _Connection, seconds: float) -> None:
        """Let a stage last ``seconds``; an ECR Abort ends the dialogue at once."""
        if connection.abort_requested:
            raise _EcrAborted
        deadline = asyncio.get_running_loop().time() + seconds + self.slow_ms / 1000
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            message = await connection.next(left)
            if message is None:
                continue
            self.received.append(message)
            if message.control == zvt.Control.ABORT_REQUEST:
                connection.send(zvt.ack())
                raise _EcrAborted
            log.info("simulated terminal: ignored %r during the card dialogue", message)

    def _book(
        self, kind: Literal["payment", "refund", "reversal"], amount: int, reverses: int | None = None
    ) -> Transaction:
        now = dt.datetime.now()
        transaction = Transaction(
            kind=kind,
            amount=amount,
            currency=self.currency,
            receipt_no=self._receipt_no,
            trace_no=self._trace_no,
            approval_code=f"{(self._trace_no * 7919) % 1_000_000:06d}",
            card=self.card,
            time=now.strftime("%H%M%S"),
            date=now.strftime("%m%d"),
            reverses=reverses,
        )
        self._receipt_no = self._receipt_no % zvt.MAX_RECEIPT_NO + 1
        self._trace_no = self._trace_no % zvt.MAX_TRACE_NO + 1
        self.transactions.append(transaction)
        return transaction

    def _status_of(self, transaction: Transaction) -> Apdu:
        return zvt.status_information(
            result_code=0,
            amount=transaction.amount,
            currency=transaction.currency,
            trace_no=transaction.trace_no,
            receipt_no=transaction.receipt_no,
            time=transaction.time,
            date=transaction.date,
            terminal_id=self.terminal_id,
            approval_code=transaction.approval_code,
            card=transaction.card,
        )

    def _declined_status(self, amount: int, code: int) -> Apdu:
        now = dt.datetime.now()
        return zvt.status_information(
            result_code=code,
            amount=amount,
            currency=self.currency,
            time=now.strftime("%H%M%S"),
            date=now.strftime("%m%d"),
            terminal_id=self.terminal_id,
            card=self.card,
        )

    # -- the simulator desk (``storehub sim``) ----------------------------------------

    def desk_handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """What a person at ``storehub sim`` can tell this terminal to do."""

        def next_does(outcome: Outcome) -> Callable[[dict[str, Any]], Any]:
            def handler(args: dict[str, Any]) -> dict[str, Any]:
                self.queue(outcome, int(args.get("count", 1)))
                return self.describe()

            return handler

        def slow(args: dict[str, Any]) -> dict[str, Any]:
            self.slow_ms = int(args.get("ms", 2000))
            return self.describe()

        def set_busy(value: bool) -> Callable[[dict[str, Any]], Any]:
            def handler(args: dict[str, Any]) -> dict[str, Any]:
                self.busy = value
                return self.describe()

            return handler

        def set_offline(value: bool) -> Callable[[dict[str, Any]], Any]:
            def handler(args: dict[str, Any]) -> dict[str, Any]:
                self.offline = value
                return self.describe()

            return handler

        def transactions(args: dict[str, Any]) -> dict[str, Any]:
            count = int(args.get("count", 20))
            return {
                "transactions": [
                    {
                        "kind": t.kind,
                        "amount": t.amount,
                        "currency": zvt.currency_name(t.currency),
                        "receipt_no": t.receipt_no,
                        "trace_no": t.trace_no,
                        "approval_code": t.approval_code,
                        "reversed": t.reversed,
                        "reverses": t.reverses,
                    }
                    for t in self.transactions[-count:]
                ]
            }

        return {
            "status": lambda args: self.describe(),
            "approve_next": next_does("approve"),
            "decline_next": next_does("decline"),
            "insufficient_funds_next": next_does("insufficient_funds"),
            "wrong_pin_next": next_does("wrong_pin"),
            "timeout_next": next_does("timeout"),
            "drop_next": next_does("drop_after_approval"),
            "slow": slow,
            "busy": set_busy(True),
            "ready": set_busy(False),
            "unplug": set_offline(True),
            "plug_in": set_offline(False),
            "transactions": transactions,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "address": f"{self.host}:{self.port}",
            "terminal_id": self.terminal_id,
            "currency": zvt.currency_name(self.currency),
            "next": list(self.next_outcomes),
            "slow_ms": self.slow_ms,
            "busy": self.busy,
            "offline": self.offline,
            "connected": self._current is not None,
            "transactions": len(self.transactions),
            "charges": len(self.charges),
            "charged_total": sum(t.amount for t in self.charges),
        }
