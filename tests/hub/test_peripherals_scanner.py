"""A till that holds the scanner gets its scans through a real hub; no other till ever sees them.

The hub runs as its own process with its own Mosquitto and opens the simulated serial
scanner's pty link from its config, as it would a ``/dev/serial/by-id`` link.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from bus.payloads import ErrorCode, Event
from devices.sim.scanner import SerialScannerSimulator
from tests.conftest import Connect, start_hub, until, until_device_online

#: The hub opens its devices after it reports ready; the scanner is up well within this.
DEVICE_ONLINE_TIMEOUT_S = 5.0

#: Longest a test waits for an event to reach a client.
HEARD_TIMEOUT_S = 3.0

#: How long a till without the claim is watched for a scan that must never come.
QUIET_S = 0.3

EAN = "4601234567893"


async def test_only_the_holder_receives_the_scan_and_technicians_see_a_code_free_notice(
    tmp_path: Path, connect: Connect
):
    sim = SerialScannerSimulator(tmp_path / "dev" / "serial" / "by-id" / "usb-Honeywell_1900-if00")
    sim.start()
    devices = [
        {
            "id": "scanner-1",
            "kind": "scanner",
            "driver": "serial",
            "port": str(sim.link),
            "options": {"serial_terminator": "CR"},
        }
    ]
    hub = await asyncio.to_thread(start_hub, tmp_path / "hub", devices=devices)
    try:
        till, other, tech = await connect(hub, "till-1"), await connect(hub, "till-2"), await connect(hub, "tech-1")
        await until_device_online(other, hub, "scanner-1", DEVICE_ONLINE_TIMEOUT_S)

        at_till: list[Event] = []
        at_other: list[Event] = []
        till.on_event(at_till.append)
        other.on_event(at_other.append)
        # A till may read only dev/+/state: this subscription must bring it nothing.
        other_device_events: list[Any] = []
        other.watch("dev/+/event", lambda topic, doc: other_device_events.append(doc))
        # A technician reads every device's events.
        device_events: list[tuple[str, bytes]] = []
        tech.watch("dev/+/event", lambda topic, doc: device_events.append((topic, json.dumps(doc).encode())))

        assert (await till.request("scanner-1", "claim", {"lease_s": 30})).ok
        taken = await other.request("scanner-1", "claim")
        assert taken.error is not None and taken.error.code == ErrorCode.CLAIMED_BY_OTHER
        assert "till-1" in taken.error.message

        sim.scan(EAN)
        await until(lambda: any(e.type == "scan" for e in at_till), timeout=HEARD_TIMEOUT_S, what="the scan at till-1")
        [scan] = [e for e in at_till if e.type == "scan"]
        assert scan.device == "scanner-1"
        assert {k: v for k, v in scan.data.items() if k != "ts"} == {
            "code": EAN,
            "symbology": "EAN-13",
            "gtin_valid": True,
        }
        assert abs(scan.data["ts"] - time.time()) < 5

        await until(
            lambda: any(b'"scan_delivered"' in p for _, p in device_events),
            timeout=HEARD_TIMEOUT_S,
            what="the technician's notice",
        )
        notice = json.loads(next(p for _, p in device_events if b'"scan_delivered"' in p))
        assert notice["data"] == {"to": "till-1", "symbology": "EAN-13", "gtin_valid": True, "length": 13}
        await asyncio.sleep(QUIET_S)
        assert not any(e.type == "scan" for e in at_other), "a till without the claim saw the scan"
        assert other_device_events == [], "a till read device events the ACL keeps from it"
        assert not any(EAN.encode() in payload for _, payload in device_events), "the code leaked on dev/+/event"

        # Released and assigned to nobody: the next scan goes nowhere, and is counted.
        assert (await till.request("scanner-1", "release")).ok
        sim.scan("96385074")
        await until(
            lambda: any(b'"scan_dropped"' in p for _, p in device_events),
            timeout=HEARD_TIMEOUT_S,
            what="the dropped notice",
        )
        counted = await tech.request("scanner-1", "status")
        assert counted.ok and counted.result is not None
        assert counted.result["counters"]["scans_delivered"] == 1
        assert counted.result["counters"]["scans_dropped"] == 1
        await asyncio.sleep(QUIET_S)
        assert [e.data["code"] for e in at_till if e.type == "scan"] == [EAN]
        assert not any(e.type == "scan" for e in at_other)
    finally:
        await asyncio.to_thread(hub.cleanup)
        sim.stop()
