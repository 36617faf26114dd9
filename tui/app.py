"""The technician's console: the app, its banner, and the store as the bus tells it."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding

from bus.payloads import ErrorCode, Response
from tui.link import BusChanged, BusLink, DeviceEventArrived, DeviceStatesChanged, DocumentChanged, HubStateChanged
from tui.screens.devices import DevicesScreen
from tui.screens.keys import KeysScreen
from tui.settings import ConsoleSettings
from tui.words import key_words, words

#: How many events the console keeps per device.
EVENTS_KEPT = 50
#: How long a device's change may wait to be drawn with the others that come meanwhile:
#: a busy store's 1,000 changes a second are drawn 50 times a second, not one by one
#: (the bench's console and publisher, two 3 s runs on the shared VM at a load average
#: of ~4: publish to screen p50 34 ms, p99 88 ms; at 0.05 s 62 / 132 ms).
REDRAW_S = 0.02

#: How many events of the whole store (devices and hub) the Events screen can show.
STREAM_KEPT = 500


def few_colours(environ: Mapping[str, str]) -> bool:
    """Whether the terminal has only its 16 colours (the Linux console, a serial line)."""
    system = environ.get("TEXTUAL_COLOR_SYSTEM", "auto")
    if system != "auto":
        return system == "standard"
    term = environ.get("TERM", "")
    return term in ("linux", "vt100", "vt220", "ansi", "screen") and not environ.get("COLORTERM")


class ConsoleApp(App):
    #: The wall clock the screens count leases with (frozen in the snapshots).
    clock = staticmethod(time.time)
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "StoreHub"
    BINDINGS = [
        Binding("question_mark", "keys", "keys", key_display="?", id="keys"),
        Binding("q", "quit", "quit", id="quit"),
    ]

    def __init__(self, settings: ConsoleSettings, environ: Mapping[str, str] = os.environ) -> None:
        # In 16 colours the terminal's own palette draws everything (Textual's ansi-dark
        # theme): the status colours are then the terminal's green, yellow, red and grey
        # rather than a full-colour theme rounded to the nearest of 16.
        self.few_colours = few_colours(environ)
        super().__init__(ansi_color=True if self.few_colours else None)
        if self.few_colours:
            self.theme = "ansi-dark"
        self.settings = settings
        self.words = words(settings.language)
        self.key_words = key_words(settings.language)
        self.devices: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.hub_state: dict[str, Any] | None = None
        #: ``client/{id}/state`` by client id; ``sync/state`` and ``hub/labels`` by kind.
        self.clients: dict[str, dict[str, Any]] = {}
        self.retained: dict[str, dict[str, Any]] = {}
        #: The store's events as heard, oldest first: {"at", "source", "type", "data"}.
        self.stream: list[dict[str, Any]] = []
        self.bus_connected = False
        self.link = BusLink(settings, self)
        self.banner = ""
        self._changed: set[str] = set()
        self.set_keymap(settings.keys)

    @property
    def stale(self) -> bool:
        return not self.bus_connected or (self.hub_state or {}).get("state") != "online"

    def on_mount(self) -> None:
        self.title = self.words["title"]
        self.sub_title = f"{self.settings.client_id}@{self.settings.host}:{self.settings.port}" + (
            " [readonly]" if self.settings.readonly else ""
        )
        # One keys screen, kept: built afresh at each ``?`` it cost a busy console a
        # compose and a styling of every line (`storehub bench tui`).
        self.install_screen(KeysScreen(), name="keys")
        self.push_screen(DevicesScreen())
        if self.settings.keys_problem:
            self.notify(self.settings.keys_problem, severity="warning", timeout=10)
        self._show_banner()
        self.run_worker(self.link.run(), name="bus", exclusive=True, group="bus")
        self.call_after_refresh(self._freeze_start_up)

    def _freeze_start_up(self) -> None:
        """What start-up built (modules, the app, its screens) lives as long as the
        console: out of the collector's sight, a full collection no longer holds a key
        press or a drawing ~70 ms walking it (`storehub bench tui`).  Garbage is collected
        first, so none of it is kept for good."""
        gc.collect()
        gc.freeze()

    # -- what the bus says --------------------------------------------------------------

    def on_bus_changed(self, message: BusChanged) -> None:
        self.bus_connected = message.connected
        self._show_banner()
        self._refresh()

    def on_hub_state_changed(self, message: HubStateChanged) -> None:
        back = self.stale and (message.doc or {}).get("state") == "online"
        self.hub_state = message.doc
        doc = message.doc or {}
        self._heard("hub", f"hub_{doc.get('state', 'cleared')}", {"boot": doc.get("boot")})
        self._show_banner()
        self._refresh()
        if back:
            self.notify("hub online", timeout=3)

    def on_device_states_changed(self, message: DeviceStatesChanged) -> None:
        states = message.take()
        for device, doc in states.items():
            if doc is None:
                self.devices.pop(device, None)
            else:
                self.devices[device] = doc
        if not self._changed:
            self.set_timer(REDRAW_S, self._redraw_changed)
        self._changed.update(states)

    def _redraw_changed(self) -> None:
        """Draw the devices changed since the last drawing, together."""
        changed, self._changed = self._changed, set()
        self._refresh(changed)

    def on_device_event_arrived(self, message: DeviceEventArrived) -> None:
        kept = self.events.setdefault(message.device, [])
        kept.append(message.event)
        del kept[:-EVENTS_KEPT]
        self._heard(message.device, str(message.event.get("type")), message.event.get("data") or {})
        self._refresh({message.device})

    def on_document_changed(self, message: DocumentChanged) -> None:
        kept = self.clients if message.kind == "client" else self.retained
        if message.doc is None:
            kept.pop(message.key, None)
        else:
            kept[message.key] = message.doc
        self._refresh(None)

    def _heard(self, source: str, kind: str, data: dict[str, Any]) -> None:
        self.stream.append({"at": time.time(), "source": source, "type": kind, "data": data})
        del self.stream[:-STREAM_KEPT]
        for screen in self.screen_stack:
            heard = getattr(screen, "event_heard", None)
            if heard is not None:
                heard(self.stream[-1])

    def _refresh(self, devices: Collection[str] | None = None) -> None:
        for screen in self.screen_stack:
            refresh = getattr(screen, "store_changed", None)
            if refresh is not None:
                refresh(devices)

    def _show_banner(self) -> None:
        if not self.bus_connected:
            text = self.words["bus_lost"]
        elif (self.hub_state or {}).get("state") != "online":
            text = self.words["hub_offline"]
        else:
            text = ""
        self.banner = text
        for screen in self.screen_stack:
            show = getattr(screen, "show_banner", None)
            if show is not None:
                show(text)

    # -- acting -------------------------------------------------------------------------

    async def ask(self, target: str, action: str, args: dict[str, Any] | None = None) -> Response:
        """Send one request (refused here in read-only mode) and say the answer."""
        if self.settings.readonly:
            answer = Response.failure(None, ErrorCode.FORBIDDEN, self.words["readonly"])
        else:
            try:
                answer = await self.link.request(target, action, args)
            except TimeoutError as exc:
                answer = Response.failure(None, ErrorCode.TIMEOUT, str(exc))
        if answer.ok:
            self.notify(f"{target} {action}: ok", timeout=4)
        else:
            assert answer.error is not None
            self.notify(f"{target} {action}: {answer.error.code} — {answer.error.message}", severity="error", timeout=6)
        return answer

    # -- keys ---------------------------------------------------------------------------

    def action_keys(self) -> None:
        self.push_screen("keys")

    def jump(self, name: str) -> None:
        """``:`` NAME: ``devices``, or a device id."""
        name = name.strip().lower()
        from tui.screens.named import screen_named

        if name in ("devices", "устройства", "d"):
            while len(self.screen_stack) > 2:
                self.pop_screen()
        elif (screen := screen_named(name)) is not None:
            self.push_screen(screen)
        elif name in self.devices:
            from tui.screens.device import DeviceScreen

            self.push_screen(DeviceScreen(name))
        else:
            self.notify(self.words["no_such_screen"].format(name=name), severity="warning")
