"""A simulated 2x20 customer display on a pty: it reads the Epson display commands.

``LineDisplayScreen`` is the display's behaviour on bytes alone, so a test can feed it
bytes and read the two lines; ``LineDisplaySimulator`` puts one behind a pty link the
hub opens as it would a USB-serial display, and can write what it shows to a file so
a person (or ``storehub sim``) can watch the customer's view.

The screen follows the Epson DM-D command set (see ``devices/line_display.py``):
ESC @, ESC t n, CLR, HOM, CAN, CR, LF, BS, HT, US $ x y, US B, US CR, US LF and the
three display modes.  Commands that change only the look (brightness, blink, cursor
shape, windows, user-defined characters, annunciators) are read and ignored; bytes it
does not understand are kept in ``unknown`` so a test can see a driver send rubbish.

One assumption where Epson's manuals are silent: a character written in the last
column leaves the cursor just past the end, and the wrap (or scroll) happens when the
next character arrives.  So forty characters from home fill the screen in every mode.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.line_display import (
    CLEAR,
    CODE_PAGES,
    CURSOR_TO,
    DEFAULT_COLUMNS,
    ESC,
    HOME,
    HORIZONTAL_SCROLL_MODE,
    INITIALISE,
    OVERWRITE_MODE,
    POWER_ON_CODE_PAGE,
    ROWS,
    SELECT_CODE_PAGE,
    US,
    VERTICAL_SCROLL_MODE,
    Lines,
)
from devices.sim.pty import PtyDevice

log = logging.getLogger(__name__)

#: The bytes a command of two or more bytes starts with.
_PREFIXES = (ESC[0], US[0])
_PAGE_BY_NUMBER = {number: name for name, number in CODE_PAGES.items()}

#: Commands the screen reads past without acting: prefix -> argument bytes.  Epson's
#: brightness (US X), blink (US E), cursor display (US C), reverse (US r), DTR (US v),
#: period/comma/semicolon (US . , ;), annunciator (US #), counter (US T, US U),
#: self-test (US @), international set (ESC R), peripheral select (ESC =),
#: user-defined set on/off (ESC %), cancel user-defined character (ESC ?).
_IGNORED: dict[bytes, int] = {
    US + b"X": 1,
    US + b"E": 1,
    US + b"C": 1,
    US + b"r": 1,
    US + b"v": 1,
    US + b".": 1,
    US + b",": 1,
    US + b";": 1,
    US + b"#": 2,
    US + b"T": 2,
    US + b"U": 0,
    US + b"@": 0,
    ESC + b"R": 1,
    ESC + b"=": 1,
    ESC + b"%": 1,
    ESC + b"?": 1,
}


class _NeedMore(Exception):
    """The command is not complete yet: wait for the next bytes."""


class LineDisplayScreen:
    """Two lines of cells, a cursor, a mode and a code page, driven by bytes."""

    def __init__(self, columns: int = DEFAULT_COLUMNS) -> None:
        self.columns = columns
        #: Commands (and stray control bytes) this screen did not understand.
        self.unknown: list[bytes] = []
        self._pending = b""
        self._commands: dict[bytes, Callable[[bytes], None]] = {
            INITIALISE: lambda _: self._initialise(),
            SELECT_CODE_PAGE: self._select_code_page,
            OVERWRITE_MODE: lambda _: self._set_mode("overwrite"),
            VERTICAL_SCROLL_MODE: lambda _: self._set_mode("vertical_scroll"),
            HORIZONTAL_SCROLL_MODE: lambda _: self._set_mode("horizontal_scroll"),
            CURSOR_TO: self._cursor_to,
            US + b"B": lambda _: self._move(0, ROWS - 1),
            US + b"\r": lambda _: self._move(self.columns - 1, self._row),
            US + b"\n": lambda _: self._up(),
            CLEAR: lambda _: self._clear(),
            HOME: lambda _: self._move(0, 0),
            b"\x18": lambda _: self._clear_line(),
            b"\r": lambda _: self._move(0, self._row),
            b"\n": lambda _: self._down(),
            b"\x08": lambda _: self._left(),
            b"\t": lambda _: self._right(),
        }
        self._arguments = {SELECT_CODE_PAGE: 1, CURSOR_TO: 2}
        self.power_on()

    # -- what a test reads -----------------------------------------------------------

    @property
    def cells(self) -> Lines:
        """Every cell of both lines, blanks included."""
        return "".join(self._cells[0]), "".join(self._cells[1])

    @property
    def lines(self) -> Lines:
        """What a person reads: each line without its trailing blanks."""
        top, bottom = self.cells
        return top.rstrip(" "), bottom.rstrip(" ")

    @property
    def cursor(self) -> tuple[int, int]:
        """(column, line), counted from 1 as ``US $`` counts them."""
        return min(self._column, self.columns - 1) + 1, self._row + 1

    @property
    def code_page(self) -> str:
        return self._code_page

    @property
    def mode(self) -> str:
        return self._mode

    # -- power and bytes ----------------------------------------------------------------

    def power_on(self) -> None:
        """As the display is when switched on: blank, page 0, overwrite mode, nothing pending."""
        self._pending = b""
        self._initialise()

    def feed(self, data: bytes) -> None:
        """Bytes from the wire; a command cut between two reads waits for its rest."""
        self._pending += data
        while self._pending:
            try:
                used = self._step(self._pending)
            except _NeedMore:
                return
            self._pending = self._pending[used:]

    def _step(self, data: bytes) -> int:
        first = data[0]
        if first >= 0x20:
            end = next((i for i, byte in enumerate(data) if byte < 0x20), len(data))
            for character in data[:end].decode(self._code_page, errors="replace"):
                self._put(character)
            return end
        if first not in _PREFIXES:
            command = data[:1]
            if command in self._commands:
                self._commands[command](b"")
            else:
                self.unknown.append(command)
            return 1
        if len(data) < 2:
            raise _NeedMore
        prefix = data[:2]
        if prefix in self._commands:
            size = 2 + self._arguments.get(prefix, 0)
            if len(data) < size:
                raise _NeedMore
            self._commands[prefix](data[2:size])
            return size
        if prefix in _IGNORED:
            size = 2 + _IGNORED[prefix]
            if len(data) < size:
                raise _NeedMore
            return size
        if prefix == ESC + b"W":
            return _window_size(data)
        if prefix == ESC + b"&":
            return _user_characters_size(data)
        self.unknown.append(prefix)
        return 2

    # -- commands -----------------------------------------------------------------------

    def _initialise(self) -> None:
        self._cells = [[" "] * self.columns for _ in range(ROWS)]
        self._column = self._row = 0
        self._code_page = POWER_ON_CODE_PAGE
        self._mode = "overwrite"

    def _select_code_page(self, arguments: bytes) -> None:
        page = _PAGE_BY_NUMBER.get(arguments[0])
        if page is None:  # Epson ignores a table it does not have
            self.unknown.append(SELECT_CODE_PAGE + arguments)
            return
        self._code_page = page

    def _set_mode(self, mode: str) -> None:
        self._mode = mode

    def _cursor_to(self, arguments: bytes) -> None:
        column, line = arguments
        if 1 <= column <= self.columns and 1 <= line <= ROWS:  # out of range: ignored
            self._move(column - 1, line - 1)
        else:
            self.unknown.append(CURSOR_TO + arguments)

    def _move(self, column: int, row: int) -> None:
        self._column, self._row = column, row

    def _clear(self) -> None:
        self._cells = [[" "] * self.columns for _ in range(ROWS)]
        self._move(0, 0)

    def _clear_line(self) -> None:
        self._cells[self._row] = [" "] * self.columns
        self._column = 0

    def _put(self, character: str) -> None:
        if self._column >= self.columns:
            if self._mode == "horizontal_scroll":
                self._cells[self._row] = self._cells[self._row][1:] + [" "]
                self._column = self.columns - 1
            else:
                self._next_line()
        self._cells[self._row][self._column] = character
        self._column += 1

    def _next_line(self) -> None:
        """Past the end of a line: to the start of the next, or scroll."""
        self._column = 0
        if self._row < ROWS - 1:
            self._row += 1
        elif self._mode == "vertical_scroll":
            self._scroll_up()
        else:
            self._row = 0

    def _scroll_up(self) -> None:
        self._cells = self._cells[1:] + [[" "] * self.columns]

    def _scroll_down(self) -> None:
        self._cells = [[" "] * self.columns] + self._cells[:-1]

    def _right(self) -> None:
        if self._mode == "horizontal_scroll" and self._column >= self.columns - 1:
            return
        self._column += 1
        if self._column >= self.columns:
            self._next_line()

    def _left(self) -> None:
        if self._column > 0:
            self._column = min(self._column, self.columns) - 1
            return
        if self._mode == "horizontal_scroll":
            return
        self._column = self.columns - 1
        if self._row > 0:
            self._row -= 1
        elif self._mode == "vertical_scroll":
            self._scroll_down()
        else:
            self._row = ROWS - 1

    def _down(self) -> None:
        if self._row < ROWS - 1:
            self._row += 1
        elif self._mode == "vertical_scroll":
            self._scroll_up()
        elif self._mode == "overwrite":
            self._row = 0

    def _up(self) -> None:
        if self._row > 0:
            self._row -= 1
        elif self._mode == "vertical_scroll":
            self._scroll_down()
        elif self._mode == "overwrite":
            self._row = ROWS - 1


def _window_size(data: bytes) -> int:
    """``ESC W n m [x1 y1 x2 y2]``: the range comes only when a window is set (m = 1 or '1')."""
    if len(data) < 4:
        raise _NeedMore
    size = 8 if data[3] in (1, 0x31) else 4
    if len(data) < size:
        raise _NeedMore
    return size


def _user_characters_size(data: bytes) -> int:
    """``ESC & s n m`` then, per character n..m, a width ``a`` and ``s * a`` pattern bytes."""
    if len(data) < 5:
        raise _NeedMore
    height, first, last = data[2], data[3], data[4]
    at = 5
    for _ in range(max(last - first + 1, 0)):
        if len(data) <= at:
            raise _NeedMore
        at += 1 + height * data[at]
    if len(data) < at:
        raise _NeedMore
    return at


class LineDisplaySimulator(PtyDevice):
    """A customer display at ``link``: ``start()`` is power on, ``stop()`` is unplugging it.

    ``lines`` is what the customer reads now.  With ``state_file``, the display's two
    lines (every cell, one line of text each) are written there whenever they change.
    """

    def __init__(self, link: Path, *, columns: int = DEFAULT_COLUMNS, state_file: Path | None = None) -> None:
        super().__init__(link)
        self.state_file = state_file
        self._screen = LineDisplayScreen(columns)
        self._changed = threading.Condition()
        #: Every byte received since power-on, to compare with what a driver meant to send.
        self.received_bytes = bytearray()

    @property
    def lines(self) -> Lines:
        with self._changed:
            return self._screen.lines

    @property
    def screen(self) -> LineDisplayScreen:
        """The screen itself (read it only while no bytes are arriving)."""
        return self._screen

    def start(self) -> None:
        with self._changed:
            self._screen.power_on()
            self.received_bytes.clear()
            self._write_state()
            self._changed.notify_all()
        super().start()

    def received(self, data: bytes) -> None:
        with self._changed:
            before = self._screen.cells
            self.received_bytes += data
            self._screen.feed(data)
            if self._screen.cells != before:
                self._write_state()  # before waiters wake: whoever sees the lines finds the file
            self._changed.notify_all()

    def wait_for(self, lines: Lines, timeout: float = 2.0) -> bool:
        """Block until the display reads ``lines`` (trailing blanks aside); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._screen.lines == tuple(lines), timeout)

    def desk_handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """What ``storehub sim`` may tell this display: look at it, unplug it, plug it in."""

        def look(args: dict[str, Any]) -> dict[str, Any]:
            return {"lines": list(self.lines), "plugged_in": self.running}

        def unplug(args: dict[str, Any]) -> dict[str, Any]:
            self.stop()
            return look(args)

        def plug_in(args: dict[str, Any]) -> dict[str, Any]:
            if not self.running:
                self.start()
            return look(args)

        return {"look": look, "unplug": unplug, "plug_in": plug_in}

    def _write_state(self) -> None:
        """Called holding the lock, so two writers never share the temporary file."""
        if self.state_file is None:
            return
        cells = self._screen.cells
        try:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            fresh = self.state_file.with_name(self.state_file.name + ".new")
            fresh.write_text("\n".join(cells) + "\n", encoding="utf-8")
            fresh.replace(self.state_file)  # a reader never sees half a screen
        except OSError:
            log.exception("could not write the display's state to %s", self.state_file)
