"""ZVT, the German ECR interface of card payment terminals: APDUs, fields, commands, dialogues.

This module builds and parses bytes and knows nothing of sockets: the transport (an
asyncio stream in ``devices/payment_terminal.py``, a server in ``devices/sim/``) writes
what it is given here and feeds in what it reads.  Everything here can be tested on bytes.

APDUs (both directions, TCP port 20007 by default)::

    CLASS INSTR LEN DATA...
    06    01    0A  04 000000001250 49 0978       Authorization of 12.50 EUR

``LEN`` counts DATA.  Up to 254 bytes it is one byte; longer DATA has ``FF`` followed by
the length in two bytes, low byte first.  There is no start marker and no checksum on
TCP: APDUs follow each other, and only the lengths say where one ends.

DATA is mostly a sequence of "bitmaps" (BMPs): one byte naming the field, then its value.
Most fields have a fixed size; LLVAR and LLLVAR fields carry their length first as two
or three bytes ``F0+digit`` (``F1 F2`` = 12 bytes); the TLV container (BMP 06) uses BER
lengths (``81 nn``, ``82 nn nn`` past 127).  ``BMPS`` below is the table.

Numbers are packed BCD, big-endian: amounts in minor units (6 bytes, 12 digits), the
currency as its ISO 4217 number (``09 78`` EUR, ``06 43`` RUB), the receipt number (2),
the trace number (3), the 6-digit password (3), time HHMMSS (3) and date MMDD (2).

Who talks when: the ECR (the hub, for the till) sends a command; the terminal answers
``80 00 00`` (taken) or ``84 xx 00`` (refused, ``xx`` a result code).  During the card
dialogue the terminal is master: it sends Intermediate Status (``04 FF``, "insert card",
"enter PIN"…), Status-Information (``04 0F``, the transaction's result and data) and at
the end Completion (``06 0F``) or Abort (``06 1E`` with a result code); the ECR
acknowledges each with ``80 00 00``.  ``Dialogue`` keeps that bookkeeping for one command.
The ECR may send Abort (``06 B0``) while a payment waits for the card or the PIN.

Recovering a lost answer: the ECR asks the terminal for its last transaction with
Repeat Receipt (``06 20`` + password).  The terminal answers it like the payment itself
(Status-Information with amount, receipt and trace number, card, result, then
Completion); registered with "the ECR prints the receipts, from the Status-Information"
(config byte ``0x02|0x04``, bit ``0x80`` clear, as ``registration`` does by default), it
prints nothing itself.  Of the commands public references describe, it is the only one
that hands the ECR the last transaction's data: Status-Enquiry (``05 01``) gives only the
terminal's state, Send Turnover Totals (``06 10``) only totals, and the ``84 9C`` "repeat
Status-Information" only works inside the dialogue whose answer it asks for.

Result codes (BMP 27, and the byte after ``06 1E``): ``00`` approved; ``01``-``63`` (1-99)
are the card network's two-digit response codes, passed through as binary numbers (05 do
not honour, 51 insufficient funds, 54 expired card, 55 incorrect PIN, 75 PIN tries
exceeded, as in ISO 8583); ``64`` and up are the terminal's own (``6C`` aborted by the
cancel key or a timeout, ``6F`` wrong currency, ``B4`` already reversed…).  The reading of
01-63 as binary 1-99 follows from the range itself: 0x63 is 99, and the terminal's own
codes start right after it at 0x64 = 100.

Sources (read as references; nothing copied): the ZVT specification "ECR-Interface
ZVT-Protocol, Commands, Bitmaps, Error Messages" (PA00P015, rev. 13.06 and 13.09, from
terminalhersteller.de; its table of contents and release notes as published on docslib,
doczz and 1library); Wireshark's dissector ``epan/dissectors/packet-zvt.c`` (APDU
length with ``FF`` and a little-endian length, BER lengths of the TLV container, the BMP
sizes, the layout of Registration, Abort and Intermediate Status); the Python package
ecrterm (wirelane/ecrterm: ``packets/bitmaps.py`` for the LLVAR/LLLVAR fields,
``packets/base_packets.py`` for the command set and Completion's optional software
version); Portalum.Zvt (C#: ``ZvtClient.cs`` for Reversal, Refund, End-of-Day and Repeat
Receipt with the password first, ``Repositories/*`` for the texts of intermediate status
and error codes); kaplanerkan/kotlin-zvt-library (``ZvtCommandBuilder.kt``, the protocol
flow in its README); the config-byte and status-byte tables in
Philipp3107/PLAT_GUI_ENTWURF ``TERMINAL_CODES.md``.  Where they disagree (the currency
in Registration is a bare 2-byte field in the specification and Wireshark, a BMP 49 in the
Kotlin library) the specification wins and the comment at the field says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

# --------------------------------------------------------------------------- APDUs

#: DATA up to this length has a one-byte LEN; longer DATA has ``FF`` and two bytes.
#: 255 itself needs the long form, since ``FF`` is the marker.
MAX_SHORT_LENGTH = 254
EXTENDED_LENGTH = 0xFF
MAX_LENGTH = 0xFFFF

#: The first byte of every APDU either side may send.  Anything else where an APDU must
#: start means the stream lost its place (there is no start marker to find it again).
KNOWN_CLASSES = frozenset({0x04, 0x05, 0x06, 0x08, 0x80, 0x84})

#: The ECR's and the terminal's acknowledgements: ``80 00`` taken, ``84 xx`` refused.
POSITIVE = 0x80
NEGATIVE = 0x84


class ZvtError(ValueError):
    """Bytes that are not what ZVT says they must be."""


class Control(IntEnum):
    """CLASS and INSTR of the APDUs this module knows, as one number."""

    # ECR to terminal
    REGISTRATION = 0x0600
    AUTHORIZATION = 0x0601
    REPEAT_RECEIPT = 0x0620
    REVERSAL = 0x0630
    REFUND = 0x0631
    END_OF_DAY = 0x0650
    ABORT_REQUEST = 0x06B0
    STATUS_ENQUIRY = 0x0501
    # terminal to ECR
    STATUS_INFORMATION = 0x040F
    INTERMEDIATE_STATUS = 0x04FF
    COMPLETION = 0x060F
    ABORT = 0x061E
    PRINT_LINE = 0x06D1
    PRINT_TEXT_BLOCK = 0x06D3
    # both
    ACK = 0x8000


@dataclass(frozen=True, slots=True)
class Apdu:
    cls: int
    instr: int
    data: bytes = b""

    @property
    def control(self) -> int:
        return self.cls << 8 | self.instr

    def to_bytes(self) -> bytes:
        return bytes([self.cls, self.instr]) + encode_length(len(self.data)) + self.data

    def __repr__(self) -> str:
        return f"Apdu({self.cls:02X} {self.instr:02X} {self.data.hex(' ').upper()})"


def apdu(control: int, data: bytes = b"") -> Apdu:
    return Apdu(control >> 8, control & 0xFF, bytes(data))


def encode_length(length: int) -> bytes:
    if not 0 <= length <= MAX_LENGTH:
        raise ZvtError(f"an APDU carries at most {MAX_LENGTH} bytes of data, not {length}")
    if length <= MAX_SHORT_LENGTH:
        return bytes([length])
    return bytes([EXTENDED_LENGTH]) + length.to_bytes(2, "little")


class ApduReader:
    """Takes bytes as they arrive on the stream and hands back each whole APDU.

    A TCP read may end inside an APDU or hold several: the rest waits for the next
    ``feed``.  A first byte that no APDU starts with raises ``ZvtError`` (the stream lost
    its place; only a new connection starts it afresh); the bad bytes stay in ``garbage``.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.garbage = b""

    @property
    def pending(self) -> int:
        """Bytes of an APDU whose rest has not arrived."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[Apdu]:
        self._buffer += chunk
        out: list[Apdu] = []
        while len(self._buffer) >= 3:
            if self._buffer[0] not in KNOWN_CLASSES:
                self.garbage = bytes(self._buffer)
                self._buffer.clear()
                raise ZvtError(f"no APDU starts with {self.garbage[:8].hex(' ').upper()}")
            length, header = self._buffer[2], 3
            if length == EXTENDED_LENGTH:
                if len(self._buffer) < 5:
                    break
                length, header = int.from_bytes(self._buffer[3:5], "little"), 5
            if len(self._buffer) < header + length:
                break
            out.append(Apdu(self._buffer[0], self._buffer[1], bytes(self._buffer[header : header + length])))
            del self._buffer[: header + length]
        return out


def parse_apdu(raw: bytes) -> Apdu:
    """Exactly one whole APDU, as ``ApduReader`` would return it."""
    reader = ApduReader()
    found = reader.feed(raw)
    if len(found) != 1 or reader.pending:
        raise ZvtError(f"expected one APDU in {raw.hex(' ').upper()}")
    return found[0]


# --------------------------------------------------------------------------- numbers


def bcd(value: int, size: int) -> bytes:
    """``value`` as ``size`` bytes of packed BCD, most significant digit first."""
    if value < 0 or value >= 10 ** (2 * size):
        raise ZvtError(f"{value} does not fit {size} BCD bytes ({2 * size} digits)")
    return bytes.fromhex(f"{value:0{2 * size}d}")


def read_bcd(data: bytes) -> int:
    digits = data.hex()
    if not digits.isdigit():
        raise ZvtError(f"not BCD: {data.hex(' ').upper()}")
    return int(digits) if digits else 0


#: Amounts are 6 BCD bytes: at most twelve digits of minor units.
AMOUNT_BYTES = 6
MAX_AMOUNT = 10 ** (2 * AMOUNT_BYTES) - 1

#: Receipt numbers are 2 BCD bytes (0-9999), trace numbers 3 (0-999999).
MAX_RECEIPT_NO = 9999
MAX_TRACE_NO = 999_999

#: ISO 4217 numbers of the currencies a shop may configure.  The terminal knows its own
#: currency; a payment in another is refused by it (result code 6F).
CURRENCIES: dict[str, int] = {
    "EUR": 978,
    "RUB": 643,
    "USD": 840,
    "GBP": 826,
    "CHF": 756,
    "PLN": 985,
    "CZK": 203,
    "HUF": 348,
    "SEK": 752,
    "DKK": 208,
    "NOK": 578,
    "KZT": 398,
    "BYN": 933,
}
CURRENCY_NAMES = {number: name for name, number in CURRENCIES.items()}


def currency_number(code: str) -> int:
    try:
        return CURRENCIES[code.upper()]
    except KeyError:
        raise ZvtError(f"unknown currency {code!r}; known: {', '.join(sorted(CURRENCIES))}") from None


def currency_name(number: int) -> str:
    return CURRENCY_NAMES.get(number, f"{number:03d}")


def password(value: str) -> bytes:
    """The terminal's six-digit password as 3 BCD bytes."""
    if len(value) != 6 or not value.isdigit():
        raise ZvtError("a ZVT password is six digits")
    return bytes.fromhex(value)


