"""The Shtrikh-M (ШТРИХ-М) fiscal register's serial protocol: frames, link handshake, commands.

This module builds and parses bytes and knows nothing of ports: the transport (pyserial)
writes what ``ShtrikhLink`` returns, feeds it what it reads and tells it when a wait ran
out.  Everything here can be tested on byte scripts.

Frames (both directions)::

    STX LEN CMD DATA... LRC
    02  n   c   ...     XOR of LEN, CMD and DATA

``LEN`` counts CMD and DATA.  A command's DATA usually starts with the 4-byte operator
password; a reply's DATA always starts with the error code (``CMD ERR DATA``).

Link handshake (the host is master; the register only answers)::

    host ENQ        register NAK: idle, waiting for a command
                    register ACK: it holds an answer; the frame follows
    host frame      register ACK: received (NAK: received garbled, send again)
    register frame  host ACK (NAK: garbled; the register then waits for ENQ to repeat it)

Numbers are little-endian binary.  Money is in minor units (kopecks), 5 bytes; quantity in
thousandths, 5 bytes; text in cp1251, NUL-padded to the field width.

Sources for the layouts: the manufacturer's "Протокол работы ФР" as quoted command by
command in the docstrings of rosix-ru/shtrihm-fr (``shtrihmfr/kkt.py``), and the
``pyshtrih`` package (oleg-golovanov/pyshtrih: ``commands.py``, ``handlers/``,
``excepts.py``).  Where they disagree, the comment at the field says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum

STX = 0x02
ENQ = 0x05
ACK = 0x06
NAK = 0x15

#: LEN is one byte, so CMD + DATA can be at most 255 bytes.
MAX_BODY = 0xFF

#: Fiscal-storage (ФН) era commands are two bytes, 0xFF01..0xFFFF; their first byte is
#: always 0xFF, which no one-byte command uses, so a parser can tell them apart.
LONG_COMMAND_PREFIX = 0xFF

#: The documented factory passwords: operator (cashier) 1, system administrator 30.
DEFAULT_OPERATOR_PASSWORD = 1
DEFAULT_ADMIN_PASSWORD = 30

#: Text fields of sale, return, close document and print line are 40 bytes wide in the
#: manufacturer's layouts (sale: LEN 60, close document: LEN 71).  Sources disagree here:
#: pyshtrih pads text to the model's line width (36 on ФР-К, 48 on КОМБО), which makes the
#: frame shorter or longer than documented; we keep the documented 40.
TEXT_WIDTH = 40

#: The register's code page for every text field, and for the name in the device type.
ENCODING = "cp1251"

#: Amounts and quantities are 5 bytes; the documentation gives their range in decimal as
#: 0000000000..9999999999, which is less than 2**40, so that is the bound we enforce.
MONEY_BYTES = 5
MAX_MONEY = 9_999_999_999

#: Quantities are thousandths (1 piece = 1000, 0.250 kg = 250).  A register whose short
#: status sets ``FLAG_QUANTITY_PRECISION_INCREASED`` uses more decimals; that is its
#: configuration, not ours to guess, and the actor does not support it (docs/devices.md).
QUANTITY_SCALE = 1000


def line_amount(thousandths: int, price: int) -> int:
    """Quantity times price, rounded half up to the kopeck, as the register computes a line."""
    return (thousandths * price + QUANTITY_SCALE // 2) // QUANTITY_SCALE


#: Close document's discount (negative: surcharge) on the whole receipt, in hundredths of
#: a percent, 2 bytes signed: -99.99 %..99.99 %.
MAX_DISCOUNT = 9999

#: A command carries at most four tax group bytes, each 0 (no tax) or group 1..4.
TAX_SLOTS = 4
MAX_TAX_GROUP = 4


# --------------------------------------------------------------------------- frames


def lrc(body: bytes) -> int:
    """XOR of every byte: the register's check byte over LEN, CMD and DATA."""
    check = 0
    for byte in body:
        check ^= byte
    return check


def _command_bytes(cmd: int) -> bytes:
    if 0 <= cmd <= 0xFF and cmd != LONG_COMMAND_PREFIX:
        return bytes([cmd])
    if LONG_COMMAND_PREFIX << 8 < cmd <= 0xFFFF:
        return cmd.to_bytes(2, "big")
    raise ValueError(f"command {cmd:#x} is neither one byte nor 0xFFxx")


@dataclass(frozen=True, slots=True)
class Frame:
    """One message: a command from the host, or a reply (whose data starts with ERR)."""

    cmd: int
    data: bytes = b""

    def to_bytes(self) -> bytes:
        return build_frame(self.cmd, self.data)


def build_frame(cmd: int, data: bytes = b"") -> bytes:
    """``STX LEN CMD DATA LRC`` with LEN = len(CMD + DATA) and LRC = XOR of LEN..DATA."""
    body = _command_bytes(cmd) + bytes(data)
    if len(body) > MAX_BODY:
        raise ValueError(f"a frame carries at most {MAX_BODY} bytes of command and data, not {len(body)}")
    return wrap(body)


def wrap(body: bytes) -> bytes:
    """``STX LEN body LRC`` around a command (or reply) and its data, unchecked."""
    framed = bytes([len(body)]) + body
    return bytes([STX]) + framed + bytes([lrc(framed)])


