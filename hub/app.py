"""The hub process: every part of the appliance, built and started in one place.

Read ``Hub.start`` to know every part and its order; ``Hub.stop`` undoes it in
reverse.  Nothing is built anywhere else (no module-level singletons).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from importlib import metadata
from typing import Any

import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session

from bus.broker import HUB_USERNAME, BrokerPlan, BrokerUser, ManagedBroker
from bus.mqtt import BusConnection, Will
from bus.passwords import hash_secret, new_secret
from bus.payloads import DeviceList, DeviceListEntry, HubStateDoc, LabelsStateDoc
from bus.topics import TopicTree
from cloud_link.link import CloudLink
from cloud_link.state import SyncState
from devices.actor import DeviceSpec
from devices.supervisor import DeviceSupervisor
from hub.actions import HubActions
from hub.api import ApiServices, create_api
from hub.config import StoreHubConfig
from hub.db import create_store_engine, migrate
from hub.device_port import BusDevicePort
from hub.health import HubHealth
from hub.idempotency import IdempotencyKeys
from hub.job_events import JobEvents
from hub.metrics import HubMetrics
from hub.presence import ClientPresence
from hub.requests import RequestRouter
from hub.store.boots import record_boot
from hub.store.domain import StoreDomain
from hub.store.journal import StoreDeviceJournal
from hub.store.room import DatabaseRoom
from hub.store.schemas import ShelfTruth
from hub.sync import HubOutbox
from hub.web import install_web

log = logging.getLogger(__name__)

#: At shutdown, how long answers already on their way may take before the bus closes.
DRAIN_TIMEOUT_S = 5.0

#: After its last words (devices offline, hub offline) the hub waits this long before
#: stopping its own broker: a till that has not read them yet would lose them when the
#: broker's closing connection resets.
BROKER_LINGER_S = 0.5

#: At shutdown, how long REST calls already running may take to finish.
API_GRACE_S = 3.0

#: Start-up waits this long for the broker before going on without it.  The hub then
#: keeps retrying in the background; REST works meanwhile and /readyz says why not ready.
BUS_FIRST_CONNECT_WAIT_S = 5.0


def hub_version() -> str:
    try:
        return metadata.version("storehub")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class EmbeddedApiServer(uvicorn.Server):
    """uvicorn inside the hub's loop; the hub, not uvicorn, owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