# --------------------------------------------------------------------------- fields (BMPs)


class LengthKind(Enum):
    FIXED = "fixed"
    #: Two bytes ``F0+d`` of decimal length first: up to 99 bytes.
    LLVAR = "llvar"
    #: Three bytes ``F0+d``: up to 999 bytes.
    LLLVAR = "lllvar"
    #: BER length: one byte below 0x80, else ``81 nn`` or ``82 nn nn``.
    TLV = "tlv"


@dataclass(frozen=True, slots=True)
class BmpSpec:
    number: int
    name: str
    kind: LengthKind
    #: Bytes of a FIXED field.
    size: int = 0


def _fixed(number: int, name: str, size: int) -> BmpSpec:
    return BmpSpec(number, name, LengthKind.FIXED, size)


#: Every field the terminal may send in the messages the hub reads, with how its length
#: is known.  A field missing from here cannot be skipped, so the table lists more than
#: the hub uses (the specification's "summary of utilised BMPs").
BMPS: dict[int, BmpSpec] = {
    spec.number: spec
    for spec in (
        _fixed(0x01, "timeout", 1),
        _fixed(0x02, "max_status_infos", 1),
        _fixed(0x03, "service_byte", 1),
        _fixed(0x04, "amount", AMOUNT_BYTES),
        _fixed(0x05, "pump_no", 1),
        BmpSpec(0x06, "tlv", LengthKind.TLV),
        _fixed(0x0B, "trace_no", 3),
        _fixed(0x0C, "time", 3),
        _fixed(0x0D, "date", 2),
        _fixed(0x0E, "expiry", 2),
        _fixed(0x17, "card_sequence_no", 2),
        _fixed(0x19, "payment_type", 1),
        BmpSpec(0x22, "pan", LengthKind.LLVAR),
        BmpSpec(0x23, "track_2", LengthKind.LLVAR),
        BmpSpec(0x24, "track_3", LengthKind.LLLVAR),
        _fixed(0x27, "result_code", 1),
        _fixed(0x29, "terminal_id", 4),
        _fixed(0x2A, "vu_number", 15),
        BmpSpec(0x2D, "track_1", LengthKind.LLVAR),
        BmpSpec(0x2E, "sync_chip_data", LengthKind.LLLVAR),
        _fixed(0x37, "original_trace_no", 3),
        _fixed(0x3A, "cvv", 2),
        _fixed(0x3B, "approval_code", 8),
        BmpSpec(0x3C, "additional_data", LengthKind.LLLVAR),
        _fixed(0x3D, "password", 3),
        _fixed(0x49, "currency", 2),
        BmpSpec(0x60, "totals", LengthKind.LLLVAR),
        _fixed(0x87, "receipt_no", 2),
        _fixed(0x88, "turnover_no", 3),
        _fixed(0x8A, "card_type", 1),
        BmpSpec(0x8B, "card_name", LengthKind.LLVAR),
        _fixed(0x8C, "card_type_id", 1),
        BmpSpec(0x92, "offline_chip_data", LengthKind.LLLVAR),
        BmpSpec(0x9A, "geldkarte_record", LengthKind.LLLVAR),
        _fixed(0xA0, "result_code_as", 1),
        BmpSpec(0xA7, "chip_data", LengthKind.LLVAR),
        _fixed(0xAA, "date_long", 3),
        BmpSpec(0xAF, "ef_info", LengthKind.LLLVAR),
        _fixed(0xBA, "aid_parameter", 5),
        _fixed(0xD0, "algorithm_key", 1),
        BmpSpec(0xD1, "card_offset", LengthKind.LLVAR),
        _fixed(0xD2, "card_direction", 1),
        _fixed(0xD3, "key_position", 1),
        _fixed(0xE0, "input_min", 1),
        *(BmpSpec(0xE1 + i, f"text2_line{i + 1}", LengthKind.LLVAR) for i in range(8)),
        _fixed(0xE9, "input_max", 1),
        _fixed(0xEA, "input_echo", 1),
        _fixed(0xEB, "mac", 8),
        _fixed(0xF0, "display_duration", 1),
        *(BmpSpec(0xF1 + i, f"text1_line{i + 1}", LengthKind.LLVAR) for i in range(8)),
        _fixed(0xF9, "beeps", 1),
        _fixed(0xFA, "card_reader", 1),
        _fixed(0xFB, "confirm_input", 1),
        _fixed(0xFC, "dialog_control", 1),
        _fixed(0xFD, "display_device", 1),
    )
}

