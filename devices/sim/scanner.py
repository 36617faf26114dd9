"""Simulated barcode scanners, speaking what real ones speak.

- ``evdev_events_for(code)``: the Linux input events a USB keyboard-wedge scanner
  makes the kernel report for one scan — per key an ``EV_MSC``/``MSC_SCAN`` with the
  HID usage, the ``EV_KEY`` press or release and a ``SYN_REPORT``; Shift pressed
  around upper case and symbols; Enter at the end.  Optionally keys held long
  enough to auto-repeat (value 2) and stray keys.  Fed to ``KeyboardWedgeDecoder``
  they replay a scan where no input device can be made.
- ``UInputScanner``: the same events written to ``/dev/uinput``, so the kernel makes
  a real ``/dev/input/event*`` device the hub opens, grabs and reads.  Needs the
  uinput module and write access to ``/dev/uinput``; ``available()`` says.
- ``SerialScannerSimulator``: a serial scanner on a pty behind a stable link;
  ``scan(code)`` sends the code and its terminator; ``stop()`` unplugs it.
"""

from __future__ import annotations

import os
import string
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from evdev import InputEvent, ecodes

from devices.keyboard_wedge import US_KEY_MAP, KeyLevels, key_code
from devices.scanner import SERIAL_TERMINATORS
from devices.sim.pty import PtyDevice

#: Time between two key reports of a simulated scan.  Real scanners type a key every
#: one to a few milliseconds; the reader must keep up with that.
KEY_INTERVAL_S = 0.001

#: The kernel's default auto-repeat: the first repeat after 250 ms, then every 33 ms.
REPEAT_DELAY_S = 0.250
REPEAT_PERIOD_S = 0.033

#: How many auto-repeats a held key makes in a simulated scan.
HOLD_REPEATS = 3

#: The HID usage id (USB "Keyboard/Keypad" page 0x07) behind each key: what the
#: kernel reports in ``MSC_SCAN`` (as 0x7xxxx) before the key event.
HID_USAGE: dict[str, int] = {
    **{f"KEY_{letter}": 0x04 + n for n, letter in enumerate(string.ascii_uppercase)},
    **{f"KEY_{digit}": 0x1E + n for n, digit in enumerate("123456789")},
    "KEY_0": 0x27,
    "KEY_ENTER": 0x28,
    "KEY_ESC": 0x29,
    "KEY_BACKSPACE": 0x2A,
    "KEY_TAB": 0x2B,
    "KEY_SPACE": 0x2C,
    "KEY_MINUS": 0x2D,
    "KEY_EQUAL": 0x2E,
    "KEY_LEFTBRACE": 0x2F,
    "KEY_RIGHTBRACE": 0x30,
    "KEY_BACKSLASH": 0x31,
    "KEY_SEMICOLON": 0x33,
    "KEY_APOSTROPHE": 0x34,
    "KEY_GRAVE": 0x35,
    "KEY_COMMA": 0x36,
    "KEY_DOT": 0x37,
    "KEY_SLASH": 0x38,
    "KEY_CAPSLOCK": 0x39,
    **{f"KEY_F{n}": 0x3A + n - 1 for n in range(1, 13)},
    "KEY_HOME": 0x4A,
    "KEY_END": 0x4D,
    "KEY_KPSLASH": 0x54,
    "KEY_KPASTERISK": 0x55,
    "KEY_KPMINUS": 0x56,
    "KEY_KPPLUS": 0x57,
    "KEY_KPENTER": 0x58,
    **{f"KEY_KP{digit}": 0x59 + n for n, digit in enumerate("123456789")},
    "KEY_KP0": 0x62,
    "KEY_KPDOT": 0x63,
    "KEY_102ND": 0x64,
    "KEY_LEFTCTRL": 0xE0,
    "KEY_LEFTSHIFT": 0xE1,
    "KEY_LEFTALT": 0xE2,
    "KEY_LEFTMETA": 0xE3,
    "KEY_RIGHTCTRL": 0xE4,
    "KEY_RIGHTSHIFT": 0xE5,
    "KEY_RIGHTALT": 0xE6,
    "KEY_RIGHTMETA": 0xE7,
}
_HID_BY_CODE = {key_code(name): 0x70000 | usage for name, usage in HID_USAGE.items()}