class Hub:
    def __init__(self, config: StoreHubConfig) -> None:
        self.config = config
        self.version = hub_version()
        self.topics = TopicTree(config.store_id)
        self.started_at = time.time()
        self.boot = 0
        self.engine: Engine | None = None
        self.reader_engine: Engine | None = None
        self.store: StoreDomain | None = None
        self.room: DatabaseRoom | None = None
        self.metrics: HubMetrics | None = None
        self.broker: ManagedBroker | None = None
        self.bus: BusConnection | None = None
        self.devices: DeviceSupervisor | None = None
        self.health: HubHealth | None = None
        self.router: RequestRouter | None = None
        #: What devices tell a requester, heard in the hub's own process (the Labels page's runs).
        self.job_events = JobEvents()
        self.cloud_link: CloudLink | None = None
        self.api_server: EmbeddedApiServer | None = None
        self._api_task: asyncio.Task[None] | None = None
        self._undo: list[Any] = []
        self._hub_password: str | None = None
        self._announced = False
        #: The label queue's numbers last heard, for ``hub/labels`` at every (re)connect.
        self._shelf: ShelfTruth | None = None

    # -- start-up, in order ----------------------------------------------------------

    async def start(self) -> None:
        self.init_database()
        self.init_boot()
        self.init_metrics()
        await self.start_store()
        await self.start_broker()
        await self.connect_bus()
        self.start_devices()
        self.init_health()
        # The cloud link before the doors: a request may read or pause it as soon as they open.
        await self.start_cloud_link()
        self.start_requests()
        self.watch_clients()
        self.watch_shelf()
        await self.start_api()
        # Last: `online` on hub/state promises that both doors, MQTT and REST, answer.
        self.announce_online()
        log.info("hub %s boot %d serving store %s", self.version, self.boot, self.config.store_id)

    def init_database(self) -> None:
        self.engine = create_store_engine(self.config.database_path, max_bytes=self.config.database_max_bytes)
        migrate(self.engine)

    def init_boot(self) -> None:
        assert self.engine is not None
        with Session(self.engine) as session:
            self.boot = record_boot(session=session, started_at=self.started_at, version=self.version)

    def init_metrics(self) -> None:
        self.metrics = HubMetrics()
        self.metrics.boot.set(self.boot)

    async def start_store(self) -> None:
        """The store domain: its writer, due prices, and receipts the journal has but the store has not booked."""
        assert self.engine is not None
        self.reader_engine = create_store_engine(self.config.database_path, readonly=True)
        self.room = DatabaseRoom(self.reader_engine, self.config.database_path, self.config.database_max_bytes)
        self.store = StoreDomain(
            store_id=self.config.store_id,
            writer_engine=self.engine,
            reader_engine=self.reader_engine,
            accrual_percent=self.config.loyalty.accrual_percent,
            room=self.room,
            store_name=self.config.store_name,
        )
        await self.store.start()

    async def start_broker(self) -> None:
        bus = self.config.bus
        if bus.mode != "managed":
            self._hub_password = bus.hub_password.get_secret_value() if bus.hub_password else None
            return
        # A fresh password for the hub's own login at every start: it never leaves
        # this process and the broker files are rewritten each time.
        self._hub_password = new_secret()
        self.broker = ManagedBroker(
            broker_plan(self.config), self.config.broker_workdir, hash_secret(self._hub_password)
        )
        await self.broker.start()

    async def connect_bus(self) -> None:
        assert self.metrics is not None
        will = HubStateDoc(state="offline", boot=self.boot, version=self.version, started_at=self.started_at)
        self.bus = BusConnection(
            address=self.config.bus.address(),
            client_id=f"storehub-{self.config.store_id}",
            username=HUB_USERNAME,
            password=self._hub_password,
            # The Last Will goes in before connecting (STYLE.md point 8).
            will=Will(self.topics.hub_state(), will.to_bytes()),
        )
        self.bus.start()
        self.metrics.bus_connected.set_function(lambda: 1 if self.bus and self.bus.connected else 0)
        try:
            await self.bus.wait_connected(BUS_FIRST_CONNECT_WAIT_S)
        except TimeoutError:
            address = self.config.bus.address()
            log.warning(
                "no broker at %s:%s yet; starting without it and retrying in the background", address.host, address.port
            )

    def start_devices(self) -> None:
        assert self.bus is not None and self.metrics is not None
        bus, metrics = self.bus, self.metrics
        # python-escpos caches its printer profiles in a new temporary folder per
        # process unless told where; keep them with the hub's state.
        escpos_cache = self.config.state_dir / "escpos"
        escpos_cache.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(escpos_cache))
        assert self.engine is not None
        journal = StoreDeviceJournal(self.engine, self.room)
        store = self.store
        assert store is not None
        job_events = self.job_events
        self.devices = DeviceSupervisor(
            lambda spec: BusDevicePort(bus, self.topics, spec, metrics, journal, store, job_events)
        )
        self.devices.start(device_specs(self.config))
        metrics.watch_devices(self.devices.actors)

    def init_health(self) -> None:
        """What the hub's ``status`` and /readyz report."""
        assert self.bus is not None and self.devices is not None
        self.health = HubHealth(
            store_id=self.config.store_id,
            boot=self.boot,
            version=self.version,
            started_at=self.started_at,
            bus=self.bus,
            broker=self.broker,
            devices=self.devices,
        )

    def start_requests(self) -> None:
        """Requests on the bus, to the devices and to the hub's own actions."""
        assert self.bus is not None and self.devices is not None and self.metrics is not None
        assert self.health is not None and self.store is not None and self.cloud_link is not None
        actions = HubActions(
            boot=self.boot,
            status=self.health.status,
            devices=self.devices,
            store=self.store,
            link=self.cloud_link,
            roles={client.id: client.role for client in self.config.clients},
        )
        self.router = RequestRouter(
            topics=self.topics,
            bus=self.bus,
            devices=self.devices,
            hub_actions=actions.by_name(),
            metrics=self.metrics,
            roles={client.id: client.role for client in self.config.clients},
            keys=IdempotencyKeys(),
        )
        self._undo.append(self.router.attach())

    def watch_clients(self) -> None:
        """A till that goes offline (its Last Will, or it left) loses its claims at once."""
        assert self.bus is not None and self.devices is not None
        presence = ClientPresence(self.topics, self.devices)
        self._undo.append(self.bus.subscribe(self.topics.all_client_states(), presence.client_state_changed))

    def watch_shelf(self) -> None:
        """The stale shelf labels' numbers: retained on ``hub/labels`` and in the metrics."""
        assert self.store is not None and self.metrics is not None
        self.metrics.watch_shelf(self.store.shelf_truth)
        self._undo.append(self.store.watch_shelf(self._publish_shelf))

    def _publish_shelf(self, truth: ShelfTruth) -> None:
        self._shelf = truth
        if self.bus is not None:
            self.bus.publish(self.topics.hub_labels(), labels_state(truth).to_bytes(), retain=True)

    async def start_cloud_link(self) -> None:
        """Replication: push to the cloud, fetch from it, prune, and tell ``sync/state``."""
        assert self.store is not None and self.metrics is not None and self.room is not None
        self.cloud_link = CloudLink(
            outbox=HubOutbox(self.store, self.room),
            config=self.config.cloud,
            publish_state=self._publish_sync_state,
            registry=self.metrics.registry,
            user_agent=f"storehub/{self.version} ({self.config.store_id})",
        )
        await self.cloud_link.start()

    def _publish_sync_state(self, state: SyncState) -> None:
        if self.bus is not None:
            self.bus.publish(self.topics.sync_state(), state.to_bytes(), retain=True)

    def announce_online(self) -> None:
        """Retained state first, then ``online``: now if connected, and after every (re)connect."""
        assert self.bus is not None
        self._undo.append(self.bus.on_connected(self._on_connected))
        if self.bus.connected:
            self._on_connected()

    def _on_connected(self) -> None:
        assert self.metrics is not None
        if self._announced:
            self.metrics.bus_reconnects.inc()
        self._announced = True
        self._publish_availability()

    def _publish_availability(self) -> None:
        assert self.bus is not None and self.devices is not None
        entries = [
            DeviceListEntry(id=a.id, kind=a.kind, model=a.spec.model, sharing=a.sharing) for a in self.devices.actors()
        ]
        self.bus.publish(self.topics.hub_devices(), DeviceList(devices=entries).to_bytes(), retain=True)
        for actor in self.devices.actors():
            actor.publish_state(force=True)
        if self._shelf is not None:
            self.bus.publish(self.topics.hub_labels(), labels_state(self._shelf).to_bytes(), retain=True)
        self.bus.publish(self.topics.hub_state(), self._hub_state("online").to_bytes(), retain=True)

    def _hub_state(self, state: str) -> HubStateDoc:
        return HubStateDoc(state=state, boot=self.boot, version=self.version, started_at=self.started_at)  # type: ignore[arg-type]

    async def start_api(self) -> None:
        assert self.router is not None and self.devices is not None and self.metrics is not None
        assert self.store is not None and self.cloud_link is not None and self.health is not None
        app = create_api(
            ApiServices(
                config=self.config,
                version=self.version,
                ready=self.health.ready,
                router=self.router,
                devices=self.devices,
                metrics=self.metrics,
                store=self.store,
                link=self.cloud_link,
                job_events=self.job_events,
            )
        )
        install_web(app)  # the managers' page, beside the REST API
        server_config = uvicorn.Config(
            app,
            host=self.config.api.host,
            port=self.config.api.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # Calls still open this long after SIGTERM are cut: a hub that stops must stop.
            timeout_graceful_shutdown=API_GRACE_S,
        )
        self.api_server = EmbeddedApiServer(server_config)
        self._api_task = asyncio.create_task(self.api_server.serve(), name="api")
        while not self.api_server.started:
            if self._api_task.done():
                self._api_task.result()  # raises what stopped it (say, the port is taken)
                raise RuntimeError(f"the API did not start on {self.config.api.host}:{self.config.api.port}")
            await asyncio.sleep(0.01)

    # -- shutdown, in reverse --------------------------------------------------------

    async def stop(self) -> None:
        """Undo start-up in reverse.  A step that fails is logged and the rest still run,
        so a broken part never leaves the broker or the database behind."""
        log.info("hub stopping")
        for step in (
            self.stop_api,
            self.stop_requests,
            self.stop_cloud_link,
            self.stop_devices,
            self.announce_offline,
            self.disconnect_bus,
            self.stop_broker,
            self.stop_store,
            self.close_database,
        ):
            try:
                await step()
            except Exception:
                log.exception("shutdown step %s failed; going on", step.__name__)
        log.info("hub stopped")

    async def stop_api(self) -> None:
        if self.store is not None:
            self.store.release_waiters()
        if self.api_server is not None and self._api_task is not None:
            self.api_server.should_exit = True
            await asyncio.gather(self._api_task, return_exceptions=True)

    async def stop_cloud_link(self) -> None:
        if self.cloud_link is not None:
            await self.cloud_link.stop()

    async def stop_requests(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        if self.router is not None:
            await self.router.drain(DRAIN_TIMEOUT_S)

    async def stop_devices(self) -> None:
        if self.devices is not None:
            for actor in self.devices.actors():
                actor.stop_arbitration("is stopping with the hub")
            await self.devices.stop()

    async def announce_offline(self) -> None:
        if self.bus is not None and self.bus.connected:
            info = self.bus.publish(self.topics.hub_state(), self._hub_state("offline").to_bytes(), retain=True)
            await asyncio.to_thread(info.wait_for_publish, 2.0)

    async def disconnect_bus(self) -> None:
        if self.bus is not None:
            await self.bus.close()

    async def stop_broker(self) -> None:
        if self.broker is not None:
            await asyncio.sleep(BROKER_LINGER_S)
            await self.broker.stop()

    async def stop_store(self) -> None:
        if self.store is not None:
            await self.store.stop()

    async def close_database(self) -> None:
        for engine in (self.reader_engine, self.engine):
            if engine is not None:
                engine.dispose()


def broker_plan(config: StoreHubConfig) -> BrokerPlan:
    """The broker this store needs: listening where the hub runs it, or where bus.url points."""
    if config.bus.mode == "external":
        address = config.bus.address()
        host, port, websockets_port = address.host, address.port, None
    else:
        host, port, websockets_port = config.bus.host, config.bus.port, config.bus.websockets_port or None
    return BrokerPlan(
        store=config.store_id,
        users=tuple(BrokerUser(c.id, c.secret_hash, reads_everything=c.role == "technician") for c in config.clients),
        host=host,
        port=port,
        websockets_port=websockets_port,
        websockets_interface=config.bus.websockets_binding(),
    )


def labels_state(truth: ShelfTruth) -> LabelsStateDoc:
    return LabelsStateDoc(
        count=truth.count,
        oldest_queued_at=None if truth.oldest_queued_at is None else truth.oldest_queued_at.timestamp(),
        oldest_age_s=truth.oldest_age_s,
    )


def device_specs(config: StoreHubConfig) -> list[DeviceSpec]:
    return [
        DeviceSpec(
            id=d.id,
            kind=d.kind,
            driver=d.driver,
            port=d.port,
            model=d.model,
            assigned_to=d.assigned_to,
            options=device_options(config, d.kind, d.port, d.options),
        )
        for d in config.devices
    ]


def device_options(config: StoreHubConfig, kind: str, port: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """A device's options, with what only the hub knows: an A4-sheet label printer that
    names no folder writes where managers download sheets from (``label_sheets_dir``)."""
    if kind == "label_printer" and port is None and "output_folder" not in options:
        return options | {"output_folder": str(config.label_sheets_dir)}
    return options


async def run_hub(config: StoreHubConfig) -> None:
    """Run until SIGTERM or SIGINT, then shut down in reverse order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    hub = Hub(config)
    try:
        await hub.start()
        # What start-up built (modules, the app, the devices) lives as long as the hub:
        # out of the collector's sight, a full collection no longer stalls a request
        # for ~100 ms walking it (the Labels page's p99, `storehub bench web`).
        gc.freeze()
        await stop.wait()
    finally:
        await hub.stop()
