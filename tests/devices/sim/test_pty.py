"""The pty under every serial simulator: bytes both ways, unplug and replug at one path."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import serial

from devices.sim.pty import PtyDevice


class Shouting(PtyDevice):
    def received(self, data: bytes) -> None:
        self.send(data.upper())


def test_bytes_pass_unchanged_both_ways_and_unplug_is_noticed_at_once(tmp_path: Path):
    device = Shouting(tmp_path / "by-id" / "usb-shop-display")
    device.start()
    port = serial.serial_for_url(str(device.link), timeout=1)
    try:
        port.write(b"total\r\n\x1b@")
        assert port.read(8) == b"TOTAL\r\n\x1b"
        unplugged = time.monotonic()
        device.stop()
        with pytest.raises(serial.SerialException):
            port.read(1)
        assert time.monotonic() - unplugged < 1.0
        assert not device.link.exists()
    finally:
        port.close()
    device.start()  # plugged back in: same path, new pty
    again = serial.serial_for_url(str(device.link), timeout=1)
    try:
        again.write(b"back")
        assert again.read(4) == b"BACK"
    finally:
        again.close()
        device.stop()
