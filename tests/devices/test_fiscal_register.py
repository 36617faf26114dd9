"""The fiscal register actor drives the simulated Shtrikh-M register on a real pty.

The real actor runs under the real supervisor in-process, with the hub's real device
journal on a SQLite file; the ``RecordingPort`` stands where the hub's bus port would.
The simulator keeps every document it "printed", so each test checks what the tax
office would see: exactly one receipt per sale.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bus.payloads import DeviceError, ErrorCode
from devices import shtrikh
from devices.actor import DeviceSpec, Job
from devices.fiscal_register import FiscalRegister
from devices.journal import JournalState
from devices.sim.fiscal_register import SerialFiscalRegister, ShtrikhRegister
from devices.supervisor import DeviceSupervisor
from hub.store.journal import StoreDeviceJournal
from tests.conftest import at_nth_command, until
from tests.devices.ports import RecordingPort, journal_at

TILL = "till-1"
DEVICE = "fiscal-1"

#: Short line waits: the simulator answers at once, and a silent one is found quickly.
FAST_LINE = {"answer_timeout_s": 0.1, "reply_timeout_s": 1.0}

#: Cyrillic names, two tax groups, a weighed item, cash and card.
RECEIPT: dict[str, Any] = {
    "lines": [
        {
            "name": "Молоко 3,2% 1л",
            "quantity": 2,
            "price": 8990,
            "tax_group": 2,
            "sku": "MLK-1",
            "gtin": "4601234567893",
        },
        {"name": "Хлеб Бородинский", "quantity": 1, "price": 4500, "tax_group": 2},
        {"name": "Яблоки Гала, кг", "quantity": "0.750", "price": 15990, "tax_group": 1},
        {"name": "Шампунь", "quantity": 1, "price": 29900, "tax_group": 1},
    ],
    "payments": [{"type": "cash", "amount": 30000}, {"type": "card", "amount": 40000}],
    "loyalty_card": "7000123456789",
}
#: 2 x 89.90 + 45.00 + 0.75 x 159.90 (119.925 -> 119.93) + 299.00
RECEIPT_TOTAL = 17980 + 4500 + 11993 + 29900


class Clock:
    """The register's clock, which a test moves forward."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, 0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self.now += timedelta(**delta)


@dataclass
class Bench:
    device: FiscalRegister
    sim: SerialFiscalRegister
    port: RecordingPort
    journal: StoreDeviceJournal
    clock: Clock
    supervisor: DeviceSupervisor

    @property
    def register(self) -> ShtrikhRegister:
        return self.sim.register


def job(action: str, args: dict[str, Any] | None = None, *, key: str | None = None, client: str = TILL) -> Job:
    return Job(
        client=client,
        action=action,
        args=args or {},
        request_id=f"r-{action}-{time.monotonic_ns()}",
        idempotency_key=key,
    )


async def run(device: FiscalRegister, action: str, args: dict[str, Any] | None = None, **kw: Any) -> dict:
    j = job(action, args, **kw)
    device.submit(j)
    return await j.future


def start_register(
    tmp_path: Path, journal: StoreDeviceJournal, sim: SerialFiscalRegister
) -> tuple[DeviceSupervisor, RecordingPort]:
    port = RecordingPort(journal=journal)
    supervisor = DeviceSupervisor(lambda spec: port)
    supervisor.start([DeviceSpec(id=DEVICE, kind="fiscal_register", port=str(sim.link), options=FAST_LINE)])
    return supervisor, port


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    clock = Clock()
    sim = SerialFiscalRegister(
        tmp_path / "dev" / "usb-SHTRIH-M_FR-if00", ShtrikhRegister(clock=clock, state_dir=tmp_path / "sim")
    )
    sim.start()
    journal = journal_at(tmp_path / "hub.db")
    supervisor, port = start_register(tmp_path, journal, sim)
    device = supervisor.get(DEVICE)
    assert isinstance(device, FiscalRegister)
    bench = Bench(device, sim, port, journal, clock, supervisor)
    try:
        await until(lambda: device.status == "idle", timeout=5)
        yield bench
    finally:
        await bench.supervisor.stop()  # the one a restart in the test started, if any
        await supervisor.stop()
        for line in {sim, bench.sim}:  # the test may have started a register of its own
            if line.running:
                line.stop()
            line.register.close()


def closed_receipts(register: ShtrikhRegister) -> list:
    return [receipt for receipt in register.receipts() if not receipt.annulled]


