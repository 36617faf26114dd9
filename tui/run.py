"""Run the console from plain values (the hub's CLI resolves the demo's defaults)."""

from __future__ import annotations

from tui.app import ConsoleApp
from tui.settings import ConsoleSettings


def run_console(settings: ConsoleSettings) -> int:
    ConsoleApp(settings).run()
    return 0
