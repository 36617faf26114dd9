"""The keyboard-wedge decoder, fed real evdev ``InputEvent`` objects as the kernel reports them.

Hand-typed sequences (``press``/``release`` below) check each rule on its own; the
simulator's ``evdev_events_for`` supplies whole scans for the round-trip property.
"""

from __future__ import annotations

import pytest
from evdev import InputEvent, ecodes
from hypothesis import given
from hypothesis import strategies as st

from devices.keyboard_wedge import (
    MAX_CHAR_GAP_S,
    US_KEY_MAP,
    KeyboardWedgeDecoder,
    build_key_map,
)
from devices.sim.scanner import evdev_events_for

PRINTABLE_US_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))


class Keyboard:
    """Types key by key, as a scanner does, producing real events with a clock."""

    def __init__(self, at: float = 1_700_000_000.0) -> None:
        self.at = at

    def event(self, type_: int, code: int, value: int) -> InputEvent:
        sec = int(self.at)
        return InputEvent(sec, int((self.at - sec) * 1_000_000), type_, code, value)

    def key(self, name: str, value: int) -> list[InputEvent]:
        self.at += 0.001
        return [self.event(ecodes.EV_KEY, ecodes.ecodes[name], value), self.event(ecodes.EV_SYN, ecodes.SYN_REPORT, 0)]

    def tap(self, name: str) -> list[InputEvent]:
        return self.key(name, 1) + self.key(name, 0)

    def shifted(self, name: str, shift: str = "KEY_LEFTSHIFT") -> list[InputEvent]:
        return self.key(shift, 1) + self.tap(name) + self.key(shift, 0)

    def wait(self, seconds: float) -> None:
        self.at += seconds


def test_digits_and_enter_make_one_code_on_key_down():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    events = [e for key in "4601234567893" for e in kb.tap(f"KEY_{key}")]
    assert decoder.feed_all(events) == []
    assert decoder.pending == "4601234567893"
    # The code is complete the moment Enter goes down, before it comes up.
    assert decoder.feed_all(kb.key("KEY_ENTER", 1)) == ["4601234567893"]
    assert decoder.feed_all(kb.key("KEY_ENTER", 0)) == []


def test_shift_from_either_side_gives_upper_case_and_symbols():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    events = (
        kb.shifted("KEY_A")
        + kb.tap("KEY_B")
        + kb.shifted("KEY_C", shift="KEY_RIGHTSHIFT")
        + kb.tap("KEY_MINUS")
        + kb.shifted("KEY_MINUS")
        + kb.tap("KEY_ENTER")
    )
    assert decoder.feed_all(events) == ["AbC-_"]


def test_every_shifted_symbol_of_the_us_layout():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    # Written out from a US keyboard, not from the decoder's table.
    symbols = {
        "KEY_GRAVE": "~", "KEY_1": "!", "KEY_2": "@", "KEY_3": "#", "KEY_4": "$", "KEY_5": "%",
        "KEY_6": "^", "KEY_7": "&", "KEY_8": "*", "KEY_9": "(", "KEY_0": ")", "KEY_MINUS": "_",
        "KEY_EQUAL": "+", "KEY_LEFTBRACE": "{", "KEY_RIGHTBRACE": "}", "KEY_BACKSLASH": "|",
        "KEY_SEMICOLON": ":", "KEY_APOSTROPHE": '"', "KEY_COMMA": "<", "KEY_DOT": ">", "KEY_SLASH": "?",
    }  # fmt: skip
    events = [e for key in symbols for e in kb.shifted(key)] + kb.tap("KEY_ENTER")
    assert decoder.feed_all(events) == ["".join(symbols.values())]
    plain = ["KEY_GRAVE", "KEY_MINUS", "KEY_EQUAL", "KEY_LEFTBRACE", "KEY_RIGHTBRACE", "KEY_BACKSLASH",
             "KEY_SEMICOLON", "KEY_APOSTROPHE", "KEY_COMMA", "KEY_DOT", "KEY_SLASH", "KEY_SPACE"]  # fmt: skip
    events = [e for key in plain for e in kb.tap(key)] + kb.tap("KEY_ENTER")
    assert decoder.feed_all(events) == ["`-=[]\\;',./ "]


def test_releasing_one_shift_while_the_other_is_held_keeps_shifting():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    events = (
        kb.key("KEY_LEFTSHIFT", 1)
        + kb.key("KEY_RIGHTSHIFT", 1)
        + kb.key("KEY_LEFTSHIFT", 0)
        + kb.tap("KEY_X")
        + kb.key("KEY_RIGHTSHIFT", 0)
        + kb.tap("KEY_X")
        + kb.tap("KEY_ENTER")
    )
    assert decoder.feed_all(events) == ["Xx"]