def annulled_receipts(register: ShtrikhRegister) -> list:
    return [document for document in register.documents() if document.kind == "annulled_receipt"]


async def test_a_receipt_is_printed_once_and_reported(bench: Bench):
    result = await run(bench.device, "fiscalize", RECEIPT, key="sale-1")

    receipts = closed_receipts(bench.register)
    assert len(receipts) == 1
    printed = receipts[0]
    assert [line.name for line in printed.lines] == [line["name"] for line in RECEIPT["lines"]]
    assert [line.quantity for line in printed.lines] == [2000, 1000, 750, 1000]
    assert printed.by_tax_group == {2: 17980 + 4500, 1: 11993 + 29900}
    assert printed.total == RECEIPT_TOTAL
    assert printed.payments[:2] == (30000, 40000)
    assert printed.change == 30000 + 40000 - RECEIPT_TOTAL

    assert result["document_number"] == printed.fiscal_number
    assert result["fiscal_sign"] == printed.fiscal_sign
    assert result["total"] == RECEIPT_TOTAL
    assert result["change"] == printed.change
    assert result["issued_at"].startswith("2026-11-24T09:00")
    assert result["loyalty_card"] == "7000123456789"
    assert result["fn_serial"] == bench.register.storage_number == "9960440300000001"

    closed = [event for event in bench.port.events if event.type == "receipt_closed"]
    assert len(closed) == 1
    data = closed[0].data
    assert (data["fn_serial"], data["document_number"]) == ("9960440300000001", printed.fiscal_number)
    assert data["lines"][0] | {} == {
        "name": "Молоко 3,2% 1л", "quantity": "2.000", "price": 8990, "tax_group": 2, "department": 1,
        "sku": "MLK-1", "gtin": "4601234567893", "total": 17980,
    }  # fmt: skip
    assert data["payments"] == RECEIPT["payments"]
    assert data["idempotency_key"] == "sale-1" and data["client"] == TILL
    # Every technician reads the device's topic: the shopper's card is cut short there;
    # the till that asked gets it whole.
    assert data["loyalty_card"] == "…6789"
    [(client, to_till)] = [(c, e) for c, e in bench.port.client_events if e.type == "receipt_closed"]
    assert client == TILL and to_till.data["loyalty_card"] == "7000123456789"
    # The store gets the same receipt as the till, typed, inside the hub's process.
    [(device, booked)] = bench.port.receipts
    assert device == bench.device.id and booked.model_dump(mode="json") == to_till.data


async def test_a_retry_with_the_same_key_gets_the_same_receipt_and_prints_nothing(bench: Bench):
    first = await run(bench.device, "fiscalize", RECEIPT, key="sale-2")
    again = await run(bench.device, "fiscalize", RECEIPT, key="sale-2")
    assert again == first
    assert len(closed_receipts(bench.register)) == 1
    assert len([e for e in bench.port.events if e.type == "receipt_closed"]) == 1
    assert len(bench.port.receipts) == 1


async def test_the_same_key_for_another_receipt_is_a_conflict(bench: Bench):
    await run(bench.device, "fiscalize", RECEIPT, key="sale-3")
    other = RECEIPT | {"payments": [{"type": "cash", "amount": 80000}]}
    with pytest.raises(DeviceError) as refused:
        await run(bench.device, "fiscalize", other, key="sale-3")
    assert refused.value.code == ErrorCode.CONFLICT
    assert len(closed_receipts(bench.register)) == 1


async def test_a_receipt_needs_an_idempotency_key(bench: Bench):
    with pytest.raises(DeviceError) as refused:
        await run(bench.device, "fiscalize", RECEIPT)
    assert refused.value.code == ErrorCode.INVALID_REQUEST
    assert "idempotency_key" in refused.value.message
    assert bench.register.receipts() == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"payments": [{"type": "cash", "amount": 100}]}, "less than the receipt total"),
        ({"payments": [{"type": "card", "amount": RECEIPT_TOTAL + 1}]}, "only cash gives change"),
        (
            {"payments": [{"type": "card", "amount": 1}, {"type": "card", "amount": RECEIPT_TOTAL}]},
            "each payment type once",
        ),
        ({"lines": [RECEIPT["lines"][0] | {"tax_group": 5}]}, "tax_group"),
        ({"lines": [RECEIPT["lines"][0] | {"quantity": "0.0001"}]}, "quantity"),
    ],
)
async def test_a_receipt_that_cannot_be_right_is_refused_before_the_register(bench: Bench, change: dict, words: str):
    with pytest.raises(DeviceError) as refused:
        await run(bench.device, "fiscalize", RECEIPT | change, key="bad")
    assert refused.value.code == ErrorCode.INVALID_REQUEST
    assert words in refused.value.message
    assert bench.register.documents() == []


