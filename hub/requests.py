"""Requests from tills and kiosks: read, route to a device or the hub, answer once.

MQTT requests arrive on ``client/{id}/req/{target}``; REST requests come through
``POST /api/v1/devices/{id}/requests``; both end in ``RequestRouter.execute``.  Every
request gets exactly one response.  A payload that cannot be read is answered with
``invalid_request`` saying what was wrong, on the sender's response topic (the sender
is known from the topic, so there is always somewhere to answer).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from json.decoder import scanstring
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from bus.mqtt import BusConnection, Message
from bus.payloads import (
    MAX_REQUEST_BYTES,
    DeviceError,
    ErrorCode,
    Request,
    Response,
    describe_json_problem,
    describe_validation_error,
)
from bus.topics import HUB_TARGET, RequestTopic, TopicTree
from devices.actor import DeviceActor, Job
from devices.supervisor import DeviceSupervisor
from hub.idempotency import IdempotencyKeys, fingerprint
from hub.metrics import HubMetrics
from hub.permissions import check_device_action, check_hub_action

log = logging.getLogger(__name__)

HubAction = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class RequestRouter:
    def __init__(
        self,
        *,
        topics: TopicTree,
        bus: BusConnection,
        devices: DeviceSupervisor,
        hub_actions: dict[str, HubAction],
        metrics: HubMetrics,
        roles: Mapping[str, str],
        keys: IdempotencyKeys,
    ) -> None:
        self.topics = topics
        self.bus = bus
        self.devices = devices
        self.hub_actions = hub_actions
        self.metrics = metrics
        self.roles = roles
        self.keys = keys
        self._in_flight: set[asyncio.Task[None]] = set()

    def attach(self) -> Callable[[], None]:
        """Start taking requests from the bus; returns the way to stop.

        A request is acted on once, when it is sent.  So the broker is asked never to
        send its stored (retained) copies of requests, at start or after a reconnect,
        and to keep the retain flag a till set, so that a request published retained
        can be run now and its stored copy cleared.  ``no_local``: the hub does not
        hear its own clearing.
        """
        return self.bus.subscribe(
            self.topics.all_requests(), self.on_message, stored="never", retain_as_published=True, no_local=True
        )

    async def drain(self, timeout: float) -> None:
        """Wait for requests already being answered (at shutdown)."""
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=timeout)

    # -- MQTT ------------------------------------------------------------------------

    def on_message(self, message: Message) -> None:
        if message.retain and not message.payload:
            return  # a stored request being cleared, by its till or by us: nothing to run
        sender = self.topics.sender_of(message.topic)
        if sender is None:
            self._reject("bad_topic", f"ignored a request on {message.topic!r}: no client id in the topic")
            return
        if message.replayed:
            # A copy from the broker's store, sent at subscription (an MQTT 3.1.1 session
            # cannot ask the broker to keep them): it was sent long ago, and never runs.
            self.metrics.retained_requests.labels("replay_not_run").inc()
            log.warning("%s: did not run a stored copy of a retained request on %s; clearing it", sender, message.topic)
            self._clear_stored(message.topic)
            return
        if message.retain:
            # Sent just now, but retained: run it this once, and clear the broker's copy
            # before a reconnect or a restart could replay it.
            self.metrics.retained_requests.labels("run_once_cleared").inc()
            log.warning(
                "%s: a request on %s was published retained; it runs once now and its stored copy is cleared "
                "(send requests without the retain flag)",
                sender,
                message.topic,
            )
            self._clear_stored(message.topic)
        reply_to = self._reply_topic(sender, message.response_topic)
        topic = self.topics.parse(message.topic)
        request, problem = self._read(message.payload)
        if request is None:
            self._answer(
                reply_to, message, Response.failure(_request_id_of(message.payload), ErrorCode.INVALID_REQUEST, problem)
            )
            return
        if not isinstance(topic, RequestTopic):
            self._reject("bad_topic", f"{sender}: bad request topic {message.topic!r}")
            self._answer(
                reply_to,
                message,
                Response.failure(request.request_id, ErrorCode.UNKNOWN_TARGET, f"no such target in {message.topic!r}"),
            )
            return
        deadline_ms = request.deadline_ms or (message.expiry_s * 1000 if message.expiry_s else None)
        task = asyncio.create_task(
            self._execute_and_answer(sender, topic.target, request, deadline_ms, reply_to, message)
        )
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    def _clear_stored(self, topic: str) -> None:
        self.bus.publish(topic, b"", retain=True)

    def _read(self, payload: bytes) -> tuple[Request | None, str]:
        if len(payload) > MAX_REQUEST_BYTES:
            self._reject("too_large", f"request of {len(payload)} bytes refused")
            return None, f"payload of {len(payload)} bytes exceeds the limit of {MAX_REQUEST_BYTES}"
        try:
            return Request.model_validate_json(payload), ""
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                self._reject("not_json", "request is not JSON")
                return None, "payload is " + describe_json_problem(exc.errors()[0]["msg"], payload)
            self._reject("invalid_fields", describe_validation_error(exc))
            return None, describe_validation_error(exc)

    def _reply_topic(self, sender: str, requested: str | None) -> str:
        # Honour an MQTT 5 Response Topic only inside the sender's own subtree: the hub
        # may publish anywhere, and must not be made to deliver into another till's.
        if requested and self.topics.owned_by(requested, sender):
            return requested
        return self.topics.response(sender)

    async def _execute_and_answer(
        self,
        client: str,
        target: str,
        request: Request,
        deadline_ms: int | None,
        reply_to: str,
        message: Message,
    ) -> None:
        response = await self.execute(client, target, request, deadline_ms=deadline_ms)
        self._answer(reply_to, message, response)

    def _answer(self, reply_to: str, message: Message, response: Response) -> None:
        try:
            payload = response.to_bytes()
        except PydanticSerializationError:
            # A string without a UTF-8 form (a lone surrogate) in the answer: the till
            # still gets one, and the hub's log says what could not be sent.
            log.exception("the answer to %s could not be encoded", response.request_id)
            request_id = response.request_id if response.request_id and encodable(response.request_id) else None
            payload = Response.failure(request_id, ErrorCode.INTERNAL, "the answer could not be encoded").to_bytes()
        self.bus.publish(reply_to, payload, correlation_data=message.correlation_data)

    def _reject(self, reason: str, detail: str) -> None:
        self.metrics.rejected.labels(reason).inc()
        self.metrics.requests.labels("unknown", ErrorCode.INVALID_REQUEST.value).inc()
        log.warning("rejected request: %s", detail)

    # -- both doors ------------------------------------------------------------------

    async def execute(self, client: str, target: str, request: Request, *, deadline_ms: int | None = None) -> Response:
        """Run one request from ``client`` against ``target``; always returns a response."""
        started = time.perf_counter()
        deadline_ms = deadline_ms or request.deadline_ms
        role = self.roles.get(client)
        actor = None if target == HUB_TARGET else self.devices.get(target)
        kind = "hub" if target == HUB_TARGET else getattr(actor, "kind", "unknown")
        try:
            if target == HUB_TARGET:
                check_hub_action(role, request.action)
                response = Response.success(request.request_id, await self._hub_action(client, request))
            elif actor is None:
                raise unknown_device(target)
            else:
                check_device_action(role, actor.kind, request.action, request.args)
                job = Job(
                    client=client,
                    action=request.action,
                    args=request.args,
                    request_id=request.request_id,
                    idempotency_key=request.idempotency_key,
                    deadline=time.monotonic() + deadline_ms / 1000 if deadline_ms else None,
                    role=role,
                )
                if request.idempotency_key is None:
                    response = await _answer_of(actor, job)
                else:
                    response = await self.keys.run(
                        target,
                        request.idempotency_key,
                        request.request_id,
                        fingerprint(client, request.action, request.args),
                        lambda: _answer_of(actor, job),
                    )
        except DeviceError as exc:
            response = exc.to_response(request.request_id)
        except Exception:
            log.exception("request %s from %s to %s failed", request.request_id, client, target)
            response = Response.failure(
                request.request_id, ErrorCode.INTERNAL, "the hub failed on this request; see its log"
            )
        outcome = "ok" if response.error is None else response.error.code.value
        self.metrics.requests.labels(kind, outcome).inc()
        self.metrics.request_seconds.labels(kind).observe(time.perf_counter() - started)
        return response

    async def _hub_action(self, client: str, request: Request) -> dict[str, Any]:
        handler = self.hub_actions.get(request.action)
        if handler is None:
            raise DeviceError(
                ErrorCode.UNKNOWN_ACTION,
                f"the hub has no action {request.action!r}; it knows: {', '.join(sorted(self.hub_actions))}",
            )
        return await handler(client, request.args)


def unknown_device(device_id: str) -> DeviceError:
    """What asking for a device this store does not have gets, through either door."""
    return DeviceError(ErrorCode.UNKNOWN_TARGET, f"no device {device_id!r} in this store")


async def _answer_of(actor: DeviceActor, job: Job) -> Response:
    try:
        return Response.success(job.request_id, await actor.handle(job))
    except DeviceError as exc:
        return exc.to_response(job.request_id)


#: Inside a JSON value, the characters that matter when skipping it: quotes and brackets.
_STRUCTURE = re.compile(r'["\[\]{}]')
_WHITESPACE = " \t\n\r"


def _request_id_of(payload: bytes) -> str | None:
    """The request id of a payload that failed validation, if one can be found safely.

    Only the top level is read, and without recursion: a payload nested thousands of
    levels deep (json.loads meets it with RecursionError) still gets its id back.  An
    id that could not be encoded in the answer (a lone surrogate) is not one.
    """
    if len(payload) > MAX_REQUEST_BYTES:
        return None
    try:
        value = _top_level_string(payload.decode("utf-8"), "request_id")
    except (ValueError, IndexError):
        return None
    if value is None or not 0 < len(value) <= 128 or not encodable(value):
        return None
    return value


def encodable(text: str) -> bool:
    """False for a string that holds a lone surrogate (``"\\ud800"`` in JSON): it has no
    UTF-8 form, so no answer could carry it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _top_level_string(text: str, key: str) -> str | None:
    """The string value of ``key`` in the JSON object ``text``; the last one wins, as in
    json.loads.  Raises ValueError or IndexError where ``text`` is no JSON object."""
    at = _skip_whitespace(text, 0)
    if text[at] != "{":
        return None
    at += 1
    found: str | None = None
    while True:
        at = _skip_whitespace(text, at)
        if text[at] == "}":
            return found
        if text[at] != '"':
            raise ValueError("expected a key")
        name, at = scanstring(text, at + 1)
        at = _skip_whitespace(text, at)
        if text[at] != ":":
            raise ValueError("expected a colon")
        at = _skip_whitespace(text, at + 1)
        if name == key and text[at] == '"':
            found, at = scanstring(text, at + 1)
        else:
            found = None if name == key else found
            at = _skip_value(text, at)
        at = _skip_whitespace(text, at)
        if text[at] == ",":
            at += 1
        elif text[at] != "}":
            raise ValueError("expected a comma")


def _skip_value(text: str, at: int) -> int:
    """Where the JSON value starting at ``at`` ends, counting brackets instead of
    recursing into them (only as strict as finding the end needs)."""
    if text[at] == '"':
        return scanstring(text, at + 1)[1]
    if text[at] not in "[{":
        while at < len(text) and text[at] not in ",}]" + _WHITESPACE:
            at += 1  # a number, true, false or null
        return at
    depth = 0
    while True:
        found = _STRUCTURE.search(text, at)
        if found is None:
            raise ValueError("unterminated")
        at = found.start()
        if text[at] == '"':
            at = scanstring(text, at + 1)[1]
            continue
        depth += 1 if text[at] in "[{" else -1
        at += 1
        if depth == 0:
            return at


def _skip_whitespace(text: str, at: int) -> int:
    while text[at] in _WHITESPACE:
        at += 1
    return at
