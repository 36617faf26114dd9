"""The technician's console against a running demo store (`storehub demo` as its own
process), its peripherals driven through the simulator desk as `storehub sim` drives them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from devices.sim.control import send_command
from hub.demo.store import DEMO_STORE, demo_secret
from tests.conftest import until
from tests.demo_support import Demo
from tests.tui.test_console import SIZE, cell
from tui.app import ConsoleApp
from tui.screens.device import DeviceScreen
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
