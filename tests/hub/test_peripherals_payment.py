"""A till takes a card payment over MQTT through a real hub and a real Mosquitto.

The hub runs as its own process and reaches the simulated ZVT terminal (started here, on
a free loopback port) from its config, as it would a terminal on the shop's LAN.  The
terminal is exclusive: while one till holds it, another cannot claim it or pay on it,
and a kiosk may not refund on it at all.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bus.payloads import ErrorCode, Event
from devices.sim.zvt_terminal import ZvtTerminalSimulator
from tests.conftest import Connect, start_hub, until, until_device_online

#: The hub opens its devices after it reports ready; the terminal is up well within this.
DEVICE_ONLINE_TIMEOUT_S = 5.0

#: Longest a test waits for an event to reach a client.
HEARD_TIMEOUT_S = 3.0


def terminal_devices(terminal: ZvtTerminalSimulator) -> list[dict[str, Any]]:
    return [
        {
            "id": "terminal-1",
            "kind": "payment_terminal",
            "options": {"host": "127.0.0.1", "port": terminal.port, "currency": "EUR"},
        }
    ]


async def test_a_till_claims_the_terminal_and_pays_and_nobody_else_can(tmp_path: Path, connect: Connect):
    terminal = ZvtTerminalSimulator(step_s=0.05)
    await terminal.start()
    hub = await asyncio.to_thread(start_hub, tmp_path / "hub", devices=terminal_devices(terminal))
    try:
        till, other, kiosk = await connect(hub, "till-1"), await connect(hub, "till-2"), await connect(hub, "kiosk-1")
        status = await until_device_online(till, hub, "terminal-1", DEVICE_ONLINE_TIMEOUT_S)
        assert status.result is not None and status.result["ready"]

        heard: list[Event] = []
        till.on_event(heard.append)
        claimed = await till.request("terminal-1", "claim", {"lease_s": 60})
        assert claimed.ok, claimed

        taken = await other.request("terminal-1", "claim")
        assert taken.error is not None and taken.error.code == ErrorCode.CLAIMED_BY_OTHER
        assert taken.error.details is not None and taken.error.details["holder"] == "till-1"
        sneaky = await other.request("terminal-1", "pay", {"amount": 100}, idempotency_key="till-2-sale")
        assert sneaky.error is not None and sneaky.error.code == ErrorCode.NOT_CLAIMED

        paid = await till.request("terminal-1", "pay", {"amount": 2599, "reference": "sale-1"}, idempotency_key="s-1")
        assert paid.ok and paid.result is not None, paid
        [charge] = terminal.charges
        assert paid.result["approved"] and paid.result["amount"] == 2599
        assert paid.result["receipt_no"] == charge.receipt_no and paid.result["card"]["pan"] == "************4242"
        await until(
            lambda: (
                [e.data["stage"] for e in heard if e.type == "stage"][:3]
                == ["insert_card", "enter_pin", "waiting_for_host"]
            ),
            timeout=HEARD_TIMEOUT_S,
            what="stages at the till",
        )
        assert all(e.device == "terminal-1" for e in heard if e.type == "stage")

        retried = await till.request(
            "terminal-1", "pay", {"amount": 2599, "reference": "sale-1"}, idempotency_key="s-1"
        )
        assert retried.ok and retried.result == paid.result and len(terminal.charges) == 1
        no_key = await till.request("terminal-1", "pay", {"amount": 2599})
        assert no_key.error is not None and no_key.error.code == ErrorCode.INVALID_REQUEST

        forbidden = await kiosk.request("terminal-1", "refund", {"amount": 100}, idempotency_key="k-refund")
        assert forbidden.error is not None and forbidden.error.code == ErrorCode.FORBIDDEN
        assert terminal.dialogues == 1
    finally:
        await asyncio.to_thread(hub.cleanup)
        await terminal.stop()


async def test_declined_aborted_and_lost_payments_through_the_hub_charge_at_most_once(tmp_path: Path, connect: Connect):
    terminal = ZvtTerminalSimulator(step_s=0.15)
    await terminal.start()
    hub = await asyncio.to_thread(start_hub, tmp_path / "hub", devices=terminal_devices(terminal))
    try:
        till = await connect(hub, "till-1")
        heard: list[Event] = []
        till.on_event(heard.append)
        await until_device_online(till, hub, "terminal-1", DEVICE_ONLINE_TIMEOUT_S)
        assert (await till.request("terminal-1", "claim", {"lease_s": 120})).ok

        # Declined: final for its key, nothing charged, no second card dialogue on retry.
        terminal.queue("decline")
        declined = await till.request("terminal-1", "pay", {"amount": 1500}, idempotency_key="p-declined")
        assert declined.error is not None and declined.error.code == ErrorCode.DEVICE_ERROR
        assert declined.error.details is not None and declined.error.details["reason"] == "declined"
        again = await till.request("terminal-1", "pay", {"amount": 1500}, idempotency_key="p-declined")
        assert again.error == declined.error and terminal.dialogues == 1 and terminal.charges == []

        # Aborted by the till while the shopper is at the PIN pad.
        heard.clear()
        paying = asyncio.create_task(till.request("terminal-1", "pay", {"amount": 2000}, idempotency_key="p-abort"))
        await until(
            lambda: any(e.type == "stage" and e.data["stage"] == "enter_pin" for e in heard),
            timeout=HEARD_TIMEOUT_S,
            what="enter_pin",
        )
        aborted = await till.request("terminal-1", "abort")
        assert aborted.ok and aborted.result is not None and aborted.result["abort_sent"], aborted
        ended = await paying
        assert ended.error is not None and ended.error.code == ErrorCode.CANCELLED, ended
        assert terminal.charges == []

        # The approval lost with the connection: the retry gets it, the card is charged once.
        terminal.queue("drop_after_approval")
        lost = await till.request("terminal-1", "pay", {"amount": 3100}, idempotency_key="p-lost")
        assert lost.error is not None and lost.error.code == ErrorCode.DEVICE_OFFLINE, lost
        deadline = time.monotonic() + DEVICE_ONLINE_TIMEOUT_S
        while not (retried := await till.request("terminal-1", "pay", {"amount": 3100}, idempotency_key="p-lost")).ok:
            assert retried.error is not None and retried.error.retryable, retried
            assert time.monotonic() < deadline, f"no answer for the lost payment:\n{hub.log()}"
            await asyncio.sleep(0.1)
        assert retried.result is not None and retried.result["approved"] and retried.result["amount"] == 3100
        [charge] = terminal.charges
        assert retried.result["receipt_no"] == charge.receipt_no

        # The hub killed mid-dialogue: after the restart the retry charges at most once.
        heard.clear()
        killed_mid = asyncio.create_task(
            till.request("terminal-1", "pay", {"amount": 4200}, idempotency_key="p-killed", timeout=10)
        )
        await until(
            lambda: any(e.type == "stage" for e in heard), timeout=HEARD_TIMEOUT_S, what="a stage of the killed payment"
        )
        await asyncio.to_thread(hub.kill)
        killed_mid.cancel()
        await asyncio.to_thread(hub.start)
        deadline = time.monotonic() + 3 * DEVICE_ONLINE_TIMEOUT_S
        while True:
            if (await till.request("terminal-1", "claim", {"lease_s": 120})).ok:
                settled = await till.request("terminal-1", "pay", {"amount": 4200}, idempotency_key="p-killed")
                if settled.ok or not (settled.error and settled.error.retryable):
                    break
            assert time.monotonic() < deadline, f"no answer for the payment cut by the kill:\n{hub.log()}"
            await asyncio.sleep(0.2)
        assert settled.ok, settled
        assert [c.amount for c in terminal.charges] == [3100, 4200]
    finally:
        await asyncio.to_thread(hub.cleanup)
        await terminal.stop()
