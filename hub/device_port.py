"""The devices' door to the bus: what a device actor publishes goes out under its own
topics (``dev/{id}/state``, ``dev/{id}/event``, a client's ``event``, which the hub's own
listeners for that job hear too: ``hub.job_events``), and what the store
must book from it (a closed receipt, the shelf labels printed) goes to the store, and
what it must print from it (the shelf labels' tags) comes from the store.  The supervisor gives each actor
one, made by the hub's start-up.
"""

from __future__ import annotations

from bus.mqtt import BusConnection
from bus.payloads import DeviceStateDoc, Event
from bus.topics import TopicTree
from devices.actor import DevicePort, DeviceSpec
from devices.fiscal_register import ClosedReceipt
from devices.journal import DeviceJournal
from devices.labels.tag import LabelSelection, LabelsPrinted, TagData
from hub.job_events import JobEvents
from hub.metrics import HubMetrics
from hub.store.domain import StoreDomain


class BusDevicePort(DevicePort):
    """What a device actor publishes, put on the bus under its own topics."""

    def __init__(
        self,
        bus: BusConnection,
        topics: TopicTree,
        spec: DeviceSpec,
        metrics: HubMetrics,
        journal: DeviceJournal,
        store: StoreDomain,
        job_events: JobEvents,
    ) -> None:
        self._bus = bus
        self._job_events = job_events
        self._journal = journal
        self._store = store
        self._state_topic = topics.device_state(spec.id)
        self._event_topic = topics.device_event(spec.id)
        self._topics = topics
        self._durations = {
            "claim_wait": metrics.claim_wait_seconds.labels(spec.kind),
            "job": metrics.job_seconds.labels(spec.kind),
        }

    def publish_state(self, document: DeviceStateDoc) -> None:
        self._bus.publish(self._state_topic, document.to_bytes(), retain=True)

    def publish_event(self, event: Event) -> None:
        self._bus.publish(self._event_topic, event.to_bytes())

    def send_to_client(self, client: str, event: Event) -> None:
        self._bus.publish(self._topics.client_event(client), event.to_bytes())
        self._job_events.sent_to_client(client, event)

    def observe(self, measure: str, seconds: float) -> None:
        self._durations[measure].observe(seconds)

    @property
    def journal(self) -> DeviceJournal:
        return self._journal

    def receipt_closed(self, device_id: str, receipt: ClosedReceipt) -> None:
        self._store.receipt_closed(device_id, receipt)

    def label_tags(self, selection: LabelSelection) -> list[tuple[TagData, int]]:
        return self._store.label_tags(selection)

    def labels_printed(self, outcome: LabelsPrinted) -> None:
        self._store.labels_printed(outcome)
