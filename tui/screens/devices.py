"""The Devices screen: every device of the store, live from the retained ``dev/+/state``."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from textual.widget import Widget

from tui.live_table import LiveTable
from tui.screens.base import ConsoleScreen

#: A status's colour (named ANSI colours, so they hold in 16 colours too).
STATUS_STYLE = {"idle": "green", "busy": "yellow", "error": "red", "offline": "bright_black"}
COLUMNS = ("id", "kind", "status", "holder", "lease", "queue", "error")


def lease_left(doc: dict[str, Any], now: float) -> str:
    expires = doc.get("lease_expires_at")
    return "" if expires is None else f"{max(0.0, expires - now):.0f} s"


def row_of(doc: dict[str, Any], now: float, stale: bool) -> tuple[list[str], str]:
    """A device's cells and the row's style (its status's colour, dimmed when stale)."""
    error = doc.get("error") or {}
    cells = [
        str(doc.get("device_id", "?")),
        str(doc.get("kind", "?")),
        str(doc.get("status", "?")),
        str(doc.get("claimed_by") or ""),
        lease_left(doc, now),
        str(doc.get("queue_depth", 0)),
        str(error.get("message") or error.get("code") or ""),
    ]
    style = STATUS_STYLE.get(doc.get("status", ""), "")
    if stale:
        style = f"{style} dim".strip()
    return cells, style


class DevicesScreen(ConsoleScreen):
    CSS_PATH = [ConsoleScreen.CSS_PATH, Path(__file__).with_name("devices.tcss")]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.table: LiveTable | None = None

    def body(self) -> list[Widget]:
        self.table = LiveTable([(key, self.app.words[key]) for key in COLUMNS], id="devices")
        return [self.table]

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = self.app.words["devices"]
        self.store_changed(None)
        self.set_interval(1.0, lambda: self.store_changed(None))  # the leases count down

    def shown(self) -> list[str]:
        return sorted(d for d in self.app.devices if self._matches(d))

    def _matches(self, device: str) -> bool:
        if not self.filter_text:
            return True
        doc = self.app.devices[device]
        haystack = " ".join(str(doc.get(k) or "") for k in ("device_id", "kind", "status", "claimed_by"))
        return self.filter_text.lower() in haystack.lower()

    def store_changed(self, devices: Collection[str] | None) -> None:
        """These devices' rows, or every row; a row that looks as it did is not redrawn."""
        table = self.table  # kept, not looked up: a busy store calls this at every drawing, 50 a second
        if table is None or not table.is_mounted:
            return
        now, stale = self.app.clock(), self.app.stale
        if devices is not None:
            for device in devices:
                if device in self.app.devices and self._matches(device):
                    table.set_row(device, *row_of(self.app.devices[device], now, stale))
                else:
                    table.remove_row(device)
            return
        wanted = self.shown()
        for key in set(table.rows) - set(wanted):
            table.remove_row(key)
        for name in wanted:
            table.set_row(name, *row_of(self.app.devices[name], now, stale))

    def filter_changed(self, text: str) -> None:
        self.filter_text = text
        self.store_changed(None)

    def on_live_table_row_selected(self, event: LiveTable.RowSelected) -> None:
        from tui.screens.device import DeviceScreen

        self.app.push_screen(DeviceScreen(event.key))
