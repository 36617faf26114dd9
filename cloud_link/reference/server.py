"""Running the reference cloud: one function builds every part in order and stops them in reverse.

Open the ledger, register the configured stores, start a puller per pulled store, serve
HTTP until told to stop (SIGTERM, SIGINT or ``stop``), then stop the pullers and close
the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
import uvicorn

from cloud_link.reference import db
from cloud_link.reference.app import create_cloud_app
from cloud_link.reference.bell import InboundBell
from cloud_link.reference.config import CloudConfig
from cloud_link.reference.puller import StorePuller

log = logging.getLogger("storehub.cloud")

#: At shutdown, long polls and answers a fault holds back are cut after this long.
SHUTDOWN_GRACE_S = 3.0


async def run_cloud(config: CloudConfig, *, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set or uvicorn is told to exit by a signal."""
    database = db.open_database(config.database)
    try:
        db.ensure_stores(db=database, store_ids=[store.id for store in config.stores])
        async with httpx.AsyncClient() as http:
            pullers = {
                store.id: StorePuller(store=store, database=database, http=http)
                for store in config.stores
                if store.pull_url
            }
            bell = InboundBell()
            app = create_cloud_app(config=config, database=database, pullers=pullers, bell=bell)
            server = CloudServer(
                bell,
                uvicorn.Config(
                    app,
                    host=config.host,
                    port=config.port,
                    ssl_certfile=config.certfile,
                    ssl_keyfile=config.keyfile,
                    access_log=False,
                    lifespan="off",
                    timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
                ),
            )
            scheme = "https" if config.certfile else "http"
            log.info("reference cloud on %s://%s:%d, ledger %s", scheme, config.host, config.port, config.database)
            for store in config.stores:
                how = f"pulled from {store.pull_url}" if store.pull_url else "pushes"
                log.info("store %s%s: %s", store.id, f" ({store.name})" if store.name else "", how)
            for puller in pullers.values():
                puller.start()
            try:
                await _serve(server, stop)
            finally:
                for puller in pullers.values():
                    await puller.stop()
    finally:
        database.close()
        log.info("reference cloud stopped")


class CloudServer(uvicorn.Server):
    """uvicorn, which also answers every long poll at once when told to exit."""

    def __init__(self, bell: InboundBell, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._bell = bell

    def handle_exit(self, sig: int, frame: object) -> None:
        super().handle_exit(sig, frame)  # type: ignore[arg-type]
        asyncio.get_running_loop().call_soon_threadsafe(self._bell.close)

    def exit_now(self) -> None:
        self.should_exit = True
        self._bell.close()


async def _serve(server: CloudServer, stop: asyncio.Event | None) -> None:
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait() if stop else asyncio.Event().wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        server.exit_now()
        await serving
    finally:
        for task in (stopping, serving):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
