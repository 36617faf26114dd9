"""A stand-in for the hub's bus port: keeps what an actor would have published."""

from __future__ import annotations

from bus.payloads import DeviceStateDoc, Event


class RecordingPort:
    def __init__(self) -> None:
        self.states: list[DeviceStateDoc] = []
        self.events: list[Event] = []
        self.client_events: list[tuple[str, Event]] = []
        self.durations: list[tuple[str, float]] = []

    def publish_state(self, document: DeviceStateDoc) -> None:
        self.states.append(document)

    def publish_event(self, event: Event) -> None:
        self.events.append(event)

    def send_to_client(self, client: str, event: Event) -> None:
        self.client_events.append((client, event))

    def observe(self, measure: str, seconds: float) -> None:
        self.durations.append((measure, seconds))