@dataclass(frozen=True, slots=True)
class CorruptFrame:
    """A frame whose LRC did not match: the receiver answers NAK."""

    raw: bytes


class FrameParser:
    """Takes bytes as they arrive and hands back each complete frame.

    Bytes before an STX are skipped (and counted in ``skipped``): line noise, or a stray
    ACK/NAK, is never a frame.  A frame with a bad LRC comes back as ``CorruptFrame``.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.skipped = 0

    @property
    def pending(self) -> bool:
        """Whether part of a frame has arrived and the rest has not."""
        return bool(self._buffer)

    def reset(self) -> None:
        """Forget a partial frame: after a timeout its rest will never come."""
        self._buffer.clear()

    def feed(self, chunk: bytes) -> list[Frame | CorruptFrame]:
        self._buffer += chunk
        out: list[Frame | CorruptFrame] = []
        while True:
            start = self._buffer.find(STX)
            if start < 0:
                self.skipped += len(self._buffer)
                self._buffer.clear()
                return out
            if start:
                self.skipped += start
                del self._buffer[:start]
            if len(self._buffer) < 2:
                return out
            length = self._buffer[1]
            end = 2 + length + 1  # STX LEN, the body, LRC
            if len(self._buffer) < end:
                return out
            raw = bytes(self._buffer[:end])
            del self._buffer[:end]
            out.append(_decode(raw))

    @staticmethod
    def parse_one(raw: bytes) -> Frame | CorruptFrame:
        """Exactly one whole frame, as ``feed`` would return it."""
        frames = FrameParser().feed(raw)
        if len(frames) != 1:
            raise ValueError(f"expected one frame, found {len(frames)}")
        return frames[0]


def _decode(raw: bytes) -> Frame | CorruptFrame:
    framed, check = raw[1:-1], raw[-1]
    body = framed[1:]
    if lrc(framed) != check or not body:
        return CorruptFrame(raw)
    if body[0] == LONG_COMMAND_PREFIX and len(body) >= 2:
        return Frame(int.from_bytes(body[:2], "big"), body[2:])
    return Frame(body[0], body[1:])


# --------------------------------------------------------------------------- link layer

#: The register's own wait for each byte of a frame, by default (changed with command
#: 0x14).  Documented with 4800 baud as the factory setting.
REGISTER_BYTE_TIMEOUT = 0.050

#: How long we wait for the one-byte answer to ENQ or to a frame we sent.  The register
#: answers after at least its byte timeout; twenty of those leave room for a busy one.
ANSWER_TIMEOUT = 1.0

#: How long we wait for a reply frame after the register ACKed our command: it executes
#: (and prints) first.  A Z report on a long shift takes seconds; the manufacturer's
#: driver defaults to 10 s per command, as the open ltfrk driver notes.
REPLY_TIMEOUT = 10.0

#: Tries for one command: ENQ probes, resends and re-requests of a garbled reply together.
#: The protocol leaves the number to the host; pyshtrih uses 10 and so do we, which at
#: ANSWER_TIMEOUT is about ten seconds of a dead line before we give up.
MAX_ATTEMPTS = 10


class LinkState(Enum):
    IDLE = "idle"
    #: ENQ sent; waiting for NAK (ready) or ACK (an answer follows).
    PROBING = "probing"
    #: The register holds an answer we did not ask for now: reading it to clear it.
    DRAINING = "draining"
    #: Our frame sent; waiting for the register's ACK.
    AWAITING_ACK = "awaiting_ack"
    #: ACK received; waiting for the reply frame.
    AWAITING_REPLY = "awaiting_reply"
    DONE = "done"
    FAILED = "failed"


class LinkError(Exception):
    """The line gave up: no answer, or garbage, ``MAX_ATTEMPTS`` times."""


@dataclass
class ShtrikhLink:
    """The ENQ/ACK/NAK handshake for one command at a time, without I/O.

    ``start(request)`` returns the bytes to write; the transport then passes every byte it
    reads to ``receive`` and calls ``timed_out`` when ``wait_seconds`` passed with nothing
    read; each returns the bytes to write next (maybe none).  When ``state`` is DONE,
    ``reply`` is the register's answer; when FAILED, ``error`` says why.

    A lost ACK must not make a sale happen twice, so after a timeout on a command the link
    never simply sends it again: it asks with ENQ first.  ACK means the register took the
    command and holds its answer; only NAK (idle) means the command never arrived.
    """

    max_attempts: int = MAX_ATTEMPTS
    answer_timeout: float = ANSWER_TIMEOUT
    reply_timeout: float = REPLY_TIMEOUT

    state: LinkState = LinkState.IDLE
    request: Frame | None = None
    reply: Frame | None = None
    error: str | None = None
    attempts: int = 0
    #: Answers the register held from before (a command whose reply was lost): kept, since
    #: after a crash they tell what the register did.
    stale_replies: list[Frame] = field(default_factory=list)
    #: Our frame went out in this exchange (so an answer after ENQ is the reply to it).
    _command_sent: bool = False
    #: The register ACKed our frame: it has taken the command.
    _acknowledged: bool = False
    #: FAILED because the register took the command and then had no answer for it (it
    #: answers, so it is there): what it did is unknown, and only its state can tell.
    answer_lost: bool = False
    _parser: FrameParser = field(default_factory=FrameParser)

    @property
    def busy(self) -> bool:
        return self.state not in (LinkState.IDLE, LinkState.DONE, LinkState.FAILED)

    @property
    def wait_seconds(self) -> float:
        """How long the transport waits for the next byte before calling ``timed_out``."""
        if self.state in (LinkState.AWAITING_REPLY, LinkState.DRAINING):
            return self.reply_timeout
        return self.answer_timeout

    def start(self, request: Frame) -> bytes:
        if self.busy:
            raise RuntimeError(f"the link is {self.state.value}; one command at a time")
        self.request, self.reply, self.error = request, None, None
        self.attempts, self._command_sent, self._acknowledged, self.answer_lost = 0, False, False, False
        self.stale_replies = []
        self._parser.reset()
        return self._probe()

    def receive(self, data: bytes) -> bytes:
        out = bytearray()
        for index, byte in enumerate(data):
            if not self.busy:
                break  # anything after our reply is not ours to answer
            if self.state in (LinkState.DRAINING, LinkState.AWAITING_REPLY):
                # Frames arrive whole only by luck: hand the rest of the chunk to the parser.
                frames = self._parser.feed(data[index:])
                for frame in frames:
                    out += self._on_frame(frame)
                break
            out += self._on_byte(byte)
        return bytes(out)

    def timed_out(self) -> bytes:
        if not self.busy:
            return b""
        self._parser.reset()
        # After a silence on our command we never resend blindly: the frame may have
        # arrived and only the ACK been lost.  ENQ asks; ACK means the answer is there.
        return self._probe()

    # -- transitions

    def _on_byte(self, byte: int) -> bytes:
        if self.state is LinkState.PROBING:
            if byte == NAK:
                if self._acknowledged:
                    # It took the command, and now holds no answer: sending it again
                    # could print a second receipt.  Only its state can tell what happened.
                    self.state = LinkState.FAILED
                    self.answer_lost = True
                    self.error = "the register acknowledged the command but has no answer for it: outcome unknown"
                    return b""
                return self._send_request()  # idle: our command never arrived (or was never sent)
            if byte == ACK:  # an answer follows
                self.state = LinkState.AWAITING_REPLY if self._command_sent else LinkState.DRAINING
            return b""  # noise while probing: wait on for NAK or ACK
        if self.state is LinkState.AWAITING_ACK:
            if byte == ACK:
                self._acknowledged = True
                self.state = LinkState.AWAITING_REPLY
                return b""
            if byte == NAK:  # received garbled: it did not take the command
                return self._send_request()
        return b""

    def _on_frame(self, frame: Frame | CorruptFrame) -> bytes:
        if not self.busy or self.state not in (LinkState.DRAINING, LinkState.AWAITING_REPLY):
            return b""
        if isinstance(frame, CorruptFrame):
            # The register keeps its answer after our NAK and sends it again after ENQ.
            return bytes([NAK]) + self._probe()
        assert self.request is not None
        if self.state is LinkState.AWAITING_REPLY and frame.cmd == self.request.cmd:
            self.reply = frame
            self.state = LinkState.DONE
            return bytes([ACK])
        # An answer to some earlier command: take it off the register, then ask again.
        self.stale_replies.append(frame)
        return bytes([ACK]) + self._probe()

    def _probe(self) -> bytes:
        if not self._count_attempt():
            return b""
        self.state = LinkState.PROBING
        self._parser.reset()
        return bytes([ENQ])

    def _send_request(self) -> bytes:
        assert self.request is not None
        if not self._count_attempt():
            return b""
        self._command_sent = True
        self.state = LinkState.AWAITING_ACK
        return self.request.to_bytes()

    def _count_attempt(self) -> bool:
        self.attempts += 1
        if self.attempts > self.max_attempts:
            self.state = LinkState.FAILED
            self.error = f"no valid exchange with the register after {self.max_attempts} attempts"
            return False
        return True


# --------------------------------------------------------------------------- encodings


def password(value: int) -> bytes:
    """An operator or administrator password: a number, 4 bytes little-endian."""
    if not 0 <= value <= 0xFFFF_FFFF:
        raise ValueError(f"password {value} does not fit in 4 bytes")
    return value.to_bytes(4, "little")


def money(minor_units: int) -> bytes:
    """An amount in kopecks as 5 bytes little-endian (123.45 RUB -> 12345)."""
    if not 0 <= minor_units <= MAX_MONEY:
        raise ValueError(f"amount {minor_units} is outside 0..{MAX_MONEY} minor units")
    return minor_units.to_bytes(MONEY_BYTES, "little")


def quantity(thousandths: int) -> bytes:
    """A quantity in thousandths as 5 bytes little-endian (1 piece -> 1000)."""
    if not 0 <= thousandths <= MAX_MONEY:
        raise ValueError(f"quantity {thousandths} is outside 0..{MAX_MONEY} thousandths")
    return thousandths.to_bytes(MONEY_BYTES, "little")


def read_money(data: bytes) -> int:
    return int.from_bytes(data[:MONEY_BYTES], "little")


def text(value: str, width: int = TEXT_WIDTH) -> bytes:
    """``value`` in cp1251, cut to ``width`` bytes and NUL-padded: NUL ends the text for
    the register, where trailing spaces would be printed.  Unknown characters become "?"."""
    encoded = value.encode(ENCODING, errors="replace")[:width]
    return encoded.ljust(width, b"\x00")


def read_text(data: bytes) -> str:
    return data.split(b"\x00", 1)[0].decode(ENCODING, errors="replace").rstrip()


def taxes(groups: Sequence[int] = ()) -> bytes:
    """The four tax bytes: each 0 (none) or a tax group 1..4, unused slots 0."""
    if len(groups) > TAX_SLOTS:
        raise ValueError(f"at most {TAX_SLOTS} tax groups, not {len(groups)}")
    for group in groups:
        if not 0 <= group <= MAX_TAX_GROUP:
            raise ValueError(f"tax group {group} is not 0..{MAX_TAX_GROUP}")
    return bytes(groups).ljust(TAX_SLOTS, b"\x00")


def discount(hundredths_of_percent: int) -> bytes:
    """Close document's discount in 0.01 % (negative: surcharge), 2 bytes signed."""
    if not -MAX_DISCOUNT <= hundredths_of_percent <= MAX_DISCOUNT:
        raise ValueError(f"discount {hundredths_of_percent} is outside ±{MAX_DISCOUNT} (0.01 %)")
    return hundredths_of_percent.to_bytes(2, "little", signed=True)


