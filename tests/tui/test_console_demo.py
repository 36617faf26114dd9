"""The technician's console against a running demo store (`storehub demo` as its own
process), its peripherals driven through the simulator desk as `storehub sim` drives them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from textual.widgets import DataTable

from bus.client import StoreHubClient
from bus.mqtt import BrokerAddress
from devices.sim.control import send_command
from hub.demo.store import DEMO_STORE, demo_secret
from tests.conftest import until
from tests.demo_support import Demo
from tests.tui.test_console import SIZE, cell
from tui.app import ConsoleApp
from tui.screens.clients import ClientsScreen
from tui.screens.cloud import CloudScreen
from tui.screens.device import DeviceScreen
from tui.screens.events import EventsScreen
from tui.screens.hub import HubScreen
from tui.screens.labels import LabelsScreen
from tui.settings import ConsoleSettings


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    running = Demo(tmp_path_factory.mktemp("demo") / "store")
    try:
        running.start()
        running.wait_ready()
        yield running
    finally:
        running.cleanup()


@pytest.fixture
async def connect_demo(demo: Demo) -> AsyncIterator[Callable[[str], Awaitable[StoreHubClient]]]:
    """``await connect_demo("till-1")``: a demo client signed in, closed afterwards."""
    clients: list[StoreHubClient] = []

    async def _connect(client_id: str) -> StoreHubClient:
        secret = demo_secret(demo.directory, client_id)
        assert secret, f"the demo wrote no secret for {client_id}"
        client = StoreHubClient(
            store=DEMO_STORE, client_id=client_id, secret=secret, address=BrokerAddress("127.0.0.1", demo.ports.mqtt)
        )
        await client.connect(timeout=5)
        clients.append(client)
        return client

    yield _connect
    for client in clients:
        await client.close()


def console_for(demo: Demo) -> ConsoleApp:
    secret = demo_secret(demo.directory, "tech-1")
    assert secret, "the demo wrote no secret for tech-1"
    settings = ConsoleSettings(store=DEMO_STORE, client_id="tech-1", secret=secret, port=demo.ports.mqtt, language="en")
    return ConsoleApp(settings)


async def sim(demo: Demo, device: str, do: str, **args: Any) -> dict[str, Any]:
    """What `storehub sim DEVICE DO key=value` sends."""
    command = {"device": device, "do": do, "args": args}
    answer = await asyncio.to_thread(send_command, demo.directory / "sim.sock", command)
    assert answer["ok"], answer
    return answer["result"]


async def test_a_display_unplugged_at_the_desk_shows_offline_and_comes_back(demo: Demo) -> None:
    app = console_for(demo)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: cell(app, "display-1", "status") == "idle", 20, "display-1 idle in the table")
        await sim(demo, "display-1", "unplug")
        try:
            await until(lambda: cell(app, "display-1", "status") == "offline", 10, "display-1 offline")
        finally:
            await sim(demo, "display-1", "plug_in")
        await until(lambda: cell(app, "display-1", "status") == "idle", 20, "display-1 back online")
        await pilot.press("colon", *"display-1", "enter")
        await until(lambda: isinstance(app.screen, DeviceScreen), 5, "the device screen")
        shown = str(app.screen.query_one("#state").render())
        assert "updated_at: " in shown and " ago)" in shown, shown


async def open_screen(app: ConsoleApp, pilot, name: str, screen: type) -> Any:
    await until(lambda: cell(app, "display-1", "status") in ("idle", "busy"), 20, "the devices in the table")
    await pilot.press("colon", *name, "enter")
    await until(lambda: isinstance(app.screen, screen), 5, f"the {name} screen")
    return app.screen


async def confirm(app: ConsoleApp, pilot) -> None:
    await until(lambda: type(app.screen).__name__ == "ConfirmScreen", 5, "the confirmation")
    await pilot.press("y")


async def test_restart_from_the_device_screen_takes_the_device_offline_and_back(demo: Demo) -> None:
    app = console_for(demo)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: cell(app, "display-1", "status") == "idle", 20, "display-1 idle")
        await pilot.press("colon", *"display-1", "enter")
        await until(lambda: isinstance(app.screen, DeviceScreen), 5, "the device screen")
        screen = app.screen
        app.stream.clear()
        await pilot.press("r")
        await confirm(app, pilot)
        await until(lambda: screen.last_answer is not None, 10, "the restart's answer")
        assert screen.last_answer["ok"] and screen.last_answer["result"]["restarted"], screen.last_answer

        def offline() -> list[str]:
            return [
                e["data"].get("reason") for e in app.stream if e["source"] == "display-1" and e["type"] == "offline"
            ]

        await until(offline, 10, "display-1's offline event")
        assert offline() == ["restarted by tech-1"], app.stream
        await until(lambda: app.devices["display-1"]["status"] == "idle", 20, "display-1 back online")


async def test_clients_shows_a_till_and_its_claim(demo: Demo, connect_demo) -> None:
    till = await connect_demo("till-1")
    assert (await till.request("display-1", "claim")).ok
    app = console_for(demo)
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_screen(app, pilot, "clients", ClientsScreen)
            table = screen.query_one("#clients", DataTable)

            def row() -> list[str]:
                return [str(c) for c in table.get_row("till-1")] if "till-1" in table.rows else []

            await until(lambda: row()[2:4] == ["online", "display-1"], 10, "till-1 online holding display-1")
            assert row()[1] == "till"
    finally:
        await till.request("display-1", "release")


async def test_events_shows_a_scan_and_the_filter_hides_the_others(demo: Demo) -> None:
    app = console_for(demo)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, "events", EventsScreen)
        await sim(demo, "scanner-1", "scan", code="4601234567893")
        await until(lambda: any(e["type"].startswith("scan_") for e in screen.shown()), 10, "the scan event")
        app._heard("hub", "hub_online", {"boot": 0})  # another source, as the hub's own events are
        await until(lambda: "hub_online" in lines_of(screen), 5, "the hub's event shown")
        await pilot.press("slash", *"scanner-1")
        await until(lambda: lines_of(screen) and "hub_online" not in lines_of(screen), 5, "the filter")
        assert "scan_" in lines_of(screen)
        assert all(e["source"] == "scanner-1" for e in screen.shown())


def lines_of(screen: EventsScreen) -> str:
    return "\n".join(strip.text for strip in screen.log_view.lines)


async def test_cloud_link_pause_and_resume_change_sync_state(demo: Demo) -> None:
    app = console_for(demo)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(app, pilot, "cloud", CloudScreen)
        await until(lambda: "sync" in app.retained, 10, "sync/state")
        assert not app.retained["sync"]["paused"]
        await pilot.press("p")
        await confirm(app, pilot)
        await until(lambda: app.retained["sync"]["paused"], 10, "sync/state paused")
        await pilot.press("r")
        await confirm(app, pilot)
        await until(lambda: not app.retained["sync"]["paused"], 10, "sync/state resumed")


async def test_labels_prints_the_queue_on_the_zpl_simulator(demo: Demo) -> None:
    app = console_for(demo)
    pngs = demo.directory / "sim" / "labels-zpl-1"
    before = len(list(pngs.glob("*.png")))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, "labels", LabelsScreen)
        await until(lambda: (app.retained.get("labels") or {}).get("count", 0) > 0, 10, "stale labels")
        stale = app.retained["labels"]["count"]
        table = screen.query_one("#printers", DataTable)
        await until(lambda: "labels-zpl-1" in table.rows, 10, "the ZPL printer listed")
        table.move_cursor(row=table.get_row_index("labels-zpl-1"))
        await pilot.press("p")
        await confirm(app, pilot)
        await until(lambda: screen.last_answer is not None, 30, "the print's answer")
        assert screen.last_answer["ok"], screen.last_answer
        assert screen.last_answer["result"]["printed"] == stale
        await until(lambda: app.retained["labels"]["count"] == 0, 10, "the queue empty")
        assert len(list(pngs.glob("*.png"))) == before + stale


async def test_events_scrolled_up_stay_put_and_follow_again_at_the_bottom(demo: Demo) -> None:
    app = console_for(demo)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, "events", EventsScreen)
        for n in range(80):
            app._heard("echo-1", "echoed", {"n": n})
        view = screen.log_view
        await until(lambda: 0 < view.max_scroll_y == view.scroll_y, 5, "the log at its bottom")
        assert not screen.reading
        view.scroll_home(animate=False)
        await until(lambda: screen.reading, 5, "the technician reading further up")
        app._heard("echo-1", "echoed", {"n": 80})
        await pilot.pause()
        await pilot.pause()
        assert view.scroll_y == 0 and screen.unseen == 1, "a new event moved the page being read"
        assert "1" in str(screen.query_one("#paused").render())
        await pilot.press("end")
        await until(lambda: not screen.reading and screen.unseen == 0, 5, "following the stream again")
        app._heard("echo-1", "echoed", {"n": 81})
        await until(lambda: not screen.reading and '"n": 81' in lines_of(screen), 5, "the newest event in view")


async def test_the_hub_screen_shows_version_boot_broker_and_database(demo: Demo) -> None:
    app = console_for(demo)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, "hub", HubScreen)
        await until(lambda: screen.status and "sync" in app.retained, 10, "the hub's status and sync/state")
        await pilot.pause()
        rows = dict((name, str(value)) for name, value in screen.rows())
        assert rows["version"] == app.hub_state["version"] and rows["boot"] == str(app.hub_state["boot"])
        assert rows["broker"].startswith("running") and rows["database"].endswith("B"), rows
        assert rows["uptime"].endswith((" s", " min")), rows
