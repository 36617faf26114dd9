"""The simulated ШТРИХ-М-01Ф over its real pty: the link as the register's side of it,
receipts, shifts, faults, and a third-party driver (pyshtrih) that knows nothing of us.

The host side is ``devices/shtrikh.py``'s ``ShtrikhLink`` driven over pyserial by a small
blocking helper, or raw bytes where the test is about the link itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyshtrih
import pytest
import serial

from devices import shtrikh
from devices.shtrikh import (
    ACK,
    ENQ,
    ERROR_MESSAGES,
    FLAG_COVER_OPEN,
    FLAG_RECEIPT_ROLL,
    NAK,
    CorruptFrame,
    DocumentType,
    FiscalDocumentType,
    Frame,
    FrameParser,
    LinkState,
    Mode,
    ReceiptOperation,
    Reply,
    ShtrikhLink,
    Submode,
    build_frame,
    parse_reply,
)
from devices.sim import fiscal_register as sim
from devices.sim.fiscal_register import (
    CashMovement,
    FiscalRegisterSimulator,
    PrintedText,
    Receipt,
    ReceiptLine,
    SerialFiscalRegister,
    ShiftReport,
    ShtrikhRegister,
)

#: The register's byte timeout in these tests: short, so a dropped frame is quick to show.
BYTE_TIMEOUT = 0.05
#: How long the host waits for one byte (ACK/NAK) and for a reply frame.  The simulator
#: answers in microseconds; these only bound a failing test.
ANSWER_TIMEOUT = 0.3
REPLY_TIMEOUT = 1.0
#: A wait that shows silence: two byte timeouts with nothing on the line, where the
#: simulator answers within a millisecond.
QUIET_S = 0.1

OPERATOR, OTHER_OPERATOR, ADMIN = 1, 2, 30
OPENED = datetime(2024, 3, 1, 9, 0)

MILK = "Молоко 3,2% 1 л"
BREAD = "Хлеб «Бородинский»"


class ShopClock:
    """The register's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Host:
    """A driver's side of the line, blocking: one ``ShtrikhLink`` exchange per command."""

    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port

    def ask(self, request: Frame, *, reply_timeout: float = REPLY_TIMEOUT) -> Reply:
        link = ShtrikhLink(answer_timeout=ANSWER_TIMEOUT, reply_timeout=reply_timeout)
        self.port.write(link.start(request))
        while link.busy:
            self.port.timeout = link.wait_seconds
            data = self.port.read(1)
            if data:
                data += self.port.read(self.port.in_waiting)
            answer = link.receive(data) if data else link.timed_out()
            if answer:
                self.port.write(answer)
        assert link.state is LinkState.DONE, link.error
        assert link.reply is not None
        return parse_reply(link.reply)

    def ok(self, request: Frame, *, reply_timeout: float = REPLY_TIMEOUT) -> Reply:
        reply = self.ask(request, reply_timeout=reply_timeout)
        assert reply.ok, f"{request.cmd:#x}: {reply.message}"
        return reply

    def refused(self, request: Frame) -> int:
        reply = self.ask(request)
        assert not reply.ok, f"{request.cmd:#x} was accepted"
        assert reply.data == b"", "a refusal carries the error code alone"
        return reply.error

    def short_status(self) -> shtrikh.ShortStatus:
        return shtrikh.parse_short_status(self.ok(shtrikh.short_status(OPERATOR)))


@pytest.fixture
def clock() -> ShopClock:
    return ShopClock(OPENED)


LINK = Path("serial") / "by-id" / "usb-SHTRIH-M_SHTRIH-M-01F-if00"


def start_device(tmp_path: Path, clock: ShopClock) -> SerialFiscalRegister:
    """The register with its memory in the test's state folder (fresh for each test)."""
    register = SerialFiscalRegister(
        tmp_path / LINK, ShtrikhRegister(clock=clock, state_dir=tmp_path / "sim"), byte_timeout=BYTE_TIMEOUT
    )
    register.start()
    return register


@pytest.fixture
def device(tmp_path: Path, clock: ShopClock) -> Iterator[SerialFiscalRegister]:
    register = start_device(tmp_path, clock)
    yield register
    if register.running:
        register.stop()
    register.register.close()


@pytest.fixture
def port(device: SerialFiscalRegister) -> Iterator[serial.SerialBase]:
    line = serial.serial_for_url(str(device.link), timeout=ANSWER_TIMEOUT)
    yield line
    line.close()


@pytest.fixture
def host(port: serial.SerialBase) -> Host:
    return Host(port)


def read_frame(port: serial.SerialBase) -> bytes:
    """One whole frame as it came off the line (STX LEN body LRC), or what arrived of it."""
    head = port.read(2)
    if len(head) < 2:
        return head
    return head + port.read(head[1] + 1)


def silent(port: serial.SerialBase) -> bool:
    """Nothing comes for ``QUIET_S``."""
    timeout, port.timeout = port.timeout, QUIET_S
    try:
        return port.read(1) == b""
    finally:
        port.timeout = timeout