# --------------------------------------------------------------------------- commands


class Command(IntEnum):
    SHORT_STATUS = 0x10
    FULL_STATUS = 0x11
    PRINT_LINE = 0x17
    CUT = 0x25
    X_REPORT = 0x40
    Z_REPORT = 0x41
    CASH_IN = 0x50
    CASH_OUT = 0x51
    SALE = 0x80
    RETURN_SALE = 0x82
    CLOSE_DOCUMENT = 0x85
    CANCEL_DOCUMENT = 0x88
    OPEN_DOCUMENT = 0x8D
    CONTINUE_PRINTING = 0xB0
    OPEN_SHIFT = 0xE0
    DEVICE_TYPE = 0xFC
    #: The fiscal storage (ФН) commands, two bytes each.
    FN_STATUS = 0xFF01
    FN_NUMBER = 0xFF02
    FN_FIND_DOCUMENT = 0xFF0A


class DocumentType(IntEnum):
    """Open document's type byte, and the high nibble of mode 8 in the short status."""

    SALE = 0
    PURCHASE = 1
    RETURN_SALE = 2
    RETURN_PURCHASE = 3


class CutType(IntEnum):
    FULL = 0
    PARTIAL = 1


#: Print line's tape flags: bit 0 the control tape (journal), bit 1 the receipt tape.
CONTROL_TAPE = 0x01
RECEIPT_TAPE = 0x02


