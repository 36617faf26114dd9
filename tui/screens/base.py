"""What every console screen has: the header, the offline banner, ``:`` and ``/``
inputs, and the footer of keys."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, Input, Static

from tui.screens.footer import KeysFooter


class ConsoleScreen(Screen):
    CSS_PATH = Path(__file__).with_name("base.tcss")
    BINDINGS = [
        Binding("colon", "jump", "screen", key_display=":", id="jump"),
        Binding("slash", "filter", "filter", key_display="/", id="filter"),
        Binding("escape", "back", "back", key_display="Esc", id="back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.app.banner, id="banner")
        yield from self.body()
        yield Input(id="jump")
        yield Input(id="filter")
        yield KeysFooter()

    def body(self) -> list[Widget]:
        return []

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys as Textual finds them, each saying what it does in the console's
        language (``tui/words.py``): the footer shows these."""
        said = self.app.key_words
        return {
            key: active._replace(
                binding=replace(active.binding, description=said.get(active.binding.action, active.binding.description))
            )
            for key, active in super().active_bindings.items()
        }

    def on_mount(self) -> None:
        words = self.app.words
        self.query_one("#jump", Input).placeholder = f": {words['jump']}"
        self.query_one("#filter", Input).placeholder = f"/ {words['filter']}"
        for box in self.query(Input):
            box.display = False
        self.show_banner(self.app.banner)

    def show_banner(self, text: str) -> None:
        # A screen still composing, or closing as the console quits, has no banner.
        for banner in self.query("#banner").results(Static):
            banner.update(text)
            banner.display = bool(text)

    def store_changed(self, devices: Collection[str] | None) -> None:
        """The app heard something new about ``devices`` (``None``: about the whole store)."""

    def filter_changed(self, text: str) -> None:
        """The ``/`` filter changed."""

    def confirmed(self, question: str, act: Callable[[], None]) -> None:
        """A destructive action: ``act`` once the technician says yes in the modal.  In
        read-only mode it goes straight to ``act``, whose request the app refuses itself."""
        if self.app.settings.readonly:
            act()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                act()

        from tui.screens.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(question), answered)

    def action_jump(self) -> None:
        self._open(self.query_one("#jump", Input))

    def action_filter(self) -> None:
        self._open(self.query_one("#filter", Input))

    def _open(self, box: Input) -> None:
        box.display = True
        box.focus()

    def action_back(self) -> None:
        for box in self.query(Input):
            if box.display:
                box.display = False
                return
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_changed(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        event.input.display = False
        if event.input.id == "jump":
            self.app.jump(event.value)
            event.input.value = ""