BMP_AMOUNT, BMP_TLV, BMP_TRACE, BMP_TIME, BMP_DATE = 0x04, 0x06, 0x0B, 0x0C, 0x0D
BMP_SERVICE_BYTE, BMP_PAYMENT_TYPE, BMP_PAN, BMP_RESULT = 0x03, 0x19, 0x22, 0x27
BMP_TERMINAL_ID, BMP_APPROVAL, BMP_CURRENCY, BMP_RECEIPT = 0x29, 0x3B, 0x49, 0x87
BMP_TURNOVER, BMP_CARD_TYPE, BMP_CARD_NAME, BMP_EXPIRY = 0x88, 0x8A, 0x8B, 0x0E


def var_length(length: int, digits: int) -> bytes:
    """The ``F0+digit`` length prefix of an LLVAR (2 digits) or LLLVAR (3) field."""
    if not 0 <= length < 10**digits:
        raise ZvtError(f"{length} bytes do not fit a {digits}-digit length")
    return bytes(0xF0 | int(d) for d in f"{length:0{digits}d}")


def read_var_length(data: bytes) -> int:
    if any(byte & 0xF0 != 0xF0 or byte & 0x0F > 9 for byte in data):
        raise ZvtError(f"not an LL/LLL length: {data.hex(' ').upper()}")
    return int("".join(str(byte & 0x0F) for byte in data))


def tlv_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    if length <= 0xFF:
        return bytes([0x81, length])
    if length <= 0xFFFF:
        return b"\x82" + length.to_bytes(2, "big")
    raise ZvtError(f"a TLV container of {length} bytes is too long")


def _read_tlv_length(data: bytes, pos: int) -> tuple[int, int]:
    """(length, bytes the length took) of a BER length at ``pos``."""
    if pos >= len(data):
        raise ZvtError("the TLV container's length is missing")
    first = data[pos]
    if first < 0x80:
        return first, 1
    count = first & 0x7F
    if count not in (1, 2) or pos + 1 + count > len(data):
        raise ZvtError(f"bad TLV length {data[pos : pos + 3].hex(' ').upper()}")
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), 1 + count


def field_bytes(number: int, value: bytes) -> bytes:
    """One field as it goes on the wire: BMP number, length prefix if any, value."""
    spec = BMPS.get(number)
    if spec is None:
        raise ZvtError(f"unknown BMP {number:02X}")
    match spec.kind:
        case LengthKind.FIXED:
            if len(value) != spec.size:
                raise ZvtError(f"BMP {number:02X} ({spec.name}) is {spec.size} bytes, not {len(value)}")
            prefix = b""
        case LengthKind.LLVAR:
            prefix = var_length(len(value), 2)
        case LengthKind.LLLVAR:
            prefix = var_length(len(value), 3)
        case LengthKind.TLV:
            prefix = tlv_length(len(value))
    return bytes([number]) + prefix + bytes(value)