#: What a simulated scanner says it is: a Zebra (Symbol) scanner's USB ids.
SIM_NAME = "StoreHub simulated barcode scanner"
SIM_USB_ID = "05e0:1200"


def typing_for(key_map: Mapping[int, KeyLevels] = US_KEY_MAP) -> dict[str, tuple[int, int]]:
    """Character -> (key code, level: 0 plain, 1 Shift, 2 AltGr), as a scanner types it.

    The first key in the map's order that gives a character wins: the main block's
    digits and Shift+8 for "*", not the keypad's.
    """
    typing: dict[str, tuple[int, int]] = {}
    for key, levels in key_map.items():
        for level, character in enumerate(levels):
            if character and character not in typing:
                typing[character] = (key, level)
    return typing


_US_TYPING = typing_for(US_KEY_MAP)
_LEVEL_MODIFIER = {1: "KEY_LEFTSHIFT", 2: "KEY_RIGHTALT"}


def evdev_events_for(
    code: str,
    *,
    key_map: Mapping[int, KeyLevels] = US_KEY_MAP,
    terminator: str = "KEY_ENTER",
    hold_on: Iterable[int] = (),
    garbage: Mapping[int, str] | None = None,
    shift_key: str = "KEY_LEFTSHIFT",
    at: float | None = None,
    key_interval_s: float = KEY_INTERVAL_S,
) -> list[InputEvent]:
    """The input events of one scan of ``code``, as the kernel reports them.

    ``hold_on``: positions in ``code`` whose key is held until it auto-repeats
    (``HOLD_REPEATS`` events of value 2).  ``garbage``: position -> a key name
    pressed and released before the character at that position (``len(code)``:
    before the terminator).  ``at``: the time of the first event (default: now).
    Raises ``ValueError`` for a character the key map cannot type.
    """
    typing = _US_TYPING if key_map is US_KEY_MAP else typing_for(key_map)
    missing = sorted({c for c in code if c not in typing})
    if missing:
        raise ValueError(f"the key map cannot type {''.join(missing)!r}")
    held = set(hold_on)
    stray = dict(garbage or {})
    for position in held | set(stray):
        if not 0 <= position <= len(code):
            raise ValueError(f"position {position} is outside the code (0..{len(code)})")
    modifiers = {1: key_code(shift_key), 2: key_code(_LEVEL_MODIFIER[2])}
    clock = [time.time() if at is None else at]
    events: list[InputEvent] = []

    def report(key: int, value: int, *, scan_code: bool = True, after_s: float = key_interval_s) -> None:
        stamp = clock[0]
        sec, usec = int(stamp), int(round((stamp - int(stamp)) * 1_000_000))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        if scan_code and key in _HID_BY_CODE:
            events.append(InputEvent(sec, usec, ecodes.EV_MSC, ecodes.MSC_SCAN, _HID_BY_CODE[key]))
        events.append(InputEvent(sec, usec, ecodes.EV_KEY, key, value))
        events.append(InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0))
        clock[0] += after_s

    def tap(key: int, *, hold: bool = False) -> None:
        if not hold:
            report(key, 1)
        else:
            report(key, 1, after_s=REPEAT_DELAY_S)
            for _ in range(HOLD_REPEATS):  # the kernel's auto-repeat carries no scan code
                report(key, 2, scan_code=False, after_s=REPEAT_PERIOD_S)
        report(key, 0)

    for position, character in enumerate(code):
        if position in stray:
            tap(key_code(stray[position]))
        key, level = typing[character]
        if level:
            report(modifiers[level], 1)
        tap(key, hold=position in held)
        if level:
            report(modifiers[level], 0)
    if len(code) in stray:
        tap(key_code(stray[len(code)]))
    tap(key_code(terminator))
    return events


