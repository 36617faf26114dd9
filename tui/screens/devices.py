"""The Devices screen: every device of the store, live from the retained ``dev/+/state``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import DataTable

from tui.screens.base import ConsoleScreen

#: A status's colour (named ANSI colours, so they hold in 16 colours too).
STATUS_STYLE = {"idle": "green", "busy": "yellow", "error": "red", "offline": "bright_black"}
COLUMNS = ("id", "kind", "status", "holder", "lease", "queue", "error")


def lease_left(doc: dict[str, Any], now: float) -> str:
    expires = doc.get("lease_expires_at")
    return "" if expires is None else f"{max(0.0, expires - now):.0f} s"


def row_of(doc: dict[str, Any], now: float, stale: bool) -> list[Text]:
    error = doc.get("error") or {}
    cells = [
        doc.get("device_id", "?"),
        doc.get("kind", "?"),
        doc.get("status", "?"),
        doc.get("claimed_by") or "",
        lease_left(doc, now),
        str(doc.get("queue_depth", 0)),
        error.get("message") or error.get("code") or "",
    ]
    style = STATUS_STYLE.get(doc.get("status", ""), "")
    if stale:
        style = f"{style} dim".strip()
    return [Text(cell, style=style) for cell in cells]


class DevicesScreen(ConsoleScreen):
    CSS_PATH = [ConsoleScreen.CSS_PATH, Path(__file__).with_name("devices.tcss")]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""

    def body(self) -> list[Widget]:
        table: DataTable = DataTable(id="devices", cursor_type="row", zebra_stripes=True)
        return [table]

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#devices", DataTable)
        for key in COLUMNS:
            table.add_column(self.app.words[key], key=key)
        self.sub_title = self.app.words["devices"]
        self.store_changed(None)
        self.set_interval(1.0, lambda: self.store_changed(None))

    def shown(self) -> list[str]:
        return sorted(d for d in self.app.devices if self._matches(d))

    def _matches(self, device: str) -> bool:
        if not self.filter_text:
            return True
        doc = self.app.devices[device]
        haystack = " ".join(str(doc.get(k) or "") for k in ("device_id", "kind", "status", "claimed_by"))
        return self.filter_text.lower() in haystack.lower()

    def store_changed(self, device: str | None) -> None:
        tables = list(self.query("#devices").results(DataTable))
        if not tables:
            return
        table = tables[0]
        now, stale = self.app.clock(), self.app.stale
        wanted = self.shown()
        for key in [str(row.value) for row in list(table.rows)]:
            if key not in wanted:
                table.remove_row(key)
        for name in wanted:
            if device is not None and name != device and name in table.rows:
                continue
            cells = row_of(self.app.devices[name], now, stale)
            if name in table.rows:
                for column, cell in zip(COLUMNS, cells, strict=True):
                    table.update_cell(name, column, cell)
            else:
                table.add_row(*cells, key=name)
        table.sort("id", key=lambda cell: cell.plain)

    def filter_changed(self, text: str) -> None:
        self.filter_text = text
        self.store_changed(None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from tui.screens.device import DeviceScreen

        self.app.push_screen(DeviceScreen(str(event.row_key.value)))
