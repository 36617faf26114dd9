"""A till shows the sale on the customer display through a real hub; other tills cannot.

The hub runs as its own process with its own Mosquitto and opens the simulated
display's pty link from its config, as it would a ``/dev/serial/by-id`` link.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bus.payloads import ErrorCode
from devices.sim.customer_display import LineDisplaySimulator
from tests.conftest import Connect, start_hub, until_device_online

#: The hub opens its devices after it reports ready; the display is up well within this.
DEVICE_ONLINE_TIMEOUT_S = 5.0


async def test_a_till_claims_the_display_and_the_customer_sees_the_total(tmp_path: Path, connect: Connect):
    sim = LineDisplaySimulator(tmp_path / "dev" / "serial" / "by-id" / "usb-Epson_DM-D110-if00")
    sim.start()
    devices = [
        {
            "id": "customer-display-1",
            "kind": "customer_display",
            "port": str(sim.link),
            "options": {"code_page": "cp866"},
        }
    ]
    hub = await asyncio.to_thread(start_hub, tmp_path / "hub", devices=devices)
    try:
        till, other = await connect(hub, "till-1"), await connect(hub, "till-2")
        await until_device_online(other, hub, "customer-display-1", DEVICE_ONLINE_TIMEOUT_S)

        assert (await till.request("customer-display-1", "claim", {"lease_s": 30})).ok
        shown = await till.request("customer-display-1", "show", {"line1": "Молоко 1л", "line2": "ИТОГО 89.90"})
        assert shown.ok and shown.result == {"showing": {"line1": "Молоко 1л", "line2": "ИТОГО 89.90"}}, shown
        assert await asyncio.to_thread(sim.wait_for, ("Молоко 1л", "ИТОГО 89.90"), 2.0)

        taken = await other.request("customer-display-1", "claim")
        assert taken.error is not None and taken.error.code == ErrorCode.CLAIMED_BY_OTHER
        assert "till-1" in taken.error.message
        meddling = await other.request("customer-display-1", "show", {"line1": "Скидка 100%"})
        assert meddling.error is not None and meddling.error.code == ErrorCode.NOT_CLAIMED
        assert sim.lines == ("Молоко 1л", "ИТОГО 89.90")
        looked = await other.request("customer-display-1", "status")
        assert looked.ok and looked.result is not None
        assert looked.result["showing"] == {"line1": "Молоко 1л", "line2": "ИТОГО 89.90"}

        assert (await till.request("customer-display-1", "clear")).ok
        assert await asyncio.to_thread(sim.wait_for, ("", ""), 2.0)
        assert (await till.request("customer-display-1", "release")).ok
    finally:
        await asyncio.to_thread(hub.cleanup)
        sim.stop()
