"""The console's bus link: a StoreHubClient run in a Textual worker.

Everything it hears becomes a Textual message posted to the app; the screens change
only in their message handlers, so a slow broker never blocks a key press.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from textual.message import Message

from bus.client import StoreHubClient
from bus.mqtt import BrokerAddress, BusError
from bus.payloads import Response
from bus.topics import (
    ClientStateTopic,
    DeviceEventTopic,
    DeviceStateTopic,
    HubLabelsTopic,
    HubStateTopic,
    SyncStateTopic,
)
from tui.settings import ConsoleSettings

log = logging.getLogger(__name__)

#: How often the link looks whether the broker connection is still up.
WATCH_INTERVAL_S = 0.25
#: How long the first connection may take before the console gives up (a shop's night).
FIRST_CONNECT_WAIT_S = 24 * 3600.0


class DeviceStatesChanged(Message):
    """Device state documents heard since the app last took them: the newest of each
    device (``None``: cleared).  The link adds to ``states`` until the app takes it, so a
    busy store's 1,000 documents a second cost the app a few messages, not 1,000."""

    def __init__(self, states: dict[str, dict[str, Any] | None]) -> None:
        super().__init__()
        self.states = states

    def take(self) -> dict[str, dict[str, Any] | None]:
        taken = dict(self.states)
        self.states.clear()
        return taken


class DeviceEventArrived(Message):
    def __init__(self, device: str, event: dict[str, Any]) -> None:
        super().__init__()
        self.device = device
        self.event = event


class HubStateChanged(Message):
    def __init__(self, doc: dict[str, Any] | None) -> None:
        super().__init__()
        self.doc = doc


class DocumentChanged(Message):
    """Another retained document: ``client`` (``key``: the client id), ``sync``
    (``sync/state``) or ``labels`` (``hub/labels``); ``doc`` None when it is cleared."""

    def __init__(self, kind: str, key: str, doc: dict[str, Any] | None) -> None:
        super().__init__()
        self.kind = kind
        self.key = key
        self.doc = doc


class BusChanged(Message):
    def __init__(self, connected: bool) -> None:
        super().__init__()
        self.connected = connected


class BusLink:
    """Connects, keeps connected, and turns topics into messages for ``target``."""

    def __init__(self, settings: ConsoleSettings, target: Any) -> None:
        self.settings = settings
        self.target = target
        self.client = StoreHubClient(
            store=settings.store,
            client_id=settings.client_id,
            secret=settings.secret,
            address=BrokerAddress(settings.host, settings.port),
        )
        self._connected: bool | None = None
        #: Documents waiting for the app (the ``DeviceStatesChanged`` on its way holds it).
        self._states: dict[str, dict[str, Any] | None] = {}

    async def run(self) -> None:
        """The worker: subscribe once, connect, then watch the connection.

        ``connect`` is called once: the connection then retries by itself and, at every
        reconnect, renews this one set of subscriptions (``bus/mqtt.py``), so a broker
        that comes and goes never doubles a handler.
        """
        self.client.watch("dev/+/state", self._on_document)
        self.client.watch("dev/+/event", self._on_document)
        self.client.watch("hub/state", self._on_document)
        for pattern in ("client/+/state", "sync/state", "hub/labels"):
            self.client.watch(pattern, self._on_document)
        self.client.bus.on_connected(lambda: self._report(True))
        connecting = asyncio.ensure_future(self._connect())
        try:
            while True:
                self._report(self.client.bus.connected)
                await asyncio.sleep(WATCH_INTERVAL_S)
        finally:
            connecting.cancel()
            await self.client.close()

    async def _connect(self) -> None:
        try:
            await self.client.connect(timeout=FIRST_CONNECT_WAIT_S)
        except BusError as exc:
            log.error("console cannot sign in at %s:%s: %s", self.settings.host, self.settings.port, exc)
            self._report(False)

    def _report(self, connected: bool) -> None:
        if connected != self._connected:
            self._connected = connected
            self.target.post_message(BusChanged(connected))

    def _on_document(self, topic: str, doc: Any) -> None:
        match self.client.topics.parse(topic):
            case DeviceStateTopic(device):
                first = not self._states
                self._states[device] = doc if isinstance(doc, dict) else None
                if first:
                    self.target.post_message(DeviceStatesChanged(self._states))
            case DeviceEventTopic(device) if isinstance(doc, dict):
                self.target.post_message(DeviceEventArrived(device, doc))
            case HubStateTopic():
                self.target.post_message(HubStateChanged(doc if isinstance(doc, dict) else None))
            case ClientStateTopic(client):
                self.target.post_message(DocumentChanged("client", client, doc if isinstance(doc, dict) else None))
            case SyncStateTopic():
                self.target.post_message(DocumentChanged("sync", "sync", doc if isinstance(doc, dict) else None))
            case HubLabelsTopic():
                self.target.post_message(DocumentChanged("labels", "labels", doc if isinstance(doc, dict) else None))

    async def request(self, target: str, action: str, args: dict[str, Any] | None = None) -> Response:
        return await self.client.request(target, action, args, timeout=10)
