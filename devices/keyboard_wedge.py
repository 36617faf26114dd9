"""Keyboard-wedge scanners: turning the key presses a scanner types into scanned codes.

A USB barcode scanner in its factory setting is a keyboard: it "types" each code
key by key and presses Enter.  This module is the protocol half of the scanner's
evdev driver: it is fed the Linux input events of one device and hands back each
completed code.  It knows nothing of device files; the driver reads the events and
a test or a simulator can feed the very same ``InputEvent`` objects.

Decoding rules (what a technician can rely on):

- A character is typed when its key goes down (value 1); key-up only matters for
  the modifiers, and auto-repeat (value 2, a key held) never types it again.
- Shift (left or right) held gives the key's shifted character, AltGr (right Alt)
  its third one where the layout has one.  Ctrl, left Alt and the Windows keys are
  not typing: a key pressed with them held is skipped.
- Enter or keypad Enter (configurable) ends the code.  An empty code is no scan.
- Any key that neither types, ends the code nor is a modifier (F-keys, Esc, Caps
  Lock, mouse buttons, codes the layout does not know) is skipped and counted in
  ``keys_skipped``; the scan goes on without it.
- A code longer than ``max_length`` is not a barcode: the buffer stops growing, the
  rest up to the next Enter is thrown away and ``codes_too_long`` counts it.
- Keys further apart than ``max_gap_s`` are not one scan: what was typed before the
  gap is thrown away (``partial_codes_discarded``), so a half code never prefixes
  the next one.
- When the kernel reports that it dropped events (``SYN_DROPPED``, the reader fell
  behind), the code being typed is incomplete: it is thrown away up to the next
  Enter and ``input_overruns`` counts it.

Layouts are data: a table from key name to the characters it types unshifted,
shifted and with AltGr.  The US layout is built in; a store whose scanners type in
another layout overrides entries from the config (``build_key_map``).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence

from evdev import InputEvent, ecodes

#: The characters one key types: (plain, with Shift, with AltGr); "" types nothing.
KeyLevels = tuple[str, str, str]

#: The US layout (the factory setting of nearly every scanner), key name -> (plain,
#: shifted).  Main-block keys first: a simulated scanner types the first key that
#: gives a character, as real ones do.
US_LAYOUT: dict[str, tuple[str, str]] = {
    # the number row
    "KEY_GRAVE": ("`", "~"),
    "KEY_1": ("1", "!"),
    "KEY_2": ("2", "@"),
    "KEY_3": ("3", "#"),
    "KEY_4": ("4", "$"),
    "KEY_5": ("5", "%"),
    "KEY_6": ("6", "^"),
    "KEY_7": ("7", "&"),
    "KEY_8": ("8", "*"),
    "KEY_9": ("9", "("),
    "KEY_0": ("0", ")"),
    "KEY_MINUS": ("-", "_"),
    "KEY_EQUAL": ("=", "+"),
    # letters, and the punctuation around them
    **{f"KEY_{letter}": (letter.lower(), letter) for letter in string.ascii_uppercase},
    "KEY_LEFTBRACE": ("[", "{"),
    "KEY_RIGHTBRACE": ("]", "}"),
    "KEY_BACKSLASH": ("\\", "|"),
    "KEY_SEMICOLON": (";", ":"),
    "KEY_APOSTROPHE": ("'", '"'),
    "KEY_COMMA": (",", "<"),
    "KEY_DOT": (".", ">"),
    "KEY_SLASH": ("/", "?"),
    "KEY_SPACE": (" ", " "),
    # the keypad, which some scanners use for digits (Num Lock taken as on)
    **{f"KEY_KP{digit}": (digit, digit) for digit in string.digits},
    "KEY_KPDOT": (".", "."),
    "KEY_KPSLASH": ("/", "/"),
    "KEY_KPASTERISK": ("*", "*"),
    "KEY_KPMINUS": ("-", "-"),
    "KEY_KPPLUS": ("+", "+"),
}

#: Built-in layouts by the name the config uses (``options.layout``).
LAYOUTS: dict[str, Mapping[str, Sequence[str]]] = {"us": US_LAYOUT}

#: What ends a code unless the config says otherwise: scanners send Enter, some on the keypad.
DEFAULT_TERMINATOR_KEYS = ("KEY_ENTER", "KEY_KPENTER")

#: The most a single barcode can carry (a version-40 QR code of digits holds 7,089).
#: Anything longer is not one scan; the bound keeps a scanner that never sends Enter
#: from growing the hub's memory.
MAX_CODE_LENGTH = 7089

#: A scanner types a whole code in one burst, a few milliseconds a key (even its
#: slowest inter-character delay setting is well under this).  Keys further apart are
#: not one scan: a half code left by a glitch must not prefix the next scan.
MAX_CHAR_GAP_S = 1.0

SHIFT_KEYS = frozenset({ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT})
ALTGR_KEYS = frozenset({ecodes.KEY_RIGHTALT})
#: Held, these turn a key into a command (Ctrl+J, Alt+Tab), not a character.
COMMAND_MODIFIERS = frozenset(
    {ecodes.KEY_LEFTCTRL, ecodes.KEY_RIGHTCTRL, ecodes.KEY_LEFTALT, ecodes.KEY_LEFTMETA, ecodes.KEY_RIGHTMETA}
)
MODIFIER_KEYS = SHIFT_KEYS | ALTGR_KEYS | COMMAND_MODIFIERS

KEY_DOWN, KEY_UP, KEY_HOLD = 1, 0, 2

#: What a decoder counts (the module doc says when).
COUNTERS = ("keys_skipped", "key_repeats_ignored", "codes_too_long", "partial_codes_discarded", "input_overruns")


def key_code(name: str) -> int:
    """The evdev code of a key named as in ``linux/input-event-codes.h`` (``KEY_ENTER``)."""
    code = ecodes.ecodes.get(name) if name.startswith(("KEY_", "BTN_")) else None
    if code is None:
        raise ValueError(f"{name!r} is not a Linux key name (like KEY_ENTER, KEY_KP0, KEY_Z)")
    return code


def _levels(name: str, characters: Sequence[str]) -> KeyLevels:
    if not 1 <= len(characters) <= 3 or any(len(c) > 1 for c in characters):
        raise ValueError(f'{name}: give [plain, shifted] or [plain, shifted, altgr], one character each ("" for none)')
    plain, shifted, altgr = (*characters, "", "")[:3]
    return plain, shifted, altgr


def build_key_map(layout: str = "us", overrides: Mapping[str, Sequence[str]] | None = None) -> dict[int, KeyLevels]:
    """The key map of ``layout`` with ``overrides`` (key name -> characters) laid over it.

    ``{"KEY_Z": ["y", "Y"], "KEY_Y": ["z", "Z"]}`` over ``us`` reads a scanner set to a
    German layout's letters; ``{"KEY_Q": ["q", "Q", "@"]}`` adds an AltGr character.
    Raises ``ValueError`` naming the bad entry.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(sorted(LAYOUTS))}")
    keys = {key_code(name): _levels(name, chars) for name, chars in LAYOUTS[layout].items()}
    for name, chars in (overrides or {}).items():
        code = key_code(name)
        if code in MODIFIER_KEYS:
            raise ValueError(f"{name} is a modifier (Shift, AltGr, Ctrl, Alt, Meta); it cannot type a character")
        keys[code] = _levels(name, chars)
    return keys


