"""Fiscal receipts through a real hub: exactly one receipt per sale, whenever the hub dies.

The hub runs as its own process with its own Mosquitto and opens the simulated
register's pty link from its config.  The simulator runs here, in the test, so it can
SIGKILL the hub at the very moment the register reaches a step of the receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bus.client import RequestTimeout, StoreHubClient
from bus.payloads import ErrorCode, Event, Response
from devices import shtrikh
from devices.sim.control import SimulatorDesk
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


def register_devices(sim: SerialFiscalRegister) -> list[dict[str, Any]]:
    return [
        {
            "id": DEVICE,
            "kind": "fiscal_register",
            "port": str(sim.link),
            "options": {"answer_timeout_s": 0.2, "reply_timeout_s": 2.0},
        }
    ]


@dataclass
class Shop:
    sim: SerialFiscalRegister
    hub: HubProcess
    till: StoreHubClient


@contextlib.asynccontextmanager
async def register_shop(tmp_path: Path, connect: Connect) -> AsyncIterator[Shop]:
    """The simulated register, a hub that opens it, and till-1 connected once it is online."""
    sim = SerialFiscalRegister(tmp_path / "dev" / "usb-SHTRIH-M_FR-if00", state_dir=tmp_path / "sim")
    sim.start()
    try:
        hub = await asyncio.to_thread(start_hub, tmp_path / "hub", devices=register_devices(sim))
        try:
            till = await connect(hub, "till-1")
            await until_device_online(till, hub, DEVICE, DEVICE_ONLINE_TIMEOUT_S, request_timeout=TILL_TIMEOUT_S)
            yield Shop(sim, hub, till)
        finally:
            await asyncio.to_thread(hub.cleanup)
    finally:
        sim.stop()
        sim.register.close()


@pytest.fixture
async def shop(tmp_path: Path, connect: Connect) -> AsyncIterator[Shop]:
    async with register_shop(tmp_path, connect) as opened:
        yield opened


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


def store_events(hub: HubProcess) -> list[dict[str, Any]]:
    """The outbox, as the cloud pulls it."""
    answer = httpx.get(hub.api_url + "/api/v1/sync/events", params={"limit": 1000}, headers=hub.headers("cloud"))
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def closed_receipts(register: ShtrikhRegister) -> list:
    return [receipt for receipt in register.receipts() if not receipt.annulled]


async def test_money_and_quantities_are_plain_numbers_or_nothing_prints(shop: Shop):
    """``true`` is not one kopeck, and the Arabic-Indic "٣" is not 3 pieces."""
    sim, till = shop.sim, shop.till
    assert (await till.request(DEVICE, "open_shift")).ok  # so that a cash-in could run
    in_drawer = sim.register.cash_in_drawer
    refused = await till.request(DEVICE, "cash_in", {"amount": True})
    assert refused.error is not None and refused.error.code == ErrorCode.INVALID_REQUEST, refused
    assert refused.error.message.startswith("amount:"), refused.error.message
    assert sim.register.cash_in_drawer == in_drawer

    # Paid enough for three, so only the quantity itself can stop it.
    arabic = RECEIPT | {
        "lines": [RECEIPT["lines"][0] | {"quantity": "٣"}, RECEIPT["lines"][1]],
        "payments": [{"type": "cash", "amount": 60000}],
    }
    refused = await till.request(DEVICE, "fiscalize", arabic, idempotency_key="sale-arabic")
    assert refused.error is not None and refused.error.code == ErrorCode.INVALID_REQUEST, refused
    assert refused.error.message.startswith("lines.0.quantity:"), refused.error.message
    assert closed_receipts(sim.register) == []

    sold = await till.request(DEVICE, "fiscalize", RECEIPT, idempotency_key="sale-plain")
    assert sold.ok, sold
    assert [line.quantity for line in closed_receipts(sim.register)[0].lines] == [2000, 412]
    in_drawer = sim.register.cash_in_drawer
    moved = await till.request(DEVICE, "cash_in", {"amount": 1000})
    assert moved.ok and moved.result is not None and moved.result["amount"] == 1000, moved
    assert sim.register.cash_in_drawer == in_drawer + 1000


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

    # And the store booked each printed receipt once: every sale.completed names its own
    # fiscal document, whichever way its receipt_closed came (at close, from
    # reconciliation after a restart, from the journal at start).
    booked = [
        event["data"]["fiscal"]["document_number"] for event in store_events(hub) if event["type"] == "sale.completed"
    ]
    assert sorted(booked) == sorted(receipt.fiscal_number for receipt in closed_receipts(sim.register))


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


# -- the store books the sale ---------------------------------------------------------------

CATALOGUE = {
    "products": [
        {"sku": "KEF-930", "gtin": "4607025392408", "name": "Кефир 1% 930г", "tax_group": 2, "version": 1},
        {"sku": "CHS-RU", "name": "Сыр Российский, кг", "measure": "kg", "tax_group": 1, "version": 1},
    ],
    "prices": [{"sku": "KEF-930", "version": 1, "amount": 7490}, {"sku": "CHS-RU", "version": 1, "amount": 69900}],
}


def rest(hub: HubProcess, who: str, method: str, path: str, **kwargs: Any) -> Any:
    answer = httpx.request(method, hub.api_url + "/api/v1" + path, headers=hub.headers(who), **kwargs)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


async def test_a_fiscalized_receipt_lowers_stock_accrues_points_and_is_one_sale(shop: Shop):
    sim, hub, till = shop.sim, shop.hub, shop.till
    rest(hub, "cloud", "POST", "/sync/inbound", json=CATALOGUE)
    for sku, quantity in (("KEF-930", "10"), ("CHS-RU", "5.000")):
        rest(hub, "manager-1", "POST", "/stock/moves", json={"sku": sku, "kind": "receipt", "quantity": quantity})

    # The till gives the gtin only for the kefir: the store finds the sku itself.
    receipt = RECEIPT | {"lines": [RECEIPT["lines"][0] | {"sku": None, "gtin": "4607025392408"}, RECEIPT["lines"][1]]}
    response = await till.request(DEVICE, "fiscalize", receipt, idempotency_key="sale-store-1")
    assert response.ok and response.result is not None, response
    document = response.result["document_number"]

    def sales() -> list[dict[str, Any]]:
        return [e for e in store_events(hub) if e["type"] == "sale.completed"]

    await until(lambda: sales(), 5, "sale.completed in the outbox")
    [sale] = sales()
    assert sale["data"]["fiscal"] == {
        "device": DEVICE, "fn_serial": "9960440300000001", "document_number": document,
        "fiscal_sign": response.result["fiscal_sign"], "issued_at": response.result["issued_at"],
    }  # fmt: skip
    assert sale["source"] == {"client": "till-1", "device": DEVICE} and sale["data"]["total"] == RECEIPT_TOTAL
    assert [line["sku"] for line in sale["data"]["lines"]] == ["KEF-930", "CHS-RU"]
    # 5 % of 437.79 paid in money, rounded down
    assert sale["data"]["loyalty"] == {"card": "7000123456789", "accrued": 2188, "redeemed": 0}
    assert rest(hub, "till-1", "GET", "/products/KEF-930")["stock"]["on_hand"] == "8.000"
    assert rest(hub, "till-1", "GET", "/products/CHS-RU")["stock"]["on_hand"] == "4.588"
    card = rest(hub, "till-1", "GET", "/loyalty/cards/7000123456789")
    assert card["pending_accruals"] == 2188 and card["available"] == 0

    # Delivered again — the till's retry, a restart that reads the fiscal journal — it
    # changes nothing.
    again = await till.request(DEVICE, "fiscalize", receipt, idempotency_key="sale-store-1")
    assert again.ok and again.result == response.result
    assert len(closed_receipts(sim.register)) == 1
    await asyncio.to_thread(hub.stop)
    await asyncio.to_thread(hub.start)
    assert len(sales()) == 1
    assert rest(hub, "till-1", "GET", "/products/KEF-930")["stock"]["on_hand"] == "8.000"
    assert rest(hub, "till-1", "GET", "/loyalty/cards/7000123456789")["pending_accruals"] == 2188

    # The shopper brings the cheese back: a refund receipt puts it back on the shelf.
    await until_device_online(till, hub, DEVICE, DEVICE_ONLINE_TIMEOUT_S, request_timeout=TILL_TIMEOUT_S)
    refund = {
        "lines": [RECEIPT["lines"][1]],
        "payments": [{"type": "card", "amount": 28799}],
        "loyalty_card": "7000123456789",
    }
    returned = await till.request(DEVICE, "refund", refund, idempotency_key="refund-store-1")
    assert returned.ok, returned
    await until(lambda: any(e["type"] == "sale.refunded" for e in store_events(hub)), 5, "sale.refunded")
    assert rest(hub, "till-1", "GET", "/products/CHS-RU")["stock"]["on_hand"] == "5.000"
    # The points the cheese had earned (5 % of 287.99) are taken back.
    assert rest(hub, "till-1", "GET", "/loyalty/cards/7000123456789")["pending_redemptions"] == 1439

    # The manager's day: one sale and one refund, the change given in cash not counted.
    day = rest(hub, "manager-1", "GET", "/day")
    assert (day["receipts"], day["refunds"], day["revenue"]) == (1, 1, RECEIPT_TOTAL - 28799), day
    assert (day["card"], day["cash"], day["points"]) == (25000 - 28799, RECEIPT_TOTAL - 25000, 0), day
    assert [till["till"] for till in day["tills"]] == ["till-1"]
    assert rest(hub, "manager-1", "GET", "/day", params={"date": "2001-01-01"})["receipts"] == 0
    for wrong in ("9999-12-31", "0001-01-01", "31.12.2026"):
        refused = httpx.get(hub.api_url + "/api/v1/day", params={"date": wrong}, headers=hub.headers("manager-1"))
        assert refused.status_code in (400, 422) and refused.json()["error"]["details"]["field"].endswith("date"), (
            refused.text
        )
    assert httpx.get(hub.api_url + "/api/v1/day", headers=hub.headers("till-1")).status_code == 403


def storehub_sim(directory: Path, *words: str) -> Any:
    """`storehub sim --dir DIR …` as a technician types it; its answer as data."""
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "sim", "--dir", str(directory), *words],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_receipts_after_the_fiscal_storage_was_replaced_are_booked_too(shop: Shop, tmp_path: Path):
    """The new storage numbers its receipts from 1 again: its first receipt has the
    number the old storage's first one had, and is a sale of its own all the same."""
    sim, hub, till = shop.sim, shop.hub, shop.till
    rest(hub, "cloud", "POST", "/sync/inbound", json=CATALOGUE)
    for sku, quantity in (("KEF-930", "10"), ("CHS-RU", "5.000")):
        rest(hub, "manager-1", "POST", "/stock/moves", json={"sku": sku, "kind": "receipt", "quantity": quantity})

    def sales() -> list[dict[str, Any]]:
        return [e for e in store_events(hub) if e["type"] == "sale.completed"]

    first = await till.request(DEVICE, "fiscalize", RECEIPT, idempotency_key="before-the-new-storage")
    assert first.ok and first.result is not None, first
    await until(lambda: len(sales()) == 1, 5, "the first sale.completed")

    # The technician fits a new storage, through the simulator desk as in the demo.
    desk = SimulatorDesk(tmp_path / "demo" / "sim.sock")
    desk.register(DEVICE, "fiscal_register", sim.desk_handlers())
    await desk.start()
    try:
        state = await asyncio.to_thread(storehub_sim, tmp_path / "demo", DEVICE, "replace-storage")
    finally:
        await desk.stop()
    assert (state["fn_serial"], state["last_fiscal_document"]) == ("9960440300000002", 1)

    second = await till.request(DEVICE, "fiscalize", RECEIPT, idempotency_key="after-the-new-storage")
    assert second.ok and second.result is not None, second
    assert second.result["document_number"] == first.result["document_number"]
    assert (first.result["fn_serial"], second.result["fn_serial"]) == ("9960440300000001", "9960440300000002")

    await until(lambda: len(sales()) == 2, 5, f"a sale.completed for the new storage's receipt:\n{hub.log()}")
    assert [(e["data"]["fiscal"]["fn_serial"], e["data"]["fiscal"]["document_number"]) for e in sales()] == [
        ("9960440300000001", first.result["document_number"]),
        ("9960440300000002", first.result["document_number"]),
    ]
    assert rest(hub, "till-1", "GET", "/products/KEF-930")["stock"]["on_hand"] == "6.000"
    assert rest(hub, "till-1", "GET", "/products/CHS-RU")["stock"]["on_hand"] == "4.176"
    assert rest(hub, "till-1", "GET", "/loyalty/cards/7000123456789")["pending_accruals"] == 2 * 2188

    # A restart of the hub reads both receipts back from the fiscal journal: still two sales.
    await asyncio.to_thread(hub.stop)
    await asyncio.to_thread(hub.start)
    assert len(sales()) == 2