def short_status(pwd: int) -> Frame:
    """0x10: mode, submode and flags in 16 bytes: cheap enough to ask before every job."""
    return Frame(Command.SHORT_STATUS, password(pwd))


def full_status(pwd: int) -> Frame:
    """0x11: the short status plus document number, date and time, serial number, shift."""
    return Frame(Command.FULL_STATUS, password(pwd))


def device_type() -> Frame:
    """0xFC: the one command without a password."""
    return Frame(Command.DEVICE_TYPE)


def open_shift(pwd: int) -> Frame:
    return Frame(Command.OPEN_SHIFT, password(pwd))


def open_document(pwd: int, document_type: DocumentType) -> Frame:
    return Frame(Command.OPEN_DOCUMENT, password(pwd) + bytes([document_type]))


def _item(cmd: Command, pwd: int, qty: int, price: int, department: int, tax_groups: Sequence[int], name: str) -> Frame:
    if not 0 <= department <= 16:  # documented range of the department byte
        raise ValueError(f"department {department} is not 0..16")
    data = password(pwd) + quantity(qty) + money(price) + bytes([department]) + taxes(tax_groups) + text(name)
    return Frame(cmd, data)


def sale(
    pwd: int, *, qty: int, price: int, department: int = 1, tax_groups: Sequence[int] = (), name: str = ""
) -> Frame:
    """0x80: one receipt line; ``qty`` in thousandths, ``price`` in kopecks per unit."""
    return _item(Command.SALE, pwd, qty, price, department, tax_groups, name)


def return_sale(
    pwd: int, *, qty: int, price: int, department: int = 1, tax_groups: Sequence[int] = (), name: str = ""
) -> Frame:
    """0x82: one line of a return receipt, laid out as a sale."""
    return _item(Command.RETURN_SALE, pwd, qty, price, department, tax_groups, name)


def close_document(
    pwd: int,
    *,
    payments: Sequence[int] = (0,),
    discount_hundredths: int = 0,
    tax_groups: Sequence[int] = (),
    footer: str = "",
) -> Frame:
    """0x85: payments in kopecks: cash first, then payment types 2, 3 and 4 (which of them
    means "card" is the register's table setting)."""
    if len(payments) > 4:
        raise ValueError(f"the register takes four payment types, not {len(payments)}")
    amounts = list(payments) + [0] * (4 - len(payments))
    data = (
        password(pwd)
        + b"".join(money(amount) for amount in amounts)
        + discount(discount_hundredths)
        + taxes(tax_groups)
        + text(footer)
    )
    return Frame(Command.CLOSE_DOCUMENT, data)


