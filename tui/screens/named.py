"""``:`` NAME: the console's screens by their names, in English and Russian."""

from __future__ import annotations

from textual.screen import Screen


def screen_named(name: str) -> Screen | None:
    from tui.screens.clients import ClientsScreen
    from tui.screens.cloud import CloudScreen
    from tui.screens.events import EventsScreen
    from tui.screens.hub import HubScreen
    from tui.screens.labels import LabelsScreen

    screens = {
        ("clients", "клиенты"): ClientsScreen,
        ("events", "события"): EventsScreen,
        ("cloud", "sync", "облако"): CloudScreen,
        ("labels", "ценники"): LabelsScreen,
        ("hub", "хаб"): HubScreen,
    }
    for names, screen in screens.items():
        if name in names:
            return screen()
    return None
