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
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bus.payloads import (
    DeviceError,
    DeviceStateDoc,
    DeviceStatus,
    ErrorCode,
    Event,
    JobProgress,
    Sharing,
    describe_validation_error,
    now,
)
from devices.claims import ClaimArgs, ClaimBook, RenewArgs
from devices.journal import DeviceJournal
from devices.queue import JobQueue, Priority, QueueFull

if TYPE_CHECKING:
    from devices.fiscal_register import ClosedReceipt
    from devices.labels.tag import LabelSelection, LabelsPrinted, TagData

log = logging.getLogger(__name__)

#: Jobs a device holds waiting before answering ``busy``.  A till waits behind at most
#: this many others; a 500-label batch is one job, not 500.
INBOX_LIMIT = 64

#: Counters and queue depth change on every job; they are republished at most this
#: often so a busy device does not flood the broker with retained state.  Status,
#: claim and error changes go out at once.
COUNTER_PUBLISH_INTERVAL_S = 1.0

#: State fields that change with every job and publish on the slow tick.  A lease
#: renewed by each of the holder's jobs is one of them; a new holder is not.
_SLOW_FIELDS = frozenset({"counters", "queue_depth", "lease_expires_at"})

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

    def observe(self, measure: str, seconds: float) -> None:
        """A duration for the hub's metrics: ``claim_wait`` or ``job`` (queued to done)."""

    @property
    def journal(self) -> DeviceJournal:
        """Where money devices write requests and outcomes that must survive a crash."""

    def receipt_closed(self, device_id: str, receipt: ClosedReceipt) -> None:
        """A fiscal register closed a receipt: for the store domain, which books it as a
        sale, handed over in the hub's process as the typed receipt (never over the bus)."""

    def label_tags(self, selection: LabelSelection) -> list[tuple[TagData, int]]:
        """The tags a label printer is asked for, each with its copies, from the store's
        catalogue, price book and label queue.  Raises ``DeviceError`` (``invalid_request``)
        for an unknown SKU or a product whose tag would lie (a wrong GTIN check digit).
        Called in a worker thread: it may read the database."""
        raise NotImplementedError

    def labels_printed(self, outcome: LabelsPrinted) -> None:
        """Tags that reached the paper: the store takes them off the label queue (only
        the version printed), writes the print journal and puts ``labels.printed`` in
        its outbox.  Called in a worker thread."""
        raise NotImplementedError


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
    #: The client's role (till, kiosk, manager, technician): overrides need it.
    role: str | None = None
    priority: Priority = Priority.NORMAL
    queued_at: float = 0.0
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
    priority: Priority
    #: Whether the caller must hold the device's claim (None: when the device is exclusive).
    needs_claim: bool | None
    #: Answered at once, beside the running job, never queued behind it (a till's
    #: ``abort`` of a card dialogue that may run for two minutes).
    immediate: bool = False


def action(
    name: str,
    args: type[BaseModel] | None = None,
    *,
    priority: Priority = Priority.NORMAL,
    needs_claim: bool | None = None,
    immediate: bool = False,
) -> Callable[[ActionMethod], ActionMethod]:
    """Mark an actor method as the handler of ``name``.

    ``args`` validates its arguments; ``priority`` places it in the queue (a customer
    waiting: interactive; a batch: bulk); ``needs_claim=False`` lets anyone ask (status);
    ``immediate`` runs it at once beside the running job instead of queueing it (it
    must be quick and must not touch the device's line but to interrupt).
    """

    def mark(method: ActionMethod) -> ActionMethod:
        method.__storehub_action__ = ActionSpec(name, method.__name__, args, priority, needs_claim, immediate)  # type: ignore[attr-defined]
        return method

    return mark


class CancelArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(min_length=1, max_length=128, description="The waiting job to take back.")


#: Actions every device answers itself, without queueing: arbitration.
ARBITRATION_ACTIONS = frozenset({"claim", "renew", "release", "cancel"})


