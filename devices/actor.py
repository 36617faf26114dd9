"""The device actor: one per physical device, one job at a time.

An actor owns its transport, takes jobs from an inbox and runs them one by one,
keeps its state document and publishes it (retained) when it changes, and reports
events.  Blocking I/O goes through ``self.blocking`` so it never runs on the event
loop.  Actions are a routing table of methods marked with ``@action``; each may name
a pydantic model for its arguments, validated before the job is queued.

Actors talk to the bus through a ``DevicePort`` the hub gives them; they know
nothing of topics, brokers or the hub (DESIGN.md: devices/ never imports hub/).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bus.payloads import (
    DeviceError,
    DeviceStateDoc,
    DeviceStatus,
    ErrorCode,
    Event,
    Sharing,
    describe_validation_error,
    now,
)

log = logging.getLogger(__name__)

#: Jobs an actor holds before answering ``busy``.  A till waits behind at most this
#: many others; a 500-label batch is one job, not 500.
INBOX_LIMIT = 64

#: Counters and queue depth change on every job; they are republished at most this
#: often so a busy device does not flood the broker with retained state.  Status,
#: claim and error changes go out at once.
COUNTER_PUBLISH_INTERVAL_S = 1.0

#: State fields that change with every job and publish on the slow tick.
_SLOW_FIELDS = frozenset({"counters", "queue_depth"})

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """What the hub's config says about one device."""

    id: str
    kind: str
    driver: str | None = None
    port: str | None = None
    model: str | None = None
    assigned_to: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


class DevicePort(Protocol):
    """How an actor reaches the bus: provided by the hub, one per device."""

    def publish_state(self, document: DeviceStateDoc) -> None: ...

    def publish_event(self, event: Event) -> None: ...

    def send_to_client(self, client: str, event: Event) -> None: ...


@dataclass(slots=True)
class Job:
    """One request on its way through a device's inbox."""

    client: str
    action: str
    args: Any
    request_id: str | None
    idempotency_key: str | None = None
    #: ``time.monotonic()`` after which the job must not start.
    deadline: float | None = None
    future: asyncio.Future[dict[str, Any]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def finish(self, result: dict[str, Any]) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, error: DeviceError) -> None:
        if not self.future.done():
            self.future.set_exception(error)