def parse_fields(data: bytes) -> dict[int, bytes]:
    """A sequence of fields: BMP number -> value (without its length prefix).

    A repeated field keeps its last value.  An unknown BMP raises ``ZvtError``: its
    length cannot be known, so nothing after it could be read either.
    """
    fields: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        number = data[pos]
        spec = BMPS.get(number)
        if spec is None:
            raise ZvtError(f"unknown BMP {number:02X} at byte {pos}")
        pos += 1
        match spec.kind:
            case LengthKind.FIXED:
                length = spec.size
            case LengthKind.LLVAR | LengthKind.LLLVAR:
                digits = 2 if spec.kind is LengthKind.LLVAR else 3
                if pos + digits > len(data):
                    raise ZvtError(f"BMP {number:02X} ({spec.name}) is cut short")
                length = read_var_length(data[pos : pos + digits])
                pos += digits
            case LengthKind.TLV:
                length, taken = _read_tlv_length(data, pos)
                pos += taken
        if pos + length > len(data):
            raise ZvtError(f"BMP {number:02X} ({spec.name}) is cut short")
        fields[number] = data[pos : pos + length]
        pos += length
    return fields


def read_pan(value: bytes) -> str:
    """The card number as the terminal shows it: ``E`` digits masked (``*``), ``F`` padding."""
    out = []
    for nibble in value.hex().upper():
        if nibble == "F":
            break
        out.append("*" if nibble == "E" else nibble)
    return "".join(out)


def pan_bytes(masked: str) -> bytes:
    """``read_pan`` reversed (for the simulator): ``*`` becomes ``E``, odd lengths pad ``F``."""
    nibbles = masked.replace("*", "E")
    if len(nibbles) % 2:
        nibbles += "F"
    return bytes.fromhex(nibbles)


def _ascii(value: bytes) -> str:
    return value.decode("ascii", "replace").strip("\x00 ")


# --------------------------------------------------------------------------- what the codes mean

#: Result codes -> (reason, words).  The reason is what a till switches on; the words are
#: for the cashier.  Codes 1-99 come from the card network, 100 and up from the terminal.
RESULT_CODES: dict[int, tuple[str, str]] = {
    0x00: ("approved", "approved"),
    5: ("declined", "declined by the card issuer (do not honour)"),
    12: ("declined", "declined: invalid transaction"),
    14: ("declined", "declined: invalid card number"),
    33: ("card_expired", "the card has expired"),
    43: ("declined", "declined: stolen card, keep it"),
    51: ("insufficient_funds", "declined: not enough funds"),
    54: ("card_expired", "the card has expired"),
    55: ("wrong_pin", "wrong PIN"),
    57: ("declined", "declined: not permitted for this card"),
    61: ("declined", "declined: amount over the card's limit"),
    75: ("pin_tries_exceeded", "too many wrong PINs: the card is blocked for PIN payments"),
    91: ("issuer_unavailable", "the card issuer cannot be reached"),
    0x64: ("card_not_readable", "the card could not be read"),
    0x65: ("card_not_readable", "no card data (neither chip nor stripe)"),
    0x66: ("terminal_error", "processing error (card reader)"),
    0x67: ("declined", "not permitted for debit cards"),
    0x68: ("declined", "not permitted for credit cards"),
    0x6A: ("terminal_error", "the terminal's turnover file is full: run end of day"),
    0x6B: ("terminal_not_ready", "the function is deactivated (terminal not registered)"),
    0x6C: ("aborted", "aborted on the terminal (cancel key, or no card within its time limit)"),
    0x6E: ("declined", "the card is on the blocked list"),
    0x6F: ("wrong_currency", "the terminal does not take this currency"),
    0x71: ("insufficient_funds", "not enough credit on the chip"),
    0x72: ("card_not_readable", "chip error"),
    0x73: ("card_not_readable", "card data incorrect"),
    0x77: ("terminal_error", "end of day not possible"),
    0x78: ("card_expired", "the card has expired"),
    0x79: ("declined", "the card is not yet valid"),
    0x7A: ("declined", "unknown card"),
    0x7D: ("issuer_unavailable", "communication error (network module)"),
    0x83: ("terminal_error", "function not possible"),
    0x89: ("terminal_error", "the PIN pad is defective"),
    0x9A: ("protocol_error", "ZVT protocol error"),
    0x9B: ("issuer_unavailable", "dial-up or communication fault"),
    0x9C: ("terminal_busy", "the terminal is busy; please wait"),
    0xA0: ("issuer_unavailable", "receiver not ready"),
    0xA1: ("issuer_unavailable", "the remote station does not respond"),
    0xA3: ("issuer_unavailable", "no connection"),
    0xB4: ("already_reversed", "already reversed"),
    0xB5: ("reversal_not_possible", "reversal not possible (no such receipt)"),
    0xB7: ("declined", "amount wrong or too high"),
    0xC3: ("amount_too_high", "maximum amount exceeded"),
    0xC6: ("wrong_currency", "currency not applicable"),
    0xC8: ("amount_too_low", "amount too small"),
    0xCC: ("terminal_error", "the terminal's printer is not ready"),
    0xDC: ("terminal_busy", "a card is still inserted"),
    0xE2: ("terminal_error", "the card reader does not answer"),
    0xF0: ("terminal_error", "an end-of-day batch is open"),
    0xFF: ("terminal_error", "system error"),
}

#: Codes 1-99 not listed above are the card network's: a decline with that code.
NETWORK_CODES = range(1, 100)


def describe_result(code: int) -> tuple[str, str]:
    known = RESULT_CODES.get(code)
    if known is not None:
        return known
    if code in NETWORK_CODES:
        return "declined", f"declined by the card network (response code {code:02d})"
    return "terminal_error", f"terminal error {code:02X}"


