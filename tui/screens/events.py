"""The Events screen: the store's live event stream (device events and the hub's own),
filtered with ``/`` by device or type.  Scrolled up, the technician reads in peace: new
events wait below and the screen says how many; back at the bottom it follows again."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import RichLog, Static

from tui.screens.base import ConsoleScreen

#: A type's colour (named ANSI colours, as the Devices screen's).
TYPE_STYLE = {"offline": "red", "online": "green", "hub_offline": "red", "hub_online": "green", "claim_lost": "yellow"}


def line_of(event: dict[str, Any]) -> Text:
    """One event: time, source, type, its data (wrapped at the screen's edge, never cut)."""
    clock = time.strftime("%H:%M:%S", time.localtime(event["at"]))
    data = json.dumps(event.get("data") or {}, ensure_ascii=False)
    kind = event["type"]
    return Text.assemble(
        (clock, "bright_black"), " ", (event["source"], "bold"), " ", (kind, TYPE_STYLE.get(kind, "cyan")), " ", data
    )


def matches(event: dict[str, Any], text: str) -> bool:
    return not text or text.lower() in f"{event['source']} {event['type']}".lower()


class EventsScreen(ConsoleScreen):
    CSS_PATH = [ConsoleScreen.CSS_PATH, Path(__file__).with_name("events.tcss")]
    BINDINGS = [Binding("end", "follow", "follow", key_display="End")]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        #: Events that came while the technician was reading further up.
        self.unseen = 0
        #: At the bottom, new events scroll into view; scrolled up, they wait below.
        self.following = True

    def body(self) -> list[Widget]:
        return [RichLog(id="stream", wrap=True, auto_scroll=False, max_lines=2000), Static(id="paused")]

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = self.app.words["events_all"]
        self.query_one("#paused", Static).display = False
        self.redraw()
        self.watch(self.log_view, "scroll_y", self._scrolled, init=False)

    @property
    def log_view(self) -> RichLog:
        return self.query_one("#stream", RichLog)

    @property
    def reading(self) -> bool:
        """Scrolled up from the bottom: the technician is reading."""
        return not self.following

    def _scrolled(self, old: float, new: float) -> None:
        """Up from where it was is the technician reading; at the bottom it follows again.
        (The log's own moves after a write only go down, so they never pause it.)"""
        view = self.log_view
        if new < old and new < view.max_scroll_y:
            self.following = False
        elif new >= view.max_scroll_y:
            self.following = True
            if self.unseen:
                self.unseen = 0
                self._say_paused()

    def shown(self) -> list[dict[str, Any]]:
        return [e for e in self.app.stream if matches(e, self.filter_text)]

    def redraw(self) -> None:
        view = self.log_view
        view.clear()
        for event in self.shown():
            view.write(line_of(event), scroll_end=False)
        view.scroll_end(animate=False, immediate=True)
        self.unseen = 0
        self._say_paused()
        self.call_after_refresh(self.action_follow)

    def event_heard(self, event: dict[str, Any]) -> None:
        if not self.query("#stream") or not matches(event, self.filter_text):
            return
        reading = self.reading
        self.log_view.write(line_of(event), scroll_end=not reading, animate=False)
        if reading:
            self.unseen += 1
            self._say_paused()

    def _say_paused(self) -> None:
        paused = self.query_one("#paused", Static)
        paused.display = bool(self.unseen)
        paused.update(self.app.words["paused_reading"].format(count=self.unseen))

    def action_follow(self) -> None:
        self.log_view.scroll_end(animate=False)
        self.following = True
        self.unseen = 0
        self._say_paused()

    def filter_changed(self, text: str) -> None:
        self.filter_text = text
        self.redraw()