class UInputScanner:
    """A keyboard-wedge scanner made by the kernel from ``/dev/uinput``.

    ``start()`` creates the input device (``path`` names it), ``scan(code)`` types a
    code into it, ``stop()`` removes it — to the hub, an unplugged scanner.
    """

    def __init__(
        self,
        *,
        name: str = SIM_NAME,
        usb_id: str = SIM_USB_ID,
        key_map: Mapping[int, KeyLevels] = US_KEY_MAP,
        key_interval_s: float = KEY_INTERVAL_S,
        devnode: str = "/dev/uinput",
    ) -> None:
        self.name = name
        self.vendor, self.product = (int(part, 16) for part in usb_id.split(":"))
        self.key_map = key_map
        self.key_interval_s = key_interval_s
        self.devnode = devnode
        self._uinput: Any = None

    @staticmethod
    def available(devnode: str = "/dev/uinput") -> bool:
        """Whether this machine can make virtual input devices."""
        return os.path.exists(devnode) and os.access(devnode, os.W_OK)

    @property
    def path(self) -> str:
        if self._uinput is None or self._uinput.device is None:
            raise RuntimeError("the simulated scanner is not plugged in (start() it)")
        return str(self._uinput.device.path)

    def start(self) -> None:
        """Plug in: raises ``evdev.UInputError`` where ``/dev/uinput`` is missing."""
        from evdev import UInput  # only here: importing is fine anywhere, creating needs the device

        keys = set(self.key_map) | {key_code(name) for name in HID_USAGE}
        self._uinput = UInput(
            events={ecodes.EV_KEY: sorted(keys), ecodes.EV_MSC: [ecodes.MSC_SCAN]},
            name=self.name,
            vendor=self.vendor,
            product=self.product,
            bustype=ecodes.BUS_USB,
            devnode=self.devnode,
        )

    def scan(self, code: str, **kwargs: Any) -> None:
        """Type ``code`` (and Enter); ``kwargs`` as for ``evdev_events_for``."""
        if self._uinput is None:
            raise OSError("the simulated scanner is unplugged")
        for event in evdev_events_for(code, key_map=self.key_map, **kwargs):
            self._uinput.write(event.type, event.code, event.value)
            if event.type == ecodes.EV_SYN and self.key_interval_s:
                time.sleep(self.key_interval_s)

    def stop(self) -> None:
        """Unplug: the input device disappears and the hub's next read fails."""
        if self._uinput is not None:
            self._uinput.close()
            self._uinput = None


class SerialScannerSimulator(PtyDevice):
    """A serial scanner: each scan is the code's bytes and the terminator (its suffix)."""

    def __init__(self, link: Path, *, terminator: str = "CR", encoding: str = "utf-8") -> None:
        super().__init__(link)
        if terminator not in SERIAL_TERMINATORS:
            raise ValueError(f"terminator must be one of {', '.join(SERIAL_TERMINATORS)}")
        self.terminator = SERIAL_TERMINATORS[terminator]
        self.encoding = encoding

    def scan(self, code: str) -> None:
        self.send(code.encode(self.encoding) + self.terminator)

    def send_unterminated(self, text: str) -> None:
        """A code cut off before its terminator (a glitch, a cable pulled mid-scan)."""
        self.send(text.encode(self.encoding))

    def desk_handlers(self) -> dict[str, Any]:
        """What ``storehub sim`` can tell this scanner to do (``SimulatorDesk.register``)."""

        def scan(args: dict[str, Any]) -> dict[str, Any]:
            self.scan(str(args["code"]))
            return {"scanned": args["code"]}

        def unplug(args: dict[str, Any]) -> dict[str, Any]:
            self.stop()
            return {"plugged": False}

        def plug_in(args: dict[str, Any]) -> dict[str, Any]:
            if not self.running:
                self.start()
            return {"plugged": True}

        return {"scan": scan, "unplug": unplug, "plug_in": plug_in}
