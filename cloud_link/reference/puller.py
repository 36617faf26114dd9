"""Pulling a store's feed, for a store the cloud reaches rather than one that pushes.

One task per such store: ask the hub's ``GET /api/v1/sync/events`` for what follows the
cloud's contiguous seq (a long poll), hold it through the same ``ingest_batch`` as a
pushed batch, then ``POST /api/v1/sync/ack`` how far the store is safe.  Any trouble
logs one line and waits, exponentially longer with full jitter, until a pull succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_random_exponential

from cloud_link.reference import db
from cloud_link.reference.config import StoreConfig
from cloud_link.reference.errors import InvalidRequest
from cloud_link.reference.intake import read_feed
from cloud_link.reference.schemas import PullState, PullStatus

log = logging.getLogger("storehub.cloud")

#: Events asked for per pull: the hub's largest feed page.
FEED_PAGE = 1_000

#: The hub holds a pull this long when it has nothing new: news arrives at once, idle costs one request per 25 s.
FEED_WAIT_S = 25

#: A pull may take the hub's wait plus this long before it counts as lost.
FEED_TIMEOUT_MARGIN_S = 10.0

#: A hub on the store's LAN or a VPN accepts a connection within this long, or is down.
FEED_CONNECT_TIMEOUT_S = 5.0

#: Backoff after trouble: the first retry within this long, doubling up to the cap.
BACKOFF_BASE_S = 1.0

#: Never wait longer than this between tries: a store back online is pulled within half a minute.
BACKOFF_CAP_S = 30.0

#: After an empty page, wait this long before asking again, in case a feed answers without waiting.
EMPTY_PAGE_PAUSE_S = 0.5


class FeedTrouble(Exception):
    """The feed could not be pulled this time; try again later."""


class FeedPaused(FeedTrouble):
    """The hub says its sync is paused (503 sync_paused)."""


class StorePuller:
    def __init__(
        self,
        *,
        store: StoreConfig,
        database: db.CloudDatabase,
        http: httpx.AsyncClient,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        wait_s: float = FEED_WAIT_S,
    ) -> None:
        assert store.pull_url and store.pull_token, "a puller needs the store's pull_url and pull_token"
        self.store = store
        self._database = database
        self._http = http
        self._wait_s = wait_s
        self._headers = {"Authorization": f"Bearer {store.pull_token}"}
        self._timeout = httpx.Timeout(wait_s + FEED_TIMEOUT_MARGIN_S, connect=FEED_CONNECT_TIMEOUT_S)
        self._state: PullState = "starting"
        self._last_error: str | None = None
        self._last_pull_at: dt.datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_random_exponential(multiplier=backoff_base_s, max=backoff_cap_s),
            before_sleep=self._note_trouble,
        )

    def status(self) -> PullStatus:
        return PullStatus(
            url=str(self.store.pull_url),
            state=self._state,
            last_error=self._last_error,
            last_pull_at=self._last_pull_at,
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name=f"pull {self.store.id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._state = "stopped"

    async def _follow(self) -> None:
        log.info("%s: pulling %s", self.store.id, self.store.pull_url)
        while True:
            # A fresh round of retries after every success: the backoff starts small again.
            pulled = await self._retrying(self.pull_once)
            if not pulled:
                await asyncio.sleep(EMPTY_PAGE_PAUSE_S)

    def _note_trouble(self, retry: RetryCallState) -> None:
        exc = retry.outcome.exception() if retry.outcome else None
        self._state = "paused" if isinstance(exc, FeedPaused) else "retrying"
        self._last_error = str(exc) if isinstance(exc, FeedTrouble) else f"{type(exc).__name__}: {exc}"
        sleep = retry.next_action.sleep if retry.next_action else 0.0
        log.warning(
            "%s: pull failed (%s); try %d again in %.1f s",
            self.store.id, self._last_error, retry.attempt_number + 1, sleep,
            exc_info=exc if not isinstance(exc, FeedTrouble) else None,
        )  # fmt: skip

    async def pull_once(self) -> int:
        """One pull: fetch, hold, acknowledge.  Returns how many events the page had."""
        store_id, url = self.store.id, self.store.pull_url
        before = await asyncio.to_thread(db.position, db=self._database, store_id=store_id)
        params = {"after": before.contiguous_seq, "limit": FEED_PAGE, "wait_s": self._wait_s}
        answer = await self._request("GET", f"{url}/api/v1/sync/events", params=params)
        try:
            feed, received = read_feed(answer.content, store_id=store_id)
        except InvalidRequest as exc:
            raise FeedTrouble(f"the feed's answer is unusable: {exc.message}") from None
        contiguous = before.contiguous_seq
        if received:
            receipt = await asyncio.to_thread(
                db.ingest_batch,
                db=self._database,
                store_id=store_id,
                idempotency_key=f"pull:{min(e.seq for e in received)}-{max(e.seq for e in received)}",
                received=received,
                head_seq=feed.last_seq,
                now=dt.datetime.now(dt.UTC),
            )
            contiguous = receipt.contiguous_seq
            log.info(
                "%s: pulled %d events (%d new); contiguous %d, head %d",
                store_id, len(received), receipt.accepted, contiguous, feed.last_seq,
            )  # fmt: skip
        else:
            await asyncio.to_thread(db.record_head, db=self._database, store_id=store_id, head_seq=feed.last_seq)
        # Against the hub's own acked_seq, so an acknowledgement lost earlier is sent again.
        if contiguous > feed.acked_seq:
            await self._request("POST", f"{url}/api/v1/sync/ack", json={"upto_seq": contiguous})
        self._state, self._last_error, self._last_pull_at = "following", None, dt.datetime.now(dt.UTC)
        return len(received)

    async def _request(self, method: str, url: str, **kwargs) -> httpx.Response:
        try:
            answer = await self._http.request(method, url, headers=self._headers, timeout=self._timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise FeedTrouble(f"{method} {url}: {type(exc).__name__} {exc}".rstrip()) from None
        if answer.status_code == 503 and _error_code(answer) == "sync_paused":
            raise FeedPaused("the hub has paused sync (503 sync_paused)")
        if answer.status_code != 200:
            raise FeedTrouble(f"{method} {url}: {answer.status_code} {answer.text[:200]}")
        return answer


def _error_code(answer: httpx.Response) -> str | None:
    with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
        return orjson.loads(answer.content)["error"]["code"]
    return None
