"""A simulated Shtrikh-M fiscal register (a ШТРИХ-М-01Ф) on a pty, answering as the real one does.

Three layers, as in the other serial simulators:

- ``ShtrikhRegister`` is the register itself, without a line: its modes (shift closed,
  open, over 24 hours, document open), the open document, the fiscal storage's numbered
  documents, the cash in the drawer, paper and cover, and a journal of everything it
  printed.  ``execute(frame)`` takes one command frame and returns the reply frame.
- ``FiscalRegisterSimulator`` is the register on its serial line: the slave's half of the
  ENQ/ACK/NAK handshake (``devices/shtrikh.py`` frames and parses), the byte timeout that
  drops a frame that stopped arriving, and the line's faults — a power cut, a garbled or
  truncated reply, a slow answer — plus ``on_command`` hooks for tests.
- ``SerialFiscalRegister`` puts it on a pty behind a stable link, like a USB-serial port.

What the register answers, command by command, follows the manufacturer's protocol as
quoted in rosix-ru/shtrihm-fr (``shtrihmfr/kkt.py``) and what pyshtrih
(oleg-golovanov/pyshtrih) sends and parses.  Where those are silent, the choice and its
reason are in the comment at the constant:

- An error reply is ``CMD ERR`` alone: no operator or other fields after a refusal.
- Sale and return sale open a document of their kind when none is open (as the real one
  does, which is why pyshtrih's ``sale`` works without ``open_check``); inside a
  document of the other kind they are refused with 0x49.
- Once the shift is over 24 hours, no new document, line or cash movement is accepted
  (0x4E); a receipt already open may still be closed or cancelled, so the till can
  finish the customer's receipt or annul it before the Z report.
- Cover open refuses printing commands with 0x72, see ``ERROR_COVER_OPEN``.
- A power cut keeps everything the register had stored (its memory is non-volatile):
  the open document with its lines, the numbers, the journal.  Only the line is lost:
  the answer not yet acknowledged, the command whose reply had not gone out.
- Given a state folder, that memory is also on disk (``devices/sim/fiscal_memory.py``):
  numbering, shift, open document and the fiscal storage's documents outlive the
  simulator's process, as a real register's outlive the program driving it.  What it
  printed (``receipts()``, the desk's ``last_receipt``) is paper, and starts empty.
- A storage replacement (``replace_storage``) is what a technician does when the fiscal
  storage (ФН) is full or expired: the shift is closed, a new storage is fitted under a
  new number, and the fiscal documents are numbered from 1 again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from devices import shtrikh
from devices.shtrikh import (
    ACK,
    ENCODING,
    ENQ,
    ERROR_MESSAGES,
    FLAG_COVER_OPEN,
    FLAG_RECEIPT_LEVER,
    FLAG_RECEIPT_OPTICAL_SENSOR,
    FLAG_RECEIPT_ROLL,
    MAX_MONEY,
    MAX_TAX_GROUP,
    MONEY_BYTES,
    NAK,
    REGISTER_BYTE_TIMEOUT,
    STX,
    Command,
    CorruptFrame,
    CutType,
    DocumentType,
    FiscalDocumentType,
    Frame,
    FrameParser,
    MalformedCommand,
    Mode,
    ReceiptOperation,
    Submode,
    money,
    parse_close_command,
    parse_item_command,
    read_money,
    read_password,
    read_text,
)
from devices.sim.fiscal_memory import DocumentRow, FiscalMemory
from devices.sim.pty import PtyDevice

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- identity

#: A byte on an 8N1 serial line: start bit, eight data bits, stop bit.
BITS_PER_BYTE = 10

#: What command 0xFC names.  pyshtrih's ``discovery`` picks its ``ShtrihM01F`` class (48
#: characters a line) from "М-01Ф" in this name.
DEVICE_NAME = "ШТРИХ-М-01Ф"
#: 0xFC's type (0: a fiscal register), subtype, protocol version 1.12 and language 0
#: (Russian).  Nothing reads them but a person; drivers go by the name.
DEVICE_TYPE, DEVICE_SUBTYPE, PROTOCOL_VERSION, PROTOCOL_SUBVERSION, LANGUAGE = 0, 0, 1, 12, 0
#: The model byte: 250 is the ШТРИХ-М printer family's number in the manufacturer's own
#: JavaPOS driver (shtrih-m/javapos_shtrih, PrinterConst.PRINTER_MODEL_SHTRIH_M_FRK).  It
#: is also not 4, 9 or 12, for which pyshtrih would hide some status flags.
MODEL = 250

#: Full status' firmware version, two ASCII characters (pyshtrih shows them as "C.1"),
#: build and date; the fiscal memory's the same.  Plausible values, read by people only.
FIRMWARE_VERSION = b"C1"
FIRMWARE_BUILD = 27_036
FIRMWARE_DATE = (15, 3, 23)  # DD MM YY
#: The register's number in the hall and its port number, as full status reports them.
HALL_NUMBER = 1
PORT_NUMBER = 0
#: Free fiscal memory records, registrations done and left: a register registered once.
FREE_RECORDS = 2000
REGISTRATIONS, REGISTRATIONS_LEFT = 1, 11
#: Fiscal memory flags: memory 1 present (bit 0), licence entered (bit 2), last record
#: sound (bit 5); bit 6 (shift open) and bit 7 (24 hours over) are set as they stand.
FM_FLAGS = 0b0010_0101
FM_FLAG_SHIFT_OPEN = 1 << 6
FM_FLAG_SHIFT_OVER_24H = 1 << 7
#: Short status' battery and supply voltage bytes: steady readings of a healthy register.
BATTERY_VOLTAGE = 0x9E
SUPPLY_VOLTAGE = 0x8C

#: The fiscal storage's life phase in 0xFF01: set up (bit 0) and in fiscal mode (bit 1).
FN_LIFE_FISCAL_MODE = 0b0011
#: 0xFF01's "current document" while a receipt is open.
FN_RECEIPT_OPEN = 0x04
#: The taxation system and work mode of the registration record (0xFF0A, type 1):
#: the general system (bit 0) and no special modes.
TAX_SYSTEM, WORK_MODE = 0x01, 0x00

# --------------------------------------------------------------------------- operators

#: Cashiers are operators 1..28, operator 29 the administrator and 30 the system
#: administrator; each has a password, by default its own number (operator 1: 1,
#: operator 30: 30, as shtrikh.DEFAULT_OPERATOR_PASSWORD/DEFAULT_ADMIN_PASSWORD and
#: pyshtrih's defaults say).
OPERATORS = range(1, 31)
ADMINISTRATOR, SYSTEM_ADMINISTRATOR = 29, 30
#: X and Z reports want "the administrator's or system administrator's password".
REPORT_OPERATORS = frozenset({ADMINISTRATOR, SYSTEM_ADMINISTRATOR})
#: The fiscal storage commands (0xFFxx) want the system administrator's password.
FISCAL_STORAGE_OPERATORS = frozenset({SYSTEM_ADMINISTRATOR})

#: A shift may run this long; after it the register is in mode 3 until a Z report.
SHIFT_LENGTH = timedelta(hours=24)

#: The documented range of the department byte of a sale.
MAX_DEPARTMENT = 16

#: Print line's DATA before the text: the password and the tapes byte (bit 0 control
#: tape, bit 1 receipt tape).
PRINT_LINE_FIXED_SIZE = 5

# --------------------------------------------------------------------------- error codes
#
# Every code the simulator answers with, by name; each is one of shtrikh.ERROR_MESSAGES.

#: 0xFF0A for a number the fiscal storage has not issued.  A register with a fiscal
#: storage passes on the storage's own code for that (0x08, "no data requested" in the
#: storage's table, as pyshtrih's ``fs_codes`` has it); shtrikh.ERROR_MESSAGES holds the
#: register's table only, where the same words are 0x05.
ERROR_NO_DATA = 0x05
ERROR_BAD_LENGTH = 0x09
ERROR_SHIFT_ALREADY_OPEN = 0x15
ERROR_SHIFT_NOT_OPEN = shtrikh.ERROR_SHIFT_NOT_OPEN
ERROR_BAD_PARAMETERS = 0x33
ERROR_UNSUPPORTED = 0x37
ERROR_PAYMENTS_SHORT = 0x45
ERROR_NOT_ENOUGH_CASH = 0x46
ERROR_TOTAL_OVERFLOW = 0x48
ERROR_OTHER_DOCUMENT_TYPE = 0x49
ERROR_DOCUMENT_OPEN = shtrikh.ERROR_DOCUMENT_OPEN
ERROR_NON_CASH_OVER_TOTAL = 0x4D
ERROR_SHIFT_OVER_24H = shtrikh.ERROR_SHIFT_OVER_24H
ERROR_WRONG_PASSWORD = shtrikh.ERROR_WRONG_PASSWORD
ERROR_NO_DOCUMENT = 0x55
ERROR_WAITING_CONTINUE = 0x58
ERROR_OTHER_OPERATORS_DOCUMENT = shtrikh.ERROR_OTHER_OPERATORS_DOCUMENT
ERROR_PRICE_RANGE = 0x61
ERROR_QUANTITY_RANGE = 0x62
ERROR_DEPARTMENT_RANGE = 0x63
ERROR_NO_RECEIPT_PAPER = shtrikh.ERROR_NO_RECEIPT_PAPER
#: Cover open: the protocol has no code of its own for it.  A register with its cover up
#: refuses to print with "command not supported in this (sub)mode", and drivers tell the
#: cover from the short status' flags: so does a third-party Java driver for the
#: ШТРИХ-МИНИ-ФР-К (its error converter reads 0x72/0x73 plus the cover flag as "cover
#: open"), whose comment adds that opening the cover *while* printing gives 0x6B.
ERROR_COVER_OPEN = shtrikh.ERROR_WRONG_SUBMODE
ERROR_WRONG_SUBMODE = shtrikh.ERROR_WRONG_SUBMODE
ERROR_ZERO_TOTAL = 0x8E

#: The commands the register answers even while it waits for paper or for 0xB0: the
#: status questions, which a driver needs to find out why it is stuck.
STATUS_COMMANDS = frozenset(
    {
        Command.SHORT_STATUS,
        Command.FULL_STATUS,
        Command.DEVICE_TYPE,
        Command.FN_STATUS,
        Command.FN_NUMBER,
        Command.FN_FIND_DOCUMENT,
    }
)

#: A fiscal storage's number: 16 characters (digits on every real one).
STORAGE_NUMBER_SIZE = shtrikh.FN_NUMBER_SIZE


class Refused(Exception):
    """The register understood the command and refuses it with ``code``."""

    def __init__(self, code: int) -> None:
        assert code in ERROR_MESSAGES, f"{code:#04x} is not a register error code"
        super().__init__(ERROR_MESSAGES[code])
        self.code = code


# --------------------------------------------------------------------------- what it printed


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    name: str
    #: Thousandths (1 piece: 1000).
    quantity: int
    #: Kopecks per unit.
    price: int
    department: int
    #: The tax groups named (1..4), in the order sent.
    tax_groups: tuple[int, ...]
    #: quantity × price in kopecks, rounded half up as the register rounds.
    amount: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """A fiscal receipt as printed: closed and signed by the fiscal storage, or annulled."""

    document_type: DocumentType
    #: The register's running document number (full status' "document number").
    number: int
    operator: int
    shift: int
    opened_at: datetime
    #: When it was closed (or annulled).
    printed_at: datetime
    lines: tuple[ReceiptLine, ...]
    #: Lines printed inside it with command 0x17.
    text: tuple[str, ...]
    subtotal: int
    #: Kopecks taken off by close document's discount (negative: a surcharge).
    discount: int
    total: int
    #: Cash, then payment types 2, 3 and 4, as close document gave them.
    payments: tuple[int, ...]
    change: int
    #: The fiscal storage's document number and fiscal sign; None when annulled.
    fiscal_number: int | None
    fiscal_sign: int | None
    annulled: bool = False
    footer: str = ""

    @property
    def kind(self) -> str:
        return "annulled_receipt" if self.annulled else "receipt"

    @property
    def by_tax_group(self) -> dict[int, int]:
        """Kopecks of the receipt's lines under each tax group."""
        sums: dict[int, int] = {}
        for line in self.lines:
            for group in line.tax_groups:
                sums[group] = sums.get(group, 0) + line.amount
        return sums


