"""A stand-in for the hub's bus port: keeps what an actor would have published.

Its journal is the hub's real one on a SQLite file (``journal_at``), for the money
devices; other kinds never touch it.
"""

from __future__ import annotations

from pathlib import Path

from bus.payloads import DeviceStateDoc, Event
from devices.fiscal_register import ClosedReceipt
from devices.journal import DeviceJournal
from hub.db import create_store_engine, migrate
from hub.store.journal import StoreDeviceJournal


def journal_at(path: Path) -> StoreDeviceJournal:
    engine = create_store_engine(path)
    migrate(engine)
    return StoreDeviceJournal(engine)


class RecordingPort:
    def __init__(self, journal: DeviceJournal | None = None) -> None:
        self.states: list[DeviceStateDoc] = []
        self.events: list[Event] = []
        self.client_events: list[tuple[str, Event]] = []
        self.receipts: list[tuple[str, ClosedReceipt]] = []
        self.durations: list[tuple[str, float]] = []
        self._journal = journal

    @property
    def journal(self) -> DeviceJournal:
        if self._journal is None:
            raise AssertionError("this test gave the port no journal")
        return self._journal

    def publish_state(self, document: DeviceStateDoc) -> None:
        self.states.append(document)

    def publish_event(self, event: Event) -> None:
        self.events.append(event)

    def receipt_closed(self, device_id: str, receipt: ClosedReceipt) -> None:
        self.receipts.append((device_id, receipt))

    def send_to_client(self, client: str, event: Event) -> None:
        self.client_events.append((client, event))

    def observe(self, measure: str, seconds: float) -> None:
        self.durations.append((measure, seconds))