def cancel_document(pwd: int) -> Frame:
    return Frame(Command.CANCEL_DOCUMENT, password(pwd))


def x_report(admin_pwd: int) -> Frame:
    """0x40: the shift's totals without closing it; needs the administrator's password."""
    return Frame(Command.X_REPORT, password(admin_pwd))


def z_report(admin_pwd: int) -> Frame:
    """0x41: closes the shift; needs the administrator's password."""
    return Frame(Command.Z_REPORT, password(admin_pwd))


def cash_in(pwd: int, amount: int) -> Frame:
    return Frame(Command.CASH_IN, password(pwd) + money(amount))


def cash_out(pwd: int, amount: int) -> Frame:
    return Frame(Command.CASH_OUT, password(pwd) + money(amount))


def continue_printing(pwd: int) -> Frame:
    """0xB0: after paper was loaded mid-document (submode 3) the register waits for this."""
    return Frame(Command.CONTINUE_PRINTING, password(pwd))


def fn_status(admin_pwd: int) -> Frame:
    """0xFF01: the fiscal storage's state and the number of its last fiscal document."""
    return Frame(Command.FN_STATUS, password(admin_pwd))


def fn_number(admin_pwd: int) -> Frame:
    """0xFF02: the fiscal storage's serial number (the ФН number printed on every receipt)."""
    return Frame(Command.FN_NUMBER, password(admin_pwd))


def fn_find_document(admin_pwd: int, number: int) -> Frame:
    """0xFF0A: one fiscal document by number: its type, date, sum and fiscal sign."""
    return Frame(Command.FN_FIND_DOCUMENT, password(admin_pwd) + number.to_bytes(4, "little"))


def print_line(pwd: int, line: str, *, tapes: int = RECEIPT_TAPE) -> Frame:
    return Frame(Command.PRINT_LINE, password(pwd) + bytes([tapes]) + text(line))


def cut(pwd: int, kind: CutType = CutType.FULL) -> Frame:
    return Frame(Command.CUT, password(pwd) + bytes([kind]))


# --------------------------------------------------------------------------- replies

#: The register's error codes (the ERR byte of a reply) in words for a person.  Data: the
#: actor maps the few it acts on (shift over 24 h, paper, cover, wrong password, open
#: document) to typed errors by code, and shows the rest as they are.
ERROR_MESSAGES: dict[int, str] = {
    0x00: "no error",
    0x01: "fiscal memory 1, 2 or the clock is faulty",
    0x02: "fiscal memory 1 missing",
    0x03: "fiscal memory 2 missing",
    0x04: "bad parameters in the fiscal memory command",
    0x05: "no data requested",
    0x06: "fiscal memory is outputting data",
    0x09: "bad command length",
    0x0A: "data is not BCD",
    0x11: "no licence entered",
    0x12: "serial number already entered",
    0x13: "the date is earlier than the last fiscal memory record",
    0x14: "fiscal memory shift totals area full",
    0x15: "shift already open",
    0x16: "shift not open",
    0x20: "money register overflow",
    0x21: "amount subtracted exceeds the money register",
    0x22: "invalid date",
    0x26: "amount tendered is less than the receipt total",
    0x2B: "the previous command cannot be cancelled",
    0x2C: "the till was already zeroed (Z report cannot be repeated)",
    0x2E: "not enough cash in the register for the payout",
    0x30: "register locked: waiting for the tax inspector's password",
    0x32: "general clearing required",
    0x33: "bad parameters in the command",
    0x34: "no data",
    0x35: "bad parameter for the current settings",
    0x36: "bad parameters for this register",
    0x37: "command not supported by this register",
    0x38: "ROM error",
    0x39: "internal firmware error",
    0x3B: "shift accumulation overflow",
    0x3C: "shift is open: operation impossible",
    0x3D: "shift not open: operation impossible",
    0x45: "sum of payments is less than the receipt total",
    0x46: "not enough cash in the register",
    0x48: "receipt total overflow",
    0x49: "operation impossible in an open document of this type",
    0x4A: "a document is open: operation impossible",
    0x4B: "receipt buffer full",
    0x4D: "non-cash payment exceeds the receipt total",
    0x4E: "shift over 24 hours: a Z report is needed",
    0x4F: "wrong password",
    0x50: "still printing the previous command",
    0x55: "document closed: operation impossible",
    0x56: "no document to repeat",
    0x58: "waiting for the continue-printing command",
    0x59: "document opened by another operator",
    0x5A: "discount exceeds the receipt's accumulation",
    0x5C: "24 V supply voltage low",
    0x5E: "invalid operation",
    0x5F: "negative receipt total",
    0x60: "multiplication overflow",
    0x61: "price out of range",
    0x62: "quantity out of range",
    0x63: "department out of range",
    0x6B: "no receipt paper",
    0x6C: "no journal paper",
    0x71: "cutter error",
    0x72: "command not supported in this submode",
    0x73: "command not supported in this mode",
    0x74: "RAM error",
    0x75: "power failure",
    0x76: "printer error: no pulses from the tachogenerator",
    0x77: "printer error: no signal from the sensors",
    0x7E: "bad value in the length field",
    0x8E: "zero receipt total",
    0x8F: "register not fiscalised",
    0x94: "operation limit per receipt reached",
    0xC0: "date and time control: confirm the date and time",
}