def wait_for(condition, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the simulator never got there"
        time.sleep(0.005)


def item(name: str, qty: int, price: int, group: int, *, pwd: int = OPERATOR, department: int = 1) -> Frame:
    return shtrikh.sale(pwd, qty=qty, price=price, department=department, tax_groups=(group,), name=name)


def open_receipt(host: Host) -> None:
    host.ok(shtrikh.open_shift(OPERATOR))
    host.ok(shtrikh.open_document(OPERATOR, DocumentType.SALE))
    host.ok(item(MILK, 2000, 8990, 1))


# --------------------------------------------------------------------------- the link


def test_an_idle_register_answers_enq_with_nak(port: serial.SerialBase):
    port.write(bytes([ENQ]))
    assert port.read(1) == bytes([NAK])
    port.write(bytes([ENQ]))
    assert port.read(1) == bytes([NAK]) and silent(port), "one NAK per ENQ, nothing else"


def test_a_command_is_acknowledged_then_answered_and_long_commands_echo_both_bytes(port: serial.SerialBase):
    port.write(shtrikh.short_status(OPERATOR).to_bytes())
    assert port.read(1) == bytes([ACK])
    raw = read_frame(port)
    assert raw[2:4] == bytes([0x10, 0x00])  # CMD ERR ...
    assert len(raw) == 2 + 1 + 1 + 14 + 1  # STX LEN, CMD ERR, 14 bytes of status, LRC
    port.write(bytes([ACK]))

    port.write(shtrikh.fn_status(ADMIN).to_bytes())
    assert port.read(1) == bytes([ACK])
    raw = read_frame(port)
    assert raw[2:5] == bytes([0xFF, 0x01, 0x00])  # the two-byte command, then ERR
    assert FrameParser.parse_one(raw) == Frame(0xFF01, raw[4:-1])
    port.write(bytes([ACK]))


def test_an_answer_not_acknowledged_is_held_and_sent_again_after_enq_never_run_twice(
    device: SerialFiscalRegister, host: Host, port: serial.SerialBase
):
    host.ok(shtrikh.open_shift(OPERATOR))
    port.write(shtrikh.cash_in(OPERATOR, 50_000).to_bytes())
    assert port.read(1) == bytes([ACK])
    first = read_frame(port)
    assert FrameParser.parse_one(first).cmd == 0x50

    port.write(bytes([NAK]))  # "garbled": the register keeps the answer and waits for ENQ
    assert silent(port)
    port.write(bytes([ENQ]))
    assert port.read(1) == bytes([ACK])
    assert read_frame(port) == first
    # The ACK is lost: the host asks again, and again gets the same answer.
    port.write(bytes([ENQ]))
    assert port.read(1) == bytes([ACK])
    assert read_frame(port) == first
    port.write(bytes([ACK]))
    port.write(bytes([ENQ]))
    assert port.read(1) == bytes([NAK]), "acknowledged: nothing held any more"

    assert device.register.cash_in_drawer == 50_000
    assert [doc.kind for doc in device.documents()] == ["shift_opened", "cash_in"]


def test_a_frame_with_a_bad_lrc_gets_nak_and_is_not_executed(device: SerialFiscalRegister, port: serial.SerialBase):
    seen: list[int] = []
    device.on_command(lambda frame, stage: seen.append(frame.cmd))
    good = shtrikh.open_shift(OPERATOR).to_bytes()
    port.write(good[:-1] + bytes([good[-1] ^ 0x55]))
    assert port.read(1) == bytes([NAK])
    assert silent(port)
    assert seen == [] and device.register.shift is None
    port.write(good)
    assert port.read(1) == bytes([ACK])
    assert parse_reply(FrameParser.parse_one(read_frame(port))).ok
    assert device.register.shift == 1


def test_a_frame_that_stops_arriving_is_dropped_after_the_byte_timeout(
    device: SerialFiscalRegister, port: serial.SerialBase
):
    frame = shtrikh.short_status(OPERATOR).to_bytes()
    port.write(frame[:3])
    wait_for(lambda: device.simulator.bytes_received >= 3)
    time.sleep(BYTE_TIMEOUT * 3)
    port.write(bytes([ENQ]))  # would be the frame's next byte, had the register waited
    assert port.read(1) == bytes([NAK])
    assert device.simulator.frames_dropped == 1

    # The same gap, shorter than the timeout, is one frame.
    port.write(frame[:3])
    wait_for(lambda: device.simulator.bytes_received >= 7)
    port.write(frame[3:])
    assert port.read(1) == bytes([ACK])
    assert parse_reply(FrameParser.parse_one(read_frame(port))).ok
    assert device.simulator.frames_dropped == 1


def test_a_garbled_reply_is_asked_for_again_and_the_command_runs_once(
    device: SerialFiscalRegister, host: Host, port: serial.SerialBase
):
    host.ok(shtrikh.open_shift(OPERATOR))
    device.simulator.garble_next()
    port.write(shtrikh.cash_in(OPERATOR, 1_000).to_bytes())
    assert port.read(1) == bytes([ACK])
    assert isinstance(FrameParser.parse_one(read_frame(port)), CorruptFrame)
    port.write(bytes([NAK, ENQ]))
    assert port.read(1) == bytes([ACK])
    assert parse_reply(FrameParser.parse_one(read_frame(port))).ok  # the same answer, whole
    port.write(bytes([ACK]))

    device.simulator.garble_next()
    host.ok(shtrikh.cash_in(OPERATOR, 2_000))  # ShtrikhLink: NAK, ENQ, the answer again
    assert device.register.cash_in_drawer == 3_000


def test_a_truncated_reply_is_asked_for_again_and_the_command_runs_once(device: SerialFiscalRegister, host: Host):
    host.ok(shtrikh.open_shift(OPERATOR))
    device.simulator.truncate_next()
    # The host waits out its reply timeout, sends ENQ, and gets the answer whole.
    reply = host.ok(shtrikh.cash_in(OPERATOR, 7_000), reply_timeout=QUIET_S)
    assert shtrikh.parse_cash_movement(reply).document_number == 2
    assert device.register.cash_in_drawer == 7_000
    assert device.simulator.commands == 2


def test_a_slow_register_acknowledges_at_once_and_answers_when_done(
    device: SerialFiscalRegister, port: serial.SerialBase
):
    device.simulator.slow_s = 0.2
    started = time.monotonic()
    port.write(shtrikh.short_status(OPERATOR).to_bytes())
    assert port.read(1) == bytes([ACK])
    assert time.monotonic() - started < 0.1
    port.timeout = 2
    assert FrameParser.parse_one(read_frame(port)).cmd == 0x10
    assert time.monotonic() - started >= 0.2


# --------------------------------------------------------------------------- receipts


def test_a_receipt_with_two_tax_groups_paid_in_cash_and_by_card(
    device: SerialFiscalRegister, host: Host, clock: ShopClock
):
    host.ok(shtrikh.open_shift(OPERATOR))
    clock.advance(minutes=5)
    host.ok(shtrikh.open_document(OPERATOR, DocumentType.SALE))
    host.ok(item(MILK, 2000, 8990, 1))  # 2 × 89.90, VAT group 1
    host.ok(item(BREAD, 1000, 5490, 2, department=3))  # 54.90, VAT group 2
    host.ok(item("Яблоки Голден", 1250, 12990, 2))  # 1.250 kg × 129.90 = 162.375 -> 162.38
    status = host.short_status()
    assert (status.mode, status.open_document_type, status.operations_in_document) == (
        Mode.DOCUMENT_OPEN,
        DocumentType.SALE,
        3,
    )
    host.ok(shtrikh.print_line(OPERATOR, "Покупатель: +7 900 000-00-00"))
    closed = shtrikh.parse_close_document(host.ok(shtrikh.close_document(OPERATOR, payments=[30_000, 10_000])))
    total = 17_980 + 5_490 + 16_238
    assert closed.change == 30_000 + 10_000 - total

    [receipt] = device.receipts()
    assert receipt.lines == (
        ReceiptLine(MILK, 2000, 8990, 1, (1,), 17_980),
        ReceiptLine(BREAD, 1000, 5490, 3, (2,), 5_490),
        ReceiptLine("Яблоки Голден", 1250, 12990, 1, (2,), 16_238),
    )
    assert (receipt.document_type, receipt.total, receipt.payments, receipt.change) == (
        DocumentType.SALE,
        total,
        (30_000, 10_000, 0, 0),
        closed.change,
    )
    assert receipt.by_tax_group == {1: 17_980, 2: 5_490 + 16_238}
    assert receipt.text == ("Покупатель: +7 900 000-00-00",)
    assert (receipt.number, receipt.shift, receipt.operator, receipt.printed_at) == (
        2,
        1,
        OPERATOR,
        OPENED + timedelta(minutes=5),
    )
    assert device.register.cash_in_drawer == total - 10_000, "the card part never touches the drawer"

    # Registration 1, shift opened 2, this receipt 3.
    assert receipt.fiscal_number == 3
    fn = shtrikh.parse_fn_status(host.ok(shtrikh.fn_status(ADMIN)))
    assert fn.last_document_number == 3 and fn.shift_open and fn.current_document == shtrikh.FN_NO_DOCUMENT
    found = shtrikh.parse_fiscal_document(host.ok(shtrikh.fn_find_document(ADMIN, 3)))
    assert found == shtrikh.FiscalDocument(
        type=FiscalDocumentType.RECEIPT,
        confirmed_by_operator=False,
        issued=(2024, 3, 1, 9, 5),
        number=3,
        fiscal_sign=receipt.fiscal_sign,
        operation=ReceiptOperation.SALE,
        total=total,
    )
    assert receipt.fiscal_sign is not None and 0 <= receipt.fiscal_sign < 2**32
    full = shtrikh.parse_full_status(host.ok(shtrikh.full_status(OPERATOR)))
    assert (full.document_number, full.clock, full.mode, full.last_closed_shift) == (
        2,
        (2024, 3, 1, 9, 5, 0),
        Mode.SHIFT_OPEN,
        0,
    )


def test_the_fiscal_sign_is_the_same_for_the_same_document_and_differs_for_another(clock: ShopClock):
    def sign_of(price: int) -> int:
        register = ShtrikhRegister(clock=clock)
        for frame in (
            shtrikh.open_shift(OPERATOR),
            item(MILK, 1000, price, 1),
            shtrikh.close_document(OPERATOR, payments=[price]),
        ):
            assert parse_reply(register.execute(frame)).ok
        sign = register.receipts()[0].fiscal_sign
        assert sign is not None
        return sign

    assert sign_of(8990) == sign_of(8990)
    assert sign_of(8990) != sign_of(8991)


def test_a_sale_with_no_document_open_opens_a_sale_receipt(device: SerialFiscalRegister, host: Host):
    host.ok(shtrikh.open_shift(OPERATOR))
    host.ok(item(MILK, 1000, 8990, 1))
    assert host.short_status().open_document_type == DocumentType.SALE
    assert device.register.open_document == (
        DocumentType.SALE,
        OPERATOR,
        (ReceiptLine(MILK, 1000, 8990, 1, (1,), 8990),),
    )


def test_a_refund_pays_its_cash_out_of_the_drawer(device: SerialFiscalRegister, host: Host):
    host.ok(shtrikh.open_shift(OPERATOR))
    host.ok(shtrikh.cash_in(OPERATOR, 5_000))
    host.ok(shtrikh.open_document(OPERATOR, DocumentType.RETURN_SALE))
    assert host.refused(item(MILK, 1000, 8990, 1)) == 0x49, "a sale line in a return receipt"
    host.ok(shtrikh.return_sale(OPERATOR, qty=1000, price=8990, tax_groups=(1,), name=MILK))
    assert host.refused(shtrikh.close_document(OPERATOR, payments=[8_990])) == 0x46, "5000 in the drawer"
    host.ok(shtrikh.close_document(OPERATOR, payments=[3_990, 5_000]))  # partly back to the card
    [refund] = device.receipts()
    assert (refund.document_type, refund.total, refund.change) == (DocumentType.RETURN_SALE, 8_990, 0)
    assert device.register.cash_in_drawer == 5_000 - 3_990
    last = shtrikh.parse_fn_status(host.ok(shtrikh.fn_status(ADMIN))).last_document_number
    found = shtrikh.parse_fiscal_document(host.ok(shtrikh.fn_find_document(ADMIN, last)))
    assert (found.operation, found.total) == (ReceiptOperation.RETURN_SALE, 8_990)


def test_payments_short_of_the_total_are_refused_and_the_receipt_stays_open(device: SerialFiscalRegister, host: Host):
    open_receipt(host)  # 179.80
    assert host.refused(shtrikh.close_document(OPERATOR, payments=[10_000, 7_000])) == 0x45
    assert host.refused(shtrikh.close_document(OPERATOR, payments=[0, 20_000])) == 0x4D, "no change from a card"
    assert host.short_status().document_open and device.receipts() == []
    host.ok(shtrikh.close_document(OPERATOR, payments=[0, 17_980]))
    assert device.receipts()[0].payments == (0, 17_980, 0, 0)


def test_cancel_annuls_the_open_receipt_without_a_fiscal_document(device: SerialFiscalRegister, host: Host):
    open_receipt(host)
    assert host.refused(shtrikh.cancel_document(OTHER_OPERATOR)) == 0x59
    host.ok(shtrikh.cancel_document(OPERATOR))
    assert host.short_status().mode == Mode.SHIFT_OPEN
    assert host.refused(shtrikh.cancel_document(OPERATOR)) == 0x55, "nothing left to cancel"
    assert device.receipts() == []
    annulled = device.documents()[-1]
    assert isinstance(annulled, Receipt) and annulled.annulled and annulled.fiscal_number is None
    assert annulled.lines[0].name == MILK and annulled.number == 2
    assert shtrikh.parse_fn_status(host.ok(shtrikh.fn_status(ADMIN))).last_document_number == 2


def test_cash_in_and_out_move_the_drawer_and_are_numbered(device: SerialFiscalRegister, host: Host):
    assert host.refused(shtrikh.cash_in(OPERATOR, 1_000)) == 0x16, "no shift open"
    host.ok(shtrikh.open_shift(OPERATOR))
    moved = shtrikh.parse_cash_movement(host.ok(shtrikh.cash_in(OPERATOR, 100_000)))
    assert (moved.operator, moved.document_number) == (OPERATOR, 2)
    assert host.refused(shtrikh.cash_out(OPERATOR, 100_001)) == 0x46
    assert shtrikh.parse_cash_movement(host.ok(shtrikh.cash_out(OPERATOR, 40_000))).document_number == 3
    assert device.register.cash_in_drawer == 60_000
    assert [
        (doc.direction, doc.amount, doc.cash_in_drawer) for doc in device.documents() if isinstance(doc, CashMovement)
    ] == [
        ("in", 100_000, 100_000),
        ("out", 40_000, 60_000),
    ]


# --------------------------------------------------------------------------- the shift


def test_a_shift_over_24_hours_refuses_fiscal_work_until_the_z_report(
    device: SerialFiscalRegister, host: Host, clock: ShopClock
):
    host.ok(shtrikh.open_shift(OPERATOR))
    host.ok(shtrikh.cash_in(OPERATOR, 1_000))
    clock.advance(hours=23, minutes=59)
    assert host.short_status().mode == Mode.SHIFT_OPEN
    clock.advance(minutes=1)
    assert host.short_status().shift_over_24h
    for refused in (
        item(MILK, 1000, 8990, 1),
        shtrikh.open_document(OPERATOR, DocumentType.SALE),
        shtrikh.cash_in(OPERATOR, 1_000),
    ):
        assert host.refused(refused) == 0x4E
    assert host.refused(shtrikh.z_report(OPERATOR)) == 0x4F, "a cashier cannot close the shift"
    host.ok(shtrikh.z_report(ADMIN))
    assert host.short_status().mode == Mode.SHIFT_CLOSED
    assert shtrikh.parse_full_status(host.ok(shtrikh.full_status(OPERATOR))).last_closed_shift == 1
    z = device.documents()[-1]
    assert isinstance(z, ShiftReport) and (z.report, z.shift, z.cash_in) == ("z", 1, 1_000)
    assert z.fiscal_number == 3  # registration, shift opened, shift closed

    host.ok(shtrikh.open_shift(OPERATOR))
    host.ok(item(MILK, 1000, 8990, 1))
    assert device.register.shift == 2


def test_the_shift_must_be_open_once_and_closed_once(host: Host):
    assert host.refused(item(MILK, 1000, 8990, 1)) == 0x16
    assert host.refused(shtrikh.z_report(ADMIN)) == 0x16
    host.ok(shtrikh.open_shift(OPERATOR))
    assert host.refused(shtrikh.open_shift(OPERATOR)) == 0x15


def test_an_x_report_prints_the_totals_so_far_and_keeps_the_shift(device: SerialFiscalRegister, host: Host):
    open_receipt(host)
    host.ok(shtrikh.close_document(OPERATOR, payments=[20_000]))
    host.ok(shtrikh.x_report(ADMIN))
    x = device.documents()[-1]
    assert isinstance(x, ShiftReport) and (x.report, x.sales, x.receipts, x.fiscal_number) == ("x", 17_980, 1, None)
    assert host.short_status().mode == Mode.SHIFT_OPEN


# --------------------------------------------------------------------------- faults


def test_paper_out_while_idle_refuses_printing_until_a_roll_is_loaded(device: SerialFiscalRegister, host: Host):
    device.register.paper_out()
    status = host.short_status()
    assert status.submode == Submode.PAPER_OUT and status.paper_out and not status.flags & FLAG_RECEIPT_ROLL
    assert host.refused(shtrikh.open_shift(OPERATOR)) == 0x6B
    device.register.paper_in()
    assert host.short_status().submode == Submode.PAPER_PRESENT
    host.ok(shtrikh.open_shift(OPERATOR))


def test_paper_out_mid_receipt_keeps_it_open_until_paper_and_continue_printing(
    device: SerialFiscalRegister, host: Host
):
    open_receipt(host)
    device.register.paper_out()
    status = host.short_status()
    assert (status.mode, status.submode) == (Mode.DOCUMENT_OPEN, Submode.PAPER_OUT_WHILE_PRINTING)
    assert host.refused(shtrikh.close_document(OPERATOR, payments=[20_000])) == 0x6B
    assert host.refused(shtrikh.continue_printing(OPERATOR)) == 0x6B
    device.register.paper_in()
    assert host.short_status().submode == Submode.WAITING_CONTINUE
    assert host.refused(shtrikh.close_document(OPERATOR, payments=[20_000])) == 0x58
    host.ok(shtrikh.continue_printing(OPERATOR))
    assert host.short_status().submode == Submode.PAPER_PRESENT
    host.ok(shtrikh.close_document(OPERATOR, payments=[20_000]))
    assert device.receipts()[0].lines[0].name == MILK
    assert host.refused(shtrikh.continue_printing(OPERATOR)) == 0x72, "nothing waits to be printed"


def test_an_open_cover_shows_in_the_flags_and_stops_printing(device: SerialFiscalRegister, host: Host):
    host.ok(shtrikh.open_shift(OPERATOR))
    device.register.cover_open()
    status = host.short_status()
    assert status.cover_open and status.flags & FLAG_COVER_OPEN
    assert host.refused(item(MILK, 1000, 8990, 1)) == sim.ERROR_COVER_OPEN
    assert host.refused(shtrikh.x_report(ADMIN)) == sim.ERROR_COVER_OPEN
    device.register.cover_close()
    assert not host.short_status().cover_open
    host.ok(item(MILK, 1000, 8990, 1))


def test_wrong_passwords_and_operators_are_refused(device: SerialFiscalRegister, host: Host):
    assert host.refused(shtrikh.short_status(31)) == 0x4F
    assert host.refused(shtrikh.x_report(OPERATOR)) == 0x4F, "reports want an administrator"
    assert host.refused(shtrikh.fn_status(OPERATOR)) == 0x4F, "the fiscal storage wants the system administrator"
    assert shtrikh.parse_short_status(host.ok(shtrikh.short_status(ADMIN))).operator == 30
    open_receipt(host)
    assert host.refused(item(BREAD, 1000, 5490, 2, pwd=OTHER_OPERATOR)) == 0x59
    assert host.refused(shtrikh.close_document(OTHER_OPERATOR, payments=[20_000])) == 0x59
    assert host.refused(shtrikh.print_line(OTHER_OPERATOR, "чужой")) == 0x59
    host.ok(shtrikh.close_document(OPERATOR, payments=[20_000]))


def test_passwords_can_be_changed(clock: ShopClock):
    register = ShtrikhRegister(clock=clock, passwords={1: 1234, 30: 4321})
    assert parse_reply(register.execute(shtrikh.short_status(1))).error == 0x4F
    assert parse_reply(register.execute(shtrikh.short_status(1234))).data[0] == 1
    assert parse_reply(register.execute(shtrikh.x_report(4321))).ok


def test_commands_that_cannot_run_inside_a_document_are_refused(device: SerialFiscalRegister, host: Host):
    open_receipt(host)
    for refused in (
        shtrikh.open_document(OPERATOR, DocumentType.SALE),
        shtrikh.x_report(ADMIN),
        shtrikh.z_report(ADMIN),
        shtrikh.cash_in(OPERATOR, 100),
        shtrikh.cut(OPERATOR),
    ):
        assert host.refused(refused) == 0x4A, hex(refused.cmd)
    assert host.refused(shtrikh.open_shift(OPERATOR)) == 0x4A
    host.ok(shtrikh.print_line(OPERATOR, "Спасибо за покупку!"))  # a line inside the receipt is fine
    host.ok(shtrikh.close_document(OPERATOR, payments=[20_000]))
    assert device.receipts()[0].text == ("Спасибо за покупку!",)
    host.ok(shtrikh.print_line(OPERATOR, "Следующая касса"))
    assert device.documents()[-1] == PrintedText("Следующая касса", OPERATOR, OPENED, shtrikh.RECEIPT_TAPE)


def test_unknown_commands_and_bad_lengths(host: Host, port: serial.SerialBase):
    assert host.refused(Frame(0xA0, shtrikh.password(ADMIN))) == 0x37  # an EKLZ report: not on a ФН register
    assert host.refused(Frame(0x10, b"\x01\x00\x00")) == 0x09  # a 3-byte password
    assert host.refused(Frame(0x80, shtrikh.password(OPERATOR) + b"\x00" * 5)) == 0x09
    port.write(build_frame(0xFF03, shtrikh.password(ADMIN)))  # a fiscal storage command we do not know
    assert port.read(1) == bytes([ACK])
    assert read_frame(port) == build_frame(0xFF03, b"\x37")
    port.write(bytes([ACK]))
    device = shtrikh.parse_device_type(host.ok(shtrikh.device_type()))
    assert (device.name, device.model) == ("ШТРИХ-М-01Ф", sim.MODEL)


def test_every_error_the_simulator_gives_is_a_register_error_code():
    codes = {value for name, value in vars(sim).items() if name.startswith("ERROR_") and isinstance(value, int)}
    assert codes and codes <= set(ERROR_MESSAGES)


# --------------------------------------------------------------------------- power and hooks


def test_a_power_cut_mid_receipt_silences_the_register_and_keeps_the_document(
    device: SerialFiscalRegister, host: Host, port: serial.SerialBase
):
    open_receipt(host)
    host.ok(item(BREAD, 1000, 5490, 2))
    device.simulator.power_cut(0.25)
    port.write(bytes([ENQ]))
    port.write(shtrikh.short_status(OPERATOR).to_bytes())
    assert silent(port), "no answer at all while the power is off"
    wait_for(lambda: device.simulator.powered)
    status = host.short_status()
    assert (status.mode, status.open_document_type, status.operations_in_document) == (
        Mode.DOCUMENT_OPEN,
        DocumentType.SALE,
        2,
    )
    assert [line.name for line in device.register.open_document[2]] == [MILK, BREAD]
    host.ok(shtrikh.close_document(OPERATOR, payments=[30_000]))
    assert device.receipts()[0].total == 17_980 + 5_490


def test_a_power_cut_loses_the_unacknowledged_answer_but_not_what_was_done(
    device: SerialFiscalRegister, host: Host, port: serial.SerialBase
):
    open_receipt(host)
    port.write(shtrikh.close_document(OPERATOR, payments=[20_000]).to_bytes())
    assert port.read(1) == bytes([ACK])
    assert read_frame(port)  # the answer went out, but the host never acknowledged it
    device.simulator.power_cut(0.1)
    wait_for(lambda: device.simulator.powered)
    port.write(bytes([ENQ]))
    assert port.read(1) == bytes([NAK]), "the held answer died with the power"
    # What the register did, it did: the receipt is signed, and the storage says so.
    assert len(device.receipts()) == 1
    assert shtrikh.parse_fn_status(host.ok(shtrikh.fn_status(ADMIN))).last_document_number == 3


def test_hooks_see_each_command_before_and_after_and_may_hold_it(device: SerialFiscalRegister, port: serial.SerialBase):
    #: (command, stage, shift open yet, bytes the register had sent by then)
    seen: list[tuple[int, str, bool, int]] = []
    release = threading.Event()

    def hold(frame: Frame, stage: str) -> None:
        seen.append((frame.cmd, stage, device.register.shift is not None, device.simulator.bytes_sent))
        if stage == "received":
            release.wait(2)

    stop = device.on_command(hold)
    port.write(shtrikh.open_shift(OPERATOR).to_bytes())
    assert port.read(1) == bytes([ACK])
    assert silent(port), "held before executing: no reply yet"
    assert seen == [(0xE0, "received", False, 1)]  # the ACK
    release.set()
    wait_for(lambda: len(seen) == 2)
    reply = read_frame(port)
    assert parse_reply(FrameParser.parse_one(reply)).ok
    assert seen[1] == (0xE0, "replied", True, 1 + len(reply)), "called once the reply was on the line"
    port.write(bytes([ACK]))
    stop()
    port.write(shtrikh.short_status(OPERATOR).to_bytes())
    assert port.read(1) == bytes([ACK]) and read_frame(port)
    assert len(seen) == 2, "unsubscribed"


def test_a_power_cut_before_executing_leaves_the_command_undone(
    device: SerialFiscalRegister, host: Host, port: serial.SerialBase
):
    open_receipt(host)

    def cut_at_close(frame: Frame, stage: str) -> None:
        if frame.cmd == shtrikh.Command.CLOSE_DOCUMENT and stage == "received":
            device.simulator.power_cut(0.2)

    device.on_command(cut_at_close)
    port.write(shtrikh.close_document(OPERATOR, payments=[20_000]).to_bytes())
    assert port.read(1) == bytes([ACK])
    assert silent(port)
    wait_for(lambda: device.simulator.powered)
    port.write(bytes([ENQ]))
    assert port.read(1) == bytes([NAK])
    assert host.short_status().document_open and device.receipts() == []
    assert shtrikh.parse_fn_status(host.ok(shtrikh.fn_status(ADMIN))).last_document_number == 2


# --------------------------------------------------------------------------- memory and the fiscal storage


def test_a_restarted_register_goes_on_from_its_memory(
    tmp_path: Path, clock: ShopClock, device: SerialFiscalRegister, port: serial.SerialBase
):
    """The simulator's process ends and a new one starts on the same state folder, as a
    real register is switched off and on: numbering, shift, open document and the fiscal
    storage's documents are where they were."""
    host = Host(port)
    open_receipt(host)
    host.ok(shtrikh.close_document(OPERATOR, payments=[20_000]))  # document 3
    host.ok(item(BREAD, 1000, 5490, 2))  # the next receipt is still open when it stops
    before = shtrikh.parse_fn_status(host.ok(shtrikh.fn_status(ADMIN)))
    [sold] = device.receipts()
    port.close()
    device.stop()
    device.register.close()

    again = start_device(tmp_path, clock)
    line = serial.serial_for_url(str(again.link), timeout=ANSWER_TIMEOUT)
    try:
        host = Host(line)
        assert host.short_status().open_document_type == DocumentType.SALE
        after = shtrikh.parse_fn_status(host.ok(shtrikh.fn_status(ADMIN)))
        assert (after.storage_number, after.last_document_number, after.shift_open) == (before.storage_number, 3, True)
        found = shtrikh.parse_fiscal_document(host.ok(shtrikh.fn_find_document(ADMIN, 3)))
        assert (found.fiscal_sign, found.total) == (sold.fiscal_sign, sold.total)
        host.ok(shtrikh.close_document(OPERATOR, payments=[10_000]))
        assert shtrikh.parse_fn_status(host.ok(shtrikh.fn_status(ADMIN))).last_document_number == 4
        full = shtrikh.parse_full_status(host.ok(shtrikh.full_status(OPERATOR)))
        assert (full.document_number, full.last_closed_shift) == (3, 0)
    finally:
        line.close()
        again.stop()
        again.register.close()
    # The paper of the first run is not in the new one's hands; its numbers are.
    [receipt] = again.receipts()
    assert (receipt.fiscal_number, receipt.number, receipt.shift) == (4, 3, 1)
    assert [line.name for line in receipt.lines] == [BREAD]
    assert again.register.cash_in_drawer == 17_980 + 5_490


def test_a_state_folder_that_does_not_exist_yet_is_a_fresh_register(tmp_path: Path, clock: ShopClock):
    register = ShtrikhRegister(clock=clock, state_dir=tmp_path / "new" / "sim")
    try:
        assert (register.last_fiscal_number, register.document_number, register.shift) == (1, 0, None)
        assert (tmp_path / "new" / "sim").is_dir()
    finally:
        register.close()


def test_a_new_fiscal_storage_numbers_its_documents_from_one(device: SerialFiscalRegister, host: Host):
    open_receipt(host)
    desk = device.desk_handlers()
    with pytest.raises(ValueError, match="document is open"):
        desk["replace_storage"]({})
    first = shtrikh.parse_close_document(host.ok(shtrikh.close_document(OPERATOR, payments=[20_000])))
    [old] = device.receipts()
    assert old.fiscal_number == 3 and first.change == 20_000 - 17_980

    state = desk["replace_storage"]({})
    assert (state["fn_serial"], state["last_fiscal_document"], state["shift"]) == ("9960440300000002", 1, None)
    assert device.documents()[-1].kind == "z_report", "the shift is closed before the storage comes out"
    assert shtrikh.parse_fn_number(host.ok(shtrikh.fn_number(ADMIN))) == "9960440300000002"
    fn = shtrikh.parse_fn_status(host.ok(shtrikh.fn_status(ADMIN)))
    assert (fn.storage_number, fn.last_document_number, fn.shift_open) == ("9960440300000002", 1, False)
    assert host.refused(shtrikh.fn_find_document(ADMIN, 3)) == sim.ERROR_NO_DATA, "the old storage is gone"

    open_receipt(host)
    host.ok(shtrikh.close_document(OPERATOR, payments=[20_000]))
    new = device.receipts()[-1]
    assert new.fiscal_number == old.fiscal_number == 3 and new.fiscal_sign != old.fiscal_sign
    assert (new.shift, new.number) == (1, old.number + 3), "shifts restart; the running number goes on"

    assert desk["replace_storage"]({"serial": 9960440300000777})["fn_serial"] == "9960440300000777"
    with pytest.raises(ValueError, match="16"):
        desk["replace_storage"]({"serial": "99604403000007770"})


# --------------------------------------------------------------------------- the desk


def test_the_desk_causes_every_fault_and_shows_the_last_receipt(clock: ShopClock):
    line = bytearray()  # what the register sends
    simulator = FiscalRegisterSimulator(ShtrikhRegister(clock=clock), send=line.extend)

    def reply_to_a_status_request() -> bytes:
        """The register's answer to one command, as it went out on the line after its ACK."""
        line.clear()
        simulator.receive(shtrikh.short_status(OPERATOR).to_bytes())
        assert line[:1] == bytes([ACK])
        simulator.receive(bytes([ACK]))  # taken: nothing is held for an ENQ
        return bytes(line[1:])

    desk = simulator.desk_handlers()
    assert desk["last_receipt"]({}) is None
    for frame in (
        shtrikh.open_shift(OPERATOR),
        item(MILK, 1000, 8990, 1),
        shtrikh.close_document(OPERATOR, payments=[10_000]),
    ):
        assert parse_reply(simulator.register.execute(frame)).ok
    last = desk["last_receipt"]({})
    assert last["total"] == 8_990 and last["change"] == 1_010 and MILK in last["paper"] and "ФД 3" in last["paper"]
    assert desk["paper_out"]({})["submode"] == "paper_out" and desk["paper_in"]({})["paper"] is True
    assert desk["cover_open"]({})["cover_open"] is True and desk["cover_close"]({})["cover_open"] is False
    assert desk["slow"]({"seconds": 1.5})["slow_s"] == 1.5
    assert desk["shift_age"]({"hours": 25})["mode"] == "shift_over_24h"
    assert desk["clock_offset"]({"hours": -2})["mode"] == "shift_open"
    assert desk["power_cut"]({"seconds": 60})["powered"] is False and desk["power_on"]({})["powered"] is True
    assert parse_reply(FrameParser.parse_one(reply_to_a_status_request())).ok  # whole before the faults
    desk["garble_next"]({})
    assert isinstance(FrameParser.parse_one(reply_to_a_status_request()), CorruptFrame)
    whole = reply_to_a_status_request()
    assert parse_reply(FrameParser.parse_one(whole)).ok  # only the next one
    desk["truncate_next"]({"count": 2})
    for _ in range(2):
        cut_short = reply_to_a_status_request()
        assert len(cut_short) < len(whole) and whole.startswith(cut_short)
    assert reply_to_a_status_request() == whole  # only the next two
    assert len(desk["receipts"]({"count": 5})) == 1


# --------------------------------------------------------------------------- a third-party driver


def test_pyshtrih_drives_it_as_a_shtrih_m_01f(device: SerialFiscalRegister):
    [found] = pyshtrih.discovery(port=str(device.link), baudrate=115200)
    assert isinstance(found, pyshtrih.ShtrihM01F) and found.name == "ШТРИХ-М-01Ф"

    register = pyshtrih.ShtrihM01F(str(device.link), 115200, timeout=1)
    register.connect()
    try:
        assert register.state()["Режим ФР"].state == (Mode.SHIFT_CLOSED, 0)
        full = register.full_state()
        assert (full["Заводской номер"], full["Дата"]) == (12_345_678, OPENED.date())
        register.open_shift()
        register.open_check(DocumentType.SALE)
        register.sale((MILK, 2000, 8990), tax1=1)  # pyshtrih pads the name to 48 bytes
        register.sale((BREAD, 1000, 5490), tax1=2)
        assert register.close_check(cash=25_000)["Сдача"] == 25_000 - 23_470
        register.x_report()
        assert register.fs_state()["Номер последнего ФД"] == 3
        assert register.fs_find_document_by_num(3)["Тип фискального документа"] == FiscalDocumentType.RECEIPT
    finally:
        register.disconnect()

    [receipt] = device.receipts()
    assert [(line.name, line.quantity, line.price, line.department, line.tax_groups) for line in receipt.lines] == [
        (MILK, 2000, 8990, 0, (1,)),
        (BREAD, 1000, 5490, 0, (2,)),
    ]
    assert (receipt.total, receipt.change) == (23_470, 1_530)
    x = device.documents()[-1]
    assert isinstance(x, ShiftReport) and (x.report, x.operator, x.sales) == ("x", 30, 23_470)


def test_pyshtrih_reads_the_fiscal_storage_number_also_after_a_replacement(device: SerialFiscalRegister):
    register = pyshtrih.ShtrihM01F(str(device.link), 115200, timeout=1)
    register.connect()
    try:
        assert bytes(register.fs_state()["Номер ФН"]).decode("ascii") == "9960440300000001"
        # pyshtrih has no method for 0xFF02 (Запрос номера ФН); its protocol sends any
        # command and hands back the reply's bytes: ERR, then the 16-character number.
        raw = register.protocol.command(0xFF02, register.admin_password)
        assert (raw[0], bytes(raw[1:]).decode("ascii")) == (0, "9960440300000001")

        device.desk_handlers()["replace_storage"]({})
        state = register.fs_state()
        assert bytes(state["Номер ФН"]).decode("ascii") == "9960440300000002"
        assert state["Номер последнего ФД"] == 1
        raw = register.protocol.command(0xFF02, register.admin_password)
        assert bytes(raw[1:]).decode("ascii") == "9960440300000002"
    finally:
        register.disconnect()


def test_at_a_line_speed_bytes_take_their_wire_time(tmp_path):
    line = SerialFiscalRegister(tmp_path / "fr", baudrate=115200)
    assert line.line_time(11_520) == pytest.approx(1.0)  # 8N1: ten bits a byte
    assert SerialFiscalRegister(tmp_path / "fr2").line_time(11_520) == 0.0