class DeviceGone(DeviceError):
    """The device stopped answering (unplugged, powered off): the actor goes offline."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(ErrorCode.DEVICE_OFFLINE, message, details)


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
        for value in vars(cls).values():
            mark = getattr(value, "__storehub_action__", None)
            if mark is not None:
                table[mark.name] = mark
        cls.actions = table

    def __init__(self, spec: DeviceSpec, port: DevicePort) -> None:
        self.spec = spec
        self.id = spec.id
        self.port = port
        self.options = self.Options.model_validate(spec.options)
        self.status: DeviceStatus = "offline"
        self.error: dict[str, str] | None = None
        self.counters: dict[str, int] = {"jobs_done": 0, "jobs_failed": 0, "jobs_expired": 0, "jobs_cancelled": 0}
        self.capabilities: dict[str, Any] = {}
        self.queue = JobQueue(INBOX_LIMIT)
        self.claims = ClaimBook(
            spec.id,
            assigned_to=spec.assigned_to,
            changed=self._state_changed,
            tell=self._tell_client,
            waited=lambda seconds: port.observe("claim_wait", seconds),
        )
        #: Jobs running now: more than one while a bulk job lets a better one through.
        self._running: list[Job] = []
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

    async def handle(self, job: Job) -> dict[str, Any]:
        """Everything a request to this device goes through: its result, or ``DeviceError``."""
        if job.action in ARBITRATION_ACTIONS:
            return await self._arbitrate(job)
        spec = self.actions.get(job.action)
        if spec is not None and spec.immediate:
            self._admit(job)
            return await getattr(self, spec.method)(job)
        self.submit(job)
        return await job.future

    def _admit(self, job: Job) -> ActionSpec:
        """The checks every job passes before it may run: a known action, valid
        arguments, the claim where one is needed."""
        spec = self.actions.get(job.action)
        if spec is None:
            known = sorted(set(self.actions) | ARBITRATION_ACTIONS)
            raise DeviceError(
                ErrorCode.UNKNOWN_ACTION,
                f"{self.id} ({self.kind}) has no action {job.action!r}; it knows: {', '.join(known)}",
            )
        if spec.args_model is not None and not isinstance(job.args, spec.args_model):
            try:
                job.args = spec.args_model.model_validate(job.args)
            except ValidationError as exc:
                raise DeviceError(ErrorCode.INVALID_REQUEST, describe_validation_error(exc)) from None
        self._check_claim(job, spec)
        return spec

    def submit(self, job: Job) -> None:
        """Queue a job, or raise ``DeviceError`` at once if it cannot be taken."""
        spec = self._admit(job)
        if self.status == "offline" and job.deadline is None:
            raise DeviceError(ErrorCode.DEVICE_OFFLINE, self._offline_message())
        job.priority = spec.priority
        job.queued_at = time.monotonic()
        try:
            self.queue.put(job)
        except QueueFull:
            raise DeviceError(ErrorCode.BUSY, f"{self.id} has {INBOX_LIMIT} jobs waiting; try again shortly") from None
        if self.status == "offline":
            self._wait_for_return(job)
        self._state_changed(urgent=False)

    def _wait_for_return(self, job: Job) -> None:
        """A job with a deadline waits for an unplugged device to come back, until then."""
        assert job.deadline is not None

        def give_up() -> None:
            if not job.future.done() and self.queue.discard(job):
                self.counters["jobs_expired"] += 1
                job.fail(DeviceError(ErrorCode.TIMEOUT, f"{self.id} stayed offline past the deadline; not executed"))
                self._state_changed(urgent=False)

        delay = max(job.deadline - time.monotonic(), 0)
        asyncio.get_running_loop().call_later(delay, give_up)

    def _check_claim(self, job: Job, spec: ActionSpec) -> None:
        """Exclusive devices serve only their holder; a claimed shared device too."""
        if spec.needs_claim is False:
            return
        holder = self.claims.holder
        if holder == job.client:
            self.claims.touch(job.client)
            return
        if spec.needs_claim or self.sharing == "exclusive":
            held = f" (held by {holder})" if holder else ""
            raise DeviceError(ErrorCode.NOT_CLAIMED, f"{job.action} on {self.id} needs its claim{held}; claim it first")
        if holder is not None:
            raise DeviceError(ErrorCode.CLAIMED_BY_OTHER, f"{self.id} is held by {holder}", {"holder": holder})

    async def _arbitrate(self, job: Job) -> dict[str, Any]:
        try:
            match job.action:
                case "claim":
                    return await self.claims.claim(job.client, job.role, ClaimArgs.model_validate(job.args))
                case "renew":
                    return self.claims.renew(job.client, RenewArgs.model_validate(job.args).lease_s)
                case "release":
                    return self.claims.release(job.client)
                case "cancel":
                    return self._cancel(job.client, CancelArgs.model_validate(job.args).request_id)
        except ValidationError as exc:
            raise DeviceError(ErrorCode.INVALID_REQUEST, describe_validation_error(exc)) from None
        raise AssertionError(job.action)

    def _cancel(self, client: str, request_id: str) -> dict[str, Any]:
        job = self.queue.cancel(client, request_id)
        if job is None:
            return {
                "cancelled": False,
                "request_id": request_id,
                "reason": "no waiting job of yours has this request id (it may be running or answered already)",
            }
        self.counters["jobs_cancelled"] += 1
        job.fail(DeviceError(ErrorCode.CANCELLED, f"{client} cancelled {request_id} before it started"))
        self._state_changed(urgent=False)
        return {"cancelled": True, "request_id": request_id}

    @property
    def queue_depth(self) -> int:
        return len(self.queue)

    @property
    def running_job(self) -> str | None:
        if not self._running:
            return None
        job = self._running[-1]
        return f"{job.client} {job.action} ({job.request_id})"

    async def serve(self) -> None:
        """Run jobs, and beside them ``watch()``, until cancelled.

        Whatever either raises ends the session: ``DeviceGone`` marks the device
        offline and the supervisor reopens it; anything else is a crash.
        """
        jobs = asyncio.create_task(self._run_jobs(), name=f"device-{self.id}-jobs")
        watch = asyncio.create_task(self.watch(), name=f"device-{self.id}-watch")
        try:
            done, _ = await asyncio.wait({jobs, watch}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in (jobs, watch):
                task.cancel()
            await asyncio.gather(jobs, watch, return_exceptions=True)

    async def watch(self) -> None:
        """What a kind keeps an eye on while the device is open, beside its jobs: a port
        that may vanish, a sensor, a printer coming back from paper out.  Raise
        ``DeviceGone`` when the device is gone.  By default: nothing."""
        await asyncio.Event().wait()

    async def _run_jobs(self) -> None:
        while True:
            job = await self.queue.get()
            await self._run(job)

    async def between_items(self) -> None:
        """Called by a multi-item job between two items: better jobs waiting run now.

        A receipt never waits behind a 500-label batch: the batch lets it through after
        the label it is printing.
        """
        if not self._running:
            return
        current = self._running[-1].priority
        while (job := self.queue.pop(better_than=current)) is not None:
            await self._run(job)

    def progress(self, job: Job, done: int, total: int, *, printed: int | None = None) -> None:
        """Tell the requester how far a long job has come (a label printer: and how many
        of the tags it sent have come out of the printer)."""
        data = JobProgress(request_id=job.request_id, done=done, total=total, printed=printed)
        self.emit(
            "progress", data.model_dump(exclude=set() if printed is not None else {"printed"}), to_client=job.client
        )

    async def _run(self, job: Job) -> None:
        if job.future.done():  # the requester gave up while it waited
            return
        if job.deadline is not None and time.monotonic() > job.deadline:
            self.counters["jobs_expired"] += 1
            job.fail(DeviceError(ErrorCode.TIMEOUT, f"deadline passed before {self.id} could start it; not executed"))
            return
        try:
            self._check_claim(job, self.actions[job.action])
        except DeviceError as exc:  # the claim ended while the job waited
            job.fail(exc)
            return
        handler = getattr(self, self.actions[job.action].method)
        self._running.append(job)
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
            self._running.remove(job)
            self.port.observe("job", time.monotonic() - job.queued_at)
            if self.status == "busy" and not self._running:
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

    def went_offline(self, reason: str, *, for_good: bool = False) -> None:
        self.status = "offline"
        self.error = {"code": ErrorCode.DEVICE_OFFLINE.value, "message": reason}
        # Jobs that came with a deadline wait for the device to return; the rest are
        # answered now so their tills can do something else.
        for job in self.queue.drain(keep=lambda job: job.deadline is not None and not for_good):
            job.fail(DeviceError(ErrorCode.DEVICE_OFFLINE, f"{self.id} went offline: {reason}"))
        for job in self.queue:
            self._wait_for_return(job)
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
            claimed_by=self.claims.holder,
            lease_expires_at=self.claims.expires_at,
            queue_depth=len(self.queue),
            running_job=self.running_job,
            error=self.error,
            capabilities=self.capabilities,
            counters=self.counters | self.claims.counters,
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

    def _tell_client(self, client: str, type_: str, data: dict[str, Any]) -> None:
        self.emit(type_, data, to_client=client)

    def client_left(self, client: str) -> None:
        """The hub saw ``client`` go offline: its claim ends now, not at lease expiry."""
        self.claims.client_left(client)

    def stop_arbitration(self, reason: str) -> None:
        self.claims.close(reason)

    def emit(self, type_: str, data: dict[str, Any] | None = None, *, to_client: str | None = None) -> None:
        event = Event(type=type_, device=self.id, data=data or {})
        self.port.publish_event(event)
        if to_client is not None:
            self.port.send_to_client(to_client, event)
