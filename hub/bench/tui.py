"""``storehub bench tui``: the technician's console under a busy store.

``devices`` devices each publish ``rate`` state changes a second on the bench's own
Mosquitto (as the hub would: retained ``dev/{id}/state``); the console
(``tui.app.ConsoleApp``, headless through ``App.run_test``) subscribes like any
technician.  Measured: the lag from a publish to the next screen refresh after its
cell changed, and from a key press (``?``, then Esc) to the screen's answer, first
with the store quiet (the baseline) and then while it is busy.  The publisher runs in
the console's own event loop, so the busy phase also counts its cost, as a shop's
console on a small box would.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import time
from collections.abc import Callable
from typing import Any

from textual import events

from bus.broker import HUB_USERNAME
from bus.mqtt import BrokerAddress, BusConnection
from bus.topics import TopicTree
from hub.bench.harness import BENCH_STORE, bench_store, cpu_count, percentile_ms, ratio, say
from hub.throwaway import Client
from tui.app import ConsoleApp
from tui.screens.keys import KeysScreen
from tui.settings import ConsoleSettings

#: The console's terminal in the bench (a technician's wide window).
SIZE = (160, 48)
#: Wait for one key's answer at most this long before counting it lost.
KEY_TIMEOUT_S = 5.0


class BenchConsole(ConsoleApp):
    """The console, telling the bench which state each device's row showed when a
    drawing of the screen reached the terminal."""

    def __init__(self, settings: ConsoleSettings, shown: Callable[[dict[str, int]], None]) -> None:
        super().__init__(settings)
        self._shown = shown

    def _redraw_changed(self) -> None:
        changed = self._changed
        super()._redraw_changed()
        drawn = {device: self.devices.get(device, {}).get("queue_depth") for device in changed}
        self.call_after_refresh(self._shown, {device: seq for device, seq in drawn.items() if isinstance(seq, int)})


class Publisher:
    """The store's devices, publishing state documents numbered by ``queue_depth``."""

    def __init__(self, bus: BusConnection, devices: int) -> None:
        self.bus = bus
        self.topics = TopicTree(BENCH_STORE)
        self.names = [f"bench-dev-{n:03d}" for n in range(1, devices + 1)]
        self.sent: dict[tuple[str, int], float] = {}
        self.seq = 0

    def publish_all(self, record: bool) -> None:
        self.seq += 1
        for name in self.names:
            doc = {"device_id": name, "kind": "echo", "status": "idle", "queue_depth": self.seq}
            if record:
                self.sent[(name, self.seq)] = time.monotonic()
            self.bus.publish(self.topics.device_state(name), json.dumps(doc).encode(), retain=True)

    async def run(self, rate: float, seconds: float, record: bool) -> None:
        started = time.monotonic()
        tick = 0
        while time.monotonic() - started < seconds:
            self.publish_all(record)
            tick += 1
            await asyncio.sleep(max(0.0, started + tick / rate - time.monotonic()))


async def press_and_time(app: ConsoleApp, pilot: Any, presses: int) -> tuple[list[float], int]:
    """``?`` then Esc, ``presses`` times: seconds from the press to the screen drawn."""
    lags: list[float] = []
    lost = 0
    for _ in range(presses):
        for key, character, wanted in (("question_mark", "?", True), ("escape", "\x1b", False)):
            drawn = asyncio.Event()
            await pilot.pause()
            sent = time.monotonic()
            # As the terminal driver hands a key to the app (the pilot's press adds its own waits).
            app.post_message(events.Key(key, character))
            try:
                async with asyncio.timeout(KEY_TIMEOUT_S):
                    while isinstance(app.screen, KeysScreen) is not wanted:
                        await asyncio.sleep(0.001)
                    app.call_after_refresh(drawn.set)
                    await drawn.wait()
            except TimeoutError:
                lost += 1
                continue
            lags.append(time.monotonic() - sent)
    return lags, lost


def summary(lags: list[float], **extra: Any) -> dict[str, Any]:
    ordered = sorted(lags)
    return {"count": len(ordered), **{f"p{p}_ms": percentile_ms(ordered, p) for p in (50, 90, 99)}, **extra}