@dataclass(frozen=True, slots=True)
class ShiftReport:
    """The report printed when a shift opens, an X report (totals so far) or a Z report
    (totals, and the shift closed)."""

    report: Literal["shift_opened", "x", "z"]
    number: int
    operator: int
    shift: int | None
    printed_at: datetime
    sales: int
    returns: int
    receipts: int
    cash_in: int
    cash_out: int
    cash_in_drawer: int
    #: The fiscal storage signs the shift's opening and closing, not an X report.
    fiscal_number: int | None = None
    fiscal_sign: int | None = None

    @property
    def kind(self) -> str:
        return "shift_opened" if self.report == "shift_opened" else f"{self.report}_report"


@dataclass(frozen=True, slots=True)
class CashMovement:
    """Cash put into the drawer (0x50) or taken out (0x51)."""

    direction: Literal["in", "out"]
    number: int
    operator: int
    shift: int
    printed_at: datetime
    amount: int
    cash_in_drawer: int

    @property
    def kind(self) -> str:
        return f"cash_{self.direction}"


@dataclass(frozen=True, slots=True)
class PrintedText:
    """A line printed with 0x17 outside any document."""

    text: str
    operator: int
    printed_at: datetime
    tapes: int

    @property
    def kind(self) -> str:
        return "text"


Document = Receipt | ShiftReport | CashMovement | PrintedText


@dataclass(frozen=True, slots=True)
class FiscalRecord:
    """One document in the fiscal storage, as 0xFF0A finds it."""

    type: FiscalDocumentType
    number: int
    issued: datetime
    fiscal_sign: int
    #: For a receipt: its operation and total.
    operation: ReceiptOperation | None = None
    total: int | None = None
    #: For a shift's opening or closing: the shift.
    shift: int | None = None


def fiscal_sign(*, storage: str, number: int, kind: int, issued: datetime, operation: int = 0, total: int = 0) -> int:
    """The fiscal sign (ФП) the simulated storage puts on a document: 32 bits of a hash of
    what it signs, so the same document always gets the same sign."""
    signed = f"{storage}|{number}|{kind}|{issued:%Y%m%d%H%M}|{operation}|{total}".encode()
    return int.from_bytes(hashlib.sha256(signed).digest()[:4], "big")