async def test_the_shift_opens_by_itself_and_an_old_shift_needs_a_z_report(bench: Bench):
    await run(bench.device, "fiscalize", RECEIPT, key="day-1")
    assert bench.register.shift is not None

    bench.clock.advance(hours=24, minutes=1)
    with pytest.raises(DeviceError) as refused:
        await run(bench.device, "fiscalize", RECEIPT, key="day-2")
    assert refused.value.code == ErrorCode.DEVICE_ERROR
    assert refused.value.details["reason"] == "shift_over_24h"
    assert refused.value.details["action_needed"] == "z_report"
    assert len(closed_receipts(bench.register)) == 1

    report = await run(bench.device, "z_report")
    assert report["printed"] == "z_report"
    result = await run(bench.device, "fiscalize", RECEIPT, key="day-2")
    assert len(closed_receipts(bench.register)) == 2
    assert result["document_number"] == closed_receipts(bench.register)[-1].fiscal_number


async def test_paper_out_and_cover_open_are_typed_and_print_nothing(bench: Bench):
    bench.register.paper_out()
    with pytest.raises(DeviceError) as refused:
        await run(bench.device, "fiscalize", RECEIPT, key="paper")
    assert refused.value.details["reason"] == "paper_out" and refused.value.retryable
    bench.register.paper_in()

    bench.register.cover_open()
    with pytest.raises(DeviceError) as refused:
        await run(bench.device, "fiscalize", RECEIPT, key="paper")
    assert refused.value.details["reason"] == "cover_open"
    bench.register.cover_close()

    await run(bench.device, "fiscalize", RECEIPT, key="paper")  # the same key: nothing had printed
    assert len(closed_receipts(bench.register)) == 1


async def test_a_wrong_password_in_the_config_is_named(tmp_path: Path):
    sim = SerialFiscalRegister(tmp_path / "dev" / "fr", ShtrikhRegister())
    sim.start()
    port = RecordingPort(journal=journal_at(tmp_path / "hub.db"))
    device = FiscalRegister(
        DeviceSpec(
            id=DEVICE, kind="fiscal_register", port=str(sim.link), options=FAST_LINE | {"operator_password": 4242}
        ),
        port,
    )
    try:
        await device.open()
        with pytest.raises(DeviceError) as refused:
            await device.open_shift(job("open_shift"))
        assert refused.value.details["reason"] == "wrong_password"
    finally:
        await device.close()
        sim.stop()


async def test_a_document_left_open_by_someone_else_is_refused_then_cancelled(bench: Bench):
    # Another program (a till's own driver, as cashier 1) opened a receipt and went away.
    assert bench.register.execute(shtrikh.open_shift(1)).data[0] == 0
    assert bench.register.execute(shtrikh.open_document(1, shtrikh.DocumentType.SALE)).data[0] == 0
    with pytest.raises(DeviceError) as refused:
        await run(bench.device, "fiscalize", RECEIPT, key="left-open")
    assert refused.value.details["reason"] == "document_open"
    assert refused.value.details["action_needed"] == "cancel_open_document"

    assert await run(bench.device, "cancel_open_document") == {"cancelled": True}
    await run(bench.device, "fiscalize", RECEIPT, key="left-open")
    assert len(closed_receipts(bench.register)) == 1


async def test_another_cashiers_open_document_is_named_and_left_alone(bench: Bench):
    assert bench.register.execute(shtrikh.open_shift(2)).data[0] == 0
    assert bench.register.execute(shtrikh.open_document(2, shtrikh.DocumentType.SALE)).data[0] == 0
    with pytest.raises(DeviceError) as refused:
        await run(bench.device, "cancel_open_document")
    assert refused.value.details["reason"] == "other_operators_document"
    assert not refused.value.retryable
    assert "another cashier" in refused.value.message
    assert bench.register.open_document is not None


