"""Tills can trust ``hub/state``: a dead hub says offline, a restarted one says so too."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

from tests.conftest import Connect, HubProcess, pid_alive

#: The hub promises to be back on a restarted broker, retained state republished, within this.
BROKER_RESTART_RECOVERY_S = 5.0


class Watch:
    """Collects the JSON documents a client sees on one topic pattern."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()

    def __call__(self, topic: str, document: Any) -> None:
        self.seen.append((topic, document))
        self._changed.set()

    async def wait_for(self, predicate, timeout: float) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for topic, document in self.seen:
                if predicate(topic, document):
                    return document
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"not seen within {timeout} s; saw {self.seen[-5:]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass


async def test_sigkill_turns_hub_state_offline_with_the_dead_boot_and_restart_comes_back_higher(
    hub: HubProcess, connect: Connect
):
    tech = await connect(hub, "tech-1")
    watch = Watch()
    tech.watch("hub/state", watch)
    online = await watch.wait_for(lambda t, d: d and d["state"] == "online", 5)
    boot = online["boot"]

    await asyncio.to_thread(hub.kill)
    offline = await watch.wait_for(lambda t, d: d and d["state"] == "offline", 5)
    assert offline["boot"] == boot, "the Last Will must name the boot that died"

    await asyncio.to_thread(hub.start)
    again = await watch.wait_for(lambda t, d: d and d["state"] == "online" and d["boot"] > boot, 15)
    assert again["boot"] == boot + 1


async def test_sigterm_publishes_offline_devices_then_hub_offline(hub: HubProcess, connect: Connect):
    tech = await connect(hub, "tech-1")
    watch = Watch()
    tech.watch("#", watch)
    await watch.wait_for(lambda t, d: t.endswith("hub/state") and d["state"] == "online", 5)
    assert await asyncio.to_thread(hub.stop) == 0
    await watch.wait_for(lambda t, d: t.endswith("hub/state") and d["state"] == "offline", 5)
    states = {t: d for t, d in watch.seen if t.endswith("/state") and "/dev/" in t}
    assert {d["status"] for d in states.values()} == {"offline"}
    assert len(states) == 2


async def test_broker_restart_under_a_running_hub(hub: HubProcess, connect: Connect):
    old_broker = hub.broker_pid()
    os.kill(old_broker, signal.SIGKILL)
    killed_at = time.monotonic()

    # A technician that connects after the restart sees the hub's retained state
    # republished and can use the devices again.
    deadline = killed_at + BROKER_RESTART_RECOVERY_S
    tech = None
    while tech is None:
        try:
            tech = await connect(hub, "tech-1")
        except Exception:
            assert time.monotonic() < deadline, "the managed broker did not come back"
            await asyncio.sleep(0.1)
    assert hub.broker_pid() != old_broker and pid_alive(hub.broker_pid())

    watch = Watch()
    tech.watch("#", watch)
    remaining = max(deadline - time.monotonic(), 0.1)
    await watch.wait_for(lambda t, d: t.endswith("hub/state") and d and d["state"] == "online", remaining)
    await watch.wait_for(lambda t, d: t.endswith("dev/echo-1/state") and d and d["status"] == "idle", 1)
    await watch.wait_for(lambda t, d: t.endswith("hub/devices"), 1)

    till = await connect(hub, "till-1")
    response = await till.request("echo-1", "echo", {"after": "restart"}, timeout=5)
    assert response.ok