def _fiscal_datetime(moment: datetime) -> bytes:
    """The fiscal storage's date and time: YY MM DD HH MM."""
    return bytes([moment.year % 100, moment.month, moment.day, moment.hour, moment.minute])


@dataclass
class _OpenDocument:
    document_type: DocumentType
    operator: int
    opened_at: datetime
    lines: list[ReceiptLine] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    @property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)


@dataclass
class _ShiftTotals:
    sales: int = 0
    returns: int = 0
    receipts: int = 0
    cash_in: int = 0
    cash_out: int = 0


# --------------------------------------------------------------------------- the register


class ShtrikhRegister:
    """The register's memory and its commands: ``execute(frame)`` answers one command.

    ``clock`` is the register's clock (local time, as a register keeps it); a test moves
    it to age a shift.  ``passwords`` maps operator number to password.  The numbers it
    starts from (``document_number``: the last printed document; ``last_closed_shift``;
    the fiscal storage holds its registration as document 1) may be set for a register
    "in use".  With ``state_dir`` the register's memory is kept in a file there and a
    register that ran before goes on from it (the numbers given here then count for a
    fresh folder only); without, it is a fresh register every time.  Safe to call from
    several threads.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = datetime.now,
        passwords: Mapping[int, int] | None = None,
        serial_number: int = 12_345_678,
        storage_number: str = "9960440300000001",
        inn: int = 7_701_234_567,
        registration_number: str = "0000000001012345",
        document_number: int = 0,
        last_closed_shift: int = 0,
        cash_in_drawer: int = 0,
        state_dir: Path | None = None,
    ) -> None:
        self.clock = clock
        #: Added to ``clock`` (the desk's ``clock_offset``), for a person to age a shift.
        self.clock_offset = timedelta()
        chosen = dict(passwords) if passwords is not None else {number: number for number in OPERATORS}
        if not set(chosen) <= set(OPERATORS):
            raise ValueError(f"operators are numbered {OPERATORS.start}..{OPERATORS.stop - 1}")
        self._operator_by_password: dict[int, int] = {}
        for operator, pwd in sorted(chosen.items()):
            self._operator_by_password.setdefault(pwd, operator)
        self.serial_number = serial_number
        self.storage_number = storage_number
        self.inn = inn
        self.registration_number = registration_number

        self._lock = threading.RLock()
        self.document_number = document_number
        self.last_closed_shift = last_closed_shift
        self.cash_in_drawer = cash_in_drawer
        self._shift_opened_at: datetime | None = None
        self._totals = _ShiftTotals()
        self._document: _OpenDocument | None = None
        self._paper = True
        self._submode = Submode.PAPER_PRESENT
        self._cover_open = False
        self._journal: list[Document] = []
        self._fiscal: dict[int, FiscalRecord] = {}
        #: Documents signed since the memory file was last written.
        self._unsaved: list[FiscalRecord] = []
        self._memory = FiscalMemory(state_dir) if state_dir is not None else None
        remembered = self._memory.load() if self._memory is not None else None
        if remembered is None:
            self._sign(FiscalDocumentType.REGISTRATION, self.now())
            self._remember()
        else:
            self._recall(*remembered)

        self._commands: dict[int, Callable[[bytes], bytes]] = {
            Command.SHORT_STATUS: self._short_status,
            Command.FULL_STATUS: self._full_status,
            Command.PRINT_LINE: self._print_line,
            Command.CUT: self._cut,
            Command.X_REPORT: self._x_report,
            Command.Z_REPORT: self._z_report,
            Command.CASH_IN: self._cash_in,
            Command.CASH_OUT: self._cash_out,
            Command.SALE: self._sale,
            Command.RETURN_SALE: self._return_sale,
            Command.CLOSE_DOCUMENT: self._close_document,
            Command.CANCEL_DOCUMENT: self._cancel_document,
            Command.OPEN_DOCUMENT: self._open_document,
            Command.CONTINUE_PRINTING: self._continue_printing,
            Command.OPEN_SHIFT: self._open_shift,
            Command.DEVICE_TYPE: self._device_type,
            Command.FN_STATUS: self._fn_status,
            Command.FN_NUMBER: self._fn_number,
            Command.FN_FIND_DOCUMENT: self._fn_find_document,
        }

    # -- what a test or a person looks at ------------------------------------------------

    def now(self) -> datetime:
        return self.clock() + self.clock_offset

    def receipts(self) -> list[Receipt]:
        """The fiscal receipts it closed, oldest first (annulled ones are not among them)."""
        with self._lock:
            return [doc for doc in self._journal if isinstance(doc, Receipt) and not doc.annulled]

    def documents(self) -> list[Document]:
        """Everything it printed, oldest first."""
        with self._lock:
            return list(self._journal)

    def fiscal_documents(self) -> list[FiscalRecord]:
        with self._lock:
            return [self._fiscal[number] for number in sorted(self._fiscal)]

    @property
    def last_fiscal_number(self) -> int:
        with self._lock:
            return max(self._fiscal)

    @property
    def open_document(self) -> tuple[DocumentType, int, tuple[ReceiptLine, ...]] | None:
        """The open document's type, operator and lines, or None."""
        with self._lock:
            doc = self._document
            return None if doc is None else (doc.document_type, doc.operator, tuple(doc.lines))

    @property
    def shift(self) -> int | None:
        """The open shift's number, or None when the shift is closed."""
        with self._lock:
            return None if self._shift_opened_at is None else self.last_closed_shift + 1

    @property
    def mode(self) -> int:
        """The short status' mode byte: the mode, and in mode 8 the document type above it."""
        with self._lock:
            if self._document is not None:
                return Mode.DOCUMENT_OPEN | self._document.document_type << 4
            if self._shift_opened_at is None:
                return Mode.SHIFT_CLOSED
            return Mode.SHIFT_OVER_24H if self._shift_over_24h() else Mode.SHIFT_OPEN

    @property
    def submode(self) -> Submode:
        return self._submode

    @property
    def flags(self) -> int:
        flags = FLAG_RECEIPT_LEVER  # the thermal head's lever is down
        if self._paper:
            flags |= FLAG_RECEIPT_ROLL | FLAG_RECEIPT_OPTICAL_SENSOR
        if self._cover_open:
            flags |= FLAG_COVER_OPEN
        return flags

    # -- faults and settings ----------------------------------------------------------

    def paper_out(self) -> None:
        """The roll ends: idle, the register waits for paper (submode 1); in a document, the
        document stays open and it waits to print the rest (submode 2)."""
        with self._lock:
            self._paper = False
            self._submode = Submode.PAPER_OUT_WHILE_PRINTING if self._document else Submode.PAPER_OUT

    def paper_in(self) -> None:
        """A roll is loaded: idle, it is ready; mid-document it waits for 0xB0 (submode 3)."""
        with self._lock:
            self._paper = True
            if self._submode is Submode.PAPER_OUT_WHILE_PRINTING:
                self._submode = Submode.WAITING_CONTINUE
            elif self._submode is Submode.PAPER_OUT:
                self._submode = Submode.PAPER_PRESENT

    def cover_open(self) -> None:
        with self._lock:
            self._cover_open = True

    def cover_close(self) -> None:
        with self._lock:
            self._cover_open = False

    @property
    def paper(self) -> bool:
        return self._paper

    @property
    def cover_is_open(self) -> bool:
        return self._cover_open

    def age_shift(self, hours: float) -> None:
        """Make the open shift ``hours`` old by the register's clock."""
        with self._lock:
            if self._shift_opened_at is None:
                raise ValueError("no shift is open")
            self._shift_opened_at = self.now() - timedelta(hours=hours)
            self._remember()

    def shift_age(self) -> timedelta | None:
        with self._lock:
            return None if self._shift_opened_at is None else self.now() - self._shift_opened_at

    def replace_storage(self, number: str | None = None) -> str:
        """A technician fits a new fiscal storage: the shift is closed (a Z report, as a
        storage is closed only between shifts), the old storage is taken out, and the
        register is registered again on the new one, whose documents and shifts are
        numbered from 1 (its registration is document 1).  The register's own running
        document number and the cash in the drawer go on.  ``number``: the new storage's,
        by default the old one's plus one.  Returns it."""
        with self._lock:
            if self._document is not None:
                raise ValueError("a document is open on the register: close or cancel it before replacing the storage")
            new = str(number) if number is not None else f"{int(self.storage_number) + 1:0{STORAGE_NUMBER_SIZE}d}"
            if not (0 < len(new) <= STORAGE_NUMBER_SIZE and new.isascii()):
                raise ValueError(f"a storage number is 1..{STORAGE_NUMBER_SIZE} ASCII characters, not {new!r}")
            if new == self.storage_number:
                raise ValueError(f"storage {new} is the one in the register")
            if self._shift_opened_at is not None:
                self._close_shift(SYSTEM_ADMINISTRATOR)
            self.storage_number = new
            self._fiscal = {}
            self.last_closed_shift = 0
            self._sign(FiscalDocumentType.REGISTRATION, self.now())
            self._remember()
            return new

    def close(self) -> None:
        """Let go of the memory file (what is in it stays)."""
        with self._lock:
            if self._memory is not None:
                self._memory.close()
                self._memory = None

    # -- the memory on disk ---------------------------------------------------------------

    def _remember(self) -> None:
        """Write what changed to the memory file, if there is one: before the answer goes out."""
        if self._memory is None:
            self._unsaved.clear()
            return
        rows: list[DocumentRow] = [
            (self.storage_number, r.number, r.type, r.issued.isoformat(), r.fiscal_sign, r.operation, r.total, r.shift)
            for r in self._unsaved
        ]
        self._memory.save(self._state(), rows)
        self._unsaved.clear()

    def _state(self) -> dict[str, Any]:
        doc = self._document
        return {
            "storage_number": self.storage_number,
            "document_number": self.document_number,
            "last_closed_shift": self.last_closed_shift,
            "cash_in_drawer": self.cash_in_drawer,
            "shift_opened_at": None if self._shift_opened_at is None else self._shift_opened_at.isoformat(),
            "totals": asdict(self._totals),
            "document": None
            if doc is None
            else {
                "document_type": doc.document_type,
                "operator": doc.operator,
                "opened_at": doc.opened_at.isoformat(),
                "lines": [asdict(line) for line in doc.lines],
                "text": doc.text,
            },
        }

    def _recall(self, state: dict[str, Any], documents: list[DocumentRow]) -> None:
        self.storage_number = state["storage_number"]
        self.document_number = state["document_number"]
        self.last_closed_shift = state["last_closed_shift"]
        self.cash_in_drawer = state["cash_in_drawer"]
        opened = state["shift_opened_at"]
        self._shift_opened_at = None if opened is None else datetime.fromisoformat(opened)
        self._totals = _ShiftTotals(**state["totals"])
        doc = state["document"]
        if doc is not None:
            lines = [ReceiptLine(**(line | {"tax_groups": tuple(line["tax_groups"])})) for line in doc["lines"]]
            self._document = _OpenDocument(
                DocumentType(doc["document_type"]), doc["operator"], datetime.fromisoformat(doc["opened_at"]),
                lines, list(doc["text"]),
            )  # fmt: skip
        for _, number, kind, issued, sign, operation, total, shift in documents:
            self._fiscal[number] = FiscalRecord(
                FiscalDocumentType(kind), number, datetime.fromisoformat(issued), sign,
                None if operation is None else ReceiptOperation(operation), total, shift,
            )  # fmt: skip

    # -- one command ----------------------------------------------------------------------

    def execute(self, frame: Frame) -> Frame:
        """The reply to one command: ``CMD ERR DATA`` (``CMD ERR`` alone after a refusal)."""
        with self._lock:
            handler = self._commands.get(frame.cmd)
            try:
                if handler is None:
                    raise Refused(ERROR_UNSUPPORTED)
                if self._submode is Submode.WAITING_CONTINUE and frame.cmd not in STATUS_COMMANDS:
                    if frame.cmd != Command.CONTINUE_PRINTING:
                        raise Refused(ERROR_WAITING_CONTINUE)
                data = handler(frame.data)
            except MalformedCommand:
                return Frame(frame.cmd, bytes([ERROR_BAD_LENGTH]))
            except Refused as refusal:
                return Frame(frame.cmd, bytes([refusal.code]))
            if frame.cmd not in STATUS_COMMANDS:
                self._remember()
            return Frame(frame.cmd, b"\x00" + data)

    # -- checks every command makes -------------------------------------------------------

    def _operator(self, data: bytes, allowed: frozenset[int] | None = None) -> int:
        operator = self._operator_by_password.get(read_password(data))
        if operator is None or (allowed is not None and operator not in allowed):
            raise Refused(ERROR_WRONG_PASSWORD)
        return operator

    @staticmethod
    def _length(data: bytes, size: int) -> None:
        if len(data) != size:
            raise MalformedCommand(f"{len(data)} data bytes where the layout has {size}")

    def _shift_over_24h(self) -> bool:
        return self._shift_opened_at is not None and self.now() - self._shift_opened_at >= SHIFT_LENGTH

    def _need_shift(self, *, fresh: bool = True) -> None:
        if self._shift_opened_at is None:
            raise Refused(ERROR_SHIFT_NOT_OPEN)
        if fresh and self._shift_over_24h():
            raise Refused(ERROR_SHIFT_OVER_24H)

    def _need_no_document(self) -> None:
        if self._document is not None:
            raise Refused(ERROR_DOCUMENT_OPEN)

    def _need_own_document(self, operator: int) -> _OpenDocument:
        if self._document is None:
            raise Refused(ERROR_NO_DOCUMENT)
        if self._document.operator != operator:
            raise Refused(ERROR_OTHER_OPERATORS_DOCUMENT)
        return self._document

    def _need_printer(self) -> None:
        """Whatever prints needs the cover shut and paper in."""
        if self._cover_open:
            raise Refused(ERROR_COVER_OPEN)
        if not self._paper or self._submode in (Submode.PAPER_OUT, Submode.PAPER_OUT_WHILE_PRINTING):
            raise Refused(ERROR_NO_RECEIPT_PAPER)

    def _next_document_number(self) -> int:
        self.document_number += 1
        return self.document_number

    def _sign(
        self,
        kind: FiscalDocumentType,
        issued: datetime,
        *,
        operation: ReceiptOperation | None = None,
        total: int | None = None,
        shift: int | None = None,
    ) -> FiscalRecord:
        """The fiscal storage takes the next document, numbers and signs it."""
        number = max(self._fiscal, default=0) + 1
        sign = fiscal_sign(
            storage=self.storage_number,
            number=number,
            kind=kind,
            issued=issued,
            operation=operation or 0,
            total=total or 0,
        )
        record = FiscalRecord(kind, number, issued, sign, operation, total, shift)
        self._fiscal[number] = record
        self._unsaved.append(record)
        return record

    def _report(
        self, report: Literal["shift_opened", "x", "z"], operator: int, shift: int | None, **fiscal: Any
    ) -> None:
        totals = self._totals
        self._journal.append(
            ShiftReport(
                report,
                self._next_document_number(),
                operator,
                shift,
                self.now(),
                totals.sales,
                totals.returns,
                totals.receipts,
                totals.cash_in,
                totals.cash_out,
                self.cash_in_drawer,
                **fiscal,
            )
        )

    # -- status -------------------------------------------------------------------------

    def _short_status(self, data: bytes) -> bytes:
        self._length(data, 4)
        operator = self._operator(data)
        operations = len(self._document.lines) if self._document else 0
        return (
            bytes([operator])
            + self.flags.to_bytes(2, "little")
            + bytes([self.mode, self._submode, operations & 0xFF, BATTERY_VOLTAGE, SUPPLY_VOLTAGE, 0, 0])
            + bytes([operations >> 8 & 0xFF])
            + bytes(3)  # reserved
        )

    def _full_status(self, data: bytes) -> bytes:
        self._length(data, 4)
        operator = self._operator(data)
        now = self.now()
        fm_flags = FM_FLAGS
        if self._shift_opened_at is not None:
            fm_flags |= FM_FLAG_SHIFT_OPEN
        if self._shift_over_24h():
            fm_flags |= FM_FLAG_SHIFT_OVER_24H
        version = FIRMWARE_VERSION + FIRMWARE_BUILD.to_bytes(2, "little") + bytes(FIRMWARE_DATE)
        return (
            bytes([operator])
            + version
            + bytes([HALL_NUMBER])
            + (self.document_number & 0xFFFF).to_bytes(2, "little")
            + self.flags.to_bytes(2, "little")
            + bytes([self.mode, self._submode, PORT_NUMBER])
            + version  # the fiscal memory's firmware: the same board
            + bytes([now.day, now.month, now.year % 100, now.hour, now.minute, now.second])
            + bytes([fm_flags])
            + self.serial_number.to_bytes(4, "little")
            + self.last_closed_shift.to_bytes(2, "little")
            + FREE_RECORDS.to_bytes(2, "little")
            + bytes([REGISTRATIONS, REGISTRATIONS_LEFT])
            + self.inn.to_bytes(6, "little")
        )

    def _device_type(self, data: bytes) -> bytes:
        self._length(data, 0)
        head = bytes([DEVICE_TYPE, DEVICE_SUBTYPE, PROTOCOL_VERSION, PROTOCOL_SUBVERSION, MODEL, LANGUAGE])
        return head + DEVICE_NAME.encode(ENCODING)

    # -- the shift ------------------------------------------------------------------------

    def _open_shift(self, data: bytes) -> bytes:
        self._length(data, 4)
        operator = self._operator(data)
        self._need_no_document()
        if self._shift_opened_at is not None:
            raise Refused(ERROR_SHIFT_ALREADY_OPEN)
        self._need_printer()
        now = self.now()
        shift = self.last_closed_shift + 1
        self._shift_opened_at = now
        self._totals = _ShiftTotals()
        record = self._sign(FiscalDocumentType.SHIFT_OPENED, now, shift=shift)
        self._report("shift_opened", operator, shift, fiscal_number=record.number, fiscal_sign=record.fiscal_sign)
        return bytes([operator])

    def _x_report(self, data: bytes) -> bytes:
        self._length(data, 4)
        operator = self._operator(data, REPORT_OPERATORS)
        self._need_no_document()
        self._need_printer()
        self._report("x", operator, self.shift)
        return bytes([operator])

    def _z_report(self, data: bytes) -> bytes:
        self._length(data, 4)
        operator = self._operator(data, REPORT_OPERATORS)
        self._need_no_document()
        self._need_shift(fresh=False)
        self._need_printer()
        self._close_shift(operator)
        return bytes([operator])

    def _close_shift(self, operator: int) -> None:
        shift = self.last_closed_shift + 1
        now = self.now()
        record = self._sign(FiscalDocumentType.SHIFT_CLOSED, now, shift=shift)
        self._report("z", operator, shift, fiscal_number=record.number, fiscal_sign=record.fiscal_sign)
        self.last_closed_shift = shift
        self._shift_opened_at = None
        self._totals = _ShiftTotals()

    def _cash(self, data: bytes, direction: Literal["in", "out"]) -> bytes:
        self._length(data, 4 + MONEY_BYTES)
        operator = self._operator(data)
        self._need_no_document()
        self._need_shift()
        amount = read_money(data[4:])
        if amount > MAX_MONEY:
            raise Refused(ERROR_BAD_PARAMETERS)
        if direction == "out" and amount > self.cash_in_drawer:
            raise Refused(ERROR_NOT_ENOUGH_CASH)
        self._need_printer()
        if direction == "in":
            self.cash_in_drawer += amount
            self._totals.cash_in += amount
        else:
            self.cash_in_drawer -= amount
            self._totals.cash_out += amount
        number = self._next_document_number()
        shift = self.last_closed_shift + 1
        self._journal.append(CashMovement(direction, number, operator, shift, self.now(), amount, self.cash_in_drawer))
        return bytes([operator]) + (number & 0xFFFF).to_bytes(2, "little")

    def _cash_in(self, data: bytes) -> bytes:
        return self._cash(data, "in")

    def _cash_out(self, data: bytes) -> bytes:
        return self._cash(data, "out")

    # -- documents ------------------------------------------------------------------------

    def _open_document(self, data: bytes) -> bytes:
        self._length(data, 5)
        operator = self._operator(data)
        self._need_no_document()
        self._need_shift()
        if data[4] not in (DocumentType.SALE, DocumentType.RETURN_SALE):
            # Purchases (types 1 and 3) exist on the real one; a shop's till never buys.
            raise Refused(ERROR_BAD_PARAMETERS)
        self._need_printer()
        self._document = _OpenDocument(DocumentType(data[4]), operator, self.now())
        return bytes([operator])

    def _item(self, data: bytes, document_type: DocumentType) -> bytes:
        item = parse_item_command(data)
        operator = self._operator(data)
        doc = self._document
        if doc is not None:
            if doc.operator != operator:
                raise Refused(ERROR_OTHER_OPERATORS_DOCUMENT)
            if doc.document_type != document_type:
                raise Refused(ERROR_OTHER_DOCUMENT_TYPE)
        self._need_shift()
        if not 0 < item.quantity <= MAX_MONEY:
            raise Refused(ERROR_QUANTITY_RANGE)
        if item.price > MAX_MONEY:
            raise Refused(ERROR_PRICE_RANGE)
        if item.department > MAX_DEPARTMENT:
            raise Refused(ERROR_DEPARTMENT_RANGE)
        if any(group > MAX_TAX_GROUP for group in item.tax_groups):
            raise Refused(ERROR_BAD_PARAMETERS)
        amount = shtrikh.line_amount(item.quantity, item.price)
        if (doc.subtotal if doc else 0) + amount > MAX_MONEY:
            raise Refused(ERROR_TOTAL_OVERFLOW)
        self._need_printer()
        if doc is None:  # a sale (or return) with no document open opens one of its kind
            doc = self._document = _OpenDocument(document_type, operator, self.now())
        groups = tuple(group for group in item.tax_groups if group)
        doc.lines.append(ReceiptLine(item.name, item.quantity, item.price, item.department, groups, amount))
        return bytes([operator])

    def _sale(self, data: bytes) -> bytes:
        return self._item(data, DocumentType.SALE)

    def _return_sale(self, data: bytes) -> bytes:
        return self._item(data, DocumentType.RETURN_SALE)

    def _close_document(self, data: bytes) -> bytes:
        close = parse_close_command(data)
        operator = self._operator(data)
        doc = self._need_own_document(operator)
        self._need_shift(fresh=False)
        if abs(close.discount_hundredths) > shtrikh.MAX_DISCOUNT or any(g > MAX_TAX_GROUP for g in close.tax_groups):
            raise Refused(ERROR_BAD_PARAMETERS)
        subtotal = doc.subtotal
        taken_off = (subtotal * close.discount_hundredths + 5000) // 10000
        total = subtotal - taken_off
        if total <= 0:
            raise Refused(ERROR_ZERO_TOTAL)
        if any(amount > MAX_MONEY for amount in close.payments):
            raise Refused(ERROR_BAD_PARAMETERS)
        non_cash = sum(close.payments[1:])
        if non_cash > total:
            raise Refused(ERROR_NON_CASH_OVER_TOTAL)
        paid = sum(close.payments)
        if paid < total:
            raise Refused(ERROR_PAYMENTS_SHORT)
        change = paid - total
        cash_part = total - non_cash  # what stays in (or, for a return, leaves) the drawer
        refund = doc.document_type == DocumentType.RETURN_SALE
        if refund and cash_part > self.cash_in_drawer:
            raise Refused(ERROR_NOT_ENOUGH_CASH)
        self._need_printer()

        now = self.now()
        operation = ReceiptOperation.RETURN_SALE if refund else ReceiptOperation.SALE
        record = self._sign(FiscalDocumentType.RECEIPT, now, operation=operation, total=total)
        shift = self.last_closed_shift + 1
        self._journal.append(
            Receipt(
                document_type=doc.document_type,
                number=self._next_document_number(),
                operator=operator,
                shift=shift,
                opened_at=doc.opened_at,
                printed_at=now,
                lines=tuple(doc.lines),
                text=tuple(doc.text),
                subtotal=subtotal,
                discount=taken_off,
                total=total,
                payments=close.payments,
                change=change,
                fiscal_number=record.number,
                fiscal_sign=record.fiscal_sign,
                footer=close.footer,
            )
        )
        if refund:
            self.cash_in_drawer -= cash_part
            self._totals.returns += total
        else:
            self.cash_in_drawer += cash_part
            self._totals.sales += total
        self._totals.receipts += 1
        self._document = None
        return bytes([operator]) + money(change)

    def _cancel_document(self, data: bytes) -> bytes:
        self._length(data, 4)
        operator = self._operator(data)
        doc = self._need_own_document(operator)
        self._need_printer()  # it prints the annulled receipt's end
        now = self.now()
        self._journal.append(
            Receipt(
                document_type=doc.document_type,
                number=self._next_document_number(),
                operator=operator,
                shift=self.last_closed_shift + 1,
                opened_at=doc.opened_at,
                printed_at=now,
                lines=tuple(doc.lines),
                text=tuple(doc.text),
                subtotal=doc.subtotal,
                discount=0,
                total=doc.subtotal,
                payments=(0, 0, 0, 0),
                change=0,
                fiscal_number=None,
                fiscal_sign=None,
                annulled=True,
            )
        )
        self._document = None
        return bytes([operator])

    def _continue_printing(self, data: bytes) -> bytes:
        self._length(data, 4)
        operator = self._operator(data)
        if self._submode is Submode.WAITING_CONTINUE:
            self._submode = Submode.PAPER_PRESENT
            return bytes([operator])
        if self._submode in (Submode.PAPER_OUT, Submode.PAPER_OUT_WHILE_PRINTING):
            raise Refused(ERROR_NO_RECEIPT_PAPER)
        raise Refused(ERROR_WRONG_SUBMODE)  # nothing is waiting to be printed

    # -- printing -------------------------------------------------------------------------

    def _print_line(self, data: bytes) -> bytes:
        if len(data) < PRINT_LINE_FIXED_SIZE:
            raise MalformedCommand("print line needs a password and a flags byte")
        operator = self._operator(data)
        if self._document is not None and self._document.operator != operator:
            raise Refused(ERROR_OTHER_OPERATORS_DOCUMENT)
        self._need_printer()
        line = read_text(data[PRINT_LINE_FIXED_SIZE:])
        if self._document is not None:
            self._document.text.append(line)
        else:
            self._journal.append(PrintedText(line, operator, self.now(), data[4]))
        return bytes([operator])

    def _cut(self, data: bytes) -> bytes:
        self._length(data, 5)
        operator = self._operator(data)
        self._need_no_document()
        if data[4] not in (CutType.FULL, CutType.PARTIAL):
            raise Refused(ERROR_BAD_PARAMETERS)
        self._need_printer()
        return bytes([operator])

    # -- the fiscal storage -----------------------------------------------------------------

    def _fn_status(self, data: bytes) -> bytes:
        self._length(data, 4)
        self._operator(data, FISCAL_STORAGE_OPERATORS)
        last = self._fiscal[max(self._fiscal)]
        doc = self._document
        return (
            bytes(
                [
                    FN_LIFE_FISCAL_MODE,
                    FN_RECEIPT_OPEN if doc else shtrikh.FN_NO_DOCUMENT,
                    1 if doc and doc.lines else 0,
                    1 if self._shift_opened_at is not None else 0,
                    0,  # no warnings
                ]
            )
            + _fiscal_datetime(last.issued)
            + self._storage_number_field()
            + last.number.to_bytes(4, "little")
        )

    def _fn_number(self, data: bytes) -> bytes:
        self._length(data, 4)
        self._operator(data, FISCAL_STORAGE_OPERATORS)
        return self._storage_number_field()

    def _storage_number_field(self) -> bytes:
        return self.storage_number.encode("ascii")[:STORAGE_NUMBER_SIZE].ljust(STORAGE_NUMBER_SIZE, b"\x00")

    def _fn_find_document(self, data: bytes) -> bytes:
        self._length(data, 8)
        self._operator(data, FISCAL_STORAGE_OPERATORS)
        record = self._fiscal.get(int.from_bytes(data[4:8], "little"))
        if record is None:
            raise Refused(ERROR_NO_DATA)
        confirmed_by_operator = 0  # no fiscal data operator answers in a simulation
        head = bytes([record.type, confirmed_by_operator]) + _fiscal_datetime(record.issued)
        head += record.number.to_bytes(4, "little") + record.fiscal_sign.to_bytes(4, "little")
        if record.type == FiscalDocumentType.RECEIPT:
            assert record.operation is not None and record.total is not None
            return head + bytes([record.operation]) + money(record.total)
        if record.type in (FiscalDocumentType.SHIFT_OPENED, FiscalDocumentType.SHIFT_CLOSED):
            assert record.shift is not None
            return head + record.shift.to_bytes(2, "little")
        # The registration: INN (12 ASCII), registration number (20 ASCII), tax system, mode.
        inn = str(self.inn).encode("ascii").ljust(12, b" ")
        rnm = self.registration_number.encode("ascii").ljust(20, b" ")
        return head + inn + rnm + bytes([TAX_SYSTEM, WORK_MODE])


