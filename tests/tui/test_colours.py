"""The console in 16 colours (TERM=linux) as in full colour: status colours stay apart.

No hub needed: the colours are the app's and the table's own; the rendering is Textual's
headless one, read back cell by cell.
"""

from __future__ import annotations

import pytest
from rich.color import ColorSystem

from tests.tui.snapshot_store import FIXED_DEVICES, frozen_console
from tui.app import few_colours
from tui.live_table import LiveTable
from tui.screens.devices import STATUS_STYLE


@pytest.mark.parametrize(
    ("environ", "few"),
    [
        ({"TERM": "linux"}, True),
        ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, False),
        ({"TERM": "xterm-256color", "TEXTUAL_COLOR_SYSTEM": "standard"}, True),
        ({"TERM": "linux", "TEXTUAL_COLOR_SYSTEM": "truecolor"}, False),
    ],
)
def test_sixteen_colour_terminals_are_told_apart(environ: dict[str, str], few: bool) -> None:
    assert few_colours(environ) is few


def test_each_status_has_its_own_of_the_sixteen_colours() -> None:
    from rich.color import Color

    shown = {
        status: Color.parse(style).downgrade(ColorSystem.STANDARD).number for status, style in STATUS_STYLE.items()
    }
    assert len(set(shown.values())) == len(shown), shown


@pytest.mark.parametrize("term", ["linux", "xterm-256color"])
async def test_the_status_cells_keep_their_colours_on_screen(term: str) -> None:
    app = frozen_console({"TERM": term, "COLORTERM": "" if term == "linux" else "truecolor"})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.few_colours is (term == "linux")
        assert app.theme == ("ansi-dark" if term == "linux" else "textual-dark")
        table = app.screen.query_one("#devices", LiveTable)
        table.move_cursor(len(FIXED_DEVICES) - 1)  # the cursor off the rows read
        await pilot.pause()
        colours = {}
        for row, doc in enumerate(sorted(FIXED_DEVICES, key=lambda d: d["device_id"])):
            strip = table.render_line(row + 1)  # line 0 is the header
            styles = [segment.style for segment in strip if doc["status"] in segment.text.split()]
            assert styles, f"{doc['status']} not on line {row + 1}"
            colour = styles[0].color
            colours.setdefault(doc["status"], set()).add(colour.downgrade(ColorSystem.STANDARD).number)
        flat = {status: next(iter(numbers)) for status, numbers in colours.items()}
        assert all(len(numbers) == 1 for numbers in colours.values()), colours
        assert len(set(flat.values())) == len(flat), f"two statuses share a colour in {term}: {flat}"