def test_a_held_key_is_typed_once_and_its_repeats_are_counted():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    events = kb.key("KEY_7", 1) + kb.key("KEY_7", 2) + kb.key("KEY_7", 2) + kb.key("KEY_7", 0) + kb.tap("KEY_ENTER")
    assert decoder.feed_all(events) == ["7"]
    assert decoder.counters["key_repeats_ignored"] == 2


def test_keypad_digits_and_keypad_enter():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    events = [e for digit in "9638507" for e in kb.tap(f"KEY_KP{digit}")] + kb.tap("KEY_4") + kb.tap("KEY_KPENTER")
    assert decoder.feed_all(events) == ["96385074"]


def test_stray_keys_are_skipped_and_counted_and_the_scan_goes_on():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    events = (
        kb.tap("KEY_1")
        + kb.tap("KEY_F5")
        + kb.tap("KEY_ESC")
        + kb.tap("KEY_CAPSLOCK")
        + kb.tap("BTN_LEFT")
        + [kb.event(ecodes.EV_KEY, 0x2FE, 1), kb.event(ecodes.EV_KEY, 0x2FE, 0)]  # no such key
        + kb.tap("KEY_2")
        + [kb.event(ecodes.EV_MSC, ecodes.MSC_SCAN, 0x7001F), kb.event(ecodes.EV_LED, ecodes.LED_NUML, 1)]
        + kb.tap("KEY_ENTER")
    )
    assert decoder.feed_all(events) == ["12"]
    assert decoder.counters["keys_skipped"] == 5  # key-downs only; MSC, LED and SYN are not keys


def test_keys_pressed_with_ctrl_alt_or_meta_are_commands_not_characters():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    events = kb.tap("KEY_1") + kb.key("KEY_LEFTCTRL", 1) + kb.tap("KEY_J") + kb.key("KEY_LEFTCTRL", 0)
    events += (
        kb.key("KEY_LEFTALT", 1) + kb.tap("KEY_TAB") + kb.key("KEY_LEFTALT", 0) + kb.tap("KEY_2") + kb.tap("KEY_ENTER")
    )
    assert decoder.feed_all(events) == ["12"]
    assert decoder.counters["keys_skipped"] == 2


def test_enter_on_its_own_is_no_scan():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    assert decoder.feed_all(kb.tap("KEY_ENTER") + kb.tap("KEY_KPENTER")) == []


def test_a_scanner_that_never_sends_enter_cannot_grow_the_buffer_and_its_code_is_dropped():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder(max_length=10)
    for _ in range(25):
        decoder.feed_all(kb.tap("KEY_5"))
        assert len(decoder.pending) <= 10
    assert decoder.counters["codes_too_long"] == 1
    # The tail of an overlong code never becomes a code of its own ...
    assert decoder.feed_all(kb.tap("KEY_ENTER")) == []
    # ... and the next scan reads normally.
    events = [e for key in "0123456789" for e in kb.tap(f"KEY_{key}")] + kb.tap("KEY_ENTER")
    assert decoder.feed_all(events) == ["0123456789"]


def test_a_half_code_before_a_pause_does_not_prefix_the_next_scan():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    decoder.feed_all(kb.tap("KEY_9") + kb.tap("KEY_9"))
    kb.wait(MAX_CHAR_GAP_S + 0.5)
    events = [e for key in "123" for e in kb.tap(f"KEY_{key}")] + kb.tap("KEY_ENTER")
    assert decoder.feed_all(events) == ["123"]
    assert decoder.counters["partial_codes_discarded"] == 1


def test_events_the_kernel_dropped_spoil_the_code_being_typed_and_release_shift():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    # Shift went down, then the reader fell behind: its release was among the lost events.
    events = kb.tap("KEY_4") + kb.key("KEY_LEFTSHIFT", 1) + [kb.event(ecodes.EV_SYN, ecodes.SYN_DROPPED, 0)]
    events += kb.tap("KEY_6") + kb.tap("KEY_ENTER")
    assert decoder.feed_all(events) == []
    assert decoder.counters["input_overruns"] == 1
    events = kb.tap("KEY_4") + kb.tap("KEY_6") + kb.tap("KEY_ENTER")
    assert decoder.feed_all(events) == ["46"], "a lost Shift release turned digits into symbols"