#: Intermediate status -> (stage, words): what the customer is being asked to do.  Codes
#: 0x41-0x5D are 0x01-0x1D with "please remove card" added (``remove_card``).
STAGES: dict[int, tuple[str, str]] = {
    0x00: ("confirm_amount", "waiting for the amount to be confirmed"),
    0x01: ("enter_pin", "please watch the PIN pad"),
    0x02: ("enter_pin", "please watch the PIN pad"),
    0x03: ("not_accepted", "not accepted"),
    0x04: ("waiting_for_host", "waiting for the card network"),
    0x05: ("auto_reversal", "sending an automatic reversal"),
    0x06: ("post_booking", "sending post-bookings"),
    0x07: ("card_not_admitted", "card not admitted"),
    0x08: ("card_unknown", "card unknown"),
    0x09: ("card_expired", "expired card"),
    0x0A: ("insert_card", "insert, tap or swipe the card"),
    0x0B: ("remove_card", "please remove the card"),
    0x0C: ("card_not_readable", "card not readable"),
    0x0D: ("processing_error", "processing error"),
    0x0E: ("please_wait", "please wait"),
    0x0F: ("end_of_day", "automatic end of day running"),
    0x10: ("invalid_card", "invalid card"),
    0x11: ("balance_display", "showing the balance"),
    0x12: ("system_malfunction", "system malfunction"),
    0x13: ("payment_not_possible", "payment not possible"),
    0x14: ("insufficient_funds", "credit not sufficient"),
    0x15: ("wrong_pin", "wrong PIN"),
    0x16: ("limit_not_sufficient", "limit not sufficient"),
    0x17: ("please_wait", "please wait"),
    0x18: ("pin_tries_exceeded", "PIN try limit exceeded"),
    0x19: ("card_data_incorrect", "card data incorrect"),
    0x1A: ("service_mode", "service mode"),
    0x1B: ("approved", "approved, please fill up"),
    0x1C: ("approved", "approved, please take the goods"),
    0x1D: ("declined", "declined"),
    0x26: ("enter_phone_number", "waiting for the mobile number"),
    0x28: ("currency_selection", "currency selection, please wait"),
    0x29: ("language_selection", "language selection, please wait"),
    0x2C: ("application_selection", "application selection, please wait"),
    0x68: ("card_inserted", "card inserted"),
    0xC8: ("waiting_for_cashier", "waiting for the cashier"),
    0xD2: ("connecting", "connecting to the card network"),
    0xD3: ("connected", "connected to the card network"),
    0xE0: ("application_selection", "waiting for the application to be chosen"),
    0xE1: ("language_selection", "waiting for the language to be chosen"),
    0xF1: ("offline", "offline"),
    0xF2: ("online", "online"),
    0xF3: ("offline_transaction", "offline transaction"),
}

#: 0x41-0x5D: the message of (code - 0x40), and "please remove card".
REMOVE_CARD_FLAG = 0x40
_REMOVE_CARD_CODES = range(0x41, 0x5E)


def describe_stage(code: int) -> tuple[str, str, bool]:
    """(stage, words, remove_card) of an intermediate status code."""
    if code in _REMOVE_CARD_CODES:
        stage, words = STAGES.get(code - REMOVE_CARD_FLAG, ("remove_card", "please remove the card"))
        return stage, f"{words}; please remove the card", True
    stage, words = STAGES.get(code, ("terminal_busy", f"terminal status {code:02X}"))
    return stage, words, code == 0x0B


# --------------------------------------------------------------------------- commands (ECR -> terminal)

#: Registration's config byte (bit meanings from the specification's table).
CONFIG_ECR_PRINTS_PAYMENT_RECEIPT = 0x02
CONFIG_ECR_PRINTS_ADMIN_RECEIPT = 0x04
CONFIG_INTERMEDIATE_STATUS = 0x08
CONFIG_ECR_CONTROLS_PAYMENT = 0x10
CONFIG_ECR_CONTROLS_ADMIN = 0x20
#: Set: the terminal sends receipts line by line (06 D1); clear: the ECR builds them
#: from the Status-Information, and the terminal prints nothing.
CONFIG_ECR_PRINT_LINES = 0x80

#: What the hub registers with: it wants every stage for the till; it keeps the
#: receipts (the Status-Information is the receipt data, so a Repeat Receipt prints
#: nothing on the terminal); and amounts come only from the till.
DEFAULT_CONFIG = (
    CONFIG_ECR_PRINTS_PAYMENT_RECEIPT
    | CONFIG_ECR_PRINTS_ADMIN_RECEIPT
    | CONFIG_INTERMEDIATE_STATUS
    | CONFIG_ECR_CONTROLS_PAYMENT
)


def registration(
    pwd: str, *, config: int = DEFAULT_CONFIG, currency: int | None = None, service_byte: int | None = None
) -> Apdu:
    """``06 00``: password, config byte, [currency, [03 service byte]].

    The currency here is two bare BCD bytes (no BMP 49), as in the specification's
    layout and Wireshark's dissector; the service byte is a BMP and needs the currency
    before it.
    """
    data = password(pwd) + bytes([config])
    if currency is not None:
        data += bcd(currency, 2)
        if service_byte is not None:
            data += field_bytes(BMP_SERVICE_BYTE, bytes([service_byte]))
    elif service_byte is not None:
        raise ZvtError("Registration's service byte comes after the currency")
    return apdu(Control.REGISTRATION, data)


def authorization(amount: int, currency: int | None = None) -> Apdu:
    """``06 01``: a card payment of ``amount`` minor units."""
    data = field_bytes(BMP_AMOUNT, _amount(amount))
    if currency is not None:
        data += field_bytes(BMP_CURRENCY, bcd(currency, 2))
    return apdu(Control.AUTHORIZATION, data)


def refund(pwd: str, amount: int, currency: int | None = None) -> Apdu:
    """``06 31``: money back onto the card presented."""
    data = password(pwd) + field_bytes(BMP_AMOUNT, _amount(amount))
    if currency is not None:
        data += field_bytes(BMP_CURRENCY, bcd(currency, 2))
    return apdu(Control.REFUND, data)


