"""The Devices screen's table on its own: rows by key, the cursor, what reaches the terminal."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.live_table import LiveTable


class OneTable(App):
    def __init__(self) -> None:
        super().__init__()
        self.table = LiveTable([("id", "id"), ("status", "status")], id="t")
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield self.table

    def on_live_table_row_selected(self, event: LiveTable.RowSelected) -> None:
        self.selected.append(event.key)


def line(table: LiveTable, y: int) -> str:
    return "".join(segment.text for segment in table.render_line(y)).rstrip()


async def test_rows_stand_in_key_order_and_enter_opens_the_one_under_the_cursor() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 10)) as pilot:
        for key in ("printer-1", "drawer-1", "scanner-1"):
            app.table.set_row(key, [key, "idle"], "green")
        await pilot.pause()
        assert app.table.rows == ["drawer-1", "printer-1", "scanner-1"]
        assert [line(app.table, y).split()[0] for y in range(4)] == ["id", "drawer-1", "printer-1", "scanner-1"]
        await pilot.press("down", "enter")
        assert app.selected == ["printer-1"]


async def test_the_cursor_stays_on_its_device_as_rows_come_and_go_above_it() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 10)) as pilot:
        for key in ("b", "d"):
            app.table.set_row(key, [key, "idle"])
        await pilot.press("down")
        assert app.table.cursor_key == "d"
        app.table.set_row("a", ["a", "idle"])
        app.table.set_row("c", ["c", "idle"])
        assert app.table.cursor_key == "d"
        app.table.remove_row("b")
        assert app.table.cursor_key == "d" and app.table.rows == ["a", "c", "d"]
        app.table.remove_row("d")
        assert app.table.cursor_key == "c"


async def test_a_change_shows_and_a_device_cannot_write_control_codes_to_the_terminal() -> None:
    app = OneTable()
    async with app.run_test(size=(60, 10)) as pilot:
        app.table.set_row("printer-1", ["printer-1", "idle"])
        await pilot.pause()
        app.table.set_row("printer-1", ["printer-1", "paper out\x1b[2J\nnow"])
        await pilot.pause()
        shown = line(app.table, 1)
        assert "\x1b" not in shown and "\n" not in shown
        assert "paper out\ufffd[2J\u00a0now" in shown, shown  # the column grew to the longer text
        assert app.table.get_cell("printer-1", "status") == "paper out\ufffd[2J\u00a0now"
