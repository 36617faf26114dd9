"""The StoreHub topic tree (DESIGN.md, "The bus").

Every topic lives under ``storehub/v1/{store}/``.  Topics are built from and parsed
into small frozen dataclasses, one per kind of topic, by splitting on ``/`` and
matching whole segments — never by suffix, so ``client/x/req/hub`` can never be
mistaken for ``hub/...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOT = "storehub"
VERSION = "v1"

#: Store, client and device ids (DESIGN.md): lower-case, digits and dashes, 1..63 chars.
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

#: The request target that addresses the hub itself rather than a device.
HUB_TARGET = "hub"


def is_valid_id(value: str) -> bool:
    return bool(ID_PATTERN.match(value))


def check_id(value: str, what: str) -> str:
    if not is_valid_id(value):
        raise ValueError(f"{what} {value!r} must match {ID_PATTERN.pattern}")
    return value


@dataclass(frozen=True, slots=True)
class HubStateTopic:
    """``hub/state``: the hub's retained availability (and its Last Will)."""


@dataclass(frozen=True, slots=True)
class HubDevicesTopic:
    """``hub/devices``: the retained list of devices."""


@dataclass(frozen=True, slots=True)
class HubLabelsTopic:
    """``hub/labels``: the retained count of stale shelf labels and the oldest one's age."""


@dataclass(frozen=True, slots=True)
class DeviceStateTopic:
    """``dev/{device}/state``: a device's retained state document."""

    device: str


@dataclass(frozen=True, slots=True)
class DeviceEventTopic:
    """``dev/{device}/event``: device events for technicians and the hub."""

    device: str


@dataclass(frozen=True, slots=True)
class ClientStateTopic:
    """``client/{client}/state``: a till's or kiosk's retained availability."""

    client: str


@dataclass(frozen=True, slots=True)
class RequestTopic:
    """``client/{client}/req/{target}``: a request from a client to a device or the hub."""

    client: str
    target: str


@dataclass(frozen=True, slots=True)
class ResponseTopic:
    """``client/{client}/res``: responses when no MQTT 5 Response Topic was given."""

    client: str


@dataclass(frozen=True, slots=True)
class ClientEventTopic:
    """``client/{client}/event``: scans, job progress and lost claims for one client."""

    client: str


@dataclass(frozen=True, slots=True)
class SyncStateTopic:
    """``sync/state``: the retained cloud replication status."""


Topic = (
    HubStateTopic
    | HubDevicesTopic
    | HubLabelsTopic
    | DeviceStateTopic
    | DeviceEventTopic
    | ClientStateTopic
    | RequestTopic
    | ResponseTopic
    | ClientEventTopic
    | SyncStateTopic
)


class TopicTree:
    """Builds and parses the topics of one store."""

    def __init__(self, store: str) -> None:
        self.store = check_id(store, "store id")
        self.prefix = f"{ROOT}/{VERSION}/{store}"
        self._prefix_parts = (ROOT, VERSION, store)

    # -- building -----------------------------------------------------------------

    def hub_state(self) -> str:
        return f"{self.prefix}/hub/state"

    def hub_devices(self) -> str:
        return f"{self.prefix}/hub/devices"

    def hub_labels(self) -> str:
        return f"{self.prefix}/hub/labels"

    def device_state(self, device: str) -> str:
        return f"{self.prefix}/dev/{device}/state"

    def device_event(self, device: str) -> str:
        return f"{self.prefix}/dev/{device}/event"

    def client_state(self, client: str) -> str:
        return f"{self.prefix}/client/{client}/state"

    def request(self, client: str, target: str) -> str:
        return f"{self.prefix}/client/{client}/req/{target}"

    def response(self, client: str) -> str:
        return f"{self.prefix}/client/{client}/res"

    def client_event(self, client: str) -> str:
        return f"{self.prefix}/client/{client}/event"

    def sync_state(self) -> str:
        return f"{self.prefix}/sync/state"

    def build(self, topic: Topic) -> str:
        match topic:
            case HubStateTopic():
                return self.hub_state()
            case HubDevicesTopic():
                return self.hub_devices()
            case HubLabelsTopic():
                return self.hub_labels()
            case DeviceStateTopic(device):
                return self.device_state(device)
            case DeviceEventTopic(device):
                return self.device_event(device)
            case ClientStateTopic(client):
                return self.client_state(client)
            case RequestTopic(client, target):
                return self.request(client, target)
            case ResponseTopic(client):
                return self.response(client)
            case ClientEventTopic(client):
                return self.client_event(client)
            case SyncStateTopic():
                return self.sync_state()
        raise TypeError(f"not a topic: {topic!r}")

    # -- subscriptions the hub and clients use --------------------------------------

    def all_requests(self) -> str:
        return f"{self.prefix}/client/+/req/+"

    def all_client_states(self) -> str:
        return f"{self.prefix}/client/+/state"

    def all_device_states(self) -> str:
        return f"{self.prefix}/dev/+/state"

    def everything(self) -> str:
        return f"{self.prefix}/#"

    # -- parsing --------------------------------------------------------------------

    def parse(self, topic: str) -> Topic | None:
        """The typed topic for ``topic``, or ``None`` when it is not part of this tree."""
        parts = tuple(topic.split("/"))
        if parts[:3] != self._prefix_parts:
            return None
        match parts[3:]:
            case ("hub", "state"):
                return HubStateTopic()
            case ("hub", "devices"):
                return HubDevicesTopic()
            case ("hub", "labels"):
                return HubLabelsTopic()
            case ("dev", device, "state") if is_valid_id(device):
                return DeviceStateTopic(device)
            case ("dev", device, "event") if is_valid_id(device):
                return DeviceEventTopic(device)
            case ("client", client, "state") if is_valid_id(client):
                return ClientStateTopic(client)
            case ("client", client, "req", target) if is_valid_id(client) and is_valid_id(target):
                return RequestTopic(client, target)
            case ("client", client, "res") if is_valid_id(client):
                return ResponseTopic(client)
            case ("client", client, "event") if is_valid_id(client):
                return ClientEventTopic(client)
            case ("sync", "state"):
                return SyncStateTopic()
        return None

    def sender_of(self, topic: str) -> str | None:
        """The client id a topic under ``client/{id}/`` belongs to, even if the rest is bad.

        Lets the hub answer a request sent to a malformed target on the sender's own
        response topic instead of dropping it silently.
        """
        parts = topic.split("/")
        if tuple(parts[:3]) == self._prefix_parts and len(parts) > 4 and parts[3] == "client":
            if is_valid_id(parts[4]):
                return parts[4]
        return None

    def owned_by(self, topic: str, client: str) -> bool:
        """True when ``topic`` lies under ``client/{client}/`` (where that client may read)."""
        return topic.startswith(f"{self.prefix}/client/{client}/") and "+" not in topic and "#" not in topic
