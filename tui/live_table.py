"""A table of keyed rows that a busy store can change many times a second.

Textual's DataTable forgets every drawn cell when any one cell changes, so at 160x48 a
single device's change cost most of 100 ms to draw.  Here each row keeps its drawn line
until that row changes, and a change repaints that line alone; the rest of the screen
is copied from what was drawn before.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

#: Blank columns on either side of a cell's text.
CELL_PADDING = 1


@functools.lru_cache(maxsize=64)
def parsed(style: str) -> Style:
    """A row's style as given (``"green dim"``), parsed once."""
    return Style.parse(style) if style else Style()


def printable(text: str) -> str:
    """``text`` on one line, with any control character (a device may say anything in
    its error) shown as a replacement mark instead of reaching the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ("\u00a0" if c in "\t\n\r" else "\ufffd") for c in text)


class LiveTable(ScrollView, can_focus=True):
    """Columns named once; rows by key, kept in the order of their keys, one style each."""

    COMPONENT_CLASSES = {"live-table--header", "live-table--even-row", "live-table--cursor"}
    DEFAULT_CSS = """
    LiveTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .live-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .live-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .live-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .live-table--even-row {
            background: $surface-lighten-1 50%;
        }
        &:dark > .live-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .live-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    BINDINGS = [
        Binding("enter", "select", "open", show=False),
        Binding("up", "cursor(-1)", show=False),
        Binding("down", "cursor(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "first", show=False),
        Binding("end", "last", show=False),
    ]

    class RowSelected(Message):
        """Enter (or a second click) on a row."""

        def __init__(self, table: LiveTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LiveTable:
            return self.table

    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        """``columns``: (key, heading) each."""
        super().__init__(id=id)
        self.column_keys = [key for key, _ in columns]
        self.headings = [printable(heading) for _, heading in columns]
        self._widths = [cell_len(heading) for heading in self.headings]
        self._keys: list[str] = []
        self._cells: dict[str, tuple[str, ...]] = {}
        self._styles: dict[str, str] = {}
        #: Each row's line as last drawn, whole (before the horizontal scroll's crop).
        self._drawn: dict[str, Strip] = {}
        self.cursor_row = 0
        #: Whether the technician put the cursor on its row (it then stays on that row as
        #: rows come and go above it; until then it stays on the first).
        self._chosen = False

    # -- the rows ---------------------------------------------------------------------

    @property
    def rows(self) -> list[str]:
        """The rows' keys, in order."""
        return list(self._keys)

    def get_cell(self, key: str, column: str) -> str:
        return self._cells[key][self.column_keys.index(column)]

    @property
    def cursor_key(self) -> str | None:
        return self._keys[self.cursor_row] if self._keys else None

    def set_row(self, key: str, cells: Sequence[str], style: str = "") -> None:
        """Add the row ``key`` or change it; a row as it was already costs nothing."""
        shown = tuple(printable(cell) for cell in cells)
        if self._cells.get(key) == shown and self._styles.get(key) == style:
            return
        new = key not in self._cells
        self._cells[key], self._styles[key] = shown, style
        self._drawn.pop(key, None)
        at = bisect.bisect_left(self._keys, key)
        if new:
            self._keys.insert(at, key)
            if self._chosen and at <= self.cursor_row < len(self._keys) - 1:
                self.cursor_row += 1
        if self._widen(shown):
            self._redraw_all()
        elif new:
            self._moved(at)
        else:
            self._repaint(at)

    def remove_row(self, key: str) -> None:
        if key not in self._cells:
            return
        at = bisect.bisect_left(self._keys, key)
        del self._keys[at], self._cells[key], self._styles[key]
        self._drawn.pop(key, None)
        if (self._chosen and at < self.cursor_row) or self.cursor_row >= len(self._keys):
            self.cursor_row = max(0, self.cursor_row - 1)
        self._moved(at)

    def _widen(self, cells: tuple[str, ...]) -> bool:
        """Columns grow to their widest text (and never shrink, so rows do not jump
        sideways as a long error comes and goes).  True when one grew."""
        wider = False
        for column, cell in enumerate(cells):
            if (width := cell_len(cell)) > self._widths[column]:
                self._widths[column], wider = width, True
        return wider

    def _moved(self, first: int) -> None:
        """Rows from ``first`` on moved a line (and changed stripes): redraw them."""
        for key in self._keys[first:]:
            self._drawn.pop(key, None)
        self._sized()
        self.refresh()

    def _redraw_all(self) -> None:
        self._drawn.clear()
        self._sized()
        self.refresh()

    def _sized(self) -> None:
        self.virtual_size = Size(self._table_width(), len(self._keys) + 1)

    def _table_width(self) -> int:
        return sum(self._widths) + 2 * CELL_PADDING * len(self._widths)

    def _repaint(self, row: int) -> None:
        """Repaint the one line of ``row`` if it is in sight."""
        y = row + 1 - round(self.scroll_y)
        if 1 <= y < self.size.height:
            self.refresh_line(row + 1)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn.clear()

    def on_focus(self, event: events.Focus) -> None:
        self._redraw_all()  # the cursor's colours differ with the focus

    def on_blur(self, event: events.Blur) -> None:
        self._redraw_all()

    def on_resize(self, event: events.Resize) -> None:
        self._redraw_all()  # each line's background reaches the right edge

    # -- the cursor -------------------------------------------------------------------

    def move_cursor(self, row: int) -> None:
        self._chosen = True
        row = max(0, min(row, len(self._keys) - 1))
        if row == self.cursor_row or not self._keys:
            return
        for was in (self.cursor_row, row):
            if was < len(self._keys):
                self._drawn.pop(self._keys[was], None)
                self._repaint(was)
        self.cursor_row = row
        self._cursor_in_sight()

    def _cursor_in_sight(self) -> None:
        rows_seen = max(1, self.size.height - 1)
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + rows_seen:
            self.scroll_to(y=self.cursor_row - rows_seen + 1, animate=False)

    def action_cursor(self, by: int) -> None:
        self.move_cursor(self.cursor_row + by)

    def action_page(self, by: int) -> None:
        self.move_cursor(self.cursor_row + by * max(1, self.size.height - 1))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._keys) - 1)

    def action_select(self) -> None:
        if (key := self.cursor_key) is not None:
            self.post_message(self.RowSelected(self, key))

    def _on_click(self, event: events.Click) -> None:
        row = event.y - 1 + round(self.scroll_y)
        if event.y < 1 or not 0 <= row < len(self._keys):
            return
        event.stop()
        if row == self.cursor_row:
            self.action_select()
        else:
            self.move_cursor(row)

    # -- drawing ----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            strip = self._line(self.headings, self.get_component_rich_style("live-table--header"), Style(), width)
        else:
            row = y - 1 + round(self.scroll_y)
            if row >= len(self._keys):
                return Strip.blank(width, self.rich_style)
            key = self._keys[row]
            strip = self._drawn.get(key)
            if strip is None:
                strip = self._drawn[key] = self._row_line(row, key, width)
        x = round(self.scroll_x)
        return strip.crop(x, x + width).adjust_cell_length(width, self.rich_style)

    def _row_line(self, row: int, key: str, width: int) -> Strip:
        base = self.rich_style
        if row % 2 == 0:
            base += self.get_component_rich_style("live-table--even-row")
        over = Style()
        if row == self.cursor_row:
            cursor = self.get_component_rich_style("live-table--cursor")
            base += cursor
            over = Style.from_color(color=cursor.color)  # the cursor's colours win over the row's
        return self._line(self._cells[key], base, parsed(self._styles[key]) + over, width)

    def _line(self, cells: Sequence[str], base: Style, text: Style, width: int) -> Strip:
        pad = " " * CELL_PADDING
        style = base + text
        segments = [
            Segment(pad + set_cell_size(cell, column_width) + pad, style)
            for cell, column_width in zip(cells, self._widths, strict=True)
        ]
        segments.append(Segment(" " * max(0, width - self._table_width()), base))
        return Strip(segments).simplify()
