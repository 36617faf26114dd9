"""``?``: every key of the console, as remapped by the keys file."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.settings import DEFAULT_KEYS, shown_keys
from tui.words import key_help


def key_rows(language: str, keymap: dict[str, str]) -> list[tuple[str, str]]:
    """(the keys now, what they do) for every row of the keys screen."""
    return [(shown_keys(name, keymap) if name in DEFAULT_KEYS else name, what) for name, what in key_help(language)]


class KeysScreen(ModalScreen):
    CSS_PATH = Path(__file__).with_name("keys.tcss")
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Esc")]

    def compose(self) -> ComposeResult:
        settings = self.app.settings
        rows = "\n".join(f"{key:>6}  {what}" for key, what in key_rows(settings.language, settings.keys))
        yield Static(f"[b]{self.app.words['keys']}[/b]\n\n{rows}", id="keys")