#: Codes the actor turns into typed errors, by name: one place to read them.
ERROR_SHIFT_OVER_24H = 0x4E
ERROR_WRONG_PASSWORD = 0x4F
ERROR_NO_RECEIPT_PAPER = 0x6B
ERROR_DOCUMENT_OPEN = 0x4A
ERROR_OTHER_OPERATORS_DOCUMENT = 0x59
ERROR_SHIFT_NOT_OPEN = 0x16
ERROR_NO_JOURNAL_PAPER = 0x6C
#: "Not supported in this submode": also what a register answers printing with its cover
#: open (the protocol has no code of its own for that; the status' cover flag tells).
ERROR_WRONG_SUBMODE = 0x72


def error_message(code: int) -> str:
    return ERROR_MESSAGES.get(code, f"unknown register error {code:#04x}")


class RegisterError(Exception):
    """The register understood the command and refused it (ERR byte not zero)."""

    def __init__(self, cmd: int, code: int) -> None:
        self.cmd, self.code = cmd, code
        self.message = error_message(code)
        super().__init__(f"command {cmd:#04x}: error {code:#04x}: {self.message}")


class MalformedReply(Exception):
    """A reply too short for its command's layout."""


@dataclass(frozen=True, slots=True)
class Reply:
    cmd: int
    error: int
    #: What follows ERR.
    data: bytes

    @property
    def ok(self) -> bool:
        return self.error == 0

    @property
    def message(self) -> str:
        return error_message(self.error)

    def check(self) -> Reply:
        """This reply, or ``RegisterError`` if the register refused the command."""
        if self.error:
            raise RegisterError(self.cmd, self.error)
        return self

    def need(self, size: int) -> bytes:
        if len(self.data) < size:
            raise MalformedReply(f"reply to {self.cmd:#04x} has {len(self.data)} data bytes, needs {size}")
        return self.data


def parse_reply(frame: Frame) -> Reply:
    """``CMD ERR DATA`` from a frame the link received."""
    if not frame.data:
        raise MalformedReply(f"reply to {frame.cmd:#04x} carries no error byte")
    return Reply(frame.cmd, frame.data[0], frame.data[1:])


def operator_number(reply: Reply) -> int:
    """The one-byte operator number most replies carry after ERR.

    pyshtrih's open shift (0xE0) handler reads it without an ERR byte before it; the
    manufacturer's layout, and every other reply, has ERR first, so that is what we read.
    """
    return reply.check().need(1)[0]


class Mode(IntEnum):
    """The low nibble of the short status' mode byte."""

    WORKING = 0
    DATA_OUTPUT = 1
    SHIFT_OPEN = 2
    SHIFT_OVER_24H = 3
    SHIFT_CLOSED = 4
    LOCKED_WRONG_TAX_PASSWORD = 5
    WAITING_DATE_CONFIRMATION = 6
    DECIMAL_POINT_CHANGE = 7
    DOCUMENT_OPEN = 8
    TECHNICAL_RESET = 9
    TEST_RUN = 10
    FULL_FISCAL_REPORT = 11
    EKLZ_REPORT = 12
    SLIP_FISCAL_DOCUMENT = 13
    SLIP_PRINTING = 14
    SLIP_READY = 15


class Submode(IntEnum):
    PAPER_PRESENT = 0
    #: Out of paper while idle.
    PAPER_OUT = 1
    #: Ran out while printing; resumes once paper is loaded.
    PAPER_OUT_WHILE_PRINTING = 2
    #: Paper loaded after running out; waits for command 0xB0 (continue printing).
    WAITING_CONTINUE = 3
    PRINTING_REPORT = 4
    PRINTING = 5


#: Short status flag bits (2 bytes, little-endian), as the manufacturer numbers them.
FLAG_JOURNAL_ROLL = 1 << 0
FLAG_RECEIPT_ROLL = 1 << 1
FLAG_RECEIPT_OPTICAL_SENSOR = 1 << 7
FLAG_RECEIPT_LEVER = 1 << 9
FLAG_COVER_OPEN = 1 << 10
FLAG_DRAWER_OPEN = 1 << 11
FLAG_QUANTITY_PRECISION_INCREASED = 1 << 15

#: Short status data after ERR: operator 1, flags 2, mode 1, submode 1, operations in the
#: document (low byte) 1, battery 1, supply 1, fiscal memory error 1, EKLZ error 1,
#: operations (high byte) 1, reserved 3.  The operations count's two bytes are split.
SHORT_STATUS_SIZE = 11


class RegisterState:
    """What the short (0x10) and the full (0x11) status both say: mode, submode, flags."""

    __slots__ = ()
    flags: int
    mode: int
    mode_status: int
    submode: int

    @property
    def shift_open(self) -> bool:
        return self.mode in (Mode.SHIFT_OPEN, Mode.SHIFT_OVER_24H, Mode.DOCUMENT_OPEN)

    @property
    def shift_over_24h(self) -> bool:
        return self.mode == Mode.SHIFT_OVER_24H

    @property
    def document_open(self) -> bool:
        return self.mode == Mode.DOCUMENT_OPEN

    @property
    def open_document_type(self) -> DocumentType | None:
        return DocumentType(self.mode_status) if self.document_open and self.mode_status <= 3 else None

    @property
    def paper_out(self) -> bool:
        return self.submode in (Submode.PAPER_OUT, Submode.PAPER_OUT_WHILE_PRINTING)

    @property
    def cover_open(self) -> bool:
        return bool(self.flags & FLAG_COVER_OPEN)


