"""A paho-mqtt 2.x connection driven by the asyncio loop.

paho does the MQTT protocol; the loop does the I/O.  The socket is watched with
``add_reader`` and paho reads from it there, so messages and acknowledgements are
handled on the loop thread with no hand-off between threads.  Publishes made during
one turn of the loop are written together at the end of it.  Only the TCP connect,
which can block for seconds towards a LAN broker that is down, runs in a worker.

The connection reconnects by itself with a capped, doubling pause, resubscribes, and
then runs the "connected" hooks so callers can republish their retained state.  It is
the bus seam of STYLE.md point 6: ``publish``, ``subscribe`` (which returns the way to
unsubscribe) and ``close``.
"""

from __future__ import annotations

import asyncio
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger(__name__)

#: Pause before the first reconnect attempt, doubling up to the cap.  The cap keeps a
#: broker restart under the 5 s the hub promises for republishing retained state.
RECONNECT_MIN_DELAY_S = 0.5
RECONNECT_MAX_DELAY_S = 2.0

#: Keepalive: the broker fires a client's Last Will 1.5 keepalives after it goes silent.
KEEPALIVE_S = 10

#: paho's timers (keepalive pings, retries) run this often.
HOUSEKEEPING_INTERVAL_S = 1.0

#: A clean close waits this long for the DISCONNECT to leave before dropping the socket.
CLOSE_TIMEOUT_S = 2.0

#: Messages held while the broker is away.  Beyond this, publishing fails fast: what
#: matters (retained state) is republished in full after every reconnect anyway.
OUTGOING_QUEUE_LIMIT = 1000

#: Packets read in one go when the socket says it has data: all that came meanwhile
#: (1,000 state changes a second reach a console in a few reads, not a loop turn each),
#: bounded so a flood still lets the loop draw and answer keys between reads.
READ_BATCH = 200

#: Topics whose matching subscriptions are remembered (a store's topics are a few per
#: device and client); past this the memory starts again.
ROUTES_KEPT = 10_000

#: While the broker stays unreachable, say so in the log this often, not on every retry.
UNREACHABLE_LOG_INTERVAL_S = 30.0

