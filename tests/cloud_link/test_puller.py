"""The cloud pulling a store's feed: everything held once and acknowledged, news through the
long poll, and trouble (a hub that is down, paused, failing or lying) retried with backoff
until the feed answers again.

``FakeFeed`` stands in for the hub's sync feed (``GET /api/v1/sync/events``, ``POST
/api/v1/sync/ack``, docs/store.md): a small FastAPI app served by uvicorn on a loopback
port, so the puller speaks real HTTP to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse, Response

from cloud_link.reference import db
from cloud_link.reference.config import StoreConfig
from cloud_link.reference.puller import StorePuller
from hub.throwaway import free_loopback_ports
from tests.cloud_link.support import ADMIN_TOKEN, STORE, event, running_cloud, serving, sha256, until

PULL_TOKEN = "cloud:feed-secret"


class FakeFeed:
    """A hub's outbox feed with a long poll, and trouble on demand."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.acked = 0
        self.acks: list[int] = []
        self.trouble: list[str] = []  # "paused", "500", "garbage", "alien": the next answers
        self.asked_after: list[int] = []
        self._news = asyncio.Event()

    def commit(self, count: int) -> None:
        start = len(self.events) + 1
        self.events += [event(seq, total=seq) for seq in range(start, start + count)]
        self.wake()

    def wake(self) -> None:
        """Answer every waiting long poll now (news, or the feed shutting down)."""
        self._news.set()
        self._news = asyncio.Event()

    def app(self) -> FastAPI:
        app = FastAPI()

        def check(authorization: str) -> None:
            if authorization != f"Bearer {PULL_TOKEN}":
                raise HTTPException(401)

        @app.get("/healthz")
        async def healthz() -> dict:
            return {"ok": True}

        @app.get("/api/v1/sync/events")
        async def feed(after: int = 0, limit: int = 500, wait_s: float = 0, authorization: str = Header("")):
            check(authorization)
            self.asked_after.append(after)
            if self.trouble:
                trouble = self.trouble.pop(0)
                if trouble == "paused":
                    return JSONResponse({"error": {"code": "sync_paused", "message": "paused"}}, status_code=503)
                if trouble == "500":
                    return JSONResponse({"error": {"code": "internal"}}, status_code=500)
                if trouble == "garbage":
                    return Response(b"<html>proxy error", media_type="application/json")
                if trouble == "alien":  # another store's events
                    return {"events": [event(1, store_id="other-store")], "last_seq": 1, "acked_seq": 0}
            if len(self.events) <= after:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._news.wait(), wait_s)
            page = self.events[after : after + min(limit, 1000)]
            return {"events": page, "last_seq": len(self.events), "acked_seq": self.acked}

        @app.post("/api/v1/sync/ack")
        async def ack(body: dict, authorization: str = Header("")):
            check(authorization)
            if body["upto_seq"] > len(self.events):
                raise HTTPException(400)
            self.acks.append(body["upto_seq"])
            self.acked = max(self.acked, body["upto_seq"])
            return {"acked_seq": self.acked, "moved": True}

        return app


@pytest.fixture
async def feed() -> AsyncIterator[tuple[FakeFeed, str]]:
    fake = FakeFeed()
    async with serving(fake.app()) as url:
        yield fake, url
        fake.wake()


@contextlib.asynccontextmanager
async def puller(tmp_path: Path, url: str) -> AsyncIterator[tuple[StorePuller, db.CloudDatabase]]:
    """A puller with a quick backoff and a short long poll, on a real ledger."""
    store = StoreConfig(id=STORE, token_sha256=sha256("x"), pull_url=url, pull_token=PULL_TOKEN)
    database = db.open_database(tmp_path / "cloud.db")
    async with httpx.AsyncClient() as http:
        pulling = StorePuller(
            store=store, database=database, http=http, backoff_base_s=0.05, backoff_cap_s=0.2, wait_s=1
        )
        pulling.start()
        try:
            yield pulling, database
        finally:
            await pulling.stop()
            database.close()