# --------------------------------------------------------------------------- the serial line

#: How often a slow answer looks up to see whether the power went.
POWER_POLL_S = 0.01

#: What a power cut lasts when the desk is not told.
DEFAULT_POWER_CUT_S = 5.0

Stage = Literal["received", "replied"]
CommandHook = Callable[[Frame, Stage], None]


def _frame_bytes(reply: Frame) -> bytes:
    """The reply on the wire.  Only a frame no driver sends (a lone 0xFF or 0xFF00) has a
    command ``build_frame`` refuses; the register still echoes it with its refusal."""
    try:
        return reply.to_bytes()
    except ValueError:
        return shtrikh.wrap(reply.cmd.to_bytes(2 if reply.cmd > 0xFF else 1, "big") + reply.data)


class FiscalRegisterSimulator:
    """The register on its serial line: the slave's side of the ENQ/ACK/NAK handshake.

    ``receive(data)`` takes the bytes the host wrote; the register's answers go out
    through ``send`` as it makes them (ACK first, the reply after executing), so a slow
    command shows as a slow command.  One answer is held until the host acknowledges it:
    after NAK, or silence, the next ENQ gets ACK and the same answer again.

    Line faults: ``power_cut(seconds)``, ``garble_next()`` (a reply with a bad LRC),
    ``truncate_next()`` (a reply cut short), ``slow_s`` (time spent executing each
    command).  ``on_command(hook)`` calls ``hook(frame, "received")`` before a command is
    executed and ``hook(frame, "replied")`` once its reply was written, on the reader's
    thread; a hook may block.
    """

    def __init__(
        self,
        register: ShtrikhRegister | None = None,
        *,
        byte_timeout: float = REGISTER_BYTE_TIMEOUT,
        send: Callable[[bytes], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.register = register or ShtrikhRegister()
        #: The register's wait for the next byte of a frame; a frame that stops arriving
        #: for longer is dropped.  The real default is 50 ms (shtrikh.REGISTER_BYTE_TIMEOUT).
        self.byte_timeout = byte_timeout
        self._send = send or (lambda data: None)
        self._monotonic = monotonic
        #: Seconds each command takes before its reply (printing takes time).
        self.slow_s = 0.0
        self._parser = FrameParser()
        self._last_byte_at = 0.0
        self._held: bytes | None = None
        self._power_back_at = 0.0
        self._garble = 0
        self._truncate = 0
        self._hooks: list[CommandHook] = []
        # What happened on the line, for tests and the desk.
        self.bytes_received = 0
        self.bytes_sent = 0
        self.commands = 0
        self.naks_sent = 0
        self.frames_dropped = 0

    # -- faults ---------------------------------------------------------------------------

    @property
    def powered(self) -> bool:
        return self._monotonic() >= self._power_back_at

    def power_cut(self, seconds: float = DEFAULT_POWER_CUT_S) -> None:
        """No answers at all for ``seconds``.  The answer not yet acknowledged, a reply not
        yet sent and a frame half received are lost; what the register stored is not."""
        self._power_back_at = self._monotonic() + seconds
        self._held = None
        self._parser.reset()

    def power_on(self) -> None:
        self._power_back_at = 0.0

    def garble_next(self, count: int = 1) -> None:
        """The next ``count`` replies go out with a bad LRC (the host NAKs; ENQ repeats them)."""
        self._garble = count

    def truncate_next(self, count: int = 1) -> None:
        """The next ``count`` replies stop halfway (the host times out; ENQ repeats them)."""
        self._truncate = count

    def on_command(self, hook: CommandHook) -> Callable[[], None]:
        """Call ``hook(frame, stage)`` around every command; returns how to stop."""
        self._hooks.append(hook)
        return lambda: self._hooks.remove(hook) if hook in self._hooks else None

    # -- the line -------------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        self.bytes_received += len(data)
        if not self.powered:
            return
        now = self._monotonic()
        if self._parser.pending and now - self._last_byte_at > self.byte_timeout:
            # The rest of that frame never came in time: the register forgets it, silently.
            self._parser.reset()
            self.frames_dropped += 1
        self._last_byte_at = now
        for byte in data:
            if not self.powered:  # a hook may have cut the power
                continue
            if self._parser.pending or byte == STX:
                for frame in self._parser.feed(bytes([byte])):
                    self._on_frame(frame)
            elif byte == ENQ:
                self._on_enq()
            elif byte == ACK:
                self._held = None  # the host has the answer
            # NAK: the host got the answer garbled; it stays held until ENQ asks for it.
            # Anything else between frames is line noise.

    def _on_enq(self) -> None:
        if self._held is None:
            self._write(bytes([NAK]))  # idle: waiting for a command
        else:
            self._write(bytes([ACK]))
            self._transmit(self._held)

    def _on_frame(self, frame: Frame | CorruptFrame) -> None:
        if isinstance(frame, CorruptFrame):
            self.naks_sent += 1
            self._write(bytes([NAK]))
            return
        # A new command: an answer the host never took is of no more use to it.
        self._held = None
        self._write(bytes([ACK]))
        self.commands += 1
        self._notify(frame, "received")
        if not self.powered:
            return  # the power went before the register acted on it
        reply = _frame_bytes(self.register.execute(frame))
        if self.slow_s:
            self._busy(self.slow_s)
        if not self.powered:
            return  # executed and stored, but the answer died with the power
        self._held = reply
        self._transmit(reply)
        self._notify(frame, "replied")

    def _busy(self, seconds: float) -> None:
        until = self._monotonic() + seconds
        while self.powered and (left := until - self._monotonic()) > 0:
            time.sleep(min(left, POWER_POLL_S))

    def _transmit(self, reply: bytes) -> None:
        if self._garble:
            self._garble -= 1
            reply = reply[:-1] + bytes([reply[-1] ^ 0xFF])
        elif self._truncate:
            self._truncate -= 1
            reply = reply[: max(2, len(reply) // 2)]
        self._write(reply)

    def _write(self, data: bytes) -> None:
        if self.powered:  # the desk may cut the power from its own thread mid-command
            self._send(data)
            self.bytes_sent += len(data)

    def _notify(self, frame: Frame, stage: Stage) -> None:
        for hook in list(self._hooks):
            try:
                hook(frame, stage)
            except Exception:
                log.exception("a command hook failed on %#x (%s)", frame.cmd, stage)

    # -- what a test or a person looks at -------------------------------------------------

    def receipts(self) -> list[Receipt]:
        return self.register.receipts()

    def documents(self) -> list[Document]:
        return self.register.documents()

    def describe(self) -> dict[str, Any]:
        register = self.register
        mode = register.mode
        age = register.shift_age()
        return {
            "model": DEVICE_NAME,
            "mode": Mode(mode & 0x0F).name.lower(),
            "submode": register.submode.name.lower(),
            "shift": register.shift,
            "shift_age_hours": None if age is None else round(age.total_seconds() / 3600, 2),
            "document_open": register.open_document is not None,
            "fn_serial": register.storage_number,
            "last_fiscal_document": register.last_fiscal_number,
            "document_number": register.document_number,
            "cash_in_drawer": register.cash_in_drawer,
            "paper": register.paper,
            "cover_open": register.cover_is_open,
            "powered": self.powered,
            "slow_s": self.slow_s,
            "receipts": len(register.receipts()),
            "clock": register.now().isoformat(timespec="seconds"),
        }

    def desk_handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """What a person at ``storehub sim`` can tell this register to do."""
        register = self.register

        def then_describe(act: Callable[[dict[str, Any]], object]) -> Callable[[dict[str, Any]], Any]:
            def handler(args: dict[str, Any]) -> dict[str, Any]:
                act(args)
                return self.describe()

            return handler

        def slow(args: dict[str, Any]) -> None:
            self.slow_s = float(args.get("seconds", 2.0))

        def clock_offset(args: dict[str, Any]) -> None:
            register.clock_offset = timedelta(hours=float(args.get("hours", 0)), minutes=float(args.get("minutes", 0)))

        def last_receipt(args: dict[str, Any]) -> dict[str, Any] | None:
            receipts = register.receipts()
            return _for_a_person(receipts[-1]) if receipts else None

        def receipts(args: dict[str, Any]) -> list[dict[str, Any]]:
            count = int(args.get("count", 5))
            return [_for_a_person(receipt) for receipt in register.receipts()[-count:]]

        return {
            "status": lambda args: self.describe(),
            "paper_out": then_describe(lambda args: register.paper_out()),
            "paper_in": then_describe(lambda args: register.paper_in()),
            "cover_open": then_describe(lambda args: register.cover_open()),
            "cover_close": then_describe(lambda args: register.cover_close()),
            "power_cut": then_describe(lambda args: self.power_cut(float(args.get("seconds", DEFAULT_POWER_CUT_S)))),
            "power_on": then_describe(lambda args: self.power_on()),
            "garble_next": then_describe(lambda args: self.garble_next(int(args.get("count", 1)))),
            "truncate_next": then_describe(lambda args: self.truncate_next(int(args.get("count", 1)))),
            "slow": then_describe(slow),
            "shift_age": then_describe(lambda args: register.age_shift(float(args["hours"]))),
            "clock_offset": then_describe(clock_offset),
            "replace_storage": then_describe(lambda args: register.replace_storage(args.get("serial"))),
            "last_receipt": last_receipt,
            "receipts": receipts,
        }


#: Payment types as a receipt names them: type 1 is cash; what 2..4 mean is the
#: register's table setting (the shop's config says which is the card).
PAYMENT_TYPES = ("cash", "type 2", "type 3", "type 4")


def render(receipt: Receipt) -> str:
    """The receipt roughly as it comes out of the register, for a person to read."""

    def rub(kopecks: int) -> str:
        return f"{kopecks // 100}.{kopecks % 100:02d}"

    title = "ВОЗВРАТ ПРИХОДА" if receipt.document_type == DocumentType.RETURN_SALE else "ПРИХОД"
    rows = [
        DEVICE_NAME,
        f"КАССОВЫЙ ЧЕК  {title}",
        f"Док. {receipt.number}  Смена {receipt.shift}  Кассир {receipt.operator}",
    ]
    for line in receipt.lines:
        groups = ",".join(str(group) for group in line.tax_groups) or "-"
        rows.append(f"{line.name}")
        rows.append(f"  {line.quantity / 1000:.3f} x {rub(line.price)} = {rub(line.amount)}  НДС гр.{groups}")
    rows += list(receipt.text)
    if receipt.discount:
        rows.append(f"СКИДКА {rub(receipt.discount)}")
    rows.append(f"ИТОГ {rub(receipt.total)}")
    for name, amount in zip(PAYMENT_TYPES, receipt.payments, strict=False):
        if amount:
            rows.append(f"  {name}: {rub(amount)}")
    if receipt.change:
        rows.append(f"СДАЧА {rub(receipt.change)}")
    if receipt.annulled:
        rows.append("ЧЕК АННУЛИРОВАН")
    else:
        rows.append(f"ФД {receipt.fiscal_number}  ФП {receipt.fiscal_sign:010d}")
    rows.append(receipt.printed_at.strftime("%d.%m.%Y %H:%M"))
    return "\n".join(rows) + "\n"


def _for_a_person(receipt: Receipt) -> dict[str, Any]:
    return asdict(receipt) | {"kind": receipt.kind, "paper": render(receipt)}


class SerialFiscalRegister(PtyDevice):
    """The register on a pty (``port = link`` in the hub's config), like a USB-serial one.

    ``stop()`` is the cable pulled, ``start()`` plugged back at the same link; the
    register keeps its memory either way (a power cut is ``simulator.power_cut``).
    ``state_dir``: where a register made here keeps its memory across restarts (see
    ``ShtrikhRegister``); a test that brings its own ``register`` gives it the folder.
    """

    def __init__(
        self,
        link: Path,
        register: ShtrikhRegister | None = None,
        *,
        byte_timeout: float = REGISTER_BYTE_TIMEOUT,
        baudrate: int | None = None,
        state_dir: Path | None = None,
    ) -> None:
        super().__init__(link)
        if register is not None and state_dir is not None:
            raise ValueError("give the state folder to the register you bring, not to its line")
        if register is None:
            register = ShtrikhRegister(state_dir=state_dir)
        #: With a speed, bytes take as long each way as on an RS-232 line at that speed
        #: (the bench measures receipts at the register's real 115200 baud); without
        #: one, as long as the pty takes.
        self.baudrate = baudrate
        self.simulator = FiscalRegisterSimulator(register, byte_timeout=byte_timeout, send=self._send_on_the_line)

    @property
    def register(self) -> ShtrikhRegister:
        return self.simulator.register

    def line_time(self, size: int) -> float:
        """Seconds ``size`` bytes spend on the wire at ``baudrate`` (8N1: ten bits a byte)."""
        return size * BITS_PER_BYTE / self.baudrate if self.baudrate else 0.0

    def received(self, data: bytes) -> None:
        # The pty hands over at once what a serial line would still be clocking in.
        if self.baudrate:
            time.sleep(self.line_time(len(data)))
        self.simulator.receive(data)

    def _send_on_the_line(self, data: bytes) -> None:
        if self.baudrate:
            time.sleep(self.line_time(len(data)))
        self.send(data)

    def receipts(self) -> list[Receipt]:
        return self.simulator.receipts()

    def documents(self) -> list[Document]:
        return self.simulator.documents()

    def on_command(self, hook: CommandHook) -> Callable[[], None]:
        return self.simulator.on_command(hook)

    def desk_handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return self.simulator.desk_handlers()