def reversal(pwd: str, receipt_no: int) -> Apdu:
    """``06 30``: take back the payment with this receipt number (same batch, same day)."""
    if not 0 <= receipt_no <= MAX_RECEIPT_NO:
        raise ZvtError(f"receipt numbers are 0..{MAX_RECEIPT_NO}")
    return apdu(Control.REVERSAL, password(pwd) + field_bytes(BMP_RECEIPT, bcd(receipt_no, 2)))


def end_of_day(pwd: str) -> Apdu:
    """``06 50``: send the day's batch to the card network and start a new one."""
    return apdu(Control.END_OF_DAY, password(pwd))


def status_enquiry(pwd: str) -> Apdu:
    """``05 01``: is the terminal ready?  Answered by Completion with its status."""
    return apdu(Control.STATUS_ENQUIRY, password(pwd))


def repeat_receipt(pwd: str) -> Apdu:
    """``06 20``: the last transaction again (how the hub recovers a lost answer)."""
    return apdu(Control.REPEAT_RECEIPT, password(pwd))


def abort_request() -> Apdu:
    """``06 B0``: the ECR asks the terminal to abort the running card dialogue."""
    return apdu(Control.ABORT_REQUEST)


def ack() -> Apdu:
    """``80 00 00``: taken."""
    return Apdu(POSITIVE, 0x00)


def nack(code: int) -> Apdu:
    """``84 xx 00``: refused with result code ``xx``."""
    return Apdu(NEGATIVE, code)


def _amount(amount: int) -> bytes:
    if not 0 < amount <= MAX_AMOUNT:
        raise ZvtError(f"an amount is 1..{MAX_AMOUNT} minor units, not {amount}")
    return bcd(amount, AMOUNT_BYTES)


# --------------------------------------------------------------------------- terminal -> ECR messages


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """``80 00`` (positive) or ``84 xx`` (negative, ``code`` = xx)."""

    positive: bool
    code: int = 0

    @property
    def reason(self) -> str:
        return "approved" if self.positive else describe_result(self.code)[0]


@dataclass(frozen=True, slots=True)
class IntermediateStatus:
    """``04 FF``: how far the card dialogue has come."""

    code: int
    #: Seconds the terminal will wait at this stage, if it says.
    timeout: int | None
    stage: str
    text: str
    remove_card: bool


@dataclass(frozen=True, slots=True)
class Card:
    name: str | None = None
    #: ZVT card type number (BMP 8A): 5 girocard, 6 Mastercard, 10 Visa…
    type: int | None = None
    #: Masked as the terminal sent it (``*`` for hidden digits).
    pan: str | None = None
    #: YYMM.
    expiry: str | None = None


@dataclass(frozen=True, slots=True)
class StatusInformation:
    """``04 0F``: a transaction's result and data (the receipt's contents)."""

    result_code: int | None = None
    amount: int | None = None
    currency: int | None = None
    trace_no: int | None = None
    receipt_no: int | None = None
    turnover_no: int | None = None
    #: "HH:MM:SS" and "MM-DD" on the terminal's clock.
    time: str | None = None
    date: str | None = None
    terminal_id: str | None = None
    approval_code: str | None = None
    payment_type: int | None = None
    card: Card = field(default_factory=Card)

    @property
    def approved(self) -> bool:
        return self.result_code == 0

    @property
    def reason(self) -> str:
        return describe_result(self.result_code or 0)[0]


@dataclass(frozen=True, slots=True)
class Completion:
    """``06 0F``: the terminal is done and gives the ECR the master role back."""

    #: Status-Enquiry's answer starts with the terminal's software version (LLLVAR) and
    #: its status code (00 ready).
    software: str | None = None
    terminal_status: int | None = None
    status_byte: int | None = None
    terminal_id: str | None = None
    currency: int | None = None


@dataclass(frozen=True, slots=True)
class TerminalAbort:
    """``06 1E``: the command ended without success; ``result_code`` says why."""

    result_code: int
    reason: str
    text: str


Message = Acknowledgement | IntermediateStatus | StatusInformation | Completion | TerminalAbort | Apdu


def parse_message(message: Apdu) -> Message:
    """A terminal's APDU as a typed message (an unknown one comes back as the ``Apdu``)."""
    match message.cls, message.control:
        case cls, _ if cls in (POSITIVE, NEGATIVE):
            return Acknowledgement(cls == POSITIVE, message.instr)
        case _, Control.INTERMEDIATE_STATUS:
            return parse_intermediate_status(message.data)
        case _, Control.STATUS_INFORMATION:
            return parse_status_information(message.data)
        case _, Control.COMPLETION:
            return parse_completion(message.data)
        case _, Control.ABORT:
            return parse_abort(message.data)
    return message


def parse_intermediate_status(data: bytes) -> IntermediateStatus:
    """``<status> [<timeout>] [06 TLV]``."""
    if not data:
        raise ZvtError("an intermediate status needs its status byte")
    code = data[0]
    timeout = data[1] if len(data) > 1 else None
    stage, text, remove_card = describe_stage(code)
    return IntermediateStatus(code, timeout, stage, text, remove_card)