US_KEY_MAP = build_key_map("us")


class KeyboardWedgeDecoder:
    """Decodes the key events of ONE input device into scanned codes.

    One instance per device: the buffer and the held modifiers belong to that device,
    so two scanners typing at once never mix their codes.
    """

    def __init__(
        self,
        key_map: Mapping[int, KeyLevels] = US_KEY_MAP,
        *,
        terminator_keys: Iterable[str] = DEFAULT_TERMINATOR_KEYS,
        max_length: int = MAX_CODE_LENGTH,
        max_gap_s: float = MAX_CHAR_GAP_S,
        counters: dict[str, int] | None = None,
    ) -> None:
        self.key_map = dict(key_map)
        self.terminators = frozenset(key_code(name) for name in terminator_keys)
        self.max_length = max_length
        self.max_gap_s = max_gap_s
        #: What it counts; given a device's counters, it counts into them.
        self.counters = counters if counters is not None else {}
        for name in COUNTERS:
            self.counters.setdefault(name, 0)
        self._buffer: list[str] = []
        self._held: set[int] = set()
        self._discarding = False  # throwing keys away up to the next terminator
        self._last_key_at: float | None = None

    @property
    def pending(self) -> str:
        """What has been typed of the current code so far."""
        return "".join(self._buffer)

    def reset(self) -> None:
        """Forget the code in progress and the held modifiers (the device was reopened)."""
        self._buffer.clear()
        self._held.clear()
        self._discarding = False
        self._last_key_at = None

    def feed_all(self, events: Iterable[InputEvent]) -> list[str]:
        """Every code completed by ``events``, in order."""
        return [code for event in events if (code := self.feed(event)) is not None]

    def feed(self, event: InputEvent) -> str | None:
        """Take one event; return a code when this event completed one."""
        if event.type == ecodes.EV_SYN and event.code == ecodes.SYN_DROPPED:
            self._overrun()
            return None
        if event.type != ecodes.EV_KEY:
            return None  # EV_SYN reports, EV_MSC scan codes, LEDs: not typing
        key, value = event.code, event.value
        if key in MODIFIER_KEYS:
            if value == KEY_DOWN:
                self._held.add(key)
            elif value == KEY_UP:
                self._held.discard(key)
            return None
        if value == KEY_HOLD:
            self.counters["key_repeats_ignored"] += 1
            return None
        if value != KEY_DOWN:
            return None
        self._forget_stale_keys(event.timestamp())
        if key in self.terminators:
            return self._finish()
        character = self._character(key)
        if not character:
            self.counters["keys_skipped"] += 1
            return None
        if self._discarding:
            return None
        if len(self._buffer) >= self.max_length:
            self.counters["codes_too_long"] += 1
            self._buffer.clear()
            self._discarding = True
            return None
        self._buffer.append(character)
        return None

    # -- inside --------------------------------------------------------------------

    def _character(self, key: int) -> str:
        levels = self.key_map.get(key)
        if levels is None or self._held & COMMAND_MODIFIERS:
            return ""
        if self._held & ALTGR_KEYS:
            return levels[2]
        return levels[1] if self._held & SHIFT_KEYS else levels[0]

    def _forget_stale_keys(self, at: float) -> None:
        last, self._last_key_at = self._last_key_at, at
        if last is None or at - last <= self.max_gap_s:
            return
        if self._buffer:
            self.counters["partial_codes_discarded"] += 1
            self._buffer.clear()
        self._discarding = False  # a new burst: whatever was being thrown away is over

    def _finish(self) -> str | None:
        code = "".join(self._buffer)
        self._buffer.clear()
        if self._discarding:
            self._discarding = False
            return None
        return code or None

    def _overrun(self) -> None:
        self.counters["input_overruns"] += 1
        self._buffer.clear()
        self._discarding = True
        # A lost key-up would leave Shift "held" and turn the next code's digits into
        # symbols; scanners press modifiers only around single characters.
        self._held.clear()
