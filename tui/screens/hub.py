"""The Hub screen: version, boot, uptime (retained ``hub/state``), the broker's state and
restarts (the hub's ``status``), the database's size and room (``sync/state``)."""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from bus.topics import HUB_TARGET
from tui.ages import moment, span
from tui.screens.panel import PanelScreen, panel, size

#: How often the screen asks the hub for its status (the broker's restarts).
STATUS_EVERY_S = 5.0


class HubScreen(PanelScreen):
    CSS_PATH = [PanelScreen.CSS_PATH, Path(__file__).with_name("hub.tcss")]

    def __init__(self) -> None:
        super().__init__()
        self.status: dict[str, Any] = {}

    def body(self) -> list[Widget]:
        return [Static(id="hub")]

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = self.app.words["hub"]
        self.store_changed(None)
        self.ask_status()
        self.set_interval(STATUS_EVERY_S, self.ask_status)
        self.set_interval(1.0, lambda: self.store_changed(None))

    def ask_status(self) -> None:
        async def ask() -> None:
            try:
                answer = await self.app.link.request(HUB_TARGET, "status")
            except TimeoutError:
                return
            if answer.ok and answer.result is not None:
                self.status = answer.result
                self.store_changed(None)

        self.run_worker(ask(), group="status", exclusive=True)

    def broker(self) -> str | Text:
        w, broker = self.app.words, self.status.get("broker")
        if not self.status:
            return "—"
        if broker is None:
            return w["external"] if self.status.get("bus_connected") else Text(w["unreachable"], style="red")
        running = Text(w["running"], style="green") if broker.get("running") else Text(w["stopped"], style="red")
        return Text.assemble(running, f", {w['restarts']} {broker.get('restarts', 0)}")

    def rows(self) -> list[tuple[str, str | Text]]:
        w, state, sync = self.app.words, self.app.hub_state or {}, self.app.retained.get("sync") or {}
        started = state.get("started_at")
        online = state.get("state") == "online"
        used, allowed = sync.get("bytes_used"), sync.get("bytes_allowed")
        room = None if used is None or allowed is None else max(0, allowed - used)
        return [
            (w["hub_state"], Text(str(state.get("state", "—")), style="green" if online else "red")),
            (w["version"], str(state.get("version", "—"))),
            (w["boot"], str(state.get("boot", "—"))),
            (w["uptime"], span(time.time() - started, self.app.settings.language) if online and started else "—"),
            (w["started"], "—" if started is None else moment(started, self.app.settings.language)),
            (w["broker"], self.broker()),
            (w["database"], size(used)),
            (w["room"], size(room)),
            (w["device_count"], str(self.status.get("devices", len(self.app.devices)))),
        ]

    def store_changed(self, devices: Collection[str] | None) -> None:
        if self.query("#hub"):
            self.query_one("#hub", Static).update(panel(self.app.words["hub"], self.rows(), self.app.stale))
