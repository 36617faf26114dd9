"""A yes/no modal for destructive actions (force release)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    CSS_PATH = Path(__file__).with_name("confirm.tcss")
    BINDINGS = [Binding("escape,n", "no", "Esc"), Binding("y", "yes", "y")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        words = self.app.words
        with Vertical(id="confirm"):
            yield Static(self.question, id="question")
            with Horizontal():
                yield Button(f"{words['yes']} (y)", id="yes", variant="error")
                yield Button(f"{words['no']} (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)
