"""The simulated scanners send what real ones send: evdev event sequences and serial lines."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import serial
from evdev import UInputError, ecodes

from devices.keyboard_wedge import KeyboardWedgeDecoder, build_key_map
from devices.sim.scanner import (
    HOLD_REPEATS,
    SIM_USB_ID,
    SerialScannerSimulator,
    UInputScanner,
    evdev_events_for,
)

NO_UINPUT = "no /dev/uinput on this machine (load the uinput module, or run as a user who may write it)"


def keys(events) -> list[tuple[str, int]]:
    return [(ecodes.KEY[e.code], e.value) for e in events if e.type == ecodes.EV_KEY]


def test_each_key_report_is_a_scan_code_a_key_event_and_a_sync_as_the_kernel_sends_them():
    events = evdev_events_for("a", at=100.0)
    assert [(e.type, e.code, e.value) for e in events[:3]] == [
        (ecodes.EV_MSC, ecodes.MSC_SCAN, 0x70004),  # HID usage of "a"
        (ecodes.EV_KEY, ecodes.KEY_A, 1),
        (ecodes.EV_SYN, ecodes.SYN_REPORT, 0),
    ]
    assert keys(events) == [("KEY_A", 1), ("KEY_A", 0), ("KEY_ENTER", 1), ("KEY_ENTER", 0)]
    assert events[-3].value == 0x70028  # Enter's HID usage
    stamps = [e.timestamp() for e in events]
    assert stamps == sorted(stamps) and stamps[0] == pytest.approx(100.0)


def test_shift_is_pressed_around_upper_case_and_symbols_only():
    assert keys(evdev_events_for("A1!")) == [
        ("KEY_LEFTSHIFT", 1), ("KEY_A", 1), ("KEY_A", 0), ("KEY_LEFTSHIFT", 0),
        ("KEY_1", 1), ("KEY_1", 0),
        ("KEY_LEFTSHIFT", 1), ("KEY_1", 1), ("KEY_1", 0), ("KEY_LEFTSHIFT", 0),
        ("KEY_ENTER", 1), ("KEY_ENTER", 0),
    ]  # fmt: skip


def test_a_held_key_auto_repeats_without_scan_codes_after_the_kernel_delay():
    events = evdev_events_for("77", hold_on=[1], at=0.0)
    repeats = [e for e in events if e.type == ecodes.EV_KEY and e.value == 2]
    assert len(repeats) == HOLD_REPEATS
    before = events[events.index(repeats[0]) - 1]
    assert before.type == ecodes.EV_SYN, "auto-repeat carries no MSC_SCAN"
    assert repeats[0].timestamp() >= 0.25


def test_stray_keys_go_where_they_are_asked_and_terminators_can_be_the_keypad_enter():
    events = evdev_events_for("12", garbage={1: "KEY_F7", 2: "KEY_ESC"}, terminator="KEY_KPENTER")
    assert [name for name, value in keys(events) if value == 1] == [
        "KEY_1",
        "KEY_F7",
        "KEY_2",
        "KEY_ESC",
        "KEY_KPENTER",
    ]


def test_a_configured_map_is_typed_with_altgr_and_unknown_characters_are_refused():
    key_map = build_key_map("us", {"KEY_Q": ["q", "Q", "@"], "KEY_2": ["2", '"']})
    events = evdev_events_for("@2", key_map=key_map)
    assert keys(events)[:4] == [("KEY_RIGHTALT", 1), ("KEY_Q", 1), ("KEY_Q", 0), ("KEY_RIGHTALT", 0)]
    assert KeyboardWedgeDecoder(key_map).feed_all(events) == ["@2"]
    with pytest.raises(ValueError, match="cannot type"):
        evdev_events_for("Ünïcode")
    with pytest.raises(ValueError, match="outside the code"):
        evdev_events_for("12", hold_on=[5])


@pytest.mark.parametrize(("terminator", "suffix"), [("CR", b"\r"), ("LF", b"\n"), ("CRLF", b"\r\n")])
def test_the_serial_scanner_sends_the_code_and_its_terminator_until_unplugged(tmp_path: Path, terminator, suffix):
    scanner = SerialScannerSimulator(tmp_path / "by-id" / "usb-scanner", terminator=terminator)
    scanner.start()
    port = serial.serial_for_url(str(scanner.link), timeout=1)
    try:
        scanner.scan("4601234567893")
        scanner.send_unterminated("46012")
        expected = b"4601234567893" + suffix + b"46012"
        assert port.read(len(expected)) == expected
        handlers = scanner.desk_handlers()
        assert handlers["scan"]({"code": "96385074"}) == {"scanned": "96385074"}
        assert port.read(8 + len(suffix)) == b"96385074" + suffix
        handlers["unplug"]({})
        with pytest.raises(serial.SerialException):
            port.read(1)
        with pytest.raises(OSError, match="unplugged"):
            scanner.scan("1")
    finally:
        port.close()
        scanner.stop()


def test_uinput_is_reported_missing_plainly_here():
    if UInputScanner.available():
        pytest.skip("this machine has /dev/uinput: the real device test runs instead")
    with pytest.raises(UInputError, match="/dev/uinput"):
        UInputScanner().start()


@pytest.mark.skipif(not UInputScanner.available(), reason=NO_UINPUT)
def test_a_uinput_scanner_is_a_real_input_device_whose_events_decode():
    import evdev

    scanner = UInputScanner()
    scanner.start()
    try:
        device = evdev.InputDevice(scanner.path)
        assert f"{device.info.vendor:04x}:{device.info.product:04x}" == SIM_USB_ID
        device.grab()
        scanner.scan("Shop-42")
        decoder, codes, deadline = KeyboardWedgeDecoder(), [], time.monotonic() + 2
        while not codes and time.monotonic() < deadline:
            try:
                codes += decoder.feed_all(device.read())
            except BlockingIOError:
                time.sleep(0.01)
        assert codes == ["Shop-42"]
        device.close()
    finally:
        scanner.stop()
