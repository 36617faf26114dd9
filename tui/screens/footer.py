"""The footer of keys, drawn again only when its keys change.

Textual's footer builds its keys afresh each time a screen comes back (after ``?``,
after a device's screen), which cost a busy console a styling of every key: most of a
key press's answer (`storehub bench tui`).
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


def keys_shown(screen: Screen) -> tuple[tuple[str, str, str, bool], ...]:
    """What the footer of ``screen`` would show: each key, what it says, its action, and
    whether it is enabled."""
    return tuple(
        (key, active.binding.description, active.binding.action, active.enabled)
        for key, active in screen.active_bindings.items()
        if active.binding.show
    )


class KeysFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._composed: tuple[tuple[str, str, str, bool], ...] | None = None

    async def recompose(self) -> None:
        shown = keys_shown(self.screen)
        if shown == self._composed:
            return
        self._composed = shown
        await super().recompose()
