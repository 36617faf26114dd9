"""A paho-mqtt 2.x connection bridged into asyncio.

paho runs its network thread (``loop_start``) and reconnects by itself; this module
moves every incoming message onto the asyncio loop, keeps the subscription table so a
reconnect resubscribes, and runs "connected" hooks after each (re)connect so callers
can republish their retained state.  It is the bus seam of STYLE.md point 6:
``publish``, ``subscribe`` (which returns the way to unsubscribe) and ``close``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

#: How long a lost connection waits before paho's first reconnect attempt, and the cap
#: of its doubling backoff.  Two seconds keeps a broker restart under the 5 s the hub
#: promises for republishing retained state.
RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 2

#: Keepalive: the broker fires a client's Last Will 1.5 keepalives after it goes silent.
KEEPALIVE_S = 10

#: Messages held while the broker is away.  Beyond this, publishing fails fast: what
#: matters (retained state) is republished in full after every reconnect anyway.
OUTGOING_QUEUE_LIMIT = 1000

#: While the broker stays unreachable, say so in the log this often, not on every retry.
UNREACHABLE_LOG_INTERVAL_S = 30.0

Transport = Literal["tcp", "websockets"]
Handler = Callable[["Message"], None]
ConnectedHook = Callable[[], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Message:
    """An incoming message, as handlers on the asyncio loop see it."""

    topic: str
    payload: bytes
    retain: bool
    response_topic: str | None = None
    correlation_data: bytes | None = None
    expiry_s: int | None = None


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    transport: Transport = "tcp"
    tls: bool = False


class BusError(Exception):
    """The broker could not be reached or refused us."""


class BusConnection:
    """One MQTT session, reconnecting by itself, delivering on the asyncio loop."""

    def __init__(
        self,
        *,
        address: BrokerAddress,
        client_id: str,
        username: str | None,
        password: str | None,
        protocol: Literal[5, 4] = 5,
        will: Will | None = None,
    ) -> None:
        self.address = address
        self.client_id = client_id
        self.protocol = protocol
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscriptions: dict[str, tuple[int, list[Handler]]] = {}
        self._connected_hooks: list[ConnectedHook] = []
        self._inbox: collections.deque[Message] = collections.deque()
        self._drain_scheduled = False
        self._first_connack: asyncio.Future[ReasonCode] | None = None
        self._connected = asyncio.Event()
        self._closing = False

        version = MQTTProtocolVersion.MQTTv5 if protocol == 5 else MQTTProtocolVersion.MQTTv311
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=version,
            transport=address.transport,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if address.tls:
            self._client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        if will is not None:
            # The Last Will is set before connecting (STYLE.md point 8).
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        self._client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_connect_fail = self._on_connect_fail
        self._client.max_queued_messages_set(OUTGOING_QUEUE_LIMIT)
        self._unreachable_since: float | None = None
        self._unreachable_logged = 0.0
        self._client.on_socket_open = _send_small_packets_at_once

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Begin connecting in the background; paho keeps retrying until it succeeds."""
        self._loop = asyncio.get_running_loop()
        self._first_connack = self._loop.create_future()
        self._client.connect_async(self.address.host, self.address.port, KEEPALIVE_S)
        self._client.loop_start()

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect and wait for the broker's answer; raise ``BusError`` if refused or silent."""
        self.start()
        assert self._first_connack is not None
        try:
            reason = await asyncio.wait_for(asyncio.shield(self._first_connack), timeout)
        except TimeoutError:
            await self.close()
            raise BusError(
                f"no answer from the broker at {self.address.host}:{self.address.port} "
                f"within {timeout:g} s (is it running?)"
            ) from None
        if reason.is_failure:
            await self.close()
            raise BusError(f"the broker refused {self.client_id}: {reason}")

    async def close(self) -> None:
        self._closing = True
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    def on_connected(self, hook: ConnectedHook) -> Callable[[], None]:
        """Run ``hook`` on the loop after every reconnect (after resubscribing)."""
        self._connected_hooks.append(hook)
        return lambda: self._connected_hooks.remove(hook)

    # -- publish / subscribe -------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        response_topic: str | None = None,
        correlation_data: bytes | None = None,
        expiry_s: int | None = None,
    ) -> mqtt.MQTTMessageInfo:
        properties = None
        if self.protocol == 5 and (response_topic or correlation_data or expiry_s):
            properties = Properties(PacketTypes.PUBLISH)
            if response_topic:
                properties.ResponseTopic = response_topic
            if correlation_data:
                properties.CorrelationData = correlation_data
            if expiry_s:
                properties.MessageExpiryInterval = expiry_s
        return self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)

    def subscribe(self, pattern: str, handler: Handler, qos: int = 1) -> Callable[[], None]:
        """Deliver messages matching ``pattern`` to ``handler``; returns the unsubscribe."""
        entry = self._subscriptions.get(pattern)
        if entry is None:
            self._subscriptions[pattern] = (qos, [handler])
            if self.connected:
                self._client.subscribe(pattern, qos)
        else:
            entry[1].append(handler)

        def unsubscribe() -> None:
            qos_, handlers = self._subscriptions.get(pattern, (qos, []))
            if handler in handlers:
                handlers.remove(handler)
            if not handlers and pattern in self._subscriptions:
                del self._subscriptions[pattern]
                if self.connected:
                    self._client.unsubscribe(pattern)

        return unsubscribe

    # -- paho callbacks (network thread) -------------------------------------------

    def _on_connect(self, client, userdata, flags, reason: ReasonCode, properties) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._connected_on_loop, reason)

    def _on_connect_fail(self, client, userdata) -> None:
        now = time.monotonic()
        if self._unreachable_since is None:
            self._unreachable_since = now
        if now - self._unreachable_logged >= UNREACHABLE_LOG_INTERVAL_S:
            self._unreachable_logged = now
            log.warning(
                "%s cannot reach the broker at %s:%s (for %.0f s); retrying",
                self.client_id,
                self.address.host,
                self.address.port,
                now - self._unreachable_since,
            )

    def _on_disconnect(self, client, userdata, flags, reason: ReasonCode, properties) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._disconnected_on_loop, reason)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        response_topic = correlation_data = expiry = None
        props = msg.properties
        if props is not None:
            response_topic = getattr(props, "ResponseTopic", None)
            correlation_data = getattr(props, "CorrelationData", None)
            expiry = getattr(props, "MessageExpiryInterval", None)
        message = Message(msg.topic, msg.payload, bool(msg.retain), response_topic, correlation_data, expiry)
        # One wake-up of the loop per burst, not per message.  The loop clears the flag
        # before it drains, so a message appended during a drain is either drained by
        # it or schedules the next one.
        self._inbox.append(message)
        if not self._drain_scheduled and self._loop is not None and not self._loop.is_closed():
            self._drain_scheduled = True
            self._loop.call_soon_threadsafe(self._drain_inbox)

    # -- on the asyncio loop -------------------------------------------------------

    def _connected_on_loop(self, reason: ReasonCode) -> None:
        if self._first_connack is not None and not self._first_connack.done():
            self._first_connack.set_result(reason)
        if reason.is_failure:
            log.error("broker refused %s: %s", self.client_id, reason)
            return
        self._unreachable_since = None
        self._unreachable_logged = 0.0
        for pattern, (qos, _handlers) in self._subscriptions.items():
            self._client.subscribe(pattern, qos)
        self._connected.set()
        log.info("%s connected to %s:%s", self.client_id, self.address.host, self.address.port)
        for hook in list(self._connected_hooks):
            result = hook()
            if asyncio.iscoroutine(result):
                asyncio.ensure_future(result)

    def _disconnected_on_loop(self, reason: ReasonCode) -> None:
        self._connected.clear()
        if not self._closing:
            log.warning("%s lost the broker (%s); reconnecting", self.client_id, reason)

    def _drain_inbox(self) -> None:
        self._drain_scheduled = False
        inbox = self._inbox
        while inbox:
            message = inbox.popleft()
            for pattern, (_qos, handlers) in list(self._subscriptions.items()):
                if mqtt.topic_matches_sub(pattern, message.topic):
                    for handler in list(handlers):
                        try:
                            handler(message)
                        except Exception:
                            log.exception("handler for %s failed on %s", pattern, message.topic)


def _send_small_packets_at_once(client, userdata, sock) -> None:
    """Turn off Nagle's algorithm on every (re)opened broker socket.

    paho leaves it on.  A QoS 1 round trip writes a PUBACK and then, moments later,
    the next PUBLISH on the same socket; with Nagle the PUBLISH waits for the peer's
    delayed ACK of the PUBACK (40 ms on Linux), so each request/response paid about
    80-90 ms on an idle loopback.
    """
    raw = getattr(sock, "_socket", sock)  # the TCP socket under a WebSocket wrapper
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        log.debug("could not set TCP_NODELAY on %r", sock)


def publish_ok(info: mqtt.MQTTMessageInfo) -> bool:
    return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
