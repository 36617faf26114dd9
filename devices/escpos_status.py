"""What an ESC/POS printer says about itself: DLE EOT requests and their one-byte replies.

``DLE EOT n`` is a real-time command: the printer answers it at once, even while it is
offline or its buffer is full, with one status byte.  Four of them tell a till what it
needs to know before it prints:

    n = 1  printer status     bit 2: drawer sensor (connector pin 3) high, bit 3: offline
    n = 2  offline cause      bit 2: cover open, bit 5: printing stopped at paper end,
                              bit 6: an error occurred
    n = 3  error cause        bit 3: autocutter error, bit 5: unrecoverable error,
                              bit 6: automatically recoverable error (head too hot)
    n = 4  roll paper sensor  bits 2-3: paper near its end, bits 5-6: paper out

Every reply has bit 1 and bit 4 set and bits 0 and 7 clear; that is how a status byte is
told apart from noise.  A missing or malformed reply means *unknown*, never *fine*: a
printer that did not answer may well be out of paper.

This module only builds and parses bytes; the transports that carry them are elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

DLE_EOT = b"\x10\x04"

#: Bits every status reply has set (1 and 4) and clear (0 and 7): ``0b0xx1xx10``.
FIXED_BITS_MASK = 0b1001_0011
FIXED_BITS_VALUE = 0b0001_0010

DRAWER_PIN3_HIGH = 0x04
OFFLINE = 0x08
COVER_OPEN = 0x04
STOPPED_AT_PAPER_END = 0x20
ERROR_OCCURRED = 0x40
CUTTER_ERROR = 0x08
UNRECOVERABLE_ERROR = 0x20
AUTO_RECOVERABLE_ERROR = 0x40
PAPER_NEAR_END = 0x0C
PAPER_OUT = 0x60

Paper = Literal["ok", "near_end", "out", "unknown"]
SensorLevel = Literal["high", "low"]


class StatusQuery(IntEnum):
    PRINTER = 1
    OFFLINE_CAUSE = 2
    ERROR_CAUSE = 3
    ROLL_PAPER = 4


#: The order of the full question, and so of the replies to it.
FULL_QUERY = (StatusQuery.PRINTER, StatusQuery.OFFLINE_CAUSE, StatusQuery.ERROR_CAUSE, StatusQuery.ROLL_PAPER)


def status_request(*queries: StatusQuery) -> bytes:
    """The bytes that ask ``queries`` in one write; the printer answers one byte each, in order."""
    return b"".join(DLE_EOT + bytes([query]) for query in queries)


#: Everything at once: one write, four bytes back, one round trip.
FULL_STATUS_REQUEST = status_request(*FULL_QUERY)

#: Only the drawer sensor (and online): what a drawer watch asks every few hundred ms.
DRAWER_STATUS_REQUEST = status_request(StatusQuery.PRINTER)


def is_status_byte(value: int) -> bool:
    return value & FIXED_BITS_MASK == FIXED_BITS_VALUE


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer reported; ``None`` (or paper ``unknown``) where it did not say."""

    online: bool | None = None
    cover_open: bool | None = None
    paper: Paper = "unknown"
    drawer_open: bool | None = None
    #: ``cutter``, ``unrecoverable`` or ``auto_recoverable`` when the printer reports one.
    error: str | None = None

    @property
    def answered(self) -> bool:
        """Whether the printer said anything usable at all."""
        return self.online is not None or self.paper != "unknown"

    def problem(self) -> tuple[str, str] | None:
        """Why the printer cannot print now, as (code, words for a person), or None.

        Only what the printer actually reported counts: an unknown status is no problem
        found (a printer without a back channel still prints), but it is never ``ok``.
        """
        if self.cover_open:
            return "cover_open", "the printer's cover is open; close it"
        if self.paper == "out":
            return "paper_out", "the printer is out of paper; load a new roll"
        if self.error is not None:
            return "printer_error", f"the printer reports a {self.error.replace('_', ' ')} error"
        if self.online is False:
            return "printer_offline", "the printer is offline"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "online": self.online,
            "cover_open": self.cover_open,
            "paper": self.paper,
            "drawer_open": self.drawer_open,
            "error": self.error,
        }


def parse_status(replies: bytes, *, drawer_open_when: SensorLevel = "high") -> PrinterStatus:
    """Read the replies to ``FULL_STATUS_REQUEST`` (or a prefix of them, if some never came).

    ``drawer_open_when`` says which level of the drawer sensor means open: drawers differ.
    """
    by_query: dict[StatusQuery, int] = {}
    for query, value in zip(FULL_QUERY, replies, strict=False):
        if is_status_byte(value):
            by_query[query] = value
    printer = by_query.get(StatusQuery.PRINTER)
    offline_cause = by_query.get(StatusQuery.OFFLINE_CAUSE)
    error_cause = by_query.get(StatusQuery.ERROR_CAUSE)
    roll = by_query.get(StatusQuery.ROLL_PAPER)
    return PrinterStatus(
        online=None if printer is None else not printer & OFFLINE,
        cover_open=None if offline_cause is None else bool(offline_cause & COVER_OPEN),
        paper=_paper(roll, offline_cause),
        drawer_open=None if printer is None else drawer_open(printer, drawer_open_when),
        error=_error(error_cause),
    )


def drawer_open(printer_status: int, drawer_open_when: SensorLevel = "high") -> bool:
    """The drawer sensor in a ``DLE EOT 1`` reply, read with the drawer's polarity."""
    pin_high = bool(printer_status & DRAWER_PIN3_HIGH)
    return pin_high if drawer_open_when == "high" else not pin_high


def parse_drawer_status(replies: bytes, *, drawer_open_when: SensorLevel = "high") -> bool | None:
    """The drawer in the reply to ``DRAWER_STATUS_REQUEST``; None when there was no valid reply."""
    if not replies or not is_status_byte(replies[0]):
        return None
    return drawer_open(replies[0], drawer_open_when)


def _paper(roll: int | None, offline_cause: int | None) -> Paper:
    if roll is not None:
        if roll & PAPER_OUT == PAPER_OUT:
            return "out"
        if roll & PAPER_NEAR_END == PAPER_NEAR_END:
            return "near_end"
        if offline_cause is not None and offline_cause & STOPPED_AT_PAPER_END:
            return "out"
        return "ok"
    if offline_cause is not None and offline_cause & STOPPED_AT_PAPER_END:
        return "out"
    return "unknown"


def _error(error_cause: int | None) -> str | None:
    if error_cause is None:
        return None
    if error_cause & UNRECOVERABLE_ERROR:
        return "unrecoverable"
    if error_cause & CUTTER_ERROR:
        return "cutter"
    if error_cause & AUTO_RECOVERABLE_ERROR:
        return "auto_recoverable"
    return None
