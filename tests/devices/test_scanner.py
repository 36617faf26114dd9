"""The scanner actor: scans reach the right till and nobody else, unplug and replug, config.

The serial driver runs for real against the simulated scanner on a pty, under a real
supervisor; the ``RecordingPort`` stands where the hub's bus port would.  The evdev
driver needs an input device: this machine has none and no /dev/uinput, so its tests
here are what runs without one (opening fails plainly and is retried calmly); the
decoding it relies on is tested on real ``InputEvent`` objects in
test_keyboard_wedge.py, and a uinput-backed test runs where /dev/uinput exists.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from devices.actor import DeviceSpec, Job
from devices.claims import ClaimArgs
from devices.scanner import Scanner, ScannerOptions, SerialScanFraming, list_candidate_inputs, looks_like_scanner
from devices.sim.scanner import SerialScannerSimulator, UInputScanner
from devices.supervisor import DeviceSupervisor
from tests.conftest import until
from tests.devices.ports import RecordingPort

EAN = "4601234567893"

#: Longest a test waits for the scanner to get somewhere.
SETTLE_S = 2.0


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.sim = SerialScannerSimulator(tmp_path / "serial" / "by-id" / "usb-scanner-if00")
        self.port = RecordingPort()
        self.supervisor = DeviceSupervisor(lambda spec: self.port)

    async def start(self, *, assigned_to: str | None = None, options: dict | None = None, **spec) -> Scanner:
        spec = {"driver": "serial", "port": str(self.sim.link)} | spec
        self.supervisor.start(
            [DeviceSpec(id="scanner-1", kind="scanner", assigned_to=assigned_to, options=options or {}, **spec)]
        )
        scanner = self.supervisor.get("scanner-1")
        assert isinstance(scanner, Scanner)
        return scanner

    def scans_for(self, client: str) -> list[dict]:
        return [e.data for c, e in self.port.client_events if c == client and e.type == "scan"]

    def device_events(self, type_: str) -> list[dict]:
        return [e.data for e in self.port.events if e.type == type_]


@pytest.fixture
async def rig(tmp_path: Path):
    rig = Rig(tmp_path)
    rig.sim.start()
    yield rig
    await rig.supervisor.stop()
    rig.sim.stop()


async def online(rig: Rig, **kwargs) -> Scanner:
    scanner = await rig.start(**kwargs)
    await until(lambda: scanner.status == "idle", timeout=SETTLE_S, what="scanner online")
    return scanner


async def test_a_scan_reaches_the_holder_only_and_the_device_topic_never_carries_the_code(rig: Rig):
    scanner = await online(rig)
    await scanner.claims.claim("till-1", "till", ClaimArgs())
    rig.sim.scan(EAN)
    await until(lambda: rig.scans_for("till-1"), timeout=SETTLE_S, what="scan at till-1")
    [scan] = rig.scans_for("till-1")
    assert scan.pop("ts") == pytest.approx(time.time(), abs=2)
    assert scan == {"code": EAN, "symbology": "EAN-13", "gtin_valid": True}
    assert [c for c, e in rig.port.client_events if e.type == "scan"] == ["till-1"]
    assert rig.device_events("scan_delivered") == [
        {"to": "till-1", "symbology": "EAN-13", "gtin_valid": True, "length": 13}
    ]
    published = [e.to_bytes() for e in rig.port.events] + [s.to_bytes() for s in rig.port.states]
    assert not any(EAN.encode() in payload for payload in published), "the code leaked beyond the holder"
    await until(
        lambda: rig.port.states[-1].counters["scans_delivered"] == 1, timeout=SETTLE_S, what="counter published"
    )


async def test_with_no_holder_the_assigned_till_gets_the_scan(rig: Rig):
    await online(rig, assigned_to="till-1")
    rig.sim.scan("ABC-123")
    await until(lambda: rig.scans_for("till-1"), timeout=SETTLE_S, what="scan at the assigned till")
    assert rig.scans_for("till-1")[0]["code"] == "ABC-123"
    assert rig.scans_for("till-1")[0]["gtin_valid"] is False


async def test_the_holder_wins_over_the_assigned_till(rig: Rig):
    scanner = await online(rig, assigned_to="till-1")
    await scanner.claims.claim("tech-1", "technician", ClaimArgs(override=True))
    rig.sim.scan(EAN)
    await until(lambda: rig.scans_for("tech-1"), timeout=SETTLE_S, what="scan at the holder")
    assert rig.scans_for("till-1") == []


async def test_with_no_holder_and_no_assignment_a_scan_is_dropped_and_counted(rig: Rig):
    scanner = await online(rig)
    rig.sim.scan(EAN)
    await until(lambda: scanner.counters["scans_dropped"] == 1, timeout=SETTLE_S, what="dropped scan counted")
    assert rig.port.client_events == []
    assert rig.device_events("scan_dropped")[0]["symbology"] == "EAN-13"
    assert EAN not in json.dumps(rig.device_events("scan_dropped"))
    # Claiming later does not hand over a scan made while nobody held the scanner.
    await scanner.claims.claim("till-2", "till", ClaimArgs())
    await asyncio.sleep(0.05)
    assert rig.scans_for("till-2") == []


async def test_scans_in_a_burst_each_arrive_once_in_order(rig: Rig):
    scanner = await online(rig)
    await scanner.claims.claim("till-1", "till", ClaimArgs())
    codes = [f"{n:013d}" for n in range(50)]
    rig.sim.send(b"".join(code.encode() + b"\r" for code in codes))
    await until(lambda: len(rig.scans_for("till-1")) == 50, timeout=SETTLE_S, what="fifty scans")
    assert [s["code"] for s in rig.scans_for("till-1")] == codes
    assert scanner.counters["scans_delivered"] == 50


async def test_an_unplugged_scanner_is_offline_within_a_second_and_back_within_two(rig: Rig):
    scanner = await online(rig, assigned_to="till-1")
    rig.sim.send_unterminated("46012")  # unplugged mid-scan: the half code must not survive
    await asyncio.sleep(0.05)
    rig.sim.stop()
    took = await until(lambda: scanner.status == "offline", timeout=1.0, what="offline")
    assert took < 1.0
    assert "stopped answering" in scanner.error["message"]
    await asyncio.sleep(1.2)  # away a while: the supervisor retries calmly, about once a second
    assert rig.supervisor.restarts["scanner-1"] <= 3
    rig.sim.start()
    await until(lambda: scanner.status == "idle", timeout=2.0, what="back online")
    rig.sim.scan(EAN)
    await until(lambda: rig.scans_for("till-1"), timeout=SETTLE_S, what="scan after replug")
    assert [s["code"] for s in rig.scans_for("till-1")] == [EAN]


async def test_status_is_for_anyone_and_tells_where_scans_go_without_any_code(rig: Rig):
    scanner = await online(rig, assigned_to="till-1")
    rig.sim.scan(EAN)
    await until(lambda: scanner.counters["scans_delivered"] == 1, timeout=SETTLE_S)
    job = Job(client="till-2", action="status", args={}, request_id="r-status")
    scanner.submit(job)
    status = await job.future
    assert status["status"] in ("idle", "busy") and status["driver"] == "serial"
    assert status["assigned_to"] == "till-1" and status["holder"] is None
    assert status["source"] == {"port": str(rig.sim.link)}
    assert status["counters"]["scans_delivered"] == 1
    assert EAN not in json.dumps(status)


async def test_the_serial_terminator_and_line_noise_follow_the_options(rig: Rig, tmp_path: Path):
    rig.sim.stop()
    rig.sim = SerialScannerSimulator(rig.sim.link, terminator="CRLF")
    rig.sim.start()
    await online(rig, assigned_to="kiosk-1", options={"serial_terminator": "CRLF", "max_code_length": 20})
    rig.sim.send(b"x" * 50 + b"\r\n")  # not a barcode: dropped
    rig.sim.scan("96385074")
    await until(lambda: rig.scans_for("kiosk-1"), timeout=SETTLE_S, what="scan at the kiosk")
    assert [s["code"] for s in rig.scans_for("kiosk-1")] == ["96385074"]
    assert rig.supervisor.get("scanner-1").counters["codes_too_long"] == 1


async def test_an_evdev_scanner_that_is_not_there_is_offline_with_a_plain_reason_and_retried_calmly(tmp_path: Path):
    port = RecordingPort()
    supervisor = DeviceSupervisor(lambda spec: port)
    missing = "/dev/input/by-id/usb-Zebra_Symbol_Bar_Code_Scanner-event-kbd"
    supervisor.start(
        [
            DeviceSpec(id="scanner-1", kind="scanner", port=missing),
            DeviceSpec(id="scanner-2", kind="scanner", options={"usb_id": "05E0:1200"}),
            DeviceSpec(id="scanner-3", kind="scanner"),
            DeviceSpec(id="scanner-4", kind="scanner", driver="bluetooth"),
            DeviceSpec(id="scanner-5", kind="scanner", port="/dev/null"),  # a config pointing at the wrong file
        ]
    )
    try:
        await asyncio.sleep(1.6)
        reasons = {a.id: (a.status, a.error["message"]) for a in supervisor.actors()}
        assert reasons["scanner-1"] == ("offline", f"no input device at {missing} (unplugged?)")
        assert reasons["scanner-2"] == ("offline", "no free input device with USB id 05e0:1200 (unplugged?)")
        assert "needs `port`" in reasons["scanner-3"][1] and "usb_id" in reasons["scanner-3"][1]
        assert "unknown scanner driver 'bluetooth'" in reasons["scanner-4"][1]
        assert reasons["scanner-5"][1].startswith("/dev/null is not an input device")
        # About one attempt a second: no spinning while the scanner is away.
        assert all(n <= 3 for n in supervisor.restarts.values()), supervisor.restarts
    finally:
        await supervisor.stop()


@pytest.mark.skipif(not UInputScanner.available(), reason="no /dev/uinput")
async def test_an_evdev_scanner_is_grabbed_read_and_replugged(tmp_path: Path):
    sim = UInputScanner()
    sim.start()
    port = RecordingPort()
    supervisor = DeviceSupervisor(lambda spec: port)
    supervisor.start(
        [DeviceSpec(id="scanner-1", kind="scanner", assigned_to="till-1", options={"usb_id": "05e0:1200"})]
    )
    scanner = supervisor.get("scanner-1")
    try:
        await until(lambda: scanner.status == "idle", timeout=SETTLE_S, what="online")
        await asyncio.to_thread(sim.scan, "Ab-4601234567893")
        await until(lambda: any(e.type == "scan" for _, e in port.client_events), timeout=SETTLE_S, what="scan")
        assert [e.data["code"] for _, e in port.client_events if e.type == "scan"] == ["Ab-4601234567893"]
        sim.stop()
        await until(lambda: scanner.status == "offline", timeout=1.0, what="offline")
        sim.start()
        await until(lambda: scanner.status == "idle", timeout=2.5, what="back")
    finally:
        await supervisor.stop()
        sim.stop()


# -- the serial protocol, on bytes -----------------------------------------------------------


def test_serial_framing_splits_codes_on_the_terminator_across_reads():
    framing = SerialScanFraming(b"\r\n")
    assert framing.feed(b"4601234", 0.0) == []
    assert framing.feed(b"567893\r", 0.01) == []
    assert framing.feed(b"\n96385074\r\n\r\n", 0.02) == [EAN, "96385074"]


def test_serial_framing_tolerates_a_scanner_sending_crlf_under_a_cr_setting():
    framing = SerialScanFraming(b"\r")
    assert framing.feed(b"111\r\n222\r\n", 0.0) == ["111", "222"]
    assert framing.counters == {"codes_too_long": 0, "partial_codes_discarded": 0}


def test_serial_framing_bounds_its_buffer_and_drops_overlong_input():
    framing = SerialScanFraming(b"\r", max_length=10)
    for n in range(100):  # a scanner streaming without ever ending a code
        framing.feed(b"0123456789", n * 0.001)
        assert len(framing._buffer) <= 10
    assert framing.counters["codes_too_long"] == 1
    assert framing.feed(b"tail\rnext\r", 0.2) == ["next"]
    assert framing.feed(b"x" * 11 + b"\rok\r", 0.3) == ["ok"]
    assert framing.counters["codes_too_long"] == 2


def test_serial_framing_forgets_a_half_code_after_a_pause_and_decodes_bytes_safely():
    framing = SerialScanFraming(b"\r")
    framing.feed(b"4601", 0.0)
    assert framing.feed(b"96385074\r", 5.0) == ["96385074"]
    assert framing.counters["partial_codes_discarded"] == 1
    assert framing.feed("Grüße\r".encode() + b"\xff\r", 5.1) == ["Grüße", "\ufffd"]


# -- options, as `storehub check-config` sees them ---------------------------------------------


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"usb_id": "05e0"}, "vendor:product"),
        ({"layout": "azerty"}, "unknown layout"),
        ({"key_map": {"KEY_BOGUS": ["x"]}}, "KEY_BOGUS"),
        ({"terminator_keys": ["KEY_RETURN"]}, "KEY_RETURN"),
        ({"serial_terminator": "NUL"}, "serial_terminator"),
        ({"encoding": "klingon"}, "unknown encoding"),
        ({"max_code_length": 0}, "max_code_length"),
        ({"grab": False}, "grab"),
    ],
)
def test_bad_options_are_refused_naming_the_field(options, complaint):
    with pytest.raises(ValidationError, match=complaint):
        ScannerOptions.model_validate(options)


def test_good_options_read_as_a_technician_writes_them():
    options = ScannerOptions.model_validate(
        {"usb_id": "05E0:1200", "key_map": {"KEY_Z": ["y", "Y"], "KEY_Y": ["z", "Z"]}, "serial_terminator": "LF"}
    )
    assert options.usb_id == "05e0:1200" and options.terminator_keys == ["KEY_ENTER", "KEY_KPENTER"]


# -- finding scanners ----------------------------------------------------------------------


def test_listing_inputs_where_there_are_none_is_empty_not_an_error(tmp_path: Path):
    assert list_candidate_inputs(tmp_path / "no-such-dir") == []
    (tmp_path / "event0").write_text("not a device")  # only character devices count
    assert list_candidate_inputs(tmp_path) == []


def test_a_scanner_is_told_apart_from_keyboards_and_mice():
    from evdev import ecodes as e

    keyboard = [e.KEY_ENTER, *range(e.KEY_1, e.KEY_0 + 1), e.KEY_A]
    assert looks_like_scanner("Symbol Bar Code Scanner", 0x05E0, keyboard, pointer=False)[0]
    assert looks_like_scanner("USB Barcode Reader", 0x1A2B, keyboard, pointer=False)[0]
    assert looks_like_scanner("HID 0c2e:0b61", 0x0C2E, keyboard, pointer=False)[1].startswith(
        "a keyboard made by Honeywell"
    )
    assert not looks_like_scanner("Dell USB Keyboard", 0x413C, keyboard, pointer=False)[0]
    assert not looks_like_scanner("Logitech Mouse Scan", 0x046D, keyboard, pointer=True)[0]
    assert not looks_like_scanner("Power Button", 0x0000, [e.KEY_POWER], pointer=False)[0]
