"""The client library announces a till and its Last Will tells the store when it dies."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import STORE, Connect, HubProcess


async def test_a_killed_till_turns_offline_through_its_last_will(shared_hub: HubProcess, connect: Connect):
    tech = await connect(shared_hub, "tech-1")
    states: list[str] = []
    changed = asyncio.Event()

    def on_state(topic: str, document: dict) -> None:
        states.append(document["state"])
        changed.set()

    tech.watch("client/till-2/state", on_state)
    till_program = textwrap.dedent(
        f"""
        import asyncio
        from bus.client import StoreHubClient
        from bus.mqtt import BrokerAddress

        async def main():
            till = StoreHubClient(store="{STORE}", client_id="till-2", secret="{shared_hub.secrets["till-2"]}",
                                  address=BrokerAddress("127.0.0.1", {shared_hub.mqtt_port}))
            await till.connect()
            print("connected", flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    till = subprocess.Popen([sys.executable, "-c", till_program], stdout=subprocess.PIPE, text=True)
    try:
        assert till.stdout is not None and till.stdout.readline().strip() == "connected"
        await _until(lambda: states and states[-1] == "online", changed)
        till.send_signal(signal.SIGKILL)
        await _until(lambda: states[-1] == "offline", changed)
    finally:
        till.kill()
        till.wait()


async def test_a_till_that_leaves_cleanly_says_offline(shared_hub: HubProcess, connect: Connect):
    tech = await connect(shared_hub, "tech-1")
    seen: list[str] = []
    tech.watch("client/kiosk-1/state", lambda topic, document: seen.append(document["state"]))
    kiosk = await connect(shared_hub, "kiosk-1")
    await asyncio.sleep(0.2)
    await kiosk.close()
    for _ in range(50):
        if seen and seen[-1] == "offline":
            break
        await asyncio.sleep(0.05)
    assert seen[-2:] == ["online", "offline"]


async def _until(predicate, changed: asyncio.Event, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            changed.clear()
            await changed.wait()


async def test_two_requests_in_flight_with_one_id_are_refused(shared_hub: HubProcess, connect: Connect):
    till = await connect(shared_hub, "till-1")
    first = asyncio.create_task(till.request("echo-1", "sleep", {"ms": 300}, request_id="same"))
    await asyncio.sleep(0.05)
    with pytest.raises(ValueError, match="already waiting"):
        await till.request("echo-1", "echo", {}, request_id="same")
    assert (await first).ok
