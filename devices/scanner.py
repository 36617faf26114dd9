"""Barcode scanners: every scan goes to the till that holds the scanner, and only to it.

A scanner is an ``exclusive`` device (DESIGN.md, Devices): a till claims it for a
sale and receives each scan as an event on its own ``client/{id}/event`` topic:

    {"type": "scan", "device": "scanner-1", "data": {"code": "4601234567893",
     "symbology": "EAN-13", "gtin_valid": true, "ts": 1718000000.123}, "ts": …}

Nobody holding the claim, the scan goes to the till the scanner is assigned to in
the config; with no holder and no assignment it is dropped and counted.

Who sees the code.  A scan is often a loyalty card or a shopper's order code, and a
till without the claim must never see it.  So the code travels only on the
recipient's ``client/{id}/event``.  The device's own ``dev/{id}/event`` (read by the
hub and by technicians) gets a notice without the code — ``scan_delivered {to,
symbology, gtin_valid, length}`` or ``scan_dropped {reason, symbology, length}`` —
enough to see that the scanner reads and where its scans go.  (A technician's ACL
reads every topic, tills' ``client/…/event`` included; that is the technician role
by design.  To see codes on purpose, a technician claims the scanner.)  Codes are
never logged.

Two drivers, chosen by the config's ``driver``:

- ``evdev`` (default): a USB keyboard-wedge scanner.  The device is opened by its
  ``/dev/input/by-id/…`` link (``port``) or found by USB vendor:product
  (``options.usb_id``), grabbed so its keys never reach the console, and its events
  are read on the event loop (non-blocking fd, ``add_reader``) into a
  ``KeyboardWedgeDecoder`` (devices/keyboard_wedge.py).
- ``serial``: a scanner on a serial port (RS-232 or USB CDC), one code per line
  ended by CR, LF or CR LF (``options.serial_terminator``), read the same way.

A read that fails (ENODEV, EIO: unplugged) takes the actor offline; the supervisor
reopens it once a second until the scanner is back.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, Protocol

import evdev
import serial
from evdev import ecodes
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from bus.payloads import DeviceError, ErrorCode, Event, now
from devices.actor import DeviceActor, DeviceGone, DevicePort, DeviceSpec, Job, action
from devices.gtin import guess_symbology, is_valid_gtin
from devices.keyboard_wedge import (
    DEFAULT_TERMINATOR_KEYS,
    LAYOUTS,
    MAX_CHAR_GAP_S,
    MAX_CODE_LENGTH,
    KeyboardWedgeDecoder,
    build_key_map,
    key_code,
)
from devices.serial_port import open_serial

log = logging.getLogger(__name__)

DRIVERS = ("evdev", "serial")

#: Where Linux puts input devices, and udev's stable names for them.
INPUT_DIR = Path("/dev/input")

#: Largest read from a serial scanner at once: many codes' worth.
SERIAL_READ_CHUNK = 4096

#: Line endings a serial scanner can be set to send after each code (its "suffix").
SERIAL_TERMINATORS: dict[str, bytes] = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}

#: USB vendor ids of scanner makers, for ``list_candidate_inputs``: a hint, not a rule
#: (many no-name scanners say they are a plain keyboard).
SCANNER_VENDORS: dict[int, str] = {
    0x05E0: "Zebra (Symbol)",
    0x0C2E: "Honeywell (Metrologic)",
    0x0536: "Honeywell (Hand Held Products)",
    0x05F9: "Datalogic",
    0x065A: "Opticon",
    0x1EAB: "Newland",
}

#: Words in an input device's name that say it is a scanner.
SCANNER_NAME = re.compile(r"scan|barcode|bar code|imager|\bpos\b", re.IGNORECASE)

USB_ID = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$")


class ScannerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    usb_id: str | None = Field(
        None,
        description="evdev: find the scanner by USB vendor:product as lsusb shows it (05e0:1200) when `port` is not set.",
    )
    layout: str = Field(
        "us", description=f"evdev: the keyboard layout the scanner types in; known: {', '.join(LAYOUTS)}."
    )
    key_map: dict[str, list[str]] = Field(
        default_factory=dict,
        description='evdev: keys laid over the layout, key name -> [plain, shifted] or [plain, shifted, altgr], e.g. {KEY_Z = ["y", "Y"]}.',
    )
    terminator_keys: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TERMINATOR_KEYS), min_length=1, description="evdev: keys that end a code."
    )
    serial_terminator: Literal["CR", "LF", "CRLF"] = Field(
        "CR", description="serial: what the scanner sends after each code."
    )
    baudrate: int = Field(9600, gt=0, description="serial: line speed (9600 is most scanners' factory setting).")
    encoding: str = Field(
        "utf-8", description="serial: how the scanner encodes characters; undecodable bytes become U+FFFD."
    )
    max_code_length: int = Field(
        MAX_CODE_LENGTH, ge=1, le=MAX_CODE_LENGTH, description="Longer input is not one scan and is dropped."
    )
    max_char_gap_s: float = Field(
        MAX_CHAR_GAP_S,
        gt=0,
        le=60,
        description="Characters further apart than this are not one scan: the first part is dropped.",
    )

    @field_validator("usb_id")
    @classmethod
    def _usb_id(cls, value: str | None) -> str | None:
        if value is not None and not USB_ID.match(value):
            raise ValueError("give the USB id as vendor:product in hex, like 05e0:1200")
        return value.lower() if value else value

    @field_validator("layout")
    @classmethod
    def _layout(cls, value: str) -> str:
        build_key_map(value)
        return value

    @field_validator("key_map")
    @classmethod
    def _key_map(cls, value: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
        build_key_map(info.data.get("layout", "us"), value)
        return value

    @field_validator("terminator_keys")
    @classmethod
    def _terminator_keys(cls, value: list[str]) -> list[str]:
        for name in value:
            key_code(name)
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value


# -- the serial protocol: bytes in, codes out ------------------------------------------


class SerialScanFraming:
    """Splits the bytes of a serial scanner into codes, one per terminator.

    Knows nothing of ports: fed ``bytes`` and the time they arrived.  Stray CR or LF
    around a code are dropped (a scanner set to CR LF under a CR setting still reads).
    Like the keyboard-wedge decoder it bounds its buffer and forgets a half code
    when the next bytes come after a gap.
    """

    def __init__(
        self,
        terminator: bytes = b"\r",
        *,
        encoding: str = "utf-8",
        max_length: int = MAX_CODE_LENGTH,
        max_gap_s: float = MAX_CHAR_GAP_S,
        counters: dict[str, int] | None = None,
    ) -> None:
        self.terminator = terminator
        self.encoding = encoding
        self.max_length = max_length
        self.max_gap_s = max_gap_s
        #: What it counts; given a device's counters, it counts into them.
        self.counters = counters if counters is not None else {}
        for name in ("codes_too_long", "partial_codes_discarded"):
            self.counters.setdefault(name, 0)
        self._buffer = bytearray()
        self._discarding = False
        self._last_at: float | None = None

    def reset(self) -> None:
        self._buffer.clear()
        self._discarding = False
        self._last_at = None

    def feed(self, data: bytes, at: float) -> list[str]:
        """The codes ``data`` completes; ``at`` is when it arrived (``time.monotonic()``)."""
        if not data:
            return []
        last, self._last_at = self._last_at, at
        if last is not None and at - last > self.max_gap_s:
            if self._buffer.strip(b"\r\n"):
                self.counters["partial_codes_discarded"] += 1
            self._buffer.clear()
            self._discarding = False
        self._buffer += data
        codes: list[str] = []
        while (end := self._buffer.find(self.terminator)) >= 0:
            frame = bytes(self._buffer[:end]).strip(b"\r\n")
            del self._buffer[: end + len(self.terminator)]
            if self._discarding:
                self._discarding = False
            elif len(frame) > self.max_length:
                self.counters["codes_too_long"] += 1
            elif frame:
                codes.append(frame.decode(self.encoding, errors="replace"))
        if len(self._buffer) > self.max_length:
            # No terminator in sight: keep nothing more until the next one (but the
            # first byte of a CR LF that may have been cut in two).
            if not self._discarding:
                self.counters["codes_too_long"] += 1
                self._discarding = True
            del self._buffer[: len(self._buffer) - (len(self.terminator) - 1)]
        return codes


# -- transports: where the codes come from ---------------------------------------------


class ScanSource(Protocol):
    """An open scanner: a file descriptor to wait on and the codes readable now."""

    description: dict[str, Any]

    def fileno(self) -> int: ...

    def read_codes(self) -> list[str]:
        """Codes completed by what can be read without blocking; ``OSError``: the device is gone."""

    def close(self) -> None: ...


class EvdevScanSource:
    """A keyboard-wedge scanner's input device, grabbed, feeding the decoder."""

    def __init__(self, device: evdev.InputDevice, decoder: KeyboardWedgeDecoder) -> None:
        self.device = device
        self.decoder = decoder
        self.description = {
            "input": str(device.path),
            "name": device.name,
            "usb_id": f"{device.info.vendor:04x}:{device.info.product:04x}",
        }

    @classmethod
    def open(cls, path: str | None, usb_id: str | None, decoder: KeyboardWedgeDecoder) -> EvdevScanSource:
        """Blocking: open and grab the device at ``path``, or the first free one with ``usb_id``."""
        if path:
            device = _open_input(path)
            _grab(device)
        elif usb_id:
            device = _find_and_grab(usb_id)
        else:
            raise DeviceError(
                ErrorCode.DEVICE_ERROR, "an evdev scanner needs `port` (a /dev/input/by-id/… link) or `options.usb_id`"
            )
        decoder.reset()
        return cls(device, decoder)

    def fileno(self) -> int:
        return self.device.fd

    def read_codes(self) -> list[str]:
        try:
            events = list(self.device.read())
        except BlockingIOError:
            return []  # woken with nothing to read
        return self.decoder.feed_all(events)

    def close(self) -> None:
        for step in (self.device.ungrab, self.device.close):
            try:
                step()
            except OSError:
                pass  # unplugged: nothing left to let go of