@dataclass(frozen=True, slots=True)
class ShortStatus(RegisterState):
    operator: int
    flags: int
    mode: int
    mode_status: int
    submode: int
    operations_in_document: int
    battery_voltage: int
    supply_voltage: int
    fiscal_memory_error: int
    eklz_error: int


def parse_short_status(reply: Reply) -> ShortStatus:
    data = reply.check().need(SHORT_STATUS_SIZE)
    return ShortStatus(
        operator=data[0],
        flags=int.from_bytes(data[1:3], "little"),
        mode=data[3] & 0x0F,
        mode_status=data[3] >> 4,
        submode=data[4],
        operations_in_document=data[5] | data[10] << 8,
        battery_voltage=data[6],
        supply_voltage=data[7],
        fiscal_memory_error=data[8],
        eklz_error=data[9],
    )


@dataclass(frozen=True, slots=True)
class DeviceType:
    type: int
    subtype: int
    protocol_version: int
    protocol_subversion: int
    model: int
    language: int
    name: str


def parse_device_type(reply: Reply) -> DeviceType:
    """0xFC: six bytes, then the name in cp1251 (up to 32 bytes) to the end of the frame."""
    data = reply.check().need(6)
    return DeviceType(*data[:6], name=read_text(data[6:]))


@dataclass(frozen=True, slots=True)
class Closed:
    operator: int
    change: int


def parse_close_document(reply: Reply) -> Closed:
    data = reply.check().need(1 + MONEY_BYTES)
    return Closed(operator=data[0], change=read_money(data[1:]))


@dataclass(frozen=True, slots=True)
class CashMoved:
    operator: int
    document_number: int


def parse_cash_movement(reply: Reply) -> CashMoved:
    """0x50 and 0x51: operator, then the register's running document number (2 bytes)."""
    data = reply.check().need(3)
    return CashMoved(operator=data[0], document_number=int.from_bytes(data[1:3], "little"))


#: Full status (0x11) data after ERR: operator 1, firmware version 2, build 2, firmware
#: date 3, number in the hall 1, running document number 2, flags 2, mode 1, submode 1,
#: port 1, fiscal memory version 2, build 2, date 3, date 3 (DD MM YY), time 3 (HH MM SS),
#: fiscal memory flags 1, serial number 4, last closed shift 2, free fiscal memory
#: records 2, registrations 1, registrations left 1, INN 6 (BCD-free binary).
FULL_STATUS_SIZE = 46


@dataclass(frozen=True, slots=True)
class FullStatus(RegisterState):
    operator: int
    document_number: int
    flags: int
    mode: int
    mode_status: int
    submode: int
    #: The register's clock, as it reads it: (year, month, day, hour, minute, second).
    clock: tuple[int, int, int, int, int, int]
    serial_number: int
    last_closed_shift: int


def parse_full_status(reply: Reply) -> FullStatus:
    data = reply.check().need(FULL_STATUS_SIZE)
    day, month, year = data[23:26]
    hour, minute, second = data[26:29]
    return FullStatus(
        operator=data[0],
        document_number=int.from_bytes(data[9:11], "little"),
        flags=int.from_bytes(data[11:13], "little"),
        mode=data[13] & 0x0F,
        mode_status=data[13] >> 4,
        submode=data[14],
        clock=(2000 + year, month, day, hour, minute, second),
        serial_number=int.from_bytes(data[30:34], "little"),
        last_closed_shift=int.from_bytes(data[34:36], "little"),
    )


#: FN status (0xFF01) data after ERR: life phase 1, current document 1, document data 1,
#: shift state 1, warning flags 1, date and time 5 (YY MM DD HH MM), the storage's number
#: 16 (ASCII), last fiscal document number 4.
FN_STATUS_SIZE = 30

#: "Current document" in the FN status: none open.
FN_NO_DOCUMENT = 0x00


@dataclass(frozen=True, slots=True)
class FnStatus:
    life_phase: int
    current_document: int
    shift_open: bool
    warnings: int
    storage_number: str
    last_document_number: int


def parse_fn_status(reply: Reply) -> FnStatus:
    data = reply.check().need(FN_STATUS_SIZE)
    return FnStatus(
        life_phase=data[0],
        current_document=data[1],
        shift_open=bool(data[3]),
        warnings=data[4],
        storage_number=_storage_number(data[10:26]),
        last_document_number=int.from_bytes(data[26:30], "little"),
    )


#: FN number (0xFF02) data after ERR: the storage's number, 16 ASCII characters (the
#: same field as in 0xFF01).
FN_NUMBER_SIZE = 16


def _storage_number(data: bytes) -> str:
    return data.decode("ascii", errors="replace").strip("\x00 ")


def parse_fn_number(reply: Reply) -> str:
    return _storage_number(reply.check().need(FN_NUMBER_SIZE)[:FN_NUMBER_SIZE])


class FiscalDocumentType(IntEnum):
    """The fiscal storage's document types (ФФД), as 0xFF0A names them."""

    REGISTRATION = 1
    SHIFT_OPENED = 2
    RECEIPT = 3
    STRICT_REPORTING_FORM = 4
    SHIFT_CLOSED = 5
    STORAGE_CLOSED = 6
    CALCULATION_STATE = 21