async def test_refund_cash_and_reports(bench: Bench):
    await run(bench.device, "fiscalize", RECEIPT, key="sale")
    moved = await run(bench.device, "cash_in", {"amount": 100000})
    assert moved["amount"] == 100000
    refund = {"lines": [RECEIPT["lines"][3]], "payments": [{"type": "cash", "amount": 29900}]}
    result = await run(bench.device, "refund", refund, key="refund-1")
    assert result["operation"] == "refund"
    printed = closed_receipts(bench.register)[-1]
    assert printed.document_type == shtrikh.DocumentType.RETURN_SALE and printed.total == 29900
    assert result["document_number"] == printed.fiscal_number

    await run(bench.device, "cash_out", {"amount": 5000})
    assert (await run(bench.device, "x_report")) == {"printed": "x_report"}
    status = await run(bench.device, "status")
    assert status["shift_open"] and not status["document_open"] and status["model"]
    assert status["last_fiscal_document"] == printed.fiscal_number
    assert status["fn_serial"] == bench.register.storage_number


async def start_again(bench: Bench, tmp_path: Path) -> FiscalRegister:
    """The hub restarted: a new actor on the same journal and the same register."""
    await bench.supervisor.stop()
    supervisor, port = start_register(tmp_path, bench.journal, bench.sim)
    bench.supervisor, bench.port = supervisor, port
    device = supervisor.get(DEVICE)
    assert isinstance(device, FiscalRegister)
    await until(lambda: device.status == "idle", timeout=5)
    bench.device = device
    return device


def power_cut_at(bench: Bench, command: int, stage: str, nth: int = 1) -> threading.Event:
    """Cut the register's power when it reaches the ``nth`` ``command`` at ``stage``
    ("received": before acting on it; "replied": after its answer went out)."""
    # For 600 s: until the test turns it back on.
    hook = at_nth_command(command, stage, nth, lambda: bench.sim.simulator.power_cut(600))
    bench.sim.on_command(hook)
    return hook.reached


@pytest.mark.parametrize(
    ("step", "command", "stage", "nth"),
    [
        ("before open", shtrikh.Command.OPEN_DOCUMENT, "received", 1),  # never acted on
        ("after open", shtrikh.Command.OPEN_DOCUMENT, "replied", 1),
        ("after the first line", shtrikh.Command.SALE, "replied", 1),
        ("after the last line", shtrikh.Command.SALE, "replied", 4),
        ("after close", shtrikh.Command.CLOSE_DOCUMENT, "replied", 1),
    ],
)
async def test_a_receipt_cut_off_at_any_step_is_settled_and_printed_once(
    bench: Bench, tmp_path: Path, step: str, command: int, stage: str, nth: int
):
    """The hub restarts while the register is off; both come back; the till retries."""
    reached = power_cut_at(bench, command, stage, nth)
    with pytest.raises(DeviceError) as lost:
        await run(bench.device, "fiscalize", RECEIPT, key="cut-off")
    assert reached.is_set()
    assert lost.value.code == ErrorCode.DEVICE_OFFLINE
    entry = bench.journal.get(DEVICE, "cut-off")
    assert entry is not None and entry.state is JournalState.STARTED

    bench.sim.simulator.power_on()
    device = await start_again(bench, tmp_path)
    settled = bench.journal.get(DEVICE, "cut-off")
    assert settled is not None and settled.state in (JournalState.DONE, JournalState.VOID), step

    result = await run(device, "fiscalize", RECEIPT, key="cut-off")
    receipts = closed_receipts(bench.register)
    assert len(receipts) == 1, f"{step}: {receipts}"
    assert result["document_number"] == receipts[0].fiscal_number
    assert result["fiscal_sign"] == receipts[0].fiscal_sign
    assert not bench.register.open_document
    annulled = annulled_receipts(bench.register)
    assert len(annulled) == (1 if step in ("after open", "after the first line", "after the last line") else 0)


