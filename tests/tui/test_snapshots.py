"""What the technician sees, as SVG snapshots at 80x24 and 160x48.

A fixed store at a frozen time (``snapshot_store``), no hub: the pictures change only
when the console does.  Update after a wanted change with ``--snapshot-update`` and look
at the SVGs in tests/tui/__snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest

from tests.conftest import until
from tests.tui.snapshot_store import frozen_console
from tui.screens.device import DeviceScreen

SIZES = [(80, 24), (160, 48)]


async def settled(pilot) -> None:
    app = pilot.app
    await until(lambda: len(app.devices) == 4 and not app.stale, 5, "the fixed store shown")
    await pilot.pause()
    app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_devices_screen(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(frozen_console(), terminal_size=size, run_before=settled)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_device_screen(snap_compare, size: tuple[int, int]) -> None:
    async def open_printer(pilot) -> None:
        await settled(pilot)
        await pilot.press("colon", *"printer-1", "enter")
        await until(lambda: isinstance(pilot.app.screen, DeviceScreen), 5, "the device screen")
        await pilot.pause()

    assert snap_compare(frozen_console(), terminal_size=size, run_before=open_printer)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_keys_screen(snap_compare, size: tuple[int, int]) -> None:
    async def open_keys(pilot) -> None:
        await settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(frozen_console(keys={"status": "t"}), terminal_size=size, run_before=open_keys)