def _open_input(path: str) -> evdev.InputDevice:
    try:
        return evdev.InputDevice(path)
    except FileNotFoundError:
        raise DeviceGone(f"no input device at {path} (unplugged?)") from None
    except PermissionError:
        raise DeviceError(ErrorCode.DEVICE_ERROR, f"may not read {path}: is the hub's user in group `input`?") from None
    except OSError as exc:
        if exc.errno == errno.ENODEV:  # going away as we opened it
            raise DeviceGone(f"no input device at {path} (unplugged?)") from None
        raise DeviceError(ErrorCode.DEVICE_ERROR, f"{path} is not an input device (/dev/input/event*): {exc}") from None


def _grab(device: evdev.InputDevice) -> None:
    # Grabbed, the scanner types only to us: never into the console or a desktop session.
    try:
        device.grab()
    except OSError as exc:
        device.close()
        raise DeviceError(
            ErrorCode.DEVICE_ERROR, f"cannot grab {device.path}: another program holds it ({exc})"
        ) from None


def _find_and_grab(usb_id: str) -> evdev.InputDevice:
    vendor, product = (int(part, 16) for part in usb_id.split(":"))
    busy = 0
    for path in sorted(evdev.list_devices(str(INPUT_DIR), writable=False)):
        try:
            device = evdev.InputDevice(path)
        except OSError:
            continue
        if (device.info.vendor, device.info.product) != (vendor, product) or not _types_enter(device):
            device.close()
            continue
        try:
            device.grab()
        except OSError:  # a twin scanner another actor already holds: try the next one
            device.close()
            busy += 1
            continue
        return device
    held = f" ({busy} held by others: give each twin its by-id `port`)" if busy else ""
    raise DeviceGone(f"no free input device with USB id {usb_id}{held} (unplugged?)")


