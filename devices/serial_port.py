"""Opening a device's serial port, or going offline until it can be opened.

Serial devices (the customer display, a serial scanner, the fiscal register) are
configured with a ``port``: a path, a ``/dev/serial/by-id/…`` link or any pyserial
``serial_for_url`` URL.  A port that cannot be opened (unplugged, held by another
program, a link that points nowhere) raises ``DeviceGone``, so the supervisor marks
the device offline and tries again; a device with no port in the config stays
offline with a ``DeviceError`` saying so.
"""

from __future__ import annotations

import errno
import os

import serial

from bus.payloads import DeviceError, ErrorCode
from devices.actor import DeviceGone


def open_serial(
    device_id: str,
    url: str | None,
    *,
    baudrate: int,
    timeout: float | None,
    write_timeout: float | None = None,
) -> serial.SerialBase:
    """Blocking: open ``url`` for ``device_id``, exclusively.

    Exclusive, because a second program on the same line (a stray terminal) would
    garble what the device is sent or steal what it says.  ``timeout`` and
    ``write_timeout`` are pyserial's: None blocks, 0 never waits.
    """
    if not url:
        raise DeviceError(
            ErrorCode.DEVICE_ERROR, f"{device_id} has no port in the config (a serial path or by-id link)"
        )
    try:
        return serial.serial_for_url(
            url, baudrate=baudrate, timeout=timeout, write_timeout=write_timeout, exclusive=True
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceGone(f"cannot open {url}: {why_not(exc)}") from exc


def why_not(exc: BaseException) -> str:
    """The reason once: pyserial wraps the OSError's text (errno, path) in its own, which
    repeats both ("[Errno 2] could not open port X: [Errno 2] No such file or directory: 'X'")."""
    number = getattr(exc, "errno", None)
    if not isinstance(number, int) or number <= 0:
        return str(exc)
    reason = f"[Errno {number}] {os.strerror(number)}"
    if number in (errno.EAGAIN, errno.EWOULDBLOCK) and "lock" in str(exc):
        return f"another program holds it ({reason})"  # pyserial's exclusive lock
    return reason
