"""``?``: every key of the console."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = {
    "ru": [
        (":", "экран: clients events cloud labels hub, id"),
        ("/", "фильтр"),
        ("Enter", "открыть"),
        ("Esc", "назад"),
        ("?", "клавиши"),
        ("s", "статус устройства"),
        ("p", "печать; облако: пауза; ценники: очередь"),
        ("o", "открыть ящик"),
        ("c", "отменить задание в очереди"),
        ("f", "освободить захват (с подтверждением)"),
        ("r", "перезапуск устройства; облако: продолжить"),
        ("End", "события: снова следить за потоком"),
        ("q", "выход"),
    ],
    "en": [
        (":", "screen: clients events cloud labels hub, id"),
        ("/", "filter"),
        ("Enter", "open"),
        ("Esc", "back"),
        ("?", "keys"),
        ("s", "device status"),
        ("p", "test print; cloud: pause; labels: print the queue"),
        ("o", "open the drawer"),
        ("c", "cancel a queued job"),
        ("f", "force-release the claim (asks first)"),
        ("r", "restart the device; cloud: resume (asks first)"),
        ("End", "events: follow the stream again"),
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
