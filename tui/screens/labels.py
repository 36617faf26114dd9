"""The Labels screen: how many shelf labels are stale and the oldest's age (retained
``hub/labels``), and the label printers: Enter (or ``p``) prints the whole stale-label
queue on the chosen one, with the label printer's own ``print_labels``."""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.ages import span
from tui.screens.devices import STATUS_STYLE
from tui.screens.panel import PanelScreen, panel

COLUMNS = ("id", "status", "model", "error")


class LabelsScreen(PanelScreen):
    CSS_PATH = [PanelScreen.CSS_PATH, Path(__file__).with_name("labels.tcss")]
    BINDINGS = [Binding("p", "print_queue", "print")]

    def body(self) -> list[Widget]:
        return [Static(id="stale"), DataTable(id="printers", cursor_type="row"), Static(id="printed")]

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = self.app.words["labels"]
        table = self.query_one("#printers", DataTable)
        for key in COLUMNS:
            table.add_column(self.app.words.get(key, key), key=key)
        self.store_changed(None)

    def printers(self) -> list[dict[str, Any]]:
        docs = [d for d in self.app.devices.values() if d.get("kind") == "label_printer"]
        return sorted(docs, key=lambda d: d.get("device_id", ""))

    def store_changed(self, devices: Collection[str] | None) -> None:
        if not self.query("#stale"):
            return
        w, doc = self.app.words, self.app.retained.get("labels") or {}
        since = doc.get("oldest_queued_at")
        oldest = None if since is None else time.time() - since
        rows: list[tuple[str, str | Text]] = [
            (w["stale_count"], Text(str(doc.get("count", "—")), style="yellow" if doc.get("count") else "green")),
            (w["oldest_stale"], "—" if oldest is None else span(oldest, self.app.settings.language)),
        ]
        self.query_one("#stale", Static).update(panel(w["labels"], rows, self.app.stale))
        self._show_printers()
        if self.last_answer is not None:
            result = self.last_answer.get("result") or {}
            error = self.last_answer.get("error") or {}
            said = f"printed {result.get('printed')} ({result.get('template')})" if result else error.get("message")
            self.query_one("#printed", Static).update(Text(str(said), style="red" if error else "green"))

    def _show_printers(self) -> None:
        table = self.query_one("#printers", DataTable)
        wanted = {d["device_id"]: d for d in self.printers()}
        for key in [str(row.value) for row in list(table.rows)]:
            if key not in wanted:
                table.remove_row(key)
        for name, doc in wanted.items():
            error = doc.get("error") or {}
            style = STATUS_STYLE.get(doc.get("status", ""), "") + (" dim" if self.app.stale else "")
            cells = [
                Text(str(v), style=style.strip())
                for v in (name, doc.get("status", "?"), doc.get("model") or "", error.get("message") or "")
            ]
            if name in table.rows:
                for column, cell in zip(COLUMNS, cells, strict=True):
                    table.update_cell(name, column, cell, update_width=True)
            else:
                table.add_row(*cells, key=name)

    def chosen(self) -> str | None:
        table = self.query_one("#printers", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_print_queue()

    def action_print_queue(self) -> None:
        printer = self.chosen()
        if printer is None:
            return
        count = (self.app.retained.get("labels") or {}).get("count", "?")
        question = self.app.words["confirm_print"].format(count=count, device=printer)
        self.confirmed(question, lambda: self.ask(printer, "print_labels", {"queue": {}}))
