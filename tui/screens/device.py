"""The Device screen: one device's state document, capabilities, latest events and actions."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from bus.topics import HUB_TARGET
from tui.ages import moment
from tui.screens.base import ConsoleScreen

#: What a test print puts on paper.
TEST_RECEIPT = {"blocks": [{"type": "text", "text": "StoreHub: test print"}, {"type": "cut"}]}
EVENTS_SHOWN = 10


def titled(title: str, body: str) -> Text:
    """A bold title over plain text (JSON's brackets are not markup)."""
    return Text.assemble((title, "bold"), "\n", body)


def state_lines(doc: dict[str, Any], language: str = "en") -> str:
    """The state document one field a line, the counters together (fits 80 columns)."""
    lines = [
        f"{k}: {moment(v, language) if k == 'updated_at' else json.dumps(v, ensure_ascii=False)}"
        for k, v in doc.items()
        if k not in ("capabilities", "counters")
    ]
    counters = ", ".join(f"{k} {v}" for k, v in doc.get("counters", {}).items())
    return "\n".join([*lines, f"counters: {counters}"])


class DeviceScreen(ConsoleScreen):
    CSS_PATH = [ConsoleScreen.CSS_PATH, Path(__file__).with_name("device.tcss")]
    BINDINGS = [
        Binding("s", "status", "status", id="status"),
        Binding("p", "test_print", "print", id="test_print"),
        Binding("o", "open_drawer", "drawer", id="open_drawer"),
        Binding("c", "cancel_job", "cancel", id="cancel_job"),
        Binding("f", "force_release", "release", id="force_release"),
        Binding("r", "restart", "restart", id="restart"),
    ]

    def __init__(self, device: str) -> None:
        super().__init__()
        self.device = device
        self.last_answer: dict[str, Any] | None = None

    def body(self) -> list[Widget]:
        return [
            VerticalScroll(
                Static(id="state"),
                Static(id="capabilities"),
                Static(id="events"),
                Static(id="answer"),
                id="device",
            )
        ]

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = f"{self.app.words['device']} {self.device}"
        self.store_changed(None)

    @property
    def doc(self) -> dict[str, Any]:
        return self.app.devices.get(self.device, {})

    def store_changed(self, devices: Collection[str] | None) -> None:
        if not self.query("#state") or (devices is not None and self.device not in devices):
            return
        words, doc = self.app.words, self.doc
        stale = " (stale)" if self.app.stale else ""
        self.query_one("#state", Static).update(
            titled(words["state"] + stale, state_lines(doc, self.app.settings.language))
        )
        capabilities = json.dumps(doc.get("capabilities", {}), indent=1)
        self.query_one("#capabilities", Static).update(titled(words["capabilities"], capabilities))
        events = self.app.events.get(self.device, [])[-EVENTS_SHOWN:]
        lines = "\n".join(f"{e.get('type')} {json.dumps(e.get('data', {}))}" for e in reversed(events))
        self.query_one("#events", Static).update(titled(words["events"], lines))

    # -- actions (each in a worker: the screen keeps answering keys) ----------------------

    def _ask(self, target: str, action: str, args: dict[str, Any] | None = None) -> None:
        async def ask() -> None:
            answer = await self.app.ask(target, action, args)
            self.last_answer = answer.model_dump(exclude_none=True)
            text = json.dumps(self.last_answer, indent=1, ensure_ascii=False)
            self.query_one("#answer", Static).update(titled(f"{self.app.words['answer']}: {action}", text))

        self.run_worker(ask(), group="actions")

    def action_status(self) -> None:
        self._ask(self.device, "status")

    def action_test_print(self) -> None:
        kind = self.doc.get("kind")
        if kind == "label_printer":
            self._ask(self.device, "feed")
        else:
            self._ask(self.device, "print", TEST_RECEIPT)

    def action_open_drawer(self) -> None:
        self._ask(self.device, "open" if self.doc.get("kind") == "cash_drawer" else "open_drawer")

    def action_cancel_job(self) -> None:
        async def cancel() -> None:
            queue = await self.app.ask(HUB_TARGET, "list_queue", {"device": self.device})
            mine = [j for j in (queue.result or {}).get("queue", []) if j.get("client") == self.app.settings.client_id]
            if not queue.ok:
                return
            if not mine:
                self.app.notify(
                    "nothing of this console's waits in the queue (the hub lets only a job's owner cancel it)"
                )
                return
            self._ask(self.device, "cancel", {"request_id": mine[0]["request_id"]})

        self.run_worker(cancel(), group="actions")

    def action_force_release(self) -> None:
        holder = self.doc.get("claimed_by") or "—"
        question = self.app.words["confirm_release"].format(device=self.device, holder=holder)
        self.confirmed(question, lambda: self._ask(HUB_TARGET, "force_release", {"device": self.device}))

    def action_restart(self) -> None:
        question = self.app.words["confirm_restart"].format(device=self.device)
        self.confirmed(question, lambda: self._ask(HUB_TARGET, "restart_device", {"device": self.device}))
