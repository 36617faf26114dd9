"""Fiscal receipts through a real hub: exactly one receipt per sale, whenever the hub dies.

The hub runs as its own process with its own Mosquitto and opens the simulated
register's pty link from its config.  The simulator runs here, in the test, so it can
SIGKILL the hub at the very moment the register reaches a step of the receipt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bus.client import RequestTimeout, StoreHubClient
from bus.payloads import ErrorCode, Event, Response
from devices import shtrikh
from devices.sim.fiscal_register import SerialFiscalRegister, ShtrikhRegister
from tests.conftest import Connect, HubProcess, at_nth_command, start_hub, until, until_device_online

DEVICE = "fiscal-1"

#: The hub opens its devices after it reports ready, and a restarted hub first settles
#: what the killed one left; all of it within this.
DEVICE_ONLINE_TIMEOUT_S = 15.0

#: How long a till waits for an answer before it retries with the same key.
TILL_TIMEOUT_S = 3.0

#: Two Cyrillic lines in two tax groups, paid part cash, part card.
RECEIPT: dict[str, Any] = {
    "lines": [
        {"name": "Кефир 1% 930г", "quantity": 2, "price": 7490, "tax_group": 2, "sku": "KEF-930"},
        {"name": "Сыр Российский, кг", "quantity": "0.412", "price": 69900, "tax_group": 1, "sku": "CHS-RU"},
    ],
    "payments": [{"type": "cash", "amount": 20000}, {"type": "card", "amount": 25000}],
    "loyalty_card": "7000123456789",
}
#: 2 x 74.90 + 0.412 x 699.00 (287.988 -> 287.99)
RECEIPT_TOTAL = 14980 + 28799


def devices_toml(sim: SerialFiscalRegister) -> str:
    return f"""
