"""Tills can trust ``hub/state``: a dead hub says offline, a restarted one says so too."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import httpx

from bus.client import StoreHubClient
from bus.mqtt import BusConnection
from bus.topics import TopicTree
from tests.conftest import STORE, Connect, HubProcess, pid_alive, until

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


# -- client presence --------------------------------------------------------------------

#: A till that has died must have freed its claim within this.
CLAIM_FREED_S = 3.0


def till_process(hub: HubProcess, client_id: str, *, claim: str | None = None) -> subprocess.Popen[str]:
    """A till in its own process (so it can be killed, and its Will fire), connected,
    holding ``claim`` if asked; it prints its connection's session id when ready."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from bus.client import StoreHubClient
        from bus.mqtt import BrokerAddress

        async def main():
            till = StoreHubClient(store="{STORE}", client_id="{client_id}", secret="{hub.secrets[client_id]}",
                                  address=BrokerAddress("127.0.0.1", {hub.mqtt_port}))
            await till.connect()
            claim = {claim!r}
            if claim:
                response = await till.request(claim, "claim", {{"lease_s": 600}})
                assert response.ok, response
            print(till.session, flush=True)
            await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process


def ready(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    session = process.stdout.readline().strip()
    assert session, "the till process did not start"
    return session


async def holder(tech: StoreHubClient, device: str) -> str | None:
    claims = await tech.request("hub", "list_claims")
    assert claims.ok and claims.result is not None, claims
    return next((c["holder"] for c in claims.result["claims"] if c["device_id"] == device), None)


def broker_pid_or_none(hub: HubProcess) -> int | None:
    """The managed broker's pid, or None while a restarting one has not written it yet."""
    try:
        return hub.broker_pid()
    except (OSError, ValueError):
        return None


def end(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        process.kill()
        process.wait()


async def test_a_stale_offline_restored_by_a_crashed_broker_does_not_end_a_live_claim(
    hub: HubProcess, connect: Connect
):
    tech = await connect(hub, "tech-1")
    states = Watch()
    tech.watch("client/till-1/state", states)
    data = hub.broker_workdir / "data" / "mosquitto.db"

    # till-1 dies once: its Will leaves `offline` retained, and the broker saves it.
    first = till_process(hub, "till-1")
    try:
        old_session = await asyncio.to_thread(ready, first)
    finally:
        end(first)
    await states.wait_for(lambda t, d: d["state"] == "offline" and d["session"] == old_session, 5)
    saved_before = data.stat().st_mtime_ns if data.exists() else 0
    os.kill(hub.broker_pid(), signal.SIGUSR1)  # Mosquitto: write the persistence file now
    await until(lambda: data.exists() and data.stat().st_mtime_ns != saved_before, 5, "the broker's save")

    # till-1 comes back and claims echo-2; then the broker crashes before saving again.
    second = till_process(hub, "till-1", claim="echo-2")
    try:
        session = await asyncio.to_thread(ready, second)
        await states.wait_for(lambda t, d: d["state"] == "online" and d["session"] == session, 5)
        assert await holder(tech, "echo-2") == "till-1"
        # Frozen, so that it reconnects only after the hub has read the restored state.
        second.send_signal(signal.SIGSTOP)
        broker = hub.broker_pid()
        os.kill(broker, signal.SIGKILL)
        await until(lambda: broker_pid_or_none(hub) not in (None, broker), 10, "the broker's restart")
        deadline = time.monotonic() + BROKER_RESTART_RECOVERY_S
        while True:
            try:
                if (await tech.request("hub", "ping", timeout=1)).ok:
                    break
            except TimeoutError:
                pass
            assert time.monotonic() < deadline, "the hub did not come back"
        await asyncio.sleep(0.3)  # the restored `offline` reached the hub with its subscription
        assert await holder(tech, "echo-2") == "till-1", "a restored old offline ended the claim"

        second.send_signal(signal.SIGCONT)
        await states.wait_for(lambda t, d: d["state"] == "online" and d["session"] not in (session, old_session), 10)
        assert await holder(tech, "echo-2") == "till-1"

        # A real Will still ends it.
        second.kill()
        await until_released(tech, "echo-2")
    finally:
        end(second)


async def test_a_late_will_of_an_older_connection_does_not_end_the_claim_of_the_newer(
    hub: HubProcess, connect: Connect
):
    tech = await connect(hub, "tech-1")
    states = Watch()
    tech.watch("client/till-1/state", states)
    old = till_process(hub, "till-1")
    new = None
    try:
        old_session = await asyncio.to_thread(ready, old)
        # The till restarts, and its new process connects before the old connection is
        # found dead (a half-open socket lingers until the broker's keepalive runs out).
        new = till_process(hub, "till-1", claim="echo-2")
        session = await asyncio.to_thread(ready, new)
        await states.wait_for(lambda t, d: d["state"] == "online" and d["session"] == session, 5)
        old.kill()  # the old connection's Will arrives now, live
        await states.wait_for(lambda t, d: d["state"] == "offline" and d["session"] == old_session, 5)
        await asyncio.sleep(0.3)
        assert await holder(tech, "echo-2") == "till-1", "the old connection's Will ended the new one's claim"
        new.kill()
        await until_released(tech, "echo-2")
    finally:
        end(old, *([new] if new else []))


async def test_a_client_without_sessions_still_loses_its_claims_when_it_says_offline(hub: HubProcess, connect: Connect):
    """An older till whose state document has no ``session``: its live offline counts."""
    tech = await connect(hub, "tech-1")
    async with httpx.AsyncClient(base_url=hub.api_url, headers=hub.headers("till-1")) as http:
        claimed = await http.post("/api/v1/devices/echo-2/requests", json={"action": "claim", "request_id": "c1"})
        assert claimed.status_code == 200 and claimed.json()["ok"], claimed.text
    assert await holder(tech, "echo-2") == "till-1"
    old_till = BusConnection(
        address=hub.address, client_id="old-till-1", username="till-1", password=hub.secrets["till-1"]
    )
    await old_till.connect(timeout=5)
    try:
        topic = TopicTree(STORE).client_state("till-1")
        info = old_till.publish(topic, b'{"state": "offline", "ts": 1}', retain=True)
        await asyncio.to_thread(info.wait_for_publish, 2)
        await until_released(tech, "echo-2")
    finally:
        await old_till.close()


async def until_released(tech: StoreHubClient, device: str) -> None:
    deadline = time.monotonic() + CLAIM_FREED_S
    while await holder(tech, device) is not None:
        assert time.monotonic() < deadline, f"{device} still held {CLAIM_FREED_S} s after its holder died"
        await asyncio.sleep(0.05)