ActionMethod = Callable[[Any, Job], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    method: str
    args_model: type[BaseModel] | None


def action(name: str, args: type[BaseModel] | None = None) -> Callable[[ActionMethod], ActionMethod]:
    """Mark an actor method as the handler of ``name``; ``args`` validates its arguments."""

    def mark(method: ActionMethod) -> ActionMethod:
        method.__storehub_action__ = (name, args)  # type: ignore[attr-defined]
        return method

    return mark


class DeviceGone(DeviceError):
    """The device stopped answering (unplugged, powered off): the actor goes offline."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.DEVICE_OFFLINE, message)


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceActor:
    kind: ClassVar[str]
    sharing: Sharing = "shared"
    #: The kind's ``options`` in the config, checked by ``storehub check-config``.
    Options: ClassVar[type[BaseModel]] = NoOptions
    #: The routing table: action name -> handler.  Built from ``@action`` marks.
    actions: ClassVar[dict[str, ActionSpec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = dict(cls.actions)
        for attr, value in vars(cls).items():
            mark = getattr(value, "__storehub_action__", None)
            if mark is not None:
                table[mark[0]] = ActionSpec(mark[0], attr, mark[1])
        cls.actions = table

    def __init__(self, spec: DeviceSpec, port: DevicePort) -> None:
        self.spec = spec
        self.id = spec.id
        self.port = port
        self.options = self.Options.model_validate(spec.options)
        self.status: DeviceStatus = "offline"
        self.error: dict[str, str] | None = None
        self.running_job: str | None = None
        self.counters: dict[str, int] = {"jobs_done": 0, "jobs_failed": 0}
        self.capabilities: dict[str, Any] = {}
        self._inbox: asyncio.Queue[Job] = asyncio.Queue(maxsize=INBOX_LIMIT)
        self._last_full: dict[str, Any] | None = None
        self._last_significant: dict[str, Any] | None = None
        self._flush_soon: asyncio.Handle | None = None
        self._flush_later: asyncio.TimerHandle | None = None

    # -- the transport: kinds override ------------------------------------------

    async def open(self) -> None:
        """Connect to the device.  Raise to be retried by the supervisor with backoff."""

    async def close(self) -> None:
        """Let go of the device (close ports and sockets)."""

    # -- taking work -------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """Queue a job, or raise ``DeviceError`` at once if it cannot be taken."""
        spec = self.actions.get(job.action)
        if spec is None:
            raise DeviceError(
                ErrorCode.UNKNOWN_ACTION,
                f"{self.id} ({self.kind}) has no action {job.action!r}; it knows: {', '.join(sorted(self.actions))}",
            )
        if spec.args_model is not None and not isinstance(job.args, spec.args_model):
            try:
                job.args = spec.args_model.model_validate(job.args)
            except ValidationError as exc:
                raise DeviceError(ErrorCode.INVALID_REQUEST, describe_validation_error(exc)) from None
        if self.status == "offline":
            raise DeviceError(ErrorCode.DEVICE_OFFLINE, self._offline_message())
        try:
            self._inbox.put_nowait(job)
        except asyncio.QueueFull:
            raise DeviceError(ErrorCode.BUSY, f"{self.id} has {INBOX_LIMIT} jobs waiting; try again shortly") from None
        self._state_changed(urgent=False)

    @property
    def queue_depth(self) -> int:
        return self._inbox.qsize()

    async def serve(self) -> None:
        """Run jobs until cancelled.  An unexpected exception escapes: the actor crashed."""
        while True:
            job = await self._inbox.get()
            await self._run(job)

    async def _run(self, job: Job) -> None:
        if job.future.done():  # the requester gave up while it waited
            return
        if job.deadline is not None and time.monotonic() > job.deadline:
            self.counters["jobs_expired"] = self.counters.get("jobs_expired", 0) + 1
            job.fail(DeviceError(ErrorCode.TIMEOUT, f"deadline passed before {self.id} could start it; not executed"))
            return
        handler = getattr(self, self.actions[job.action].method)
        self.running_job = f"{job.client}:{job.action}"
        self.status = "busy"
        self._state_changed()
        try:
            result = await handler(job)
        except asyncio.CancelledError:
            job.fail(DeviceError(ErrorCode.DEVICE_OFFLINE, f"{self.id} stopped while running the job"))
            raise
        except DeviceGone as exc:
            job.fail(exc)
            raise
        except DeviceError as exc:
            self.counters["jobs_failed"] += 1
            job.fail(exc)
        except Exception as exc:
            job.fail(DeviceError(ErrorCode.INTERNAL, f"{self.id} failed unexpectedly: {exc.__class__.__name__}"))
            raise
        else:
            self.counters["jobs_done"] += 1
            job.finish(result)
        finally:
            self.running_job = None
            if self.status == "busy":
                self.status = "idle"
            self._state_changed()

    async def blocking(self, function: Callable[..., T], *args: Any) -> T:
        """Run blocking device I/O in a worker thread, off the event loop."""
        return await asyncio.to_thread(function, *args)

    # -- availability (the supervisor drives these) ------------------------------

    def went_online(self) -> None:
        self.status = "idle"
        self.error = None
        self._state_changed()
        self.emit("online")

    def went_offline(self, reason: str) -> None:
        self.status = "offline"
        self.error = {"code": ErrorCode.DEVICE_OFFLINE.value, "message": reason}
        while not self._inbox.empty():
            self._inbox.get_nowait().fail(DeviceError(ErrorCode.DEVICE_OFFLINE, f"{self.id} went offline: {reason}"))
        self._state_changed()
        self.emit("offline", {"reason": reason})

    def _offline_message(self) -> str:
        reason = self.error["message"] if self.error else "not started"
        return f"{self.id} is offline ({reason})"

    # -- state and events --------------------------------------------------------

    def state_document(self) -> DeviceStateDoc:
        return DeviceStateDoc(
            device_id=self.id,
            kind=self.kind,
            model=self.spec.model,
            status=self.status,
            sharing=self.sharing,
            queue_depth=self._inbox.qsize(),
            running_job=self.running_job,
            error=self.error,
            capabilities=self.capabilities,
            counters=dict(self.counters),
            updated_at=now(),
        )

    def publish_state(self, *, force: bool = False, slow_due: bool = False) -> None:
        """Publish the state document when it changed (always with ``force``).

        Status, claim and error changes publish at once; a change only in counters or
        queue depth waits for the next ``COUNTER_PUBLISH_INTERVAL_S`` tick.
        """
        self._flush_soon = None
        if slow_due:
            self._flush_later = None
        document = self.state_document()
        full = document.model_dump(exclude={"updated_at"})
        significant = {k: v for k, v in full.items() if k not in _SLOW_FIELDS}
        if force or slow_due and full != self._last_full or significant != self._last_significant:
            self._last_full, self._last_significant = full, significant
            if self._flush_later is not None:
                self._flush_later.cancel()
                self._flush_later = None
            self.port.publish_state(document)
        elif full != self._last_full:
            self._schedule_slow_flush()

    def _state_changed(self, *, urgent: bool = True) -> None:
        # Coalesce: several changes in one loop turn become one publish; an idle ->
        # busy -> idle job that finishes within that turn publishes nothing at once.
        if urgent:
            if self._flush_soon is None:
                self._flush_soon = asyncio.get_running_loop().call_soon(self.publish_state)
        else:
            self._schedule_slow_flush()

    def _schedule_slow_flush(self) -> None:
        if self._flush_later is None:
            self._flush_later = asyncio.get_running_loop().call_later(
                COUNTER_PUBLISH_INTERVAL_S, functools.partial(self.publish_state, slow_due=True)
            )

    def emit(self, type_: str, data: dict[str, Any] | None = None, *, to_client: str | None = None) -> None:
        event = Event(type=type_, device=self.id, data=data or {})
        self.port.publish_event(event)
        if to_client is not None:
            self.port.send_to_client(to_client, event)