class ReceiptOperation(IntEnum):
    """A receipt's operation type (признак расчёта) in the fiscal storage."""

    SALE = 1
    RETURN_SALE = 2
    PURCHASE = 3
    RETURN_PURCHASE = 4


#: Find document (0xFF0A) data after ERR: document type 1, receipt from the fiscal data
#: operator 1, then by type; for a receipt: date and time 5 (YY MM DD HH MM), document
#: number 4, fiscal sign 4, operation 1, sum 5.
FISCAL_DOCUMENT_HEADER = 2
FISCAL_RECEIPT_SIZE = FISCAL_DOCUMENT_HEADER + 5 + 4 + 4 + 1 + MONEY_BYTES


@dataclass(frozen=True, slots=True)
class FiscalDocument:
    type: int
    confirmed_by_operator: bool
    #: (year, month, day, hour, minute) for a receipt, else None.
    issued: tuple[int, int, int, int, int] | None = None
    number: int | None = None
    fiscal_sign: int | None = None
    operation: int | None = None
    total: int | None = None


def parse_fiscal_document(reply: Reply) -> FiscalDocument:
    data = reply.check().need(FISCAL_DOCUMENT_HEADER)
    kind, confirmed = data[0], bool(data[1])
    if kind != FiscalDocumentType.RECEIPT:
        return FiscalDocument(kind, confirmed)
    data = reply.need(FISCAL_RECEIPT_SIZE)
    year, month, day, hour, minute = data[2:7]
    return FiscalDocument(
        type=kind,
        confirmed_by_operator=confirmed,
        issued=(2000 + year, month, day, hour, minute),
        number=int.from_bytes(data[7:11], "little"),
        fiscal_sign=int.from_bytes(data[11:15], "little"),
        operation=data[15],
        total=read_money(data[16:21]),
    )


# --------------------------------------------------------------------------- command data, as the register reads it
#
# The register's side of the same layouts: what a simulator (or a test of bytes a driver
# sent) reads out of a command's DATA.  Text fields run to the end of the frame: the
# documented width is 40 bytes, but pyshtrih pads to its model's line width (48 on the
# ШТРИХ-М-01Ф), and the registers print whatever fits, so only the fixed part is required.


class MalformedCommand(Exception):
    """A command's DATA too short for its layout (the register answers error 0x09)."""


def read_password(data: bytes) -> int:
    """The 4-byte operator or administrator password that starts most commands' DATA."""
    if len(data) < 4:
        raise MalformedCommand(f"{len(data)} data bytes cannot hold a 4-byte password")
    return int.from_bytes(data[:4], "little")


@dataclass(frozen=True, slots=True)
class ItemCommand:
    """Sale (0x80) or return sale (0x82) as sent: quantity in thousandths, price in kopecks."""

    password: int
    quantity: int
    price: int
    department: int
    #: The four tax bytes as sent: each 0 (none) or a group 1..4.
    tax_groups: tuple[int, ...]
    name: str


#: Sale and return sale DATA before the name: password 4, quantity 5, price 5,
#: department 1, four tax bytes.
ITEM_FIXED_SIZE = 4 + 2 * MONEY_BYTES + 1 + TAX_SLOTS


def parse_item_command(data: bytes) -> ItemCommand:
    if len(data) < ITEM_FIXED_SIZE:
        raise MalformedCommand(f"an item needs {ITEM_FIXED_SIZE} data bytes before its name, not {len(data)}")
    return ItemCommand(
        password=read_password(data),
        quantity=read_money(data[4:9]),
        price=read_money(data[9:14]),
        department=data[14],
        tax_groups=tuple(data[15 : 15 + TAX_SLOTS]),
        name=read_text(data[ITEM_FIXED_SIZE:]),
    )


@dataclass(frozen=True, slots=True)
class CloseCommand:
    """Close document (0x85) as sent: cash first, then payment types 2, 3 and 4."""

    password: int
    payments: tuple[int, ...]
    #: Discount on the whole receipt in 0.01 % (negative: surcharge).
    discount_hundredths: int
    tax_groups: tuple[int, ...]
    footer: str


#: Close document DATA before the footer: password 4, four amounts of 5, discount 2,
#: four tax bytes.
CLOSE_FIXED_SIZE = 4 + 4 * MONEY_BYTES + 2 + TAX_SLOTS


def parse_close_command(data: bytes) -> CloseCommand:
    if len(data) < CLOSE_FIXED_SIZE:
        raise MalformedCommand(f"close document needs {CLOSE_FIXED_SIZE} data bytes before its text, not {len(data)}")
    amounts = data[4 : 4 + 4 * MONEY_BYTES]
    after = 4 + 4 * MONEY_BYTES
    return CloseCommand(
        password=read_password(data),
        payments=tuple(read_money(amounts[i : i + MONEY_BYTES]) for i in range(0, len(amounts), MONEY_BYTES)),
        discount_hundredths=int.from_bytes(data[after : after + 2], "little", signed=True),
        tax_groups=tuple(data[after + 2 : after + 2 + TAX_SLOTS]),
        footer=read_text(data[CLOSE_FIXED_SIZE:]),
    )
