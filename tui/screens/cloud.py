"""The Cloud link screen: ``sync/state`` — level, backlog, the oldest undelivered event's
age, problems — with pause and resume, each confirmed in the modal (technicians only)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from bus.topics import HUB_TARGET
from tui.ages import moment, span
from tui.screens.panel import PanelScreen, panel, size

LEVEL_STYLE = {"ok": "green", "warning": "yellow", "alarm": "red"}


class CloudScreen(PanelScreen):
    CSS_PATH = [PanelScreen.CSS_PATH, Path(__file__).with_name("cloud.tcss")]
    BINDINGS = [Binding("p", "pause", "pause"), Binding("r", "resume", "resume")]

    def body(self) -> list[Widget]:
        return [VerticalScroll(Static(id="sync"), Static(id="problems"), id="cloud")]

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = self.app.words["cloud"]
        self.store_changed(None)

    @property
    def doc(self) -> dict[str, Any]:
        return self.app.retained.get("sync") or {}

    def rows(self, doc: dict[str, Any]) -> list[tuple[str, str | Text]]:
        w = self.app.words
        level = doc.get("level", "?")
        oldest = doc.get("oldest_undelivered_age_s")
        reachable = doc.get("cloud_reachable")
        return [
            (w["level"], Text(level, style=LEVEL_STYLE.get(level, ""))),
            (w["paused"], Text(w["yes_word"], style="yellow") if doc.get("paused") else w["no_word"]),
            (w["backlog"], str(doc.get("backlog", "—"))),
            (w["oldest"], "—" if oldest is None else span(oldest, self.app.settings.language)),
            (w["reachable"], w["unknown"] if reachable is None else w["yes_word" if reachable else "no_word"]),
            (
                w["last_contact"],
                "—"
                if doc.get("last_contact_at") is None
                else moment(doc["last_contact_at"], self.app.settings.language),
            ),
            (w["database"], f"{size(doc.get('bytes_used'))} / {size(doc.get('bytes_allowed'))}"),
        ]

    def store_changed(self, devices: Collection[str] | None) -> None:
        if devices is not None:
            return  # nothing of a device's state shows here
        if not self.query("#sync"):
            return
        doc = self.doc
        self.query_one("#sync", Static).update(panel(self.app.words["cloud"], self.rows(doc), self.app.stale))
        problems = [
            Text(f"{p.get('level')}: {p.get('message')}", style=LEVEL_STYLE.get(p.get("level", ""), ""))
            for p in doc.get("problems", [])
        ]
        if doc.get("last_error"):
            problems.append(Text(str(doc["last_error"]), style="red"))
        title = Text(self.app.words["problems"], style="bold")
        self.query_one("#problems", Static).update(Text("\n").join([title, *problems]) if problems else "")

    def action_pause(self) -> None:
        self.confirmed(self.app.words["confirm_pause"], lambda: self.ask(HUB_TARGET, "sync_pause"))

    def action_resume(self) -> None:
        self.confirmed(self.app.words["confirm_resume"], lambda: self.ask(HUB_TARGET, "sync_resume"))