async def test_a_receipt_cut_off_before_its_storage_was_replaced_is_never_printed_again(bench: Bench, tmp_path: Path):
    """The receipt closed on the old storage and its answer was lost; while the hub was
    down a technician replaced the storage.  The new storage's documents are numbered
    from 1 and are not the receipt's, and the old one cannot be asked: the key is
    settled as unknown, for a person to check, and nothing prints twice."""
    reached = power_cut_at(bench, shtrikh.Command.CLOSE_DOCUMENT, "replied")
    with pytest.raises(DeviceError) as lost:
        await run(bench.device, "fiscalize", RECEIPT, key="before-the-swap")
    assert reached.is_set() and lost.value.code == ErrorCode.DEVICE_OFFLINE
    entry = bench.journal.get(DEVICE, "before-the-swap")
    assert entry is not None and entry.state is JournalState.STARTED
    assert entry.checkpoint == {"last_document": 2, "fn_serial": "9960440300000001"}
    [printed] = closed_receipts(bench.register)

    await bench.supervisor.stop()
    bench.sim.simulator.power_on()
    assert bench.register.replace_storage() == "9960440300000002"
    device = await start_again(bench, tmp_path)

    settled = bench.journal.get(DEVICE, "before-the-swap")
    assert settled is not None and settled.state is JournalState.FAILED
    assert settled.error is not None and settled.error["details"] == {
        "reason": "storage_replaced", "fn_serial_then": "9960440300000001", "fn_serial_now": "9960440300000002",
    }  # fmt: skip
    [(client, told)] = [(c, e) for c, e in bench.port.client_events if e.type == "receipt_reconciled"]
    assert client == TILL and (told.data["outcome"], told.data["printed"]) == ("unknown", None)
    with pytest.raises(DeviceError) as refused:
        await run(device, "fiscalize", RECEIPT, key="before-the-swap")
    assert refused.value.details["reason"] == "storage_replaced" and not refused.value.retryable
    assert closed_receipts(bench.register) == [printed], "the till's retry printed it a second time"

    # The next sale is numbered by the new storage, from 1 again, and says which storage.
    result = await run(device, "fiscalize", RECEIPT, key="after-the-swap")
    assert (result["fn_serial"], result["document_number"]) == ("9960440300000002", printed.fiscal_number)
    assert len(closed_receipts(bench.register)) == 2


async def test_a_receipt_cut_off_on_the_same_storage_is_found_after_the_register_restarted(
    bench: Bench, tmp_path: Path
):
    """The register's own process restarts too (the demo killed): its memory on disk
    still has the receipt, so reconciliation finds it and the retry prints nothing."""
    reached = power_cut_at(bench, shtrikh.Command.CLOSE_DOCUMENT, "replied")
    with pytest.raises(DeviceError):
        await run(bench.device, "fiscalize", RECEIPT, key="kept")
    assert reached.is_set()
    [printed] = closed_receipts(bench.register)
    await bench.supervisor.stop()
    bench.sim.stop()
    bench.sim.register.close()

    bench.sim = SerialFiscalRegister(bench.sim.link, ShtrikhRegister(clock=bench.clock, state_dir=tmp_path / "sim"))
    bench.sim.start()
    device = await start_again(bench, tmp_path)
    result = await run(device, "fiscalize", RECEIPT, key="kept")
    assert (result["document_number"], result["fiscal_sign"]) == (printed.fiscal_number, printed.fiscal_sign)
    assert closed_receipts(bench.register) == [], "the new register process printed nothing"
    again = await run(device, "fiscalize", RECEIPT, key="next")
    assert again["document_number"] == printed.fiscal_number + 1


def power_cut_on_a_line(bench: Bench, seconds: float) -> threading.Event:
    """The register loses power as it takes the second receipt line, for ``seconds``."""
    hook = at_nth_command(shtrikh.Command.SALE, "received", 2, lambda: bench.sim.simulator.power_cut(seconds))
    bench.sim.on_command(hook)
    return hook.reached


async def test_a_power_cut_mid_document_is_settled_when_the_register_returns(bench: Bench):
    cut = power_cut_on_a_line(bench, 3.0)  # longer than the line's patience: offline
    with pytest.raises(DeviceError) as lost:
        await run(bench.device, "fiscalize", RECEIPT, key="power")
    assert cut.is_set()
    assert lost.value.code == ErrorCode.DEVICE_OFFLINE
    await until(lambda: any(event.type == "offline" for event in bench.port.events), timeout=2)
    assert bench.register.open_document is not None  # kept through the power cut

    # Back on: the actor reopens, finds its document open and cancels it.
    await until(lambda: bench.device.status == "idle", timeout=10)
    await until(lambda: not bench.register.open_document, timeout=5)
    entry = bench.journal.get(DEVICE, "power")
    assert entry is not None and entry.state is JournalState.VOID
    assert len(annulled_receipts(bench.register)) == 1
    [told] = [(client, e) for client, e in bench.port.client_events if e.type == "receipt_reconciled"]
    assert told[0] == TILL
    assert told[1].data["idempotency_key"] == "power" and told[1].data["outcome"] == "cancelled"
    assert told[1].data["printed"] is False

    result = await run(bench.device, "fiscalize", RECEIPT, key="power")
    receipts = closed_receipts(bench.register)
    assert len(receipts) == 1 and result["document_number"] == receipts[0].fiscal_number


