"""The payment terminal actor against the simulated ZVT terminal, over real TCP.

The actor runs under a real supervisor with the hub's real device journal on a SQLite
file; the ``RecordingPort`` stands where the hub's bus port would.  Nothing is mocked:
the simulator reads the APDUs the actor sends and books what it approves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bus.payloads import DeviceError, ErrorCode
from devices import supervisor as supervisor_module
from devices.actor import DeviceSpec, Job
from devices.journal import JournalEntry, JournalState
from devices.payment_terminal import PaymentTerminal
from devices.sim.zvt_terminal import ZvtTerminalSimulator
from devices.supervisor import DeviceSupervisor
from hub.store.journal import StoreDeviceJournal
from tests.conftest import until
from tests.devices.ports import RecordingPort, journal_at

#: Longest a test waits for the actor to reach a state.
SETTLE_S = 5.0

#: A stage of the simulated card dialogue: short, so a payment takes a tenth of a second.
STEP_S = 0.02

#: A stage long enough for a test to act in the middle of it.
SLOW_STEP_S = 0.5

DEVICE = "terminal-1"


class Rig:
    """A simulated terminal, and the actor driving it under a supervisor."""

    def __init__(self, sim: ZvtTerminalSimulator, journal: StoreDeviceJournal) -> None:
        self.sim = sim
        self.journal = journal
        self.port = RecordingPort(journal=journal)
        self.supervisor = DeviceSupervisor(lambda spec: self.port)
        self._ids = 0

    async def start(self, *, claim_for: str | None = "till-1") -> Rig:
        self.supervisor.start(
            [DeviceSpec(id=DEVICE, kind="payment_terminal", options={"host": "127.0.0.1", "port": self.sim.port})]
        )
        await until(lambda: self.device.status == "idle", timeout=SETTLE_S, what="terminal online")
        if claim_for:
            await self.ask("claim", {"lease_s": 60}, client=claim_for)
        return self

    @property
    def device(self) -> PaymentTerminal:
        device = self.supervisor.get(DEVICE)
        assert isinstance(device, PaymentTerminal)
        return device

    def job(self, action: str, args: dict[str, Any] | None = None, *, key: str | None = None, client: str = "till-1"):
        self._ids += 1
        return Job(client=client, action=action, args=args or {}, request_id=f"r-{self._ids}", idempotency_key=key)

    async def ask(
        self, action: str, args: dict[str, Any] | None = None, *, key: str | None = None, client: str = "till-1"
    ) -> dict[str, Any]:
        """What the hub does with a request: ``handle`` (queue, or answer at once)."""
        return await asyncio.wait_for(self.device.handle(self.job(action, args, key=key, client=client)), SETTLE_S)

    async def refused(self, action: str, args: dict[str, Any] | None = None, **kwargs: Any) -> DeviceError:
        with pytest.raises(DeviceError) as caught:
            await self.ask(action, args, **kwargs)
        return caught.value

    def entry(self, key: str) -> JournalEntry | None:
        return self.journal.get(DEVICE, key)

    def stages(self, client: str = "till-1") -> list[str]:
        return [e.data["stage"] for c, e in self.port.client_events if c == client and e.type == "stage"]

    async def stop(self) -> None:
        await self.supervisor.stop()


@pytest.fixture
def quick_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MIN_S", 0.05)
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MAX_S", 0.1)


@pytest.fixture
async def sim() -> AsyncIterator[ZvtTerminalSimulator]:
    terminal = ZvtTerminalSimulator(step_s=STEP_S, card_timeout_s=0.2)
    await terminal.start()
    try:
        yield terminal
    finally:
        await terminal.stop()


@pytest.fixture
async def rig(sim: ZvtTerminalSimulator, tmp_path: Path, quick_restarts: None) -> AsyncIterator[Rig]:
    started = await Rig(sim, journal_at(tmp_path / "hub.db")).start()
    try:
        yield started
    finally:
        await started.stop()


# --------------------------------------------------------------------------- outcomes


async def test_an_approved_payment_is_booked_once_and_its_retry_gets_the_same_answer(rig: Rig):
    result = await rig.ask("pay", {"amount": 1250, "reference": "sale-17"}, key="sale-17-card")
    [charge] = rig.sim.charges
    assert result["approved"] and result["operation"] == "payment" and not result["recovered"]
    assert (result["amount"], result["currency"], result["reference"]) == (1250, "EUR", "sale-17")
    assert (result["receipt_no"], result["trace_no"]) == (charge.receipt_no, charge.trace_no)
    assert result["approval_code"] == charge.approval_code and result["terminal_id"] == "52500038"
    assert result["card"] == {"name": "Visa", "type": 10, "pan": "************4242"}  # masked, as sent
    entry = rig.entry("sale-17-card")
    assert entry is not None and entry.state is JournalState.DONE and entry.result == result
    assert entry.checkpoint["baseline_known"] and entry.checkpoint["baseline_trace"] is None  # a fresh terminal

    heard = len(rig.sim.received)
    assert await rig.ask("pay", {"amount": 1250, "reference": "sale-17"}, key="sale-17-card") == result
    assert len(rig.sim.received) == heard, "the retry touched the terminal"
    assert len(rig.sim.charges) == 1 and rig.sim.dialogues == 1
    assert rig.device.counters["payments"] == 1


async def test_the_till_hears_each_stage_of_the_card_dialogue(rig: Rig):
    job = rig.job("pay", {"amount": 990}, key="k-stages")
    await asyncio.wait_for(rig.device.handle(job), SETTLE_S)
    assert rig.stages() == ["insert_card", "enter_pin", "waiting_for_host"]
    [first, *_] = [e for c, e in rig.port.client_events if e.type == "stage"]
    assert first.device == DEVICE and first.data["request_id"] == job.request_id
    assert first.data["operation"] == "payment" and first.data["text"] == "insert, tap or swipe the card"
    assert rig.stages("till-2") == []


async def test_a_declined_card_is_final_for_its_key(rig: Rig):
    rig.sim.queue("decline")
    error = await rig.refused("pay", {"amount": 5000}, key="k-decline")
    assert error.code == ErrorCode.DEVICE_ERROR and error.retryable is False
    assert error.details == {"reason": "declined", "result_code": 5} and "declined" in error.message
    entry = rig.entry("k-decline")
    assert entry is not None and entry.state is JournalState.FAILED

    again = await rig.refused("pay", {"amount": 5000}, key="k-decline")
    assert (again.code, again.details, again.message) == (error.code, error.details, error.message)
    assert rig.sim.dialogues == 1 and rig.sim.charges == []  # no second card dialogue for the shopper
    # A new attempt (new key) is a new card dialogue, and this time the card is approved.
    assert (await rig.ask("pay", {"amount": 5000}, key="k-decline-2"))["approved"]
    assert rig.device.counters["declined"] == 1


async def test_a_wrong_pin_is_reported_as_such(rig: Rig):
    rig.sim.queue("wrong_pin")
    error = await rig.refused("pay", {"amount": 700}, key="k-pin")
    assert error.code == ErrorCode.DEVICE_ERROR and error.details == {"reason": "wrong_pin", "result_code": 55}
    assert "wrong PIN" in error.message
    assert rig.stages() == ["insert_card", "enter_pin", "wrong_pin"]
    assert rig.sim.charges == []


async def test_a_shopper_who_never_presents_a_card_times_out_on_the_terminal(rig: Rig):
    rig.sim.queue("timeout")
    error = await rig.refused("pay", {"amount": 700}, key="k-timeout")
    assert error.code == ErrorCode.DEVICE_ERROR and error.details == {"reason": "aborted", "result_code": 0x6C}
    assert rig.sim.charges == [] and rig.sim.aborted_by_ecr == 0


async def test_a_payment_the_terminal_refuses_before_any_card_is_read_may_be_retried_under_its_key(rig: Rig):
    rig.sim.busy = True
    busy = await rig.refused("pay", {"amount": 100}, key="k-busy")
    assert busy.code == ErrorCode.DEVICE_ERROR and busy.retryable is True
    assert busy.details == {"reason": "terminal_busy", "result_code": 0x9C}
    entry = rig.entry("k-busy")
    assert entry is not None and entry.state is JournalState.VOID  # nothing happened
    rig.sim.busy = False
    assert (await rig.ask("pay", {"amount": 100}, key="k-busy"))["approved"]
    assert len(rig.sim.charges) == 1


async def test_a_currency_the_terminal_does_not_take_is_final(rig: Rig):
    error = await rig.refused("pay", {"amount": 100, "currency": "RUB"}, key="k-currency")
    assert error.details == {"reason": "wrong_currency", "result_code": 0x6F} and error.retryable is False
    entry = rig.entry("k-currency")
    assert entry is not None and entry.state is JournalState.FAILED
    assert rig.sim.charges == [] and rig.stages() == []


# --------------------------------------------------------------------------- abort while paying


async def test_the_till_aborts_a_running_payment_without_waiting_behind_it(rig: Rig):
    rig.sim.step_s = SLOW_STEP_S
    pay = asyncio.create_task(rig.ask("pay", {"amount": 4200}, key="k-abort"))
    await until(lambda: rig.stages() == ["insert_card"], timeout=SETTLE_S, what="insert card")

    asked = time.monotonic()
    answer = await rig.ask("abort")
    assert time.monotonic() - asked < SLOW_STEP_S / 2, "abort waited behind the payment"
    assert answer["abort_sent"] and answer["operation"] == "payment" and not pay.done()

    with pytest.raises(DeviceError) as ended:
        await pay
    assert ended.value.code == ErrorCode.CANCELLED
    assert ended.value.details == {"reason": "aborted_by_till", "result_code": 0x6C}
    assert rig.sim.aborted_by_ecr == 1 and rig.sim.charges == []
    entry = rig.entry("k-abort")
    assert entry is not None and entry.state is JournalState.FAILED
    # Nothing is running now: a second abort says so instead of pretending.
    assert await rig.ask("abort") == {"abort_sent": False, "reason": "no card dialogue is running"}


async def test_only_the_holder_may_pay_or_abort_and_another_till_cannot_claim(rig: Rig):
    assert (await rig.refused("pay", {"amount": 100}, key="k-other", client="till-2")).code == ErrorCode.NOT_CLAIMED
    assert (await rig.refused("abort", client="till-2")).code == ErrorCode.NOT_CLAIMED
    taken = await rig.refused("claim", client="till-2")
    assert taken.code == ErrorCode.CLAIMED_BY_OTHER and taken.details is not None
    assert taken.details["holder"] == "till-1"
    assert rig.sim.dialogues == 0
    # Anyone may ask how the terminal is.
    status = await rig.ask("status", client="till-2")
    assert status["ready"] and status["terminal_id"] == "52500038"


# --------------------------------------------------------------------------- keys


async def test_a_payment_without_an_idempotency_key_is_refused_before_the_terminal_hears_of_it(rig: Rig):
    heard = len(rig.sim.received)
    error = await rig.refused("pay", {"amount": 1250})
    assert error.code == ErrorCode.INVALID_REQUEST and "idempotency_key" in error.message
    assert (await rig.refused("refund", {"amount": 1250})).code == ErrorCode.INVALID_REQUEST
    assert len(rig.sim.received) == heard and rig.journal.unfinished(DEVICE) == []


async def test_the_same_key_for_another_amount_is_a_conflict(rig: Rig):
    await rig.ask("pay", {"amount": 1250}, key="k-1")
    conflict = await rig.refused("pay", {"amount": 999}, key="k-1")
    assert conflict.code == ErrorCode.CONFLICT
    assert (await rig.refused("refund", {"amount": 1250}, key="k-1")).code == ErrorCode.CONFLICT
    assert len(rig.sim.charges) == 1 and rig.sim.dialogues == 1


@pytest.mark.parametrize(
    "args", [{"amount": 0}, {"amount": "12.50"}, {"amount": 12.5}, {"amount": 1, "currency": "XXX"}]
)
async def test_amounts_are_positive_whole_minor_units(rig: Rig, args: dict[str, Any]):
    assert (await rig.refused("pay", args, key="k-bad")).code == ErrorCode.INVALID_REQUEST
    assert rig.sim.dialogues == 0


# --------------------------------------------------------------------------- lost answers


async def test_an_approval_lost_with_the_connection_is_recovered_not_charged_again(rig: Rig):
    rig.sim.queue("drop_after_approval")
    lost = await rig.refused("pay", {"amount": 3150}, key="k-lost")
    assert lost.code == ErrorCode.DEVICE_OFFLINE  # retryable: the till tries again with the same key
    [charge] = rig.sim.charges  # the terminal did take the money

    # On reconnecting, before any new work, the actor asked the terminal and recorded it.
    await until(
        lambda: (e := rig.entry("k-lost")) is not None and e.state is JournalState.DONE,
        timeout=SETTLE_S,
        what="reconciled",
    )
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S, what="back online")
    result = await rig.ask("pay", {"amount": 3150}, key="k-lost")
    assert result["approved"] and result["recovered"]
    assert (result["amount"], result["receipt_no"], result["trace_no"]) == (3150, charge.receipt_no, charge.trace_no)
    assert result["approval_code"] == charge.approval_code
    assert len(rig.sim.charges) == 1 and rig.sim.dialogues == 1, "the card was charged twice"
    assert rig.device.counters["reconciled"] == 1


async def test_a_payment_cut_off_before_approval_is_voided_and_its_retry_charges_once(rig: Rig):
    # The sale before was the same amount: the terminal's last transaction must not be
    # taken for this one (its trace number is the baseline).
    earlier = await rig.ask("pay", {"amount": 800}, key="k-earlier")
    heard = len(rig.stages())
    rig.sim.step_s = SLOW_STEP_S
    pay = asyncio.create_task(rig.ask("pay", {"amount": 800}, key="k-cut"))
    await until(lambda: rig.stages()[heard:] == ["insert_card"], timeout=SETTLE_S, what="insert card")
    rig.sim.offline = True  # the terminal's cable is pulled
    with pytest.raises(DeviceError) as cut:
        await pay
    assert cut.value.code == ErrorCode.DEVICE_OFFLINE
    await until(lambda: rig.device.status == "offline", timeout=SETTLE_S, what="offline")
    rig.sim.step_s = STEP_S
    rig.sim.offline = False

    await until(
        lambda: (e := rig.entry("k-cut")) is not None and e.state is JournalState.VOID, timeout=SETTLE_S, what="voided"
    )
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S, what="back online")
    assert rig.entry("k-cut").checkpoint["baseline_trace"] == earlier["trace_no"]  # type: ignore[union-attr]
    result = await rig.ask("pay", {"amount": 800}, key="k-cut")
    assert result["approved"] and not result["recovered"] and result["trace_no"] != earlier["trace_no"]
    assert len(rig.sim.charges) == 2 and rig.sim.dialogues == 3
    entry = rig.entry("k-cut")
    assert entry is not None and entry.state is JournalState.DONE and entry.attempts == 2


@pytest.mark.parametrize("approved_before_the_crash", [True, False])
async def test_a_new_hub_on_the_same_journal_settles_what_the_old_one_left(
    sim: ZvtTerminalSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, approved_before_the_crash: bool
):
    database = tmp_path / "hub.db"
    # The first hub does not come back by itself: it is "killed" while it waits to.
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MIN_S", 60.0)
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MAX_S", 60.0)
    first = await Rig(sim, journal_at(database)).start()
    if approved_before_the_crash:
        sim.queue("drop_after_approval")
        await first.refused("pay", {"amount": 2500}, key="k-crash")
    else:
        sim.step_s = SLOW_STEP_S
        pay = asyncio.create_task(first.ask("pay", {"amount": 2500}, key="k-crash"))
        await until(lambda: first.stages() == ["insert_card"], timeout=SETTLE_S, what="insert card")
    await first.stop()  # the hub is killed (mid-dialogue, or while it waits to reconnect)
    if not approved_before_the_crash:
        with pytest.raises(DeviceError):
            await pay
        sim.step_s = STEP_S
    entry = first.entry("k-crash")
    assert entry is not None and entry.state is JournalState.STARTED and "sent_at" in entry.checkpoint
    assert len(sim.charges) == (1 if approved_before_the_crash else 0)

    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MIN_S", 0.05)
    second = await Rig(sim, journal_at(database)).start()  # a new actor, a new engine, the same file
    try:
        settled = second.entry("k-crash")
        assert settled is not None
        assert settled.state is (JournalState.DONE if approved_before_the_crash else JournalState.VOID)
        result = await second.ask("pay", {"amount": 2500}, key="k-crash")
        assert result["approved"] and result["recovered"] is approved_before_the_crash
        assert len(sim.charges) == 1 and result["receipt_no"] == sim.charges[0].receipt_no
    finally:
        await second.stop()


# --------------------------------------------------------------------------- the other actions


async def test_reverse_refund_end_of_day_and_status(rig: Rig):
    paid = await rig.ask("pay", {"amount": 1999}, key="k-pay")
    reversed_ = await rig.ask("reverse", {"receipt_no": paid["receipt_no"]})
    assert reversed_["operation"] == "reversal" and reversed_["reversed_receipt_no"] == paid["receipt_no"]
    assert reversed_["amount"] == 1999 and rig.sim.charges == []
    again = await rig.refused("reverse", {"receipt_no": paid["receipt_no"]})
    assert again.code == ErrorCode.DEVICE_ERROR and again.details == {"reason": "already_reversed", "result_code": 0xB4}

    refunded = await rig.ask("refund", {"amount": 500, "reference": "return-3"}, key="k-refund")
    assert refunded["operation"] == "refund" and refunded["amount"] == 500
    assert [t.kind for t in rig.sim.transactions] == ["payment", "reversal", "refund"]

    await rig.ask("pay", {"amount": 1000}, key="k-pay-2")
    day = await rig.ask("end_of_day")
    assert day["done"] and day["total"] == 500  # 1000 paid, 500 refunded, the reversed one not counted
    status = await rig.ask("status")
    assert (
        status["ready"] and status["terminal_status"] == 0 and status["last_trace_no"] == rig.sim.charges[-1].trace_no
    )


async def test_a_terminal_that_goes_away_takes_the_device_offline_and_it_comes_back(rig: Rig):
    await rig.sim.stop()
    assert (await rig.refused("status")).code == ErrorCode.DEVICE_OFFLINE
    await until(lambda: rig.device.status == "offline", timeout=SETTLE_S, what="offline")
    await rig.sim.start()
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S, what="back online")
    assert (await rig.ask("pay", {"amount": 100}, key="k-back"))["approved"]


async def test_the_event_loop_keeps_running_through_a_card_dialogue(rig: Rig):
    rig.sim.step_s = 0.1  # the dialogue lasts at least 0.3 s
    pay = asyncio.create_task(rig.ask("pay", {"amount": 100}, key="k-loop"))
    ticks, longest, last = 0, 0.0, time.monotonic()
    while not pay.done():
        await asyncio.sleep(0.005)
        ticks, longest, last = ticks + 1, max(longest, time.monotonic() - last), time.monotonic()
    assert (await pay)["approved"] and ticks >= 5
    assert longest < 0.2, f"the loop stalled for {longest:.3f} s during the card dialogue"
