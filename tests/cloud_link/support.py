"""Helpers for the reference cloud's tests: configs, events as a store makes them, real servers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import uuid6
import uvicorn
from fastapi import FastAPI

from cloud_link.reference.config import CloudConfig, StoreConfig, load_cloud_config, token_digest, write_cloud_config
from cloud_link.reference.server import run_cloud
from hub.throwaway import free_loopback_ports

STORE = "demo-store"
OTHER = "other-store"
TOKENS = {STORE: "demo-store-token", OTHER: "other-store-token"}
ADMIN_TOKEN = "admin-token"

#: A server started by a test answers /healthz within this long, or the test fails.
START_TIMEOUT_S = 10.0


sha256 = token_digest


def write_config(folder: Path, *, port: int, pulls: dict[str, tuple[str, str]] | None = None) -> Path:
    """A cloud for STORE and OTHER; ``pulls`` maps a store to the (url, token) of its feed."""
    stores = []
    for store_id, token in TOKENS.items():
        url, pull_token = (pulls or {}).get(store_id, (None, None))
        stores.append(
            StoreConfig(
                id=store_id, token_sha256=sha256(token), name=f"Store {store_id}", pull_url=url, pull_token=pull_token
            )
        )
    return write_cloud_config(
        folder / "cloud.toml",
        database="data/cloud.db",
        port=port,
        admin_token_sha256=sha256(ADMIN_TOKEN),
        stores=stores,
    )


def event(seq: int, *, store_id: str = STORE, event_id: str | None = None, **data: Any) -> dict[str, Any]:
    """An outbox event as the hub writes it."""
    return {
        "event_id": event_id or str(uuid6.uuid7()),
        "store_id": store_id,
        "seq": seq,
        "type": "sale.completed",
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "source": {"client": "till-1", "device": "fiscal-1"},
        "schema": 1,
        "data": data or {"total": 100 * seq, "lines": [{"sku": "MLK-001", "quantity": "1"}]},
    }


def batch_body(
    events: list[dict[str, Any]], *, store_id: str = STORE, head: int | None = None, **override: Any
) -> dict:
    seqs = [e["seq"] for e in events]
    first, last = min(seqs), max(seqs)
    return {
        "store_id": store_id,
        "first_seq": first,
        "last_seq": last,
        "head_seq": head or last,
        "events": events,
    } | override


async def push(
    http: httpx.AsyncClient,
    body: dict[str, Any] | bytes,
    *,
    store_id: str = STORE,
    key: str | None = None,
    encoding: str | None = "gzip",
) -> httpx.Response:
    """Push a batch as the store does: gzip, its seq range as the idempotency key."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    if key is None and isinstance(body, dict):
        key = f"{body['first_seq']}-{body['last_seq']}"
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    if encoding:
        headers["Content-Encoding"] = encoding
        if encoding == "gzip":
            content = gzip.compress(content)
    return await http.post(f"/v1/stores/{store_id}/events", content=content, headers=headers)


async def until(predicate: Callable[[], Any], *, timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll an async or plain predicate until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_until_up(url: str, *, server: asyncio.Task | None = None) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server is not None and server.done():
                server.result()  # raises what stopped it
                raise AssertionError(f"the server at {url} stopped before it answered")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not come up within {START_TIMEOUT_S} s")
            await asyncio.sleep(0.02)


@dataclass
class RunningCloud:
    """A reference cloud served by ``run_cloud`` in this process, on a free loopback port."""

    url: str
    config: CloudConfig
    config_path: Path

    def client(self, token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)


@contextlib.asynccontextmanager
async def running_cloud(folder: Path, **config: Any) -> AsyncIterator[RunningCloud]:
    [port] = free_loopback_ports(1)
    path = write_config(folder, port=port, **config)
    cloud = load_cloud_config(path)
    stop = asyncio.Event()
    task = asyncio.create_task(run_cloud(cloud, stop=stop))
    try:
        await wait_until_up(f"http://127.0.0.1:{port}", server=task)
        yield RunningCloud(url=f"http://127.0.0.1:{port}", config=cloud, config_path=path)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """Serve a small FastAPI app on a loopback port (a free one by default) under uvicorn; yields its base URL."""
    port = port or free_loopback_ports(1)[0]
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        await wait_until_up(f"http://127.0.0.1:{port}", server=task)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
