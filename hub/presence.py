"""Which tills are there: a client that goes offline (its Last Will, or it left) loses
its claims at once (DESIGN.md, Arbitration; docs/bus.md).

The hub's start-up subscribes ``ClientPresence.client_state_changed`` to every
``client/{id}/state``.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from bus.mqtt import Message
from bus.payloads import ClientStateDoc
from bus.topics import ClientStateTopic, TopicTree
from devices.supervisor import DeviceSupervisor

log = logging.getLogger(__name__)


class ClientPresence:
    def __init__(self, topics: TopicTree, devices: DeviceSupervisor) -> None:
        self._topics = topics
        self._devices = devices
        #: client id -> the session of its connection last seen online (ClientStateDoc).
        self._client_sessions: dict[str, str] = {}

    def client_state_changed(self, message: Message) -> None:
        topic = self._topics.parse(message.topic)
        if not isinstance(topic, ClientStateTopic) or not message.payload:
            return
        try:
            doc = ClientStateDoc.model_validate_json(message.payload)
        except ValidationError:
            log.warning("unreadable client state on %s", message.topic)
            return
        client = topic.client
        if doc.state == "online":
            if doc.session is not None:
                self._client_sessions[client] = doc.session
            return
        if not self._offline_is_news(client, doc, replayed=message.replayed):
            return
        self._client_sessions.pop(client, None)
        for actor in self._devices.actors():
            actor.client_left(client)

    def _offline_is_news(self, client: str, doc: ClientStateDoc, *, replayed: bool) -> bool:
        """Presence is never decided by a retained message alone: a broker restores old
        retained state from its persistence.  An ``offline`` ends the claims when it is
        live (the client's Will or clean leave, now) and names the connection last seen
        online, or names none (older clients).  A stored copy counts only if it names
        that very connection: its Will fired while the hub was away from the broker."""
        current = self._client_sessions.get(client)
        if replayed:
            if doc.session is None or doc.session != current:
                log.info("%s: kept its claims on a stored offline (session %s) at subscription", client, doc.session)
                return False
            return True
        if doc.session is not None and current is not None and doc.session != current:
            log.info(
                "%s: kept its claims: the offline is of an older connection (session %s, now %s)",
                client,
                doc.session,
                current,
            )
            return False
        return True