def _types_enter(device: evdev.InputDevice) -> bool:
    # A scanner may show several interfaces (keyboard, consumer keys, HID POS); only
    # the keyboard one types codes.
    return ecodes.KEY_ENTER in device.capabilities().get(ecodes.EV_KEY, [])


class SerialScanSource:
    """A serial scanner's port, non-blocking, feeding the framing."""

    def __init__(self, port: serial.SerialBase, framing: SerialScanFraming, url: str) -> None:
        self.port = port
        self.framing = framing
        self.description = {"port": url}

    @classmethod
    def open(
        cls, device_id: str, url: str | None, options: ScannerOptions, framing: SerialScanFraming
    ) -> SerialScanSource:
        """Blocking: open the port for reading without blocking (timeout 0)."""
        if not url:
            raise DeviceError(
                ErrorCode.DEVICE_ERROR, "a serial scanner needs `port` (a /dev/serial/by-id/… link or a path)"
            )
        # Exclusive (as open_serial always is): a stray terminal must not steal scans.
        port = open_serial(device_id, url, baudrate=options.baudrate, timeout=0)
        try:
            port.fileno()  # read when the loop says readable: needs a real descriptor
        except (OSError, AttributeError):  # io.UnsupportedOperation is an OSError
            port.close()
            raise DeviceError(
                ErrorCode.DEVICE_ERROR, f"{url} is not a local serial port; serial scanners need one"
            ) from None
        # Bytes that arrived while nobody listened belong to no sale now.
        port.reset_input_buffer()
        framing.reset()
        return cls(port, framing, url)

    def fileno(self) -> int:
        return self.port.fileno()

    def read_codes(self) -> list[str]:
        return self.framing.feed(self.port.read(SERIAL_READ_CHUNK), time.monotonic())

    def close(self) -> None:
        try:
            self.port.close()
        except OSError:
            pass


