"""The customer display's wire protocol: Epson ESC/POS display commands for 2x20 displays.

This module builds the exact bytes a 2-line customer display is sent and knows nothing
of ports.  It speaks the Epson DM-D command set, which most 2x20 pole displays also
speak in their "Epson mode":

    ESC @       1B 40       initialise: settings back to power-on values, screen cleared, cursor home
    ESC t n     1B 74 n     select character code table n (``CODE_PAGES``)
    US MD1      1F 01       overwrite mode: past the end of the lower line the cursor goes back
                            to the top; the display never scrolls by itself
    US $ x y    1F 24 x y   cursor to column x (1..20) of line y (1..2), both 1-based
    CLR         0C          clear the screen, cursor home
    HOM         0B          cursor home (column 1, line 1)
    text        20..FF      one byte per cell, in the selected code page

Every ``show`` frame repeats the code page and the mode and places each line with an
absolute cursor position, then writes every cell of both lines.  So a frame never
depends on what the display did before: a display that lost power on its own supply
(the serial port stays, so nobody notices) shows the next frame correctly.

How a till's text becomes what the customer sees:

* Text is NFC-normalised (a composed "й" is one cell, not two); tabs, newlines, other
  control characters and unusual spaces become a plain space (a control byte would be
  a command to the display); invisible format characters (soft hyphen) are dropped; a
  character the code page cannot show becomes "?".  Spaces the till sends are kept.
* A line longer than the display is cut at the last column, without an ellipsis: a
  20-cell line cannot spare a cell, and "…" exists in none of the code pages.
* A shorter line is padded with spaces: ``left`` puts the blanks after the text,
  ``right`` before it, ``center`` on both sides (the odd blank goes after the text).
* A *pair* (``right``: an item name on the left and its price on the right) keeps the
  right text whole and cuts the left text so that at least one blank separates them;
  a right text wider than the display is cut like any line and the left text dropped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

Align = Literal["left", "center", "right"]
ALIGNMENTS: tuple[Align, ...] = ("left", "center", "right")

#: The display's two lines, laid out: each exactly ``columns`` characters.
Lines = tuple[str, str]

ESC = b"\x1b"
US = b"\x1f"

INITIALISE = ESC + b"@"
SELECT_CODE_PAGE = ESC + b"t"
OVERWRITE_MODE = US + b"\x01"
VERTICAL_SCROLL_MODE = US + b"\x02"
HORIZONTAL_SCROLL_MODE = US + b"\x03"
CURSOR_TO = US + b"$"
CLEAR = b"\x0c"
HOME = b"\x0b"

#: A 2x20 display has two lines; this module is for those.
ROWS = 2

#: The width of an Epson DM-D and of most pole displays.
DEFAULT_COLUMNS = 20

#: Epson's character code tables (``ESC t n``) that Python has a codec for.  Data, not
#: branches: a display with another numbering is configured with its own number.
CODE_PAGES: dict[str, int] = {
    "cp437": 0,  # USA, standard Europe: the power-on page
    "cp850": 2,  # Multilingual (Latin-1)
    "cp860": 3,  # Portuguese
    "cp863": 4,  # Canadian French
    "cp865": 5,  # Nordic
    "cp1252": 16,  # Windows Latin-1
    "cp866": 17,  # Cyrillic: Russian shop texts
    "cp852": 18,  # Latin-2, Central Europe
    "cp858": 19,  # Multilingual with the euro sign
}

#: The page a display uses after power-on or ``ESC @``.
POWER_ON_CODE_PAGE = "cp437"

#: The default page of this product: a Russian shop needs Cyrillic.
DEFAULT_CODE_PAGE = "cp866"

#: Characters that must each become exactly one byte in a single-byte code page.
_SINGLE_BYTE_PROBE = "AЖé€ア"


def _is_single_byte(code_page: str) -> bool:
    try:
        return len(_SINGLE_BYTE_PROBE.encode(code_page, errors="replace")) == len(_SINGLE_BYTE_PROBE)
    except LookupError:
        return False


def select_code_page(number: int) -> bytes:
    """``ESC t n``: the character code table for text sent after it."""
    if not 0 <= number <= 255:
        raise ValueError(f"code page number {number} is not a byte")
    return SELECT_CODE_PAGE + bytes([number])


def cursor_to(column: int, line: int, *, columns: int = DEFAULT_COLUMNS) -> bytes:
    """``US $ x y``: the cursor to ``column`` of ``line``, both counted from 1."""
    if not (1 <= column <= columns and 1 <= line <= ROWS):
        raise ValueError(f"column {column}, line {line} is off a {ROWS}x{columns} display")
    return CURSOR_TO + bytes([column, line])


def _cell(character: str) -> str:
    category = unicodedata.category(character)
    if category == "Cf":  # soft hyphen, zero-width joiner: invisible, takes no cell
        return ""
    if category in {"Cc", "Zs", "Zl", "Zp"}:  # a control byte would be a command to the display
        return " "
    return character


def displayable(text: str, code_page: str) -> str:
    """``text`` as the display can show it: one character per cell, "?" for the unknown."""
    text = "".join(_cell(c) for c in unicodedata.normalize("NFC", text))
    return text.encode(code_page, errors="replace").decode(code_page)


def fit(text: str, width: int, align: Align = "left") -> str:
    """``text`` cut or padded to exactly ``width`` cells."""
    if len(text) >= width:
        return text[:width]
    blanks = width - len(text)
    before = {"left": 0, "center": blanks // 2, "right": blanks}[align]
    return " " * before + text + " " * (blanks - before)


def pair(left: str, right: str, width: int) -> str:
    """An item name on the left and its price on the right: the price is never cut."""
    if not right:
        return fit(left, width, "left")
    right = right[:width]
    room = width - len(right) - 1  # one blank, so name and price never run together
    if room <= 0 or not left:
        return fit(right, width, "right")
    return fit(left, room, "left") + " " + right


@dataclass(frozen=True, slots=True)
class LineDisplay:
    """The command set of one display: its width and its code page."""

    columns: int = DEFAULT_COLUMNS
    #: Python's name of the display's code page.
    code_page: str = DEFAULT_CODE_PAGE
    #: The display's ``ESC t`` number for that page, when it is not Epson's.
    code_page_number: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.columns <= 255:
            raise ValueError(f"a display of {self.columns} columns cannot be addressed")
        if not _is_single_byte(self.code_page):
            raise ValueError(f"{self.code_page!r} is not a single-byte code page Python knows")
        if self.code_page_number is None and self.code_page not in CODE_PAGES:
            raise ValueError(
                f"Epson displays have no {self.code_page!r}; give its code_page_number "
                f"or use one of {', '.join(CODE_PAGES)}"
            )
        if self.code_page_number is not None:
            select_code_page(self.code_page_number)  # in range

    @property
    def table(self) -> int:
        """The ``n`` of ``ESC t n``."""
        if self.code_page_number is not None:
            return self.code_page_number
        return CODE_PAGES[self.code_page]

    def initialise(self) -> bytes:
        """Reset the display (blank, cursor home), then pick the code page and overwrite mode."""
        return INITIALISE + select_code_page(self.table) + OVERWRITE_MODE

    def clear(self) -> bytes:
        return CLEAR

    def home(self) -> bytes:
        return HOME

    def line(self, text: str, align: Align = "left", right: str | None = None) -> str:
        """One line as the customer will see it: exactly ``columns`` cells."""
        text = displayable(text, self.code_page)
        if right is None:
            return fit(text, self.columns, align)
        return pair(text, displayable(right, self.code_page), self.columns)

    def layout(
        self,
        line1: str,
        line2: str = "",
        *,
        align1: Align = "left",
        align2: Align = "left",
        right1: str | None = None,
        right2: str | None = None,
    ) -> Lines:
        return self.line(line1, align1, right1), self.line(line2, align2, right2)

    def blank(self) -> Lines:
        return " " * self.columns, " " * self.columns

    def draw(self, lines: Lines) -> bytes:
        """The frame that puts two laid-out lines on the screen, every cell written."""
        for text in lines:
            if len(text) != self.columns:
                raise ValueError(f"a laid-out line has {self.columns} cells, not {len(text)}: {text!r}")
        top, bottom = (text.encode(self.code_page, errors="replace") for text in lines)
        return (
            select_code_page(self.table)
            + OVERWRITE_MODE
            + cursor_to(1, 1, columns=self.columns)
            + top
            + cursor_to(1, 2, columns=self.columns)
            + bottom
        )

    def show(
        self,
        line1: str,
        line2: str = "",
        *,
        align1: Align = "left",
        align2: Align = "left",
        right1: str | None = None,
        right2: str | None = None,
    ) -> bytes:
        """The exact bytes that show ``line1`` above ``line2`` (layout rules: module doc)."""
        return self.draw(self.layout(line1, line2, align1=align1, align2=align2, right1=right1, right2=right2))
