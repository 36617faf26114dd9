"""What the Cloud link, Labels and Hub screens share: a panel of named values, and a
request whose answer the screen keeps (the tests read it) and shows."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from tui.screens.base import ConsoleScreen


def size(count: int | None) -> str:
    """Bytes as a person reads them: ``812 KiB``, ``3.4 MiB``, ``1.2 GiB``."""
    if count is None:
        return "—"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit in ("B", "KiB") else f"{value:.1f} {unit}"
        value /= 1024
    return str(count)


def panel(title: str, rows: list[tuple[str, str | Text]], stale: bool) -> Table:
    """Two columns, the names right-aligned; dimmed when what it shows is stale."""
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold")
    table.add_column(overflow="fold")
    table.title = title + (" (stale)" if stale else "")
    table.title_justify = "left"
    table.style = "dim" if stale else ""
    for name, value in rows:
        table.add_row(name, value)
    return table


class PanelScreen(ConsoleScreen):
    def __init__(self) -> None:
        super().__init__()
        self.last_answer: dict[str, Any] | None = None

    def ask(self, target: str, action: str, args: dict[str, Any] | None = None) -> None:
        async def ask() -> None:
            answer = await self.app.ask(target, action, args)
            self.last_answer = answer.model_dump(exclude_none=True)
            self.store_changed(None)

        self.run_worker(ask(), group="actions")