async def run_tui_bench(devices: int = 100, rate: float = 10.0, seconds: float = 5.0, presses: int = 20) -> dict:
    technician = Client("bench-tech", "technician")
    async with bench_store(0, staff=(technician,)) as (store, _):
        assert store.bus is not None
        address = BrokerAddress("127.0.0.1", store.mqtt_port)
        bus = BusConnection(
            address=address, client_id="bench-devices", username=HUB_USERNAME, password=store.bus.hub_password
        )
        await bus.connect(timeout=10)
        publisher = Publisher(bus, devices)
        bus.publish(publisher.topics.hub_state(), json.dumps({"state": "online"}).encode(), retain=True)
        shown: dict[str, list[tuple[int, float]]] = {}

        def drawn(seqs: dict[str, int]) -> None:
            at = time.monotonic()
            for device, seq in seqs.items():
                shown.setdefault(device, []).append((seq, at))

        settings = ConsoleSettings(
            store=BENCH_STORE, client_id=technician.id, secret=technician.secret, port=store.mqtt_port, language="en"
        )
        app = BenchConsole(settings, drawn)
        try:
            async with asyncio.timeout(seconds * 3 + presses * 4 * KEY_TIMEOUT_S + 60):
                report = await _measure(app, publisher, shown, rate, seconds, presses)
        finally:
            await bus.close()
    return {"devices": devices, "rate": rate, "seconds": seconds, "cpus": cpu_count(), **report}


async def _measure(
    app: BenchConsole, publisher: Publisher, shown: dict, rate: float, seconds: float, presses: int
) -> dict[str, Any]:
    async with app.run_test(size=SIZE) as pilot:
        say(f"console: waiting for {len(publisher.names)} devices on screen…")
        publisher.publish_all(record=False)
        while len(app.devices) < len(publisher.names) or app.stale:
            await asyncio.sleep(0.05)
        say("keys, the store quiet…")
        quiet, quiet_lost = await press_and_time(app, pilot, presses)
        say(f"{len(publisher.names)} devices at {rate:g} changes/s each for {seconds:g} s, keys meanwhile…")
        publishing = asyncio.ensure_future(publisher.run(rate, seconds, record=True))
        await asyncio.sleep(min(1.0, seconds / 4))
        busy, busy_lost = await press_and_time(app, pilot, presses)
        await publishing
        await asyncio.sleep(1.0)  # the last changes' way to the screen
    lags = screen_lags(publisher.sent, shown)
    state = summary(lags, published=len(publisher.sent), on_screen=len(lags))
    keys_quiet, keys_busy = summary(quiet, lost=quiet_lost), summary(busy, lost=busy_lost)
    return {
        "state_to_screen": state,
        "keys_quiet": keys_quiet,
        "keys_busy": keys_busy,
        "ratio": {"keys_p99": ratio(keys_busy["p99_ms"], keys_quiet["p99_ms"])},
        "goals": {"state_p99_ms": 200, "keys_p99_ms": 100},
    }


def screen_lags(sent: dict[tuple[str, int], float], shown: dict[str, list[tuple[int, float]]]) -> list[float]:
    """Each published change's lag: until its device's row first showed it or a newer
    one (a change overtaken before a drawing is on screen when its successor is: the
    screen shows the newest, which is what a technician needs)."""
    lags = []
    for (device, seq), at in sent.items():
        drawn = shown.get(device, [])
        seqs = [s for s, _ in drawn]
        first = bisect.bisect_left(seqs, seq)
        if first < len(drawn):
            lags.append(drawn[first][1] - at)
    return lags


def tui_table(report: dict) -> str:
    s, q, b = report["state_to_screen"], report["keys_quiet"], report["keys_busy"]
    lines = [
        f"storehub bench tui: {report['devices']} devices at {report['rate']:g} state changes/s each for "
        f"{report['seconds']:g} s, headless console {SIZE[0]}x{SIZE[1]}, {report['cpus']} CPU(s)",
        f"{'':<26}{'count':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'goal':>8}",
        f"{'publish to screen':<26}{s['count']:>8}{s['p50_ms']:>9.1f}{s['p90_ms']:>9.1f}{s['p99_ms']:>9.1f}{'200':>8}",
        f"{'key to screen, quiet':<26}{q['count']:>8}{q['p50_ms']:>9.1f}{q['p90_ms']:>9.1f}{q['p99_ms']:>9.1f}{'':>8}",
        f"{'key to screen, busy':<26}{b['count']:>8}{b['p50_ms']:>9.1f}{b['p90_ms']:>9.1f}{b['p99_ms']:>9.1f}"
        f"{'100':>8}",
        f"published {s['published']}, drawn {s['on_screen']} (the rest overtaken before a refresh); "
        f"keys lost {q['lost']}+{b['lost']}; busy/quiet key p99 {report['ratio']['keys_p99']:.2f}x",
    ]
    return "\n".join(lines)