Transport = Literal["tcp", "websockets"]
#: What the broker does with its stored (retained) messages when a subscription is
#: made: send them (the MQTT default), or never (MQTT 5 retain handling 2).
StoredCopies = Literal["send", "never"]
Handler = Callable[["Message"], None]
ConnectedHook = Callable[[], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Message:
    """An incoming message, as handlers on the asyncio loop see it.

    ``retain`` is the flag as the broker delivered it.  ``replayed`` says what it means
    for this subscription: true when the message is a copy from the broker's store,
    sent because a subscription was made, not one a client is publishing now.
    """

    topic: str
    payload: bytes
    retain: bool
    response_topic: str | None = None
    correlation_data: bytes | None = None
    expiry_s: int | None = None
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(slots=True)
class _Subscription:
    qos: int
    stored: StoredCopies
    retain_as_published: bool
    no_local: bool
    handlers: list[Handler]

    def options(self) -> SubscribeOptions:
        return SubscribeOptions(
            qos=self.qos,
            noLocal=self.no_local,
            retainAsPublished=self.retain_as_published,
            retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND
            if self.stored == "never"
            else SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE,
        )

    def replayed(self, protocol: int, retain: bool) -> bool:
        # Without retain-as-published the broker sets the flag only on stored copies
        # it sends at subscription (MQTT 3.1.1 and 5 alike).  With it, and no stored
        # copies asked for, a flagged message is one its sender published retained
        # just now.  With both (never asked for here) the flag is ambiguous: a copy.
        if not retain:
            return False
        live_flag = protocol == 5 and self.retain_as_published and self.stored == "never"
        return not live_flag


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    transport: Transport = "tcp"
    tls: bool = False


class BusError(Exception):
    """The broker could not be reached or refused us."""


class BusConnection:
    """One MQTT session on the running asyncio loop, reconnecting by itself."""

    def __init__(
        self,
        *,
        address: BrokerAddress,
        client_id: str,
        username: str | None,
        password: str | None,
        protocol: Literal[5, 4] = 5,
        will: Will | Callable[[], Will] | None = None,
    ) -> None:
        self.address = address
        self.client_id = client_id
        self.protocol = protocol
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._subscriptions: dict[str, _Subscription] = {}
        #: A topic -> the patterns it matches (paho's matcher costs ~5 µs a pattern).
        self._routes: dict[str, list[str]] = {}
        self._connected_hooks: list[ConnectedHook] = []
        self._first_connack: asyncio.Future[ReasonCode] | None = None
        self._connected = asyncio.Event()
        self._socket_closed = asyncio.Event()
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._fd: int | None = None
        self._watching_writes = False
        self._flush_scheduled = False
        self._reconnect_delay = RECONNECT_MIN_DELAY_S
        self._unreachable_since: float | None = None
        self._unreachable_logged = 0.0

        version = MQTTProtocolVersion.MQTTv5 if protocol == 5 else MQTTProtocolVersion.MQTTv311
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=version,
            transport=address.transport,
            reconnect_on_failure=False,  # the loop below reconnects
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if address.tls:
            self._client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        #: A callable makes a fresh Will before every connection attempt (a client
        #: that names each of its connections in its Will).
        self._will = will
        if isinstance(will, Will):
            # The Last Will is set before connecting (STYLE.md point 8).
            self._set_will(will)
        self._client.max_queued_messages_set(OUTGOING_QUEUE_LIMIT)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_socket_open = self._on_socket_open
        self._client.on_socket_close = self._on_socket_close
        self._client.on_socket_register_write = self._on_wants_write
        self._client.on_socket_unregister_write = self._on_written

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Begin connecting in the background; it keeps retrying until it succeeds."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._first_connack = self._loop.create_future()
        self._client.connect_async(self.address.host, self.address.port, KEEPALIVE_S)
        self._tasks = [
            self._loop.create_task(self._keep_connected(), name=f"mqtt-connect-{self.client_id}"),
            self._loop.create_task(self._housekeeping(), name=f"mqtt-timers-{self.client_id}"),
        ]

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
        if self._closing:
            return
        self._closing = True
        if self._client.socket() is not None:
            self._client.disconnect()
            try:
                await asyncio.wait_for(self._socket_closed.wait(), CLOSE_TIMEOUT_S)
            except TimeoutError:
                log.warning("%s: the broker did not take our DISCONNECT in time", self.client_id)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._forget_socket()
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    def on_connected(self, hook: ConnectedHook) -> Callable[[], None]:
        """Run ``hook`` on the loop after every reconnect (after resubscribing)."""
        self._connected_hooks.append(hook)
        return lambda: self._connected_hooks.remove(hook) if hook in self._connected_hooks else None

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

    def subscribe(
        self,
        pattern: str,
        handler: Handler,
        qos: int = 1,
        *,
        stored: StoredCopies = "send",
        retain_as_published: bool = False,
        no_local: bool = False,
    ) -> Callable[[], None]:
        """Deliver messages matching ``pattern`` to ``handler``; returns the unsubscribe.

        The MQTT 5 subscription options: ``stored="never"`` asks the broker not to send
        its retained copies when the subscription is made (nor at each resubscription
        after a reconnect); ``retain_as_published`` keeps the retain flag a sender set
        on a live message; ``no_local`` leaves out what this connection publishes
        itself.  Over MQTT 3.1.1 they cannot be asked for, and ``Message.replayed``
        still tells a stored copy.  Handlers of one pattern share its options.
        """
        wanted = _Subscription(qos, stored, retain_as_published, no_local, [])
        entry = self._subscriptions.get(pattern)
        if entry is None:
            entry = self._subscriptions[pattern] = wanted
            self._routes.clear()
            entry.handlers.append(handler)
            if self.connected:
                self._send_subscribe(pattern, entry)
        elif (entry.qos, entry.stored, entry.retain_as_published, entry.no_local) != (
            qos,
            stored,
            retain_as_published,
            no_local,
        ):
            raise ValueError(f"{pattern} is already subscribed with other options")
        else:
            entry.handlers.append(handler)

        def unsubscribe() -> None:
            current = self._subscriptions.get(pattern)
            if current is None:
                return
            if handler in current.handlers:
                current.handlers.remove(handler)
            if not current.handlers:
                del self._subscriptions[pattern]
                self._routes.clear()
                if self.connected:
                    self._client.unsubscribe(pattern)

        return unsubscribe

    # -- connecting ------------------------------------------------------------------

    def _send_subscribe(self, pattern: str, subscription: _Subscription) -> None:
        if self.protocol == 5:
            self._client.subscribe(pattern, options=subscription.options())
        else:
            self._client.subscribe(pattern, subscription.qos)  # MQTT 3.1.1 has no options

    def _set_will(self, will: Will) -> None:
        self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)

    async def _keep_connected(self) -> None:
        while not self._closing:
            self._socket_closed.clear()
            if callable(self._will):
                self._set_will(self._will())
            try:
                # Blocking (TCP connect, TLS handshake): off the loop.
                await asyncio.to_thread(self._client.reconnect)
            except (OSError, ssl.SSLError, ValueError) as exc:
                self._note_unreachable(exc)
            else:
                await self._socket_closed.wait()
                if self._closing:
                    return
            await asyncio.sleep(self._reconnect_delay)
            self._reconnect_delay = min(self._reconnect_delay * 2, RECONNECT_MAX_DELAY_S)

    def _note_unreachable(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._unreachable_since is None:
            self._unreachable_since = now
        if now - self._unreachable_logged >= UNREACHABLE_LOG_INTERVAL_S:
            self._unreachable_logged = now
            log.warning(
                "%s cannot reach the broker at %s:%s (for %.0f s: %s); retrying",
                self.client_id,
                self.address.host,
                self.address.port,
                now - self._unreachable_since,
                exc,
            )

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
            if self._client.socket() is not None:
                self._client.loop_misc()

    # -- the socket on the loop ------------------------------------------------------

    def _on_loop(self, function: Callable[..., Any], *args: Any) -> None:
        """Run now if on the loop thread, else hand over (the connect runs in a worker)."""
        if threading.get_ident() == self._loop_thread:
            function(*args)
        elif self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(function, *args)

    def _on_socket_open(self, client, userdata, sock) -> None:
        _send_small_packets_at_once(sock)
        self._on_loop(self._watch_socket, sock, sock.fileno())

    def _watch_socket(self, sock, fd: int) -> None:
        if self._client.socket() is not sock or self._closing:
            return  # closed again before we got to it
        assert self._loop is not None
        self._fd = fd
        self._loop.add_reader(fd, self._read)

    def _on_socket_close(self, client, userdata, sock) -> None:
        self._on_loop(self._socket_gone)

    def _socket_gone(self) -> None:
        self._forget_socket()
        self._socket_closed.set()

    def _forget_socket(self) -> None:
        if self._fd is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        self._fd = None
        self._watching_writes = False

    def _read(self) -> None:
        # paho reads one packet a call when nothing of its own is in flight (a console,
        # a till listening): read on while the socket has more, up to READ_BATCH.
        for _ in range(READ_BATCH):
            self._client.loop_read()
            sock = self._client.socket()
            if sock is None:
                return
            # TLS may hold decrypted bytes the socket no longer signals (paho's own loop checks too).
            if getattr(sock, "pending", lambda: 0)() <= 0 and not _has_data(sock):
                return

    def _on_wants_write(self, client, userdata, sock) -> None:
        self._on_loop(self._schedule_flush)

    def _schedule_flush(self) -> None:
        # Every publish of this loop turn goes out in one write, at the end of the turn.
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._client.socket() is None:
            return
        self._client.loop_write()
        if self._client.want_write() and self._fd is not None and not self._watching_writes:
            # The socket's buffer is full: write the rest when it has room.
            assert self._loop is not None
            self._watching_writes = True
            self._loop.add_writer(self._fd, self._flush)

    def _on_written(self, client, userdata, sock) -> None:
        self._on_loop(self._stop_watching_writes)

    def _stop_watching_writes(self) -> None:
        if self._watching_writes and self._fd is not None and self._loop is not None:
            self._loop.remove_writer(self._fd)
        self._watching_writes = False

    # -- paho callbacks (on the loop thread, inside loop_read) ----------------------

    def _on_connect(self, client, userdata, flags, reason: ReasonCode, properties) -> None:
        self._on_loop(self._connected_on_loop, reason)

    def _on_disconnect(self, client, userdata, flags, reason: ReasonCode, properties) -> None:
        self._on_loop(self._disconnected_on_loop, reason)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        response_topic = correlation_data = expiry = None
        props = msg.properties
        if props is not None:
            response_topic = getattr(props, "ResponseTopic", None)
            correlation_data = getattr(props, "CorrelationData", None)
            expiry = getattr(props, "MessageExpiryInterval", None)
        retain = bool(msg.retain)
        for pattern in self._routes_of(msg.topic):
            if (subscription := self._subscriptions.get(pattern)) is not None:
                message = Message(
                    msg.topic,
                    msg.payload,
                    retain,
                    response_topic,
                    correlation_data,
                    expiry,
                    replayed=subscription.replayed(self.protocol, retain),
                )
                for handler in list(subscription.handlers):
                    try:
                        handler(message)
                    except Exception:
                        log.exception("handler for %s failed on %s", pattern, message.topic)

    def _routes_of(self, topic: str) -> list[str]:
        """The subscribed patterns ``topic`` matches (a handler may unsubscribe meanwhile:
        the list is never changed, only replaced)."""
        patterns = self._routes.get(topic)
        if patterns is None:
            if len(self._routes) >= ROUTES_KEPT:
                self._routes.clear()
            patterns = self._routes[topic] = [p for p in self._subscriptions if mqtt.topic_matches_sub(p, topic)]
        return patterns

    def _connected_on_loop(self, reason: ReasonCode) -> None:
        if self._first_connack is not None and not self._first_connack.done():
            self._first_connack.set_result(reason)
        if reason.is_failure:
            log.error("broker refused %s: %s", self.client_id, reason)
            return
        self._reconnect_delay = RECONNECT_MIN_DELAY_S
        self._unreachable_since = None
        self._unreachable_logged = 0.0
        for pattern, subscription in self._subscriptions.items():
            self._send_subscribe(pattern, subscription)
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


def _has_data(sock) -> bool:
    """Whether ``sock`` can be read now (poll, not select: a busy hub's descriptors may
    pass select's limit of 1,024)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _send_small_packets_at_once(sock) -> None:
    """Turn off Nagle's algorithm on every (re)opened broker socket.

    paho leaves it on.  A QoS 1 round trip writes a PUBACK and then, moments later,
    the next PUBLISH on the same socket; with Nagle the PUBLISH waits for the peer's
    delayed ACK of the PUBACK (40 ms on Linux).
    """
    raw = getattr(sock, "_socket", sock)  # the TCP socket under a WebSocket wrapper
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        log.debug("could not set TCP_NODELAY on %r", sock)
