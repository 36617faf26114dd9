"""``?``: every key of the console."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = {
    "ru": [
        (":", "перейти к экрану (devices или id устройства)"),
        ("/", "фильтр"),
        ("Enter", "открыть"),
        ("Esc", "назад"),
        ("?", "клавиши"),
        ("s", "статус устройства"),
        ("p", "пробная печать"),
        ("o", "открыть ящик"),
        ("c", "отменить задание в очереди"),
        ("f", "освободить захват (с подтверждением)"),
        ("q", "выход"),
    ],
    "en": [
        (":", "jump to a screen (devices or a device id)"),
        ("/", "filter"),
        ("Enter", "open"),
        ("Esc", "back"),
        ("?", "keys"),
        ("s", "device status"),
        ("p", "test print"),
        ("o", "open the drawer"),
        ("c", "cancel a queued job"),
        ("f", "force-release the claim (asks first)"),
        ("q", "quit"),
    ],
}


class KeysScreen(ModalScreen):
    CSS_PATH = Path(__file__).with_name("keys.tcss")
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Esc")]

    def compose(self) -> ComposeResult:
        language = self.app.settings.language
        rows = "\n".join(f"{key:>6}  {what}" for key, what in KEYS.get(language, KEYS["ru"]))
        yield Static(f"[b]{self.app.words['keys']}[/b]\n\n{rows}", id="keys")