def contiguous(database: db.CloudDatabase) -> int:
    return db.position(db=database, store_id=STORE).contiguous_seq


async def test_the_cloud_pulls_the_whole_feed_through_run_cloud_and_acknowledges_it(tmp_path, feed):
    fake, url = feed
    fake.commit(2_500)
    async with running_cloud(tmp_path / "cloud", pulls={STORE: (url, PULL_TOKEN)}) as cloud:
        async with cloud.client(ADMIN_TOKEN) as admin:

            async def pulled() -> dict | None:
                stores = (await admin.get("/v1/admin/stores")).json()["stores"]
                row = next(s for s in stores if s["store_id"] == STORE)
                return row if row["contiguous_seq"] == 2_500 and fake.acked == 2_500 else None

            row = await until(pulled, timeout=15, what="the feed pulled and acknowledged")
            assert row["pull"]["state"] == "following" and row["pull"]["url"] == url
            assert (row["head_seq"], row["lag"], row["gaps"], row["duplicates"]) == (2_500, 0, [], 0)
            assert fake.acks == [1_000, 2_000, 2_500]  # one acknowledgement per page, in order
            held = (await admin.get(f"/v1/admin/stores/{STORE}/events", params={"limit": 10_000})).json()["events"]
            assert held == fake.events

            # News reaches the cloud through the long poll, not a timer.
            fake.commit(3)
            await until(lambda: fake.acked == 2_503, timeout=3, what="the new events acknowledged")
            others = (await admin.get("/v1/admin/stores")).json()["stores"]
            assert next(s for s in others if s["store_id"] != STORE)["pull"] is None


async def test_a_paused_failing_or_lying_feed_is_retried_until_it_answers(tmp_path, feed, caplog):
    fake, url = feed
    fake.commit(10)
    fake.trouble = ["paused", "paused", "500", "garbage", "alien"]
    caplog.set_level(logging.WARNING, logger="cloud_link.reference.puller")
    async with puller(tmp_path, url) as (pulling, database):
        await until(
            lambda: contiguous(database) == 10 and fake.acked == 10 and pulling.status().state == "following",
            timeout=10,
            what="the puller past the trouble",
        )
        assert fake.trouble == []
        # One warning per failed pull, each saying what went wrong.
        failures = [r.getMessage() for r in caplog.records if "pull failed" in r.getMessage()]
        assert len(failures) == 5, failures
        errors = " | ".join(failures)
        assert "sync_paused" in errors and "500" in errors and "not JSON" in errors and "other-store" in errors
        assert pulling.status().state == "following" and pulling.status().last_error is None
        # Nothing of the lying answers was held.
        assert [
            e["seq"]
            for e in map(__import__("json").loads, db.event_documents(db=database, store_id=STORE, after=0, limit=100))
        ] == list(range(1, 11))


async def test_a_hub_that_is_down_is_retried_and_followed_once_it_is_up(tmp_path):
    fake = FakeFeed()
    fake.commit(5)
    [port] = free_loopback_ports(1)
    async with puller(tmp_path, f"http://127.0.0.1:{port}") as (pulling, database):
        await until(lambda: pulling.status().state == "retrying", what="the puller noticing the hub is down")
        assert "ConnectError" in pulling.status().last_error
        assert contiguous(database) == 0
        async with serving(fake.app(), port):  # now the hub comes up on that port
            await until(lambda: contiguous(database) == 5 and fake.acked == 5, timeout=5, what="the catch-up")
            await pulling.stop()  # before the hub goes, so the stop is not taken for trouble
            fake.wake()


async def test_an_acknowledgement_lost_earlier_is_sent_again(tmp_path, feed):
    fake, url = feed
    fake.commit(4)
    async with puller(tmp_path, url) as (pulling, database):
        await until(lambda: fake.acked == 4, what="the first acknowledgement")
        fake.acked = 0  # the hub lost it (restored from a backup, say); nothing new to pull
        await until(lambda: fake.acked == 4, what="the acknowledgement again, with no new events")
        assert contiguous(database) == 4
        assert set(fake.asked_after) == {0, 4}  # always from what the cloud holds