async def test_a_power_blip_that_loses_an_answer_is_settled_at_once(bench: Bench):
    cut = power_cut_on_a_line(bench, 0.5)  # back before the line gives up: the answer is lost
    with pytest.raises(DeviceError) as lost:
        await run(bench.device, "fiscalize", RECEIPT, key="blip")
    assert cut.is_set()
    assert lost.value.code == ErrorCode.DEVICE_ERROR and lost.value.retryable
    assert lost.value.details == {"reason": "interrupted"}
    assert bench.device.status == "idle"
    assert not bench.register.open_document and len(annulled_receipts(bench.register)) == 1

    result = await run(bench.device, "fiscalize", RECEIPT, key="blip")
    receipts = closed_receipts(bench.register)
    assert len(receipts) == 1 and result["document_number"] == receipts[0].fiscal_number


async def test_garbled_and_truncated_answers_are_asked_again_and_print_once(bench: Bench):
    bench.sim.simulator.garble_next(2)
    await run(bench.device, "fiscalize", RECEIPT, key="noisy-1")
    bench.sim.simulator.truncate_next(2)
    await run(bench.device, "fiscalize", RECEIPT, key="noisy-2")
    receipts = closed_receipts(bench.register)
    assert len(receipts) == 2 and not annulled_receipts(bench.register)
    assert bench.sim.simulator.naks_sent == 0  # our frames arrived whole; only answers were spoiled


async def test_a_slow_register_is_waited_for(bench: Bench):
    bench.sim.simulator.slow_s = 0.15  # each command prints for a while before answering
    result = await run(
        bench.device, "fiscalize", RECEIPT | {"payments": [{"type": "card", "amount": RECEIPT_TOTAL}]}, key="slow"
    )
    assert result["document_number"] == closed_receipts(bench.register)[-1].fiscal_number


async def test_a_cover_opened_mid_receipt_is_named_and_the_receipt_can_be_retried(bench: Bench):
    def open_the_cover(frame: shtrikh.Frame, at: str) -> None:
        if frame.cmd == shtrikh.Command.SALE and at == "received":
            bench.register.cover_open()

    stop = bench.sim.on_command(open_the_cover)
    with pytest.raises(DeviceError) as refused:
        await run(bench.device, "fiscalize", RECEIPT, key="cover")
    stop()
    assert refused.value.details["reason"] == "cover_open" and refused.value.retryable
    # With the cover open the register cannot even cancel: the half-made receipt waits.
    assert bench.register.open_document is not None
    bench.register.cover_close()
    await run(bench.device, "fiscalize", RECEIPT, key="cover")  # settles it first, then prints
    assert len(closed_receipts(bench.register)) == 1 and len(annulled_receipts(bench.register)) == 1
    assert not bench.register.open_document


async def test_a_wrong_password_shows_as_an_error_state_not_a_restart_loop(tmp_path: Path, monkeypatch):
    from devices import fiscal_register

    monkeypatch.setattr(fiscal_register, "IDLE_CHECK_S", 0.05)
    sim = SerialFiscalRegister(tmp_path / "dev" / "fr", ShtrikhRegister())
    sim.start()
    port = RecordingPort(journal=journal_at(tmp_path / "hub.db"))
    supervisor = DeviceSupervisor(lambda spec: port)
    options = FAST_LINE | {"operator_password": 4242}
    supervisor.start([DeviceSpec(id=DEVICE, kind="fiscal_register", port=str(sim.link), options=options)])
    device = supervisor.get(DEVICE)
    assert device is not None
    try:
        await until(lambda: device.status == "error", timeout=5)
        assert device.error == {"code": "wrong_password", "message": "the register refused the configured password"}
        await asyncio.sleep(0.3)  # several idle checks later: still the same, never restarted
        assert device.status == "error" and supervisor.restarts[DEVICE] == 0
        assert [e.type for e in port.events].count("wrong_password") == 1
    finally:
        await supervisor.stop()
        sim.stop()