def test_reset_forgets_the_code_in_progress_and_held_modifiers():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder()
    decoder.feed_all(kb.tap("KEY_1") + kb.key("KEY_LEFTSHIFT", 1))
    decoder.reset()  # the scanner was unplugged mid-scan and is back
    assert decoder.feed_all(kb.tap("KEY_2") + kb.tap("KEY_ENTER")) == ["2"]


def test_two_devices_two_decoders_never_mix_codes():
    kb, first, second = Keyboard(), KeyboardWedgeDecoder(), KeyboardWedgeDecoder()
    assert first.feed_all(kb.tap("KEY_1") + kb.key("KEY_LEFTSHIFT", 1)) == []
    assert second.feed_all(kb.tap("KEY_2") + kb.tap("KEY_ENTER")) == ["2"]
    assert first.feed_all(kb.tap("KEY_A") + kb.key("KEY_LEFTSHIFT", 0) + kb.tap("KEY_ENTER")) == ["1A"]


def test_a_configured_map_swaps_keys_and_adds_an_altgr_level():
    # A scanner set to a German layout types Y and Z on each other's keys, @ with AltGr+Q.
    key_map = build_key_map("us", {"KEY_Y": ["z", "Z"], "KEY_Z": ["y", "Y"], "KEY_Q": ["q", "Q", "@"]})
    kb, decoder = Keyboard(), KeyboardWedgeDecoder(key_map)
    events = kb.tap("KEY_Y") + kb.shifted("KEY_Z") + kb.tap("KEY_Q")
    events += (
        kb.key("KEY_RIGHTALT", 1) + kb.tap("KEY_Q") + kb.tap("KEY_W") + kb.key("KEY_RIGHTALT", 0) + kb.tap("KEY_ENTER")
    )
    assert decoder.feed_all(events) == ["zYq@"]
    assert decoder.counters["keys_skipped"] == 1  # AltGr+W types nothing in this map
    assert US_KEY_MAP[ecodes.KEY_Y][0] == "y", "the built-in layout is never changed by an override"


def test_terminator_keys_are_configurable():
    kb, decoder = Keyboard(), KeyboardWedgeDecoder(terminator_keys=["KEY_TAB"])
    assert decoder.feed_all(kb.tap("KEY_1") + kb.tap("KEY_ENTER") + kb.tap("KEY_2") + kb.tap("KEY_TAB")) == ["12"]
    assert decoder.counters["keys_skipped"] == 1


@pytest.mark.parametrize(
    ("layout", "overrides", "complaint"),
    [
        ("dvorak", {}, "unknown layout 'dvorak'"),
        ("us", {"KEY_NOPE": ["x", "X"]}, "'KEY_NOPE' is not a Linux key name"),
        ("us", {"KEY_A": ["ab", "AB"]}, "one character each"),
        ("us", {"KEY_A": []}, "one character each"),
        ("us", {"KEY_LEFTSHIFT": ["x", "X"]}, "is a modifier"),
    ],
)
def test_bad_maps_are_refused_naming_what_is_wrong(layout, overrides, complaint):
    with pytest.raises(ValueError, match=complaint):
        build_key_map(layout, overrides)


@given(st.text(alphabet=PRINTABLE_US_ASCII, min_size=1, max_size=80))
def test_any_printable_us_ascii_code_survives_a_scan(code: str):
    decoder = KeyboardWedgeDecoder()
    assert decoder.feed_all(evdev_events_for(code)) == [code]
    assert decoder.pending == ""


@given(
    st.text(alphabet=PRINTABLE_US_ASCII, min_size=1, max_size=40).flatmap(
        lambda code: st.tuples(
            st.just(code),
            st.sets(st.integers(0, len(code) - 1), max_size=3),
            st.dictionaries(
                st.integers(0, len(code)), st.sampled_from(["KEY_F1", "KEY_ESC", "KEY_HOME", "KEY_F12"]), max_size=3
            ),
            st.sampled_from(["KEY_ENTER", "KEY_KPENTER"]),
        )
    )
)
def test_held_keys_stray_keys_and_either_enter_never_change_the_code(case):
    code, held, stray, terminator = case
    decoder = KeyboardWedgeDecoder()
    events = evdev_events_for(code, hold_on=held, garbage=stray, terminator=terminator)
    assert decoder.feed_all(events) == [code]
    assert decoder.counters["keys_skipped"] == len(stray)
    assert decoder.counters["key_repeats_ignored"] == 3 * len(held)
