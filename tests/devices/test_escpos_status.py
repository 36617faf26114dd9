"""Reading a printer's DLE EOT replies: what it says, and never more than it says."""

from __future__ import annotations

import pytest

from devices.escpos_status import (
    DRAWER_STATUS_REQUEST,
    FULL_STATUS_REQUEST,
    PrinterStatus,
    StatusQuery,
    parse_drawer_status,
    parse_status,
    status_request,
)

#: Replies of a printer with nothing to report: online, cover shut, no error, paper fine.
HEALTHY = bytes([0x12, 0x12, 0x12, 0x12])


def test_the_full_question_is_four_dle_eot_requests_in_one_write():
    assert FULL_STATUS_REQUEST == b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04"
    assert DRAWER_STATUS_REQUEST == b"\x10\x04\x01"
    assert status_request(StatusQuery.ROLL_PAPER) == b"\x10\x04\x04"


def test_a_healthy_printer():
    status = parse_status(HEALTHY)
    assert status == PrinterStatus(online=True, cover_open=False, paper="ok", drawer_open=False, error=None)
    assert status.answered and status.problem() is None


@pytest.mark.parametrize(
    ("printer", "offline_cause", "roll", "paper", "problem"),
    [
        (0x12, 0x12, 0x12 | 0x0C, "near_end", None),  # near the end still prints
        (0x1A, 0x12 | 0x20, 0x12 | 0x60, "out", "paper_out"),
        (0x1A, 0x12 | 0x20, 0x12 | 0x6C, "out", "paper_out"),  # out wins over near end
        (0x1A, 0x12 | 0x20, 0x12, "out", "paper_out"),  # stopped at paper end, whatever the roll sensor says
    ],
)
def test_paper_near_end_and_out(printer: int, offline_cause: int, roll: int, paper: str, problem: str | None):
    status = parse_status(bytes([printer, offline_cause, 0x12, roll]))
    assert status.paper == paper
    assert (status.problem() or (None,))[0] == problem


def test_offline_for_no_reason_given_is_still_a_problem():
    assert parse_status(bytes([0x1A, 0x12, 0x12, 0x12])).problem() == ("printer_offline", "the printer is offline")


def test_cover_open_comes_before_paper():
    status = parse_status(bytes([0x1A, 0x12 | 0x04 | 0x20, 0x12, 0x12 | 0x60]))
    assert status.cover_open is True and status.online is False
    assert status.problem() == ("cover_open", "the printer's cover is open; close it")


def test_errors_from_the_error_cause_byte():
    assert parse_status(bytes([0x1A, 0x52, 0x12 | 0x08, 0x12])).error == "cutter"
    assert parse_status(bytes([0x1A, 0x52, 0x12 | 0x20, 0x12])).error == "unrecoverable"
    assert parse_status(bytes([0x1A, 0x52, 0x12 | 0x40, 0x12])).problem()[0] == "printer_error"


def test_the_drawer_sensor_follows_the_configured_polarity():
    pin_high = bytes([0x12 | 0x04, 0x12, 0x12, 0x12])
    assert parse_status(pin_high).drawer_open is True
    assert parse_status(pin_high, drawer_open_when="low").drawer_open is False
    assert parse_drawer_status(b"\x16") is True
    assert parse_drawer_status(b"\x12") is False
    assert parse_drawer_status(b"\x12", drawer_open_when="low") is True


@pytest.mark.parametrize(
    "replies",
    [
        b"",  # nothing came back: a write-only link, or a printer that did not answer
        b"\x00\x00\x00\x00",  # bits 1 and 4 clear: not status bytes
        b"\xff\xff\xff\xff",  # bit 7 set: noise
        b"A\n",  # text from something else on the line
    ],
)
def test_an_empty_or_invalid_reply_is_unknown_never_ok(replies: bytes):
    status = parse_status(replies)
    assert status == PrinterStatus()
    assert status.paper == "unknown" and status.online is None
    assert not status.answered
    assert status.problem() is None  # unknown is not a reason to refuse, nor a clean bill
    assert parse_drawer_status(replies[:1]) is None


def test_a_partial_reply_tells_what_came_and_leaves_the_rest_unknown():
    status = parse_status(bytes([0x12, 0x12]))  # the paper sensor's answer never came
    assert status.online is True and status.cover_open is False
    assert status.paper == "unknown" and status.error is None
    one_bad = parse_status(bytes([0x12, 0x12, 0x12, 0x80]))
    assert one_bad.paper == "unknown" and one_bad.online is True
