"""The StoreHub client library: what a Python till, the TUI, the bench and the tests use.

    client = StoreHubClient(store="store-1", client_id="till-1", secret="…",
                            address=BrokerAddress("127.0.0.1", 1883))
    await client.connect()
    response = await client.request("printer-1", "print", {...})

Connecting sets the Last Will on ``client/{id}/state`` (``offline``, retained) first,
then publishes ``online``; the hub ends the client's claims when that turns offline.
Each connection has its own ``session`` id in all three, so the hub can tell the Will
of this connection from a stale one the broker kept or restored.
Over MQTT 5 a request carries Response Topic and Correlation Data; over MQTT 3.1.1 the
hub answers on ``client/{id}/res`` and the response is matched by ``request_id``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import secrets
from collections.abc import Callable
from typing import Any, Literal

from pydantic import ValidationError

from bus.mqtt import BrokerAddress, BusConnection, Message, Will
from bus.payloads import ClientStateDoc, Event, Request, Response, now
from bus.topics import TopicTree, check_id

log = logging.getLogger(__name__)

#: How long a request waits for its response unless the caller says otherwise.
DEFAULT_REQUEST_TIMEOUT_S = 10.0


class RequestTimeout(TimeoutError):
    """No response arrived in time; the request may or may not have run."""


class StoreHubClient:
    def __init__(
        self,
        *,
        store: str,
        client_id: str,
        secret: str | None,
        address: BrokerAddress,
        protocol: Literal[5, 4] = 5,
        mqtt_client_id: str | None = None,
    ) -> None:
        self.topics = TopicTree(store)
        self.client_id = check_id(client_id, "client id")
        self.protocol = protocol
        self._pending: dict[str, asyncio.Future[Response]] = {}
        # Request ids unique across restarts of the same till: pid and a counter.
        self._ids = (f"{client_id}-{os.getpid()}-{n}" for n in itertools.count(1))
        #: This connection's name in the client state document; fresh at every connect.
        self.session = ""
        self.bus = BusConnection(
            address=address,
            client_id=mqtt_client_id or f"{client_id}-{os.getpid()}",
            username=client_id,
            password=secret,
            protocol=protocol,
            will=self._will_for_next_connection,
        )
        self._response_topic = self.topics.response(client_id)
        self._unsubscribes: list[Callable[[], None]] = []
        self._closed = False

    async def connect(self, timeout: float = 10.0) -> None:
        self._unsubscribes.append(self.bus.subscribe(self._response_topic, self._on_response))
        self._unsubscribes.append(self.bus.on_connected(self._announce_online))
        await self.bus.connect(timeout)

    def _will_for_next_connection(self) -> Will:
        self.session = secrets.token_hex(8)
        offline = ClientStateDoc(state="offline", session=self.session).to_bytes()
        return Will(self.topics.client_state(self.client_id), offline)

    def _announce_online(self) -> None:
        doc = ClientStateDoc(state="online", ts=now(), session=self.session)
        self.bus.publish(self.topics.client_state(self.client_id), doc.to_bytes(), retain=True)

    async def close(self) -> None:
        """Leave cleanly: say ``offline`` (a clean disconnect does not fire the Will)."""
        if self._closed:
            return
        self._closed = True
        if self.bus.connected:
            info = self.bus.publish(
                self.topics.client_state(self.client_id),
                ClientStateDoc(state="offline", ts=now(), session=self.session).to_bytes(),
                retain=True,
            )
            await asyncio.to_thread(info.wait_for_publish, 2.0)
        for unsubscribe in reversed(self._unsubscribes):
            unsubscribe()
        await self.bus.close()
        for future in self._pending.values():
            future.cancel()

    async def request(
        self,
        target: str,
        action: str,
        args: dict[str, Any] | None = None,
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        idempotency_key: str | None = None,
        deadline_ms: int | None = None,
        request_id: str | None = None,
    ) -> Response:
        """Send a request and wait for its one final response."""
        request = Request(
            action=action,
            args=args or {},
            request_id=request_id or next(self._ids),
            idempotency_key=idempotency_key,
            deadline_ms=deadline_ms,
        )
        return await self.send_raw(target, request.to_bytes(), request.request_id, timeout=timeout)

    async def send_raw(
        self, target: str, payload: bytes, request_id: str, *, timeout: float = DEFAULT_REQUEST_TIMEOUT_S
    ) -> Response:
        """Publish any bytes as a request (tests send malformed ones) and await the answer."""
        if request_id in self._pending:
            # Its answer could not be told from the other's: use a fresh id per attempt
            # (a retry keeps its idempotency_key, not its request_id).
            raise ValueError(f"request {request_id!r} is already waiting for its answer")
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            if self.protocol == 5:
                self.bus.publish(
                    self.topics.request(self.client_id, target),
                    payload,
                    response_topic=self._response_topic,
                    correlation_data=request_id.encode(),
                )
            else:
                self.bus.publish(self.topics.request(self.client_id, target), payload)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise RequestTimeout(f"no response from {target} to {request_id} within {timeout:g} s") from None
        finally:
            self._pending.pop(request_id, None)

    def _on_response(self, message: Message) -> None:
        try:
            response = Response.model_validate_json(message.payload)
        except ValidationError:
            log.warning("unreadable response on %s: %r", message.topic, message.payload[:200])
            return
        key = message.correlation_data.decode() if message.correlation_data else response.request_id
        future = self._pending.get(key or "")
        if future is None and response.request_id is None and len(self._pending) == 1:
            # The hub could not read our request id (say, the payload was not JSON):
            # with one request in flight, the answer can only be for it.
            future = next(iter(self._pending.values()))
        if future is not None and not future.done():
            future.set_result(response)

    def on_event(self, handler: Callable[[Event], None]) -> Callable[[], None]:
        """Receive events addressed to this client (scans, claim lost, job progress)."""

        def deliver(message: Message) -> None:
            try:
                handler(Event.model_validate_json(message.payload))
            except ValidationError:
                log.warning("unreadable event on %s", message.topic)

        return self.bus.subscribe(self.topics.client_event(self.client_id), deliver)

    def watch(self, pattern: str, handler: Callable[[str, Any], None]) -> Callable[[], None]:
        """Receive JSON documents on any readable topic (``hub/state``, ``dev/+/state``)."""

        def deliver(message: Message) -> None:
            try:
                document = json.loads(message.payload) if message.payload else None
            except ValueError:
                log.warning("unreadable document on %s", message.topic)
                return
            handler(message.topic, document)

        return self.bus.subscribe(f"{self.topics.prefix}/{pattern}", deliver)