def parse_status_information(data: bytes) -> StatusInformation:
    fields = parse_fields(data)

    def clock(bmp: int, separator: str) -> str | None:
        if bmp not in fields:
            return None
        digits = fields[bmp].hex()
        return separator.join(digits[i : i + 2] for i in range(0, len(digits), 2))

    card = Card(
        name=_ascii(fields[BMP_CARD_NAME]) if BMP_CARD_NAME in fields else None,
        type=fields[BMP_CARD_TYPE][0] if BMP_CARD_TYPE in fields else None,
        pan=read_pan(fields[BMP_PAN]) if BMP_PAN in fields else None,
        expiry=fields[BMP_EXPIRY].hex() if BMP_EXPIRY in fields else None,
    )
    return StatusInformation(
        result_code=fields[BMP_RESULT][0] if BMP_RESULT in fields else None,
        amount=_optional_bcd(fields, BMP_AMOUNT),
        currency=_optional_bcd(fields, BMP_CURRENCY),
        trace_no=_optional_bcd(fields, BMP_TRACE),
        receipt_no=_optional_bcd(fields, BMP_RECEIPT),
        turnover_no=_optional_bcd(fields, BMP_TURNOVER),
        time=clock(BMP_TIME, ":"),
        date=clock(BMP_DATE, "-"),
        terminal_id=fields[BMP_TERMINAL_ID].hex() if BMP_TERMINAL_ID in fields else None,
        approval_code=_ascii(fields[BMP_APPROVAL]) if BMP_APPROVAL in fields else None,
        payment_type=fields[BMP_PAYMENT_TYPE][0] if BMP_PAYMENT_TYPE in fields else None,
        card=card,
    )


def parse_completion(data: bytes) -> Completion:
    """``[<software LLLVAR> <terminal status>] [19 status byte] [29 TID] [49 currency] [06 TLV]``.

    Whether the software version is there depends on the command answered (Status-
    Enquiry sends it); it is told apart by its length bytes, which are always F0-F9,
    while the fields that may come first otherwise (19, 29, 49, 06) never are.
    """
    software = terminal_status = None
    pos = 0
    if len(data) >= 3 and all(byte & 0xF0 == 0xF0 for byte in data[:3]):
        length = read_var_length(data[:3])
        if 3 + length > len(data):
            raise ZvtError("Completion's software version is cut short")
        software = _ascii(data[3 : 3 + length])
        pos = 3 + length
        if pos < len(data):
            terminal_status, pos = data[pos], pos + 1
    fields = parse_fields(data[pos:])
    return Completion(
        software=software,
        terminal_status=terminal_status,
        status_byte=fields[BMP_PAYMENT_TYPE][0] if BMP_PAYMENT_TYPE in fields else None,
        terminal_id=fields[BMP_TERMINAL_ID].hex() if BMP_TERMINAL_ID in fields else None,
        currency=_optional_bcd(fields, BMP_CURRENCY),
    )


def parse_abort(data: bytes) -> TerminalAbort:
    """``06 1E <result code> [fields]`` (an empty one is an unspecified error, FF)."""
    code = data[0] if data else 0xFF
    reason, text = describe_result(code)
    return TerminalAbort(code, reason, text)


# --------------------------------------------------------------------------- terminal -> ECR (building)
# The simulator speaks with these; tests check them against bytes written by hand.


def intermediate_status(code: int, timeout: int | None = None) -> Apdu:
    return apdu(Control.INTERMEDIATE_STATUS, bytes([code]) + (bytes([timeout]) if timeout is not None else b""))


def status_information(
    *,
    result_code: int,
    amount: int | None = None,
    currency: int | None = None,
    trace_no: int | None = None,
    receipt_no: int | None = None,
    turnover_no: int | None = None,
    time: str | None = None,
    date: str | None = None,
    terminal_id: str | None = None,
    approval_code: str | None = None,
    card: Card | None = None,
) -> Apdu:
    """``04 0F`` with the fields given, in the order terminals send them.

    ``time`` is "HH:MM:SS" or "HHMMSS", ``date`` "MM-DD" or "MMDD", ``terminal_id`` eight
    digits, ``approval_code`` up to eight characters.
    """
    data = field_bytes(BMP_RESULT, bytes([result_code]))
    if amount is not None:
        data += field_bytes(BMP_AMOUNT, bcd(amount, AMOUNT_BYTES))
    if trace_no is not None:
        data += field_bytes(BMP_TRACE, bcd(trace_no, 3))
    if time is not None:
        data += field_bytes(BMP_TIME, bytes.fromhex(time.replace(":", "")))
    if date is not None:
        data += field_bytes(BMP_DATE, bytes.fromhex(date.replace("-", "")))
    if card is not None and card.expiry is not None:
        data += field_bytes(BMP_EXPIRY, bytes.fromhex(card.expiry))
    if card is not None and card.pan is not None:
        data += field_bytes(BMP_PAN, pan_bytes(card.pan))
    if terminal_id is not None:
        data += field_bytes(BMP_TERMINAL_ID, bytes.fromhex(terminal_id))
    if approval_code is not None:
        data += field_bytes(BMP_APPROVAL, approval_code.encode("ascii").ljust(8, b"\x00")[:8])
    if currency is not None:
        data += field_bytes(BMP_CURRENCY, bcd(currency, 2))
    if receipt_no is not None:
        data += field_bytes(BMP_RECEIPT, bcd(receipt_no, 2))
    if turnover_no is not None:
        data += field_bytes(BMP_TURNOVER, bcd(turnover_no, 3))
    if card is not None and card.type is not None:
        data += field_bytes(BMP_CARD_TYPE, bytes([card.type]))
    if card is not None and card.name is not None:
        data += field_bytes(BMP_CARD_NAME, card.name.encode("ascii"))
    return apdu(Control.STATUS_INFORMATION, data)


def completion(
    *,
    software: str | None = None,
    terminal_status: int | None = None,
    status_byte: int | None = None,
    terminal_id: str | None = None,
    currency: int | None = None,
) -> Apdu:
    data = b""
    if software is not None:
        encoded = software.encode("ascii")
        data += var_length(len(encoded), 3) + encoded + bytes([terminal_status or 0])
    if status_byte is not None:
        data += field_bytes(BMP_PAYMENT_TYPE, bytes([status_byte]))
    if terminal_id is not None:
        data += field_bytes(BMP_TERMINAL_ID, bytes.fromhex(terminal_id))
    if currency is not None:
        data += field_bytes(BMP_CURRENCY, bcd(currency, 2))
    return apdu(Control.COMPLETION, data)


def terminal_abort(result_code: int) -> Apdu:
    return apdu(Control.ABORT, bytes([result_code]))


# --------------------------------------------------------------------------- ECR -> terminal (parsing)
# What the simulator reads.


