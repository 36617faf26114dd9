"""The technician's console driven by Textual's pilot against a real hub and broker."""

from __future__ import annotations

import asyncio
import os
import signal

from textual.widgets import Static

from bus.client import StoreHubClient
from bus.payloads import Event
from tests.conftest import STORE, HubProcess, until
from tui.app import ConsoleApp
from tui.live_table import LiveTable
from tui.screens.device import DeviceScreen
from tui.screens.devices import DevicesScreen
from tui.settings import ConsoleSettings

SIZE = (100, 30)


def console_for(hub: HubProcess, *, readonly: bool = False, keys: dict[str, str] | None = None) -> ConsoleApp:
    address = hub.address
    settings = ConsoleSettings(
        store=STORE,
        client_id="tech-1",
        secret=hub.secrets["tech-1"],
        host=address.host,
        port=address.port,
        readonly=readonly,
        language="en",
        keys=keys or {},
    )
    return ConsoleApp(settings)


def table_of(app: ConsoleApp) -> LiveTable:
    screen = app.screen_stack[1]
    assert isinstance(screen, DevicesScreen)
    return screen.query_one("#devices", LiveTable)


def cell(app: ConsoleApp, device: str, column: str) -> str:
    table = table_of(app)
    if device not in table.rows:
        return ""
    return table.get_cell(device, column)


async def open_device(app: ConsoleApp, pilot, device: str, jump: str = "colon") -> DeviceScreen:
    await until(lambda: cell(app, device, "status") in ("idle", "busy"), 15, f"{device} in the table")
    await pilot.press(jump, *device, "enter")
    await until(lambda: isinstance(app.screen, DeviceScreen), 5, "the device screen")
    return app.screen


async def test_devices_appear_with_their_status(shared_hub: HubProcess) -> None:
    app = console_for(shared_hub)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: cell(app, "echo-1", "status") == "idle", 15, "echo-1 idle in the table")
        await until(lambda: cell(app, "echo-2", "kind") == "echo", 5, "echo-2 in the table")
        await until(lambda: not app.stale, 5, "the console fresh with the hub online")
        await pilot.press("slash", *"echo-2")
        await until(
            lambda: table_of(app).rows == ["echo-2"],
            5,
            "the filter",
        )


async def test_confirmed_force_release_frees_the_claim_and_the_till_hears_claim_lost(
    shared_hub: HubProcess, connect
) -> None:
    till: StoreHubClient = await connect(shared_hub, "till-1")
    lost: list[Event] = []
    till.on_event(lambda event: lost.append(event) if event.type == "claim_lost" else None)
    claim = await till.request("echo-2", "claim")
    assert claim.ok, claim
    app = console_for(shared_hub)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: cell(app, "echo-2", "holder") == "till-1", 15, "till-1 holding echo-2 in the table")
        screen = await open_device(app, pilot, "echo-2")
        await pilot.press("f")
        await until(lambda: type(app.screen).__name__ == "ConfirmScreen", 5, "the confirmation")
        await pilot.press("n")
        await pilot.pause(0.3)
        assert screen.last_answer is None and not lost, "declining released the claim"
        await pilot.press("f")
        await until(lambda: type(app.screen).__name__ == "ConfirmScreen", 5, "the confirmation")
        await pilot.press("y")
        await until(lambda: lost, 10, "claim_lost at the till")
        assert lost[0].data["reason"] == "force_released" and lost[0].data["by"] == "tech-1"
        await until(lambda: screen.last_answer is not None, 5, "the answer on screen")
        assert screen.last_answer["result"]["holder_was"] == "till-1"
        await pilot.press("escape")
        await until(lambda: cell(app, "echo-2", "holder") == "", 5, "echo-2 free in the table")