[[devices]]
id = "{DEVICE}"
kind = "fiscal_register"
port = "{sim.link}"
options = {{ answer_timeout_s = 0.2, reply_timeout_s = 2.0 }}
"""


@dataclass
class Shop:
    sim: SerialFiscalRegister
    hub: HubProcess
    till: StoreHubClient


@pytest.fixture
async def shop(tmp_path: Path, connect: Connect) -> AsyncIterator[Shop]:
    """The simulated register, a hub that opens it, and till-1 connected once it is online."""
    sim = SerialFiscalRegister(tmp_path / "dev" / "usb-SHTRIH-M_FR-if00")
    sim.start()
    try:
        hub = await asyncio.to_thread(start_hub, tmp_path / "hub", devices=devices_toml(sim))
        try:
            till = await connect(hub, "till-1")
            await until_device_online(till, hub, DEVICE, DEVICE_ONLINE_TIMEOUT_S, request_timeout=TILL_TIMEOUT_S)
            yield Shop(sim, hub, till)
        finally:
            await asyncio.to_thread(hub.cleanup)
    finally:
        sim.stop()


async def fiscalize_until_answered(till: Any, key: str, hub: HubProcess) -> Response:
    """What a till does: ask, and on no answer or a retryable one, ask again with the same key."""
    deadline = time.monotonic() + DEVICE_ONLINE_TIMEOUT_S
    while True:
        try:
            response = await till.request(DEVICE, "fiscalize", RECEIPT, idempotency_key=key, timeout=TILL_TIMEOUT_S)
            if response.ok or not (response.error and response.error.retryable):
                return response
        except RequestTimeout:
            pass
        assert time.monotonic() < deadline, f"no final answer for {key}:\n{hub.log()}"
        await asyncio.sleep(0.2)


def closed_receipts(register: ShtrikhRegister) -> list:
    return [receipt for receipt in register.receipts() if not receipt.annulled]


async def test_a_till_fiscalizes_a_receipt_and_hears_it_closed(shop: Shop, connect: Connect):
    sim, hub, till = shop.sim, shop.hub, shop.till
    heard: list[Event] = []
    till.on_event(heard.append)

    response = await till.request(DEVICE, "fiscalize", RECEIPT, idempotency_key="sale-0001")
    assert response.ok, response
    result = response.result
    assert result is not None

    [printed] = closed_receipts(sim.register)
    assert [line.name for line in printed.lines] == ["Кефир 1% 930г", "Сыр Российский, кг"]
    assert [(line.quantity, line.price, line.tax_groups) for line in printed.lines] == [
        (2000, 7490, (2,)),
        (412, 69900, (1,)),
    ]
    assert printed.by_tax_group == {2: 14980, 1: 28799}
    assert printed.total == RECEIPT_TOTAL
    assert printed.payments == (20000, 25000, 0, 0)
    assert printed.change == 45000 - RECEIPT_TOTAL
    assert result["document_number"] == printed.fiscal_number
    assert result["fiscal_sign"] == printed.fiscal_sign
    assert result["total"] == RECEIPT_TOTAL

    await until(
        lambda: any(event.type == "receipt_closed" for event in heard), timeout=2, what="receipt_closed at the till"
    )
    [closed] = [event for event in heard if event.type == "receipt_closed"]
    assert closed.device == DEVICE
    assert closed.data["document_number"] == printed.fiscal_number
    assert closed.data["fiscal_sign"] == printed.fiscal_sign
    assert [line["name"] for line in closed.data["lines"]] == ["Кефир 1% 930г", "Сыр Российский, кг"]
    assert [line["sku"] for line in closed.data["lines"]] == ["KEF-930", "CHS-RU"]
    assert closed.data["payments"] == RECEIPT["payments"]
    assert closed.data["loyalty_card"] == "7000123456789"
    assert closed.data["total"] == RECEIPT_TOTAL

    # A kiosk never touches money.
    kiosk = await connect(hub, "kiosk-1")
    refused = await kiosk.request(DEVICE, "fiscalize", RECEIPT, idempotency_key="kiosk-1")
    assert refused.error is not None and refused.error.code == ErrorCode.FORBIDDEN
    assert len(closed_receipts(sim.register)) == 1


#: Where the hub is killed: the register's command and stage, and which occurrence.
#: "received": the register took the command and has not acted on it yet (it will);
#: "replied": its answer went out.
KILL_POINTS = [
    ("before open", shtrikh.Command.FN_STATUS, "replied", 1),
    ("after open", shtrikh.Command.OPEN_DOCUMENT, "replied", 1),
    ("after the first line", shtrikh.Command.SALE, "replied", 1),
    ("after the second line", shtrikh.Command.SALE, "replied", 2),
    ("while closing", shtrikh.Command.CLOSE_DOCUMENT, "received", 1),
    ("after close", shtrikh.Command.CLOSE_DOCUMENT, "replied", 1),
]


async def test_the_hub_killed_at_any_step_of_a_receipt_prints_it_exactly_once(shop: Shop):
    sim, hub, till = shop.sim, shop.hub, shop.till
    for number, (step, command, stage, nth) in enumerate(KILL_POINTS, start=1):
        key = f"sale-{number:04d}"
        # SIGKILL from the register's side of the line, at that very byte.
        kill = at_nth_command(command, stage, nth, hub.kill)
        stop_watching = sim.on_command(kill)
        try:
            await till.request(DEVICE, "fiscalize", RECEIPT, idempotency_key=key, timeout=TILL_TIMEOUT_S)
        except RequestTimeout:
            pass
        assert kill.reached.wait(5), f"{step}: the register never reached the kill point"
        stop_watching()

        await asyncio.to_thread(hub.start)
        response = await fiscalize_until_answered(till, key, hub)
        assert response.ok, f"{step}: {response}"
        receipts = closed_receipts(sim.register)
        assert len(receipts) == number, f"{step}: {len(receipts)} receipts for {number} sales"
        assert response.result is not None
        assert response.result["document_number"] == receipts[-1].fiscal_number, step
        assert response.result["fiscal_sign"] == receipts[-1].fiscal_sign, step
        assert sim.register.open_document is None, step

    # Killed after the till had its answer: the retry is answered from the journal.
    key = "sale-after-reply"
    first = await fiscalize_until_answered(till, key, hub)
    assert first.ok
    await asyncio.to_thread(hub.kill)
    await asyncio.to_thread(hub.start)
    again = await fiscalize_until_answered(till, key, hub)
    assert again.ok and again.result == first.result
    assert len(closed_receipts(sim.register)) == len(KILL_POINTS) + 1


async def test_an_old_shift_and_a_power_cut_through_the_hub(shop: Shop):
    sim, hub, till = shop.sim, shop.hub, shop.till
    heard: list[Event] = []
    till.on_event(heard.append)
    assert (await till.request(DEVICE, "fiscalize", RECEIPT, idempotency_key="day-1")).ok

    # The shift has run past 24 hours: no receipt until the Z report.
    sim.register.age_shift(25)
    refused = await till.request(DEVICE, "fiscalize", RECEIPT, idempotency_key="day-2")
    assert refused.error is not None and refused.error.code == ErrorCode.DEVICE_ERROR
    assert refused.error.details is not None and refused.error.details["reason"] == "shift_over_24h"
    assert refused.error.details["action_needed"] == "z_report"
    assert (await till.request(DEVICE, "z_report")).ok
    assert (await till.request(DEVICE, "fiscalize", RECEIPT, idempotency_key="day-2")).ok
    assert len(closed_receipts(sim.register)) == 2

    # The register loses power as it takes the first line, for longer than the line waits.
    cut = at_nth_command(shtrikh.Command.SALE, "received", 1, lambda: sim.simulator.power_cut(4.0))
    sim.on_command(cut)
    response = await fiscalize_until_answered(till, "day-3", hub)
    assert cut.reached.is_set() and response.ok, response
    assert len(closed_receipts(sim.register)) == 3
    assert response.result is not None
    assert response.result["document_number"] == closed_receipts(sim.register)[-1].fiscal_number
    assert sim.register.open_document is None
    [reconciled] = [event for event in heard if event.type == "receipt_reconciled"]
    assert reconciled.data["idempotency_key"] == "day-3" and reconciled.data["printed"] is False
    assert reconciled.data["outcome"] == "cancelled"