@dataclass(frozen=True, slots=True)
class Registration:
    password: str
    config: int
    currency: int | None
    service_byte: int | None


@dataclass(frozen=True, slots=True)
class Authorization:
    amount: int
    currency: int | None


@dataclass(frozen=True, slots=True)
class Refund:
    password: str
    amount: int
    currency: int | None


@dataclass(frozen=True, slots=True)
class Reversal:
    password: str
    receipt_no: int | None


@dataclass(frozen=True, slots=True)
class PasswordCommand:
    """End-of-Day, Status-Enquiry, Repeat Receipt: a password and maybe a service byte."""

    control: int
    password: str


@dataclass(frozen=True, slots=True)
class AbortRequest:
    pass


Request = Registration | Authorization | Refund | Reversal | PasswordCommand | AbortRequest | Acknowledgement | Apdu


def parse_request(message: Apdu) -> Request:
    """An ECR's APDU as a typed request (an unknown one comes back as the ``Apdu``)."""
    if message.cls in (POSITIVE, NEGATIVE):
        return Acknowledgement(message.cls == POSITIVE, message.instr)
    data = message.data
    match message.control:
        case Control.REGISTRATION:
            if len(data) < 4:
                raise ZvtError("Registration needs a password and a config byte")
            currency = read_bcd(data[4:6]) if len(data) >= 6 else None
            rest = parse_fields(data[6:]) if len(data) > 6 else {}
            service = rest.get(BMP_SERVICE_BYTE)
            return Registration(data[:3].hex(), data[3], currency, service[0] if service else None)
        case Control.AUTHORIZATION:
            fields = parse_fields(data)
            if BMP_AMOUNT not in fields:
                raise ZvtError("Authorization without an amount")
            return Authorization(read_bcd(fields[BMP_AMOUNT]), _optional_bcd(fields, BMP_CURRENCY))
        case Control.REFUND:
            fields = parse_fields(_after_password(data))
            if BMP_AMOUNT not in fields:
                raise ZvtError("Refund without an amount")
            return Refund(data[:3].hex(), read_bcd(fields[BMP_AMOUNT]), _optional_bcd(fields, BMP_CURRENCY))
        case Control.REVERSAL:
            fields = parse_fields(_after_password(data))
            return Reversal(data[:3].hex(), _optional_bcd(fields, BMP_RECEIPT))
        case Control.END_OF_DAY | Control.STATUS_ENQUIRY | Control.REPEAT_RECEIPT:
            parse_fields(_after_password(data))  # a service byte or TLV may follow
            return PasswordCommand(message.control, data[:3].hex())
        case Control.ABORT_REQUEST:
            return AbortRequest()
    return message


def _after_password(data: bytes) -> bytes:
    if len(data) < 3:
        raise ZvtError("the command needs the 3-byte password first")
    return data[3:]


def _optional_bcd(fields: dict[int, bytes], bmp: int) -> int | None:
    return read_bcd(fields[bmp]) if bmp in fields else None


# --------------------------------------------------------------------------- one command's dialogue


class DialogueState(Enum):
    #: Command sent; waiting for ``80 00`` (or ``84 xx``).
    AWAITING_ACK = "awaiting_ack"
    #: The terminal took it and is master: statuses until Completion or Abort.
    RUNNING = "running"
    #: Completion or Abort received (and acknowledged).
    DONE = "done"
    #: ``84 xx``: the terminal refused the command; nothing happened.
    REFUSED = "refused"


@dataclass
class Dialogue:
    """The ECR's side of one command, without I/O.

    ``start()`` gives the command's bytes; every APDU the terminal sends then goes to
    ``receive``, which returns it typed with the bytes to send back (the ECR's ``80 00 00``
    for each terminal message; nothing for the terminal's own acknowledgements).  When
    ``finished``, ``status`` holds the last Status-Information, ``completion`` or
    ``abort`` how it ended, ``refusal`` a ``84 xx``.
    """

    command: Apdu
    state: DialogueState = DialogueState.AWAITING_ACK
    stages: list[IntermediateStatus] = field(default_factory=list)
    status: StatusInformation | None = None
    completion: Completion | None = None
    abort: TerminalAbort | None = None
    refusal: Acknowledgement | None = None
    #: APDUs the terminal sent that this dialogue has no use for (print lines…), acknowledged.
    other: list[Apdu] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in (DialogueState.DONE, DialogueState.REFUSED)

    @property
    def accepted(self) -> bool:
        """The terminal took the command (so it may have acted on it)."""
        return self.state in (DialogueState.RUNNING, DialogueState.DONE)

    @property
    def failure_code(self) -> int | None:
        """The result code of a refusal (``84 xx``) or an abort, else None."""
        if self.refusal is not None:
            return self.refusal.code
        return self.abort.result_code if self.abort is not None else None

    def start(self) -> bytes:
        return self.command.to_bytes()

    def receive(self, message: Apdu) -> tuple[Message, bytes]:
        typed = parse_message(message)
        if isinstance(typed, Acknowledgement):
            if self.state is DialogueState.AWAITING_ACK:
                if typed.positive:
                    self.state = DialogueState.RUNNING
                else:
                    self.refusal, self.state = typed, DialogueState.REFUSED
            # In the dialogue, an 80 00 answers an Abort (06 B0) the ECR sent: nothing to do.
            return typed, b""
        if self.state is DialogueState.AWAITING_ACK:
            # Some terminals skip the 80 00 and start the dialogue at once.
            self.state = DialogueState.RUNNING
        match typed:
            case IntermediateStatus():
                self.stages.append(typed)
            case StatusInformation():
                self.status = typed
            case Completion():
                self.completion, self.state = typed, DialogueState.DONE
            case TerminalAbort():
                self.abort, self.state = typed, DialogueState.DONE
            case _:
                self.other.append(message)
        return typed, ack().to_bytes()

    def outcome(self) -> dict[str, Any]:
        """A summary for logs."""
        return {
            "state": self.state.value,
            "stages": [s.stage for s in self.stages],
            "result_code": self.status.result_code if self.status else (self.abort.result_code if self.abort else None),
        }
