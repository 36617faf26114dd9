"""The store's end of replication: pushes the outbox to the cloud, fetches what the
cloud has for the store, prunes what is safely delivered, and tells people how it stands.

Three loops on the hub's event loop, each failing and recovering on its own:

- **push** (mode push or both): asks the cloud where it is, sends the events after
  that in seq order, in gzip'd batches named by their seq range, and marks delivered
  exactly what the cloud says it holds without a gap.  A failure of any kind — refused
  connection, timeout, 5xx, an answer that makes no sense — backs off (exponential,
  full jitter, capped) and starts again by asking the cloud where it is.  So a reply
  lost in a crash on either side costs a re-send that the cloud deduplicates, never a
  lost or doubled event.
- **inbound**: long-polls the cloud for prices, products, pickup orders, loyalty
  balances and other stores' stock after the store's cursor; the store applies a page
  and its cursor in one transaction.
- **watch**: at every commit of the store (at most every 250 ms) and every few
  seconds reads the outbox's numbers, publishes ``sync/state`` (retained) when it
  says something new — a count that moved, a problem, a level — logs when a
  threshold is crossed, and prunes delivered events older than the retention period.
  When the database cannot grow, delivered events go at once, whatever their age:
  undelivered events are never pruned.

The pull feed (the hub's ``/api/v1/sync/events`` and ``ack``) moves the same
delivered marker; ``allows_pull`` is what the hub's API asks before serving it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_random_exponential

from cloud_link.client import CloudClient, CloudTrouble
from cloud_link.config import CloudConfig
from cloud_link.outbox import EncodedBatch, StoreOutbox
from cloud_link.state import LinkStatus, SyncMetrics, SyncState, assess, worst

log = logging.getLogger(__name__)

T = TypeVar("T")

#: When the outbox is empty the pusher waits for a commit; it also looks this often in
#: case a wake-up was missed.
IDLE_RECHECK_S = 5.0

#: A cloud that answers the inbound long poll at once, every time, is polled no faster
#: than this.
INBOUND_MIN_INTERVAL_S = 2.0

#: Inbound items per page: a page is applied in one transaction on the store's writer.
INBOUND_PAGE_ITEMS = 1000

#: The watch looks again at the store's next commit, but no sooner than this after its
#: last look: a new backlog is on ``sync/state`` at once, and a burst of commits costs
#: at most four publications a second, not one per commit.
COMMIT_LOOK_MIN_INTERVAL_S = 0.25

#: Delivered events pruned per transaction, so pruning never holds the writer long.
PRUNE_CHUNK = 5000

#: The same when the database is full: each chunk's WAL (SQLite zeroes what it deletes)
#: must fit in the room the store keeps for upkeep, and the store checkpoints between
#: chunks, so small chunks are what a full disk can take.
URGENT_PRUNE_CHUNK = 200


class CloudLink:
    def __init__(
        self,
        *,
        outbox: StoreOutbox,
        config: CloudConfig,
        publish_state: Callable[[SyncState], None],
        registry: CollectorRegistry | None = None,
        user_agent: str = "storehub",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.config = config
        self.status = LinkStatus()
        self._publish_state = publish_state
        self._clock = clock
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._calls: list[asyncio.Task[None]] = []
        #: The push loop's next batch, read while the current one travels: (after, read).
        self._ahead: tuple[int, asyncio.Future[EncodedBatch | None]] | None = None
        #: The delivered mark being written, while the next batch travels.
        self._marking: asyncio.Task[int] | None = None
        self._latest: SyncState | None = None
        self._published: SyncState | None = None
        self._last_prune = 0.0
        #: The delivered seq at the last urgent prune: until it moves there is nothing new to prune.
        self._pruned_upto = -1
        self._client = (
            CloudClient(
                base_url=config.url,
                store_id=outbox.store_id,
                token=config.token.get_secret_value(),
                timeout_s=config.request_timeout_s,
                ca_file=config.ca_file,
                user_agent=user_agent,
            )
            if config.url is not None and config.token is not None
            else None
        )
        self.metrics = SyncMetrics(registry, lambda: self._latest) if registry is not None else None

    # -- life --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.refresh(publish=True)
        self._tasks = [asyncio.create_task(self._watch(), name="sync-watch")]
        self._start_calls()
        log.info(
            "cloud link: mode %s%s%s",
            self.config.mode,
            f", cloud {self.config.url}" if self.config.url else "",
            ", fetching inbound" if self.config.fetches else "",
        )

    def _start_calls(self) -> None:
        """The loops that call the cloud: pushing and fetching, as configured."""
        loops: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if self.config.pushes:
            loops.append(("sync-push", self._push_loop))
        if self.config.fetches:
            loops.append(("sync-inbound", self._inbound_loop))
        self._calls = [asyncio.create_task(loop(), name=name) for name, loop in loops]

    async def _stop_calls(self) -> None:
        await _cancelled(self._calls)
        self._calls = []
        if self._ahead is not None:
            _forget(self._ahead[1])
            self._ahead = None
        marking, self._marking = self._marking, None
        if marking is not None:
            # Let the mark land: it is the cloud's word, already given.
            with contextlib.suppress(Exception):
                await marking

    async def stop(self) -> None:
        await self._stop_calls()
        await _cancelled(self._tasks)
        self._tasks = []
        if self._client is not None:
            await self._client.close()

    # -- a technician's switch (a WAN outage drill) --------------------------------------

    @property
    def paused(self) -> bool:
        return self.status.paused

    async def pause(self, *, by: str) -> SyncState:
        if not self.status.paused:
            log.warning("cloud link paused by %s: nothing goes to or comes from the cloud", by)
        self.status.paused = True
        self._resumed.clear()
        # Calls already on their way are cut, as a cable pulled would cut them: a push
        # whose answer is lost is settled by asking the cloud where it is, and an inbound
        # page is applied with its cursor or not at all.  The loops start again and wait.
        await self._stop_calls()
        self.status.cloud_seq = None
        self._start_calls()
        return await self.refresh(publish=True)

    async def resume(self, *, by: str) -> SyncState:
        if self.status.paused:
            log.warning("cloud link resumed by %s", by)
        self.status.paused = False
        self._resumed.set()
        return await self.refresh(publish=True)

    def allows_pull(self) -> str | None:
        """None when the cloud may pull now; else why not."""
        if not self.config.is_pulled:
            return f"this store pushes to its cloud (cloud.mode = {self.config.mode}); the pull feed is off"
        if self.status.paused:
            return "the cloud link is paused by a technician; try again later"
        return None

    # -- state -------------------------------------------------------------------------

    async def refresh(self, *, publish: bool = False) -> SyncState:
        """Read the outbox's numbers and make a new ``sync/state``; publish it when asked
        or when it says something new, and log a level change."""
        stats = await asyncio.to_thread(self.outbox.stats)
        now = self._clock()
        problems = assess(stats, self.status, self.config, now)
        state = SyncState(
            store_id=self.outbox.store_id,
            mode=self.config.mode,
            paused=self.status.paused,
            level=worst(problems),
            problems=problems,
            cloud_reachable=self.status.cloud_reachable,
            last_contact_at=self.status.last_contact_at,
            last_push_at=self.status.last_push_at,
            last_inbound_at=self.status.last_inbound_at,
            last_error=self.status.last_error,
            last_seq=stats.last_seq,
            delivered_seq=stats.delivered_seq,
            backlog=stats.backlog,
            oldest_undelivered_age_s=None
            if stats.oldest_undelivered_at is None
            else round(max(0.0, now - stats.oldest_undelivered_at), 3),
            bytes_used=stats.bytes_used,
            bytes_allowed=stats.bytes_allowed,
            storage_full=stats.storage_full,
            inbound_cursor=stats.inbound_cursor,
            pushed_events=self.status.counters["pushed_events"],
            failures=self.status.counters["failures"],
            ts=now,
        )
        self._log_change(state)
        self._latest = state
        if publish or not state.same_news(self._published) or self._moved(state) or self._due(state):
            self._published = state
            try:
                self._publish_state(state)
            except Exception:
                log.exception("publishing sync/state failed")
        return state

    def _moved(self, state: SyncState) -> bool:
        """A new event or a new delivery: REST and the bus must not tell two stories."""
        published = self._published
        return published is None or (state.last_seq, state.delivered_seq) != (
            published.last_seq,
            published.delivered_seq,
        )

    def _due(self, state: SyncState) -> bool:
        # With a look's slack: the watch's clock and the document's are not the same one,
        # and a refresh a hair early must not wait a whole interval more.
        due = self.config.state_interval_s - COMMIT_LOOK_MIN_INTERVAL_S
        return self._published is None or state.ts - self._published.ts >= due

    def _log_change(self, state: SyncState) -> None:
        before = {(p.what, p.level) for p in self._latest.problems} if self._latest else set()
        for problem in state.problems:
            if (problem.what, problem.level) in before:
                continue
            if problem.what == "storage_full":
                log.critical("sync: %s", problem.message)
            elif problem.level == "alarm":
                log.error("sync alarm: %s", problem.message)
            else:
                log.warning("sync warning: %s", problem.message)
        if before and not state.problems:
            log.info("sync: all clear (%d events waiting)", state.backlog)

    async def _watch(self) -> None:
        looked, seen = time.monotonic(), self.outbox.commits()
        while True:
            await self.outbox.wait_for_commit(
                max(0.0, looked + self.config.state_interval_s - time.monotonic()), since=seen
            )
            await asyncio.sleep(max(0.0, looked + COMMIT_LOOK_MIN_INTERVAL_S - time.monotonic()))
            # Counted before the look: a commit while it reads is news for the next one.
            looked, seen = time.monotonic(), self.outbox.commits()
            try:
                state = await self.refresh()
                # Full: every newly delivered event goes at once (a prune with nothing new
                # to delete would only commit, wake this loop and prune again).
                urgent = state.storage_full and state.delivered_seq != self._pruned_upto
                if urgent or self._clock() - self._last_prune >= self.config.prune_interval_s:
                    await self.prune(urgent=state.storage_full)
                    if state.storage_full:
                        self._pruned_upto = state.delivered_seq
            except Exception:
                log.exception("sync watch failed; next look in %.0f s", self.config.state_interval_s)

    async def prune(self, *, urgent: bool = False) -> int:
        """Delete delivered events past retention (all delivered ones when ``urgent``)."""
        self._last_prune = self._clock()
        cutoff = self._clock() if urgent else self._clock() - self.config.retention_hours * 3600
        limit = URGENT_PRUNE_CHUNK if urgent else PRUNE_CHUNK
        pruned = 0
        while True:
            chunk = await self.outbox.prune_delivered(occurred_before=cutoff, limit=limit)
            pruned += chunk
            if chunk < limit:
                break
        if pruned:
            (log.warning if urgent else log.info)(
                "pruned %d delivered events %s",
                pruned,
                "to make room (the database is full)" if urgent else f"older than {self.config.retention_hours:g} h",
            )
        return pruned

    # -- retrying ------------------------------------------------------------------------

    async def _patiently(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt`` until it succeeds, backing off between failures; waits while paused."""
        retrying = AsyncRetrying(
            wait=wait_random_exponential(multiplier=self.config.backoff_initial_s, max=self.config.backoff_max_s),
            retry=retry_if_exception_type(Exception),
            before_sleep=lambda state: self._failed(what, state),
            reraise=True,
        )
        async for trying in retrying:
            with trying:
                await self._resumed.wait()
                return await attempt()
        raise AssertionError("unreachable: retrying never stops")

    def _failed(self, what: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        cloud = isinstance(exc, CloudTrouble)
        message = exc.message if isinstance(exc, CloudTrouble) else f"{type(exc).__name__}: {exc}"
        wait = state.next_action.sleep if state.next_action else 0.0
        self.status.failed(f"{what}: {message}", self._clock(), cloud=cloud)
        if cloud:
            log.warning("%s failed (attempt %d): %s; next try in %.1f s", what, state.attempt_number, message, wait)
        else:
            log.error("%s failed (attempt %d); next try in %.1f s", what, state.attempt_number, wait, exc_info=exc)

    # -- push ----------------------------------------------------------------------------

    async def _push_loop(self) -> None:
        while True:
            sent = await self._patiently("push", self._push_next)
            if not sent:
                await self.outbox.wait_for_events(IDLE_RECHECK_S)

    async def _push_next(self) -> bool:
        """Send the next batch after what the cloud holds; False when there is nothing to send."""
        assert self._client is not None
        if self.status.cloud_seq is None:
            position = await self._client.position()
            self.status.reached(self._clock())
            await self._cloud_holds(position.contiguous_seq, None)
        after = self.status.cloud_seq
        assert after is not None
        batch = await self._batch_after(after)
        if batch is None:
            return False
        if batch.first_seq != after + 1:
            log.error(
                "the cloud holds events up to %d only, and %d..%d were pruned here after it had acknowledged them; "
                "sending from %d (the cloud will show the gap)",
                after,
                after + 1,
                batch.first_seq - 1,
                batch.first_seq,
            )
        # While the cloud takes this batch, the next one is read: the store's disk and the
        # cloud's work overlap instead of taking turns.
        self._read_ahead(batch.last_seq)
        started = time.monotonic()
        try:
            answer = await self._client.push(batch)
        except CloudTrouble:
            self.status.cloud_seq = None  # ask where the cloud is before the next try
            raise
        if self.metrics is not None:
            self.metrics.push_seconds.observe(time.monotonic() - started)
        now = self._clock()
        self.status.reached(now)
        self.status.last_push_at = now
        progressed = answer.contiguous_seq > after
        await self._cloud_holds(answer.contiguous_seq, batch.head_seq)
        if not progressed:
            self.status.cloud_seq = None
            raise CloudTrouble(
                f"the cloud took batch {batch.first_seq}-{batch.last_seq} but still holds events only up to "
                f"{answer.contiguous_seq}"
            )
        self.status.counters["pushed_events"] += max(0, min(answer.contiguous_seq, batch.last_seq) - after)
        return True

    async def _cloud_holds(self, contiguous_seq: int, head_seq: int | None) -> None:
        """The cloud's word is the truth about delivery, within what this store has written."""
        if head_seq is None:
            head_seq = (await asyncio.to_thread(self.outbox.stats)).last_seq
        if contiguous_seq > head_seq:
            self.status.cloud_seq = None
            raise CloudTrouble(
                f"the cloud says it holds events up to {contiguous_seq}, but this store has written only {head_seq}: "
                "is it the right store, or was this store's database replaced?"
            )
        self.status.cloud_seq = contiguous_seq
        # Marked in the store while the next batch travels; one mark at a time, in order.
        # A mark lost in a crash costs nothing: the next start asks the cloud.
        marking, self._marking = self._marking, None
        if marking is not None:
            await marking
        self._marking = asyncio.create_task(self.outbox.mark_delivered(contiguous_seq), name="sync-mark")

    async def _batch_after(self, after: int) -> EncodedBatch | None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == after:
            return await ahead[1]
        if ahead is not None:
            _forget(ahead[1])
        return await asyncio.to_thread(self.outbox.read_batch, after=after, limit=self.config.batch_events)

    def _read_ahead(self, after: int) -> None:
        if self._ahead is not None:
            _forget(self._ahead[1])
        read = asyncio.to_thread(self.outbox.read_batch, after=after, limit=self.config.batch_events)
        self._ahead = (after, asyncio.ensure_future(read))

    # -- inbound -------------------------------------------------------------------------

    async def _inbound_loop(self) -> None:
        while True:
            started = time.monotonic()
            items = await self._patiently("inbound", self._fetch_next)
            if not items and time.monotonic() - started < INBOUND_MIN_INTERVAL_S:
                await asyncio.sleep(INBOUND_MIN_INTERVAL_S)

    async def _fetch_next(self) -> int:
        """Fetch and apply one page after the store's cursor; returns how many items came."""
        assert self._client is not None
        cursor = (await asyncio.to_thread(self.outbox.stats)).inbound_cursor
        page = await self._client.inbound(after=cursor, limit=INBOUND_PAGE_ITEMS, wait_s=self.config.inbound_wait_s)
        now = self._clock()
        self.status.reached(now)
        if not page.items:
            return 0
        if page.cursor <= cursor:
            raise CloudTrouble(f"the cloud sent {page.items} inbound items without moving the cursor past {cursor}")
        report = await self.outbox.apply_inbound(page.model_dump(exclude={"cursor"}), page.cursor)
        self.status.last_inbound_at = now
        log.info("inbound from the cloud, cursor %d: %s", page.cursor, _summary(report))
        return page.items


def _forget(read: asyncio.Future[Any]) -> None:
    """A read no one will use: its outcome is dropped, not reported as never retrieved."""
    read.cancel()
    read.add_done_callback(lambda done: done.cancelled() or done.exception())


async def _cancelled(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _summary(report: dict[str, Any]) -> str:
    applied = ", ".join(f"{n} {kind}" for kind, n in report.get("applied", {}).items() if n) or "nothing new"
    extra = []
    if report.get("pending"):
        extra.append(f"{report['pending']} prices for later")
    if report.get("ignored"):
        extra.append(f"{len(report['ignored'])} ignored")
    return applied + (f" ({', '.join(extra)})" if extra else "")
