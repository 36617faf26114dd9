"""``?``: every key of the console, as remapped by the keys file."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.settings import DEFAULT_KEYS, shown_keys

#: Each row: the key's name in the keys file (or, for a key not movable, the key as
#: shown), and what it does.
KEYS = {
    "ru": [
        ("jump", "экран: clients events cloud labels hub, id"),
        ("filter", "фильтр"),
        ("Enter", "открыть"),
        ("back", "назад"),
        ("keys", "клавиши"),
        ("status", "статус устройства"),
        ("test_print", "пробная печать"),
        ("open_drawer", "открыть ящик"),
        ("cancel_job", "отменить задание в очереди"),
        ("force_release", "освободить захват (с подтверждением)"),
        ("restart", "перезапуск устройства (с подтверждением)"),
        ("p", "облако: пауза; ценники: печать очереди"),
        ("r", "облако: продолжить"),
        ("End", "события: снова следить за потоком"),
        ("quit", "выход"),
    ],
    "en": [
        ("jump", "screen: clients events cloud labels hub, id"),
        ("filter", "filter"),
        ("Enter", "open"),
        ("back", "back"),
        ("keys", "keys"),
        ("status", "device status"),
        ("test_print", "test print"),
        ("open_drawer", "open the drawer"),
        ("cancel_job", "cancel a queued job"),
        ("force_release", "force-release the claim (asks first)"),
        ("restart", "restart the device (asks first)"),
        ("p", "cloud: pause; labels: print the queue"),
        ("r", "cloud: resume"),
        ("End", "events: follow the stream again"),
        ("quit", "quit"),
    ],
}


def key_rows(language: str, keymap: dict[str, str]) -> list[tuple[str, str]]:
    """(the keys now, what they do) for every row of the keys screen."""
    rows = KEYS.get(language, KEYS["ru"])
    return [(shown_keys(name, keymap) if name in DEFAULT_KEYS else name, what) for name, what in rows]


class KeysScreen(ModalScreen):
    CSS_PATH = Path(__file__).with_name("keys.tcss")
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Esc")]

    def compose(self) -> ComposeResult:
        settings = self.app.settings
        rows = "\n".join(f"{key:>6}  {what}" for key, what in key_rows(settings.language, settings.keys))
        yield Static(f"[b]{self.app.words['keys']}[/b]\n\n{rows}", id="keys")