# -- the actor --------------------------------------------------------------------------


class Scanner(DeviceActor):
    kind = "scanner"
    sharing = "exclusive"
    Options = ScannerOptions

    def __init__(self, spec: DeviceSpec, port: DevicePort) -> None:
        super().__init__(spec, port)
        options: ScannerOptions = self.options  # type: ignore[assignment]
        self.driver = spec.driver or "evdev"
        self.counters |= {"scans_delivered": 0, "scans_dropped": 0}
        # One decoder per device, kept across replugs.  Both count straight into the
        # device's counters; a name they share (codes_too_long) adds up.
        self.decoder = KeyboardWedgeDecoder(
            build_key_map(options.layout, options.key_map),
            terminator_keys=options.terminator_keys,
            max_length=options.max_code_length,
            max_gap_s=options.max_char_gap_s,
            counters=self.counters,
        )
        self.framing = SerialScanFraming(
            SERIAL_TERMINATORS[options.serial_terminator],
            encoding=options.encoding,
            max_length=options.max_code_length,
            max_gap_s=options.max_char_gap_s,
            counters=self.counters,
        )
        if self.driver == "serial":
            self.capabilities = {"driver": "serial", "terminator": options.serial_terminator}
        else:
            self.capabilities = {
                "driver": self.driver,
                "layout": options.layout,
                "terminator_keys": options.terminator_keys,
            }
        self._source: ScanSource | None = None
        self._reading_fd: int | None = None
        #: Set when the device stops answering; ``serve`` raises it to the supervisor.
        self._lost: asyncio.Future[None] | None = None

    # -- the transport ---------------------------------------------------------------

    async def open(self) -> None:
        options: ScannerOptions = self.options  # type: ignore[assignment]
        if self.driver == "evdev":
            source: ScanSource = await self.blocking(EvdevScanSource.open, self.spec.port, options.usb_id, self.decoder)
        elif self.driver == "serial":
            source = await self.blocking(SerialScanSource.open, self.id, self.spec.port, options, self.framing)
        else:
            raise DeviceError(
                ErrorCode.DEVICE_ERROR, f"unknown scanner driver {self.driver!r}; known: {', '.join(DRIVERS)}"
            )
        loop = asyncio.get_running_loop()
        self._source = source
        self._lost = loop.create_future()
        self._reading_fd = source.fileno()
        loop.add_reader(self._reading_fd, self._readable)
        self.capabilities = self.capabilities | source.description
        log.info("%s: scanner open (%s)", self.id, source.description)

    async def close(self) -> None:
        source, self._source = self._source, None
        if self._reading_fd is not None:
            asyncio.get_running_loop().remove_reader(self._reading_fd)
            self._reading_fd = None
        if self._lost is not None:
            if self._lost.done() and not self._lost.cancelled():
                self._lost.exception()  # seen: serve() raised it, or nobody needs it now
            self._lost.cancel()
            self._lost = None
        if source is not None:
            await self.blocking(source.close)

    async def watch(self) -> None:
        """The reader's verdict: the scanner stopped answering (raises ``DeviceGone``)."""
        assert self._lost is not None, "watch() before open()"
        await self._lost

    def _readable(self) -> None:
        """The device's fd is readable: decode what arrived and route each scan."""
        if self._source is None or self._lost is None or self._lost.done():
            return
        try:
            codes = self._source.read_codes()
        except OSError as exc:
            self._stop_reading(DeviceGone(f"{self.id} stopped answering: {exc}"))
            return
        except Exception as exc:  # a bug: the supervisor restarts the actor, never a busy loop
            self._stop_reading(exc)
            return
        for code in codes:
            self._route(code)
        # The decoder may have counted something without completing a code; the slow
        # tick publishes only when the state document did change.
        self._state_changed(urgent=False)

    def _stop_reading(self, error: BaseException) -> None:
        if self._reading_fd is not None:
            asyncio.get_running_loop().remove_reader(self._reading_fd)
            self._reading_fd = None
        if self._lost is not None and not self._lost.done():
            self._lost.set_exception(error)

    # -- where a scan goes -----------------------------------------------------------

    def _route(self, code: str) -> None:
        scan = {"code": code, "symbology": guess_symbology(code), "gtin_valid": is_valid_gtin(code), "ts": now()}
        notice = {"symbology": scan["symbology"], "gtin_valid": scan["gtin_valid"], "length": len(code)}
        recipient = self.claims.holder or self.spec.assigned_to
        if recipient is None:
            self.counters["scans_dropped"] += 1
            reason = "nobody holds the scanner and it is assigned to no till"
            self.port.publish_event(Event(type="scan_dropped", device=self.id, data={"reason": reason} | notice))
            return
        self.counters["scans_delivered"] += 1
        # The code goes to the recipient alone; the device topic gets the code-free notice.
        self.port.send_to_client(recipient, Event(type="scan", device=self.id, data=scan))
        self.port.publish_event(Event(type="scan_delivered", device=self.id, data={"to": recipient} | notice))

    # -- actions ---------------------------------------------------------------------

    @action("status", needs_claim=False)
    async def status_(self, job: Job) -> dict[str, Any]:
        # Anyone may ask, so no code is in here: only whether and where scans go.
        return {
            "status": self.status,
            "driver": self.driver,
            "holder": self.claims.holder,
            "assigned_to": self.spec.assigned_to,
            "source": self._source.description if self._source else None,
            "counters": dict(self.counters),
        }


