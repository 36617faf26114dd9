"""The simulated customer display reads Epson display commands as the real one does.

Most tests feed bytes straight to the screen; one drives the simulator through its pty.
"""

from __future__ import annotations

from pathlib import Path

import serial

from devices.line_display import LineDisplay
from devices.sim.customer_display import LineDisplayScreen, LineDisplaySimulator

MOLOKO_CP866 = bytes([0x8C, 0xAE, 0xAB, 0xAE, 0xAA, 0xAE]) + b" 1" + bytes([0xAB])  # "Молоко 1л"


def screen_after(*chunks: bytes) -> LineDisplayScreen:
    screen = LineDisplayScreen()
    for chunk in chunks:
        screen.feed(chunk)
    return screen


def test_text_after_power_on_starts_at_home_in_page_zero():
    screen = screen_after(b"Hello")
    assert screen.lines == ("Hello", "")
    assert screen.cursor == (6, 1)
    assert screen.code_page == "cp437"


def test_a_code_page_decides_what_bytes_above_127_mean():
    # Before ESC t the display is on page 0 and the same bytes are Latin rubbish.
    assert screen_after(MOLOKO_CP866).lines == ("î«½«¬« 1½", "")
    screen = screen_after(b"\x1b\x74\x11" + MOLOKO_CP866)
    assert screen.lines == ("Молоко 1л", "")
    assert screen.code_page == "cp866"


def test_cursor_position_is_one_based_and_out_of_range_is_ignored():
    screen = screen_after(b"\x1f\x24\x05\x02abc")
    assert screen.lines == ("", "    abc")
    screen.feed(b"\x1f\x24\x15\x01X")  # column 21: ignored, text goes on where the cursor was
    assert screen.lines == ("", "    abcX")
    assert screen.unknown == [b"\x1f\x24\x15\x01"]


def test_text_wraps_from_the_upper_line_to_the_lower_at_twenty_columns():
    screen = screen_after(b"A" * 20 + b"B" * 5)
    assert screen.lines == ("A" * 20, "B" * 5)


def test_overwrite_mode_goes_back_to_the_top_after_the_lower_line():
    screen = screen_after(b"\x1f\x01" + b"A" * 40 + b"CC")
    assert screen.lines == ("CC" + "A" * 18, "A" * 20)


def test_vertical_scroll_mode_moves_the_lower_line_up():
    screen = screen_after(b"\x1f\x02" + b"A" * 20 + b"B" * 20)
    assert screen.lines == ("A" * 20, "B" * 20), "forty characters fill the screen without scrolling"
    screen.feed(b"C")
    assert screen.lines == ("B" * 20, "C")


def test_horizontal_scroll_mode_pushes_the_line_left():
    screen = screen_after(b"\x1f\x03" + b"0123456789" * 2 + b"AB")
    assert screen.lines == ("23456789" + "0123456789" + "AB", "")


def test_clear_home_and_clear_line():
    screen = screen_after(b"upper\x1f\x24\x01\x02lower")
    screen.feed(b"\x0bU")  # home, then overwrite the first cell
    assert screen.lines == ("Upper", "lower")
    screen.feed(b"\x1f\x42\x18")  # US B: bottom line; CAN clears it
    assert screen.lines == ("Upper", "")
    screen.feed(b"\x0c")
    assert screen.lines == ("", "") and screen.cursor == (1, 1)


def test_initialise_blanks_the_screen_and_returns_to_page_zero():
    screen = screen_after(b"\x1b\x74\x11\x1f\x02old text")
    screen.feed(b"\x1b\x40")
    assert screen.lines == ("", "")
    assert screen.code_page == "cp437" and screen.mode == "overwrite"


def test_cursor_movement_commands():
    screen = screen_after(b"abc\x08X")  # BS
    assert screen.lines == ("abX", "")
    screen.feed(b"\rY\nZ")  # CR, then LF keeps the column
    assert screen.lines == ("YbX", " Z")
    screen.feed(b"\x1f\x0aQ")  # US LF: up
    assert screen.lines == ("YbQ", " Z")
    screen.feed(b"\x1f\x0dR\tS")  # US CR: right end of the line; HT wraps to the next line
    assert screen.lines == ("YbQ" + " " * 16 + "R", "SZ")


def test_a_command_split_between_two_reads_is_completed_by_the_next():
    screen = screen_after(b"\x1b", b"\x74", b"\x11\x1f", b"\x24\x01", b"\x02" + MOLOKO_CP866[:3], MOLOKO_CP866[3:])
    assert screen.lines == ("", "Молоко 1л")
    assert screen.unknown == []


def test_look_only_commands_are_read_past_and_unknown_ones_are_kept():
    screen = screen_after(
        b"\x1f\x58\x04"  # brightness 4
        b"\x1f\x43\x00"  # cursor off
        b"\x1b\x57\x01\x01\x01\x01\x14\x01"  # window 1 set
        b"\x1b\x26\x01\x41\x41\x05"  # define character "A", five columns wide,
        + b"\x00" * 5  # and its five columns of dots
        + b"ok\x1b\x5a\x01"  # text, then ESC Z (no such command) and a stray control byte
    )
    assert screen.lines == ("ok", "")
    assert screen.unknown == [b"\x1b\x5a", b"\x01"]


def test_the_driver_frame_shows_exactly_the_laid_out_lines():
    display = LineDisplay()
    screen = screen_after(display.initialise(), display.show("Молоко 1л", "89.90", align2="right"))
    assert screen.cells == ("Молоко 1л".ljust(20), "89.90".rjust(20))
    assert screen.unknown == []


def test_the_simulator_on_its_pty_shows_what_the_port_is_sent_and_writes_it_to_a_file(tmp_path: Path):
    state = tmp_path / "display.txt"
    display = LineDisplaySimulator(tmp_path / "by-id" / "usb-display", state_file=state)
    display.start()
    try:
        assert state.read_text(encoding="utf-8") == " " * 20 + "\n" + " " * 20 + "\n"
        with serial.serial_for_url(str(display.link), timeout=1) as port:
            port.write(b"\x1b\x40\x1b\x74\x11" + MOLOKO_CP866 + b"\x1f\x24\x01\x02" + b"89.90")
            assert display.wait_for(("Молоко 1л", "89.90"), timeout=2)
        assert state.read_text(encoding="utf-8") == "Молоко 1л".ljust(20) + "\n" + "89.90".ljust(20) + "\n"
        assert bytes(display.received_bytes).startswith(b"\x1b\x40\x1b\x74\x11")
        display.stop()
        display.start()  # unplugged and plugged back in: a display starts blank
        assert display.lines == ("", "")
        assert display.desk_handlers()["look"]({}) == {"lines": ["", ""], "plugged_in": True}
    finally:
        display.stop()
