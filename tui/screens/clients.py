"""The Clients screen: tills and kiosks online or offline (retained ``client/+/state``)
and the claims each holds (the hub's ``list_clients``, technicians only)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import DataTable

from bus.payloads import ErrorCode
from bus.topics import HUB_TARGET
from tui.screens.base import ConsoleScreen

COLUMNS = ("client", "role", "presence", "holds", "waits")
PRESENCE_STYLE = {"online": "green", "offline": "bright_black"}

#: How often the screen asks the hub again who holds what.
LIST_EVERY_S = 2.0


class ClientsScreen(ConsoleScreen):
    CSS_PATH = [ConsoleScreen.CSS_PATH, Path(__file__).with_name("clients.tcss")]

    def __init__(self) -> None:
        super().__init__()
        self.listed: dict[str, dict[str, Any]] = {}
        self.filter_text = ""

    def body(self) -> list[Widget]:
        return [DataTable(id="clients", cursor_type="row", zebra_stripes=True)]

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#clients", DataTable)
        for key in COLUMNS:
            table.add_column(self.app.words[key], key=key)
        self.sub_title = self.app.words["clients"]
        self.store_changed(None)
        self.ask_hub()
        self.set_interval(LIST_EVERY_S, self.ask_hub)

    def ask_hub(self) -> None:
        self.run_worker(self._list(), group="clients", exclusive=True)

    async def _list(self) -> None:
        try:
            answer = await self.app.link.request(HUB_TARGET, "list_clients")
        except TimeoutError:
            return
        if answer.ok and answer.result is not None:
            self.listed = {c["client_id"]: c for c in answer.result.get("clients", [])}
            self.store_changed(None)
        elif answer.error is not None and answer.error.code == ErrorCode.FORBIDDEN:
            self.notify(answer.error.message, severity="warning")

    def rows(self) -> dict[str, list[Text]]:
        rows = {}
        for client in sorted(set(self.listed) | set(self.app.clients)):
            listed = self.listed.get(client, {})
            presence = (self.app.clients.get(client) or {}).get("state", "—")
            cells = [
                client,
                listed.get("role", "?"),
                presence,
                ", ".join(listed.get("holds", [])),
                ", ".join(listed.get("waits_for", [])),
            ]
            if self.filter_text.lower() in " ".join(cells).lower():
                style = PRESENCE_STYLE.get(presence, "") + (" dim" if self.app.stale else "")
                rows[client] = [Text(cell, style=style.strip()) for cell in cells]
        return rows

    def store_changed(self, devices: Collection[str] | None) -> None:
        if devices is not None:
            return  # nothing of a device's state shows here
        tables = list(self.query("#clients").results(DataTable))
        if not tables:
            return
        table, rows = tables[0], self.rows()
        for key in [str(row.value) for row in list(table.rows)]:
            if key not in rows:
                table.remove_row(key)
        for client, cells in rows.items():
            if client in table.rows:
                for column, cell in zip(COLUMNS, cells, strict=True):
                    table.update_cell(client, column, cell, update_width=True)
            else:
                table.add_row(*cells, key=client)
        table.sort("client", key=lambda cell: cell.plain)

    def filter_changed(self, text: str) -> None:
        self.filter_text = text
        self.store_changed(None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a client opens the first device it holds."""
        holds = self.listed.get(str(event.row_key.value), {}).get("holds", [])
        if holds:
            from tui.screens.device import DeviceScreen

            self.app.push_screen(DeviceScreen(holds[0]))