# -- finding scanners: `storehub devices scan-inputs` ---------------------------------------


def looks_like_scanner(name: str, vendor: int, keys: Iterable[int], pointer: bool) -> tuple[bool, str]:
    """Whether an input device looks like a keyboard-wedge scanner, and why (a hint)."""
    keys = set(keys)
    if ecodes.KEY_ENTER not in keys or not {ecodes.KEY_0, ecodes.KEY_1} <= keys | {ecodes.KEY_KP0, ecodes.KEY_KP1}:
        return False, "types no Enter and digits: not a keyboard"
    if pointer:
        return False, "also moves a pointer: a mouse, touchpad or touch screen"
    if vendor in SCANNER_VENDORS:
        return True, f"a keyboard made by {SCANNER_VENDORS[vendor]}, a scanner maker"
    if SCANNER_NAME.search(name):
        return True, "a keyboard whose name says scanner"
    return False, "a keyboard, as far as its name and maker tell (scan a code with `evtest` to be sure)"


def list_candidate_inputs(input_dir: Path = INPUT_DIR) -> list[dict[str, Any]]:
    """Every input device in ``input_dir``, with what a technician needs to configure a scanner.

    Each entry: ``path``, ``name``, ``usb_id`` (vendor:product), ``links`` (its
    by-id and by-path names), ``keyboard`` and ``looks_like_scanner`` with ``why``,
    and ``suggested`` config (``port`` from a by-id link, else ``options.usb_id``).
    A device the hub's user may not open is listed with ``error``.  Nothing is grabbed.
    """
    links = _stable_links(input_dir)
    found: list[dict[str, Any]] = []
    for path in sorted(evdev.list_devices(str(input_dir), writable=False)):
        entry: dict[str, Any] = {"path": path, "links": links.get(os.path.realpath(path), [])}
        try:
            device = evdev.InputDevice(path)
        except OSError as exc:
            found.append(entry | {"error": f"cannot open: {exc.strerror or exc} (is the user in group `input`?)"})
            continue
        try:
            capabilities = device.capabilities()
            keys = capabilities.get(ecodes.EV_KEY, [])
            pointer = ecodes.EV_REL in capabilities or ecodes.EV_ABS in capabilities
            scanner, why = looks_like_scanner(device.name, device.info.vendor, keys, pointer)
            usb_id = f"{device.info.vendor:04x}:{device.info.product:04x}"
            by_id = [link for link in entry["links"] if "/by-id/" in link]
            entry |= {
                "name": device.name,
                "usb_id": usb_id,
                "phys": device.phys,
                "keyboard": ecodes.KEY_ENTER in keys,
                "looks_like_scanner": scanner,
                "why": why,
                "suggested": {"kind": "scanner", "driver": "evdev"}
                | ({"port": by_id[0]} if by_id else {"options": {"usb_id": usb_id}}),
            }
        finally:
            device.close()
        found.append(entry)
    return found


def _stable_links(input_dir: Path) -> dict[str, list[str]]:
    """Device path -> the udev links naming it (``by-id`` first: they follow the device, not the socket)."""
    links: dict[str, list[str]] = {}
    for folder in ("by-id", "by-path"):
        try:
            names = sorted(os.listdir(input_dir / folder))
        except OSError:
            continue
        for name in names:
            link = input_dir / folder / name
            links.setdefault(os.path.realpath(link), []).append(str(link))
    return links