async def test_readonly_refuses_every_action(shared_hub: HubProcess, connect) -> None:
    till: StoreHubClient = await connect(shared_hub, "till-2")
    assert (await till.request("echo-2", "claim")).ok
    app = console_for(shared_hub, readonly=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_device(app, pilot, "echo-2")
            await pilot.press("f")
            await until(lambda: screen.last_answer is not None, 5, "the refusal on screen")
            assert screen.last_answer["error"]["code"] == "forbidden"
            assert not isinstance(app.screen, type(None)) and type(app.screen).__name__ != "ConfirmScreen"
            screen.last_answer = None
            await pilot.press("s")
            await until(lambda: screen.last_answer is not None, 5, "the refusal on screen")
            assert screen.last_answer["error"]["code"] == "forbidden"
            screen.last_answer = None
            await pilot.press("r")  # restart: refused without asking, and nothing is sent
            await until(lambda: screen.last_answer is not None, 5, "the restart's refusal on screen")
            assert screen.last_answer["error"]["code"] == "forbidden"
            assert type(app.screen).__name__ != "ConfirmScreen"
            renew = await till.request("echo-2", "renew")
            assert renew.ok, f"till-2 lost its claim to a read-only console: {renew}"
            assert app.devices["echo-2"]["claimed_by"] == "till-2"
    finally:
        await till.request("echo-2", "release")


async def test_the_hub_killed_shows_the_banner_and_the_console_recovers(hub: HubProcess) -> None:
    app = console_for(hub)
    async with app.run_test(size=SIZE):
        await until(lambda: cell(app, "echo-1", "status") == "idle", 15, "echo-1 in the table")
        await until(lambda: app.banner == "", 15, "the hub online (its retained state may follow the devices')")
        await asyncio.to_thread(hub.kill)
        await until(lambda: app.banner != "", 15, "the offline banner")
        assert app.stale
        await asyncio.to_thread(hub.start)
        await until(lambda: app.banner == "", 30, "the banner gone once the hub is back")
        await until(lambda: cell(app, "echo-1", "status") == "idle", 15, "echo-1 back in the table")


def handler_counts(app: ConsoleApp) -> dict[str, int]:
    bus = app.link.client.bus
    counts = {pattern: len(entry.handlers) for pattern, entry in bus._subscriptions.items()}
    counts["(on connected)"] = len(bus._connected_hooks)
    return counts


async def test_the_broker_restarted_keeps_one_set_of_subscriptions(hub: HubProcess) -> None:
    """Private fields are read on purpose: a doubled handler is invisible from outside
    until it doubles a row or an announcement."""
    app = console_for(hub)
    async with app.run_test(size=SIZE):
        await until(lambda: cell(app, "echo-1", "status") == "idle", 15, "echo-1 in the table")
        before = handler_counts(app)
        assert all(count == 1 for pattern, count in before.items() if pattern != "(on connected)"), before
        for _ in range(2):
            os.kill(hub.broker_pid(), signal.SIGKILL)
            await until(lambda: not app.bus_connected, 15, "the console hearing the broker gone")
            await until(lambda: app.bus_connected, 60, "the console back on the restarted broker")
        assert handler_counts(app) == before
        await until(lambda: cell(app, "echo-1", "status") == "idle", 30, "echo-1 in the table again")


async def test_the_console_started_before_the_broker_connects_once_it_is_up(hub: HubProcess) -> None:
    await asyncio.to_thread(hub.stop)
    app = console_for(hub)
    async with app.run_test(size=SIZE):
        await until(lambda: app.banner == app.words["bus_lost"], 10, "the bus-lost banner")
        await asyncio.sleep(6)  # past the old five-second first connect, which left a dead link
        await asyncio.to_thread(hub.start)
        await until(lambda: app.banner == "", 60, "the banner gone once the hub is up")
        counts = handler_counts(app)
        assert all(count == 1 for pattern, count in counts.items() if pattern != "(on connected)"), counts


async def test_a_confirmed_restart_answers_the_running_job_and_the_device_comes_back(hub: HubProcess, connect) -> None:
    till: StoreHubClient = await connect(hub, "till-1")
    app = console_for(hub)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_device(app, pilot, "echo-1")
        job = asyncio.ensure_future(till.request("echo-1", "sleep", {"ms": 8000}, timeout=30))
        await until(lambda: app.devices["echo-1"].get("status") == "busy", 10, "the till's job running on echo-1")
        app.stream.clear()
        await pilot.press("r")
        await until(lambda: type(app.screen).__name__ == "ConfirmScreen", 5, "the confirmation")
        await pilot.press("y")
        answer = await asyncio.wait_for(job, 15)
        assert not answer.ok and answer.error is not None, answer
        assert answer.error.code == "device_offline", answer
        await until(lambda: screen.last_answer is not None, 10, "the restart's answer on screen")
        assert screen.last_answer["ok"] and screen.last_answer["result"]["restarted"], screen.last_answer

        def offline() -> list[str]:
            return [e["data"].get("reason") for e in app.stream if e["source"] == "echo-1" and e["type"] == "offline"]

        await until(offline, 10, "echo-1's offline event")
        assert offline() == ["restarted by tech-1"], app.stream
        shown = screen.query_one("#state", Static)
        await until(lambda: 'status: "idle"' in str(shown.render()), 15, "echo-1 idle again on its screen")
        await pilot.press("escape")
        await until(lambda: cell(app, "echo-1", "status") == "idle", 5, "echo-1 idle in the table")
        assert (await till.request("echo-1", "echo", {"after": "restart"})).ok, "echo-1 takes jobs again"
