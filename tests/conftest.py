"""Fixtures that start real things — a Mosquitto, a hub process — and always stop them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from bus.broker import find_mosquitto, stop_stale_broker
from bus.client import DEFAULT_REQUEST_TIMEOUT_S, RequestTimeout, StoreHubClient
from bus.mqtt import BrokerAddress
from bus.passwords import hash_secret, new_secret
from bus.payloads import ErrorCode, Response
from cloud_link.reference.config import StoreConfig, token_digest, write_cloud_config
from tests.demo_support import demos  # noqa: F401 (a fixture: demo stores as processes)

if TYPE_CHECKING:
    from devices.shtrikh import Frame

STORE = "test-store"

#: A hub subprocess gets this long to answer /readyz after it starts.
HUB_START_TIMEOUT_S = 20.0

#: The clients every test hub knows: id -> role.
TEST_CLIENTS = {
    "till-1": "till",
    "till-2": "till",
    "kiosk-1": "kiosk",
    "tech-1": "technician",
    "manager-1": "manager",
    "cloud": "cloud",
}

TEST_DEVICES = """
[[devices]]
id = "echo-1"
kind = "echo"
options = { sharing = "shared" }

[[devices]]
id = "echo-2"
kind = "echo"
options = { sharing = "exclusive", allow_crash = true }
"""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if find_mosquitto() is None:
        raise pytest.UsageError("Mosquitto is not installed; `make test` installs it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class HubProcess:
    """A hub running as its own process, as in the shop, driven from the outside.

    ``start``, ``stop`` and ``kill`` block; async tests with live clients call them
    through ``asyncio.to_thread`` so the clients keep reading their sockets meanwhile.
    """

    directory: Path
    mqtt_port: int = field(default_factory=free_port)
    websockets_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    clients: dict[str, str] = field(default_factory=lambda: dict(TEST_CLIENTS))
    devices: str = TEST_DEVICES
    #: More of the config: top-level keys (``database_max_mb = 1``) and sections (``[cloud]``).
    top: str = ""
    sections: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.secrets = {cid: new_secret() for cid in self.clients}

    @property
    def config_path(self) -> Path:
        return self.directory / "storehub.toml"

    @property
    def broker_workdir(self) -> Path:
        return self.directory / "state" / "broker"

    @property
    def address(self) -> BrokerAddress:
        return BrokerAddress("127.0.0.1", self.mqtt_port)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def headers(self, client_id: str) -> dict[str, str]:
        """The REST bearer token of one of this hub's clients."""
        return {"Authorization": f"Bearer {client_id}:{self.secrets[client_id]}"}

    def write_config(self, *, bus: str | None = None) -> None:
        clients = "".join(
            f'\n[[clients]]\nid = "{cid}"\nrole = "{role}"\nsecret_hash = "{hash_secret(self.secrets[cid])}"\n'
            for cid, role in self.clients.items()
        )
        self.config_path.write_text(
            f'store_id = "{STORE}"\nstate_dir = "{self.directory / "state"}"\nlog_level = "debug"\n'
            + self.top
            + "[bus]\n"
            + (bus or f"port = {self.mqtt_port}\nwebsockets_port = {self.websockets_port}\n")
            + f"\n[api]\nport = {self.api_port}\n"
            + self.sections
            + clients
            + self.devices
        )

    def start(self) -> None:
        log = open(self.directory / "hub.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "run", "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = HUB_START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the hub exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/readyz", timeout=0.5) as answer:
                    if json.load(answer)["ready"]:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the hub did not become ready in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        path = self.directory / "hub.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def broker_pid(self) -> int:
        return int((self.broker_workdir / "mosquitto.pid").read_text())

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int | None:
        """SIGTERM, as systemd would; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the hub did not stop on SIGTERM:\n{self.log()}") from None

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            # A hub killed with SIGKILL leaves its broker behind on purpose (so the Last
            # Will is delivered); the test that killed it must not leave it running.
            stop_stale_broker(self.broker_workdir)


def start_hub(directory: Path, **kwargs: Any) -> HubProcess:
    directory.mkdir(parents=True, exist_ok=True)
    hub = HubProcess(directory, **kwargs)
    hub.write_config()
    hub.start()
    return hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A fresh hub for tests that kill or restart things."""
    hub = start_hub(tmp_path / "hub")
    try:
        yield hub
    finally:
        hub.cleanup()


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """One hub for a module of tests that leave it as they found it."""
    hub = start_hub(tmp_path_factory.mktemp("hub"))
    try:
        yield hub
    finally:
        hub.cleanup()


Connect = Callable[..., Awaitable[StoreHubClient]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """``await connect(hub, "till-1", protocol=4)``: a logged-in client, closed afterwards."""
    clients: list[StoreHubClient] = []

    async def _connect(
        hub: HubProcess, client_id: str, *, protocol: int = 5, secret: str | None = None
    ) -> StoreHubClient:
        client = StoreHubClient(
            store=STORE,
            client_id=client_id,
            secret=secret if secret is not None else hub.secrets[client_id],
            address=hub.address,
            protocol=protocol,  # type: ignore[arg-type]
        )
        await client.connect(timeout=5)
        clients.append(client)
        return client

    yield _connect
    for client in clients:
        try:
            await client.close()
        except Exception:
            pass


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- waiting ----------------------------------------------------------------------------


async def until(predicate: Callable[[], object], timeout: float, what: str = "condition") -> float:
    """Poll ``predicate`` until it is true; return how long that took.

    Fails the test if it is still false after ``timeout`` seconds.
    """
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"{what} not reached within {timeout} s"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def until_device_online(
    till: StoreHubClient,
    hub: HubProcess,
    device: str,
    timeout: float,
    *,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
) -> Response:
    """Ask ``device`` for its status until it answers ok; return that answer.

    The hub opens its devices after it reports ready: until then a status request is
    answered ``device_offline`` (anything else fails the test) or, from a hub still
    starting, not at all within ``request_timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = await till.request(device, "status", timeout=request_timeout)
        except RequestTimeout:
            pass
        else:
            if status.ok:
                return status
            assert status.error is not None and status.error.code == ErrorCode.DEVICE_OFFLINE, status
        assert time.monotonic() < deadline, f"{device} never came online:\n{hub.log()}"
        await asyncio.sleep(0.05)


# -- simulated fiscal register ------------------------------------------------------------


class CommandHook:
    """A register hook (``sim.on_command(hook)``) that calls ``act()`` once, when the
    register reaches the ``nth`` frame of ``command`` at ``stage`` ("received": it took
    the command and has not acted on it yet; "replied": its answer went out).

    ``reached`` is set once ``act`` has run.  The hook runs on the simulator's thread, so
    ``act`` happens at that very byte of the line.
    """

    def __init__(self, command: int, stage: str, nth: int, act: Callable[[], object]) -> None:
        self.command, self.stage, self.nth, self.act = command, stage, nth, act
        self.reached = threading.Event()
        self.seen = 0

    def __call__(self, frame: Frame, stage: str) -> None:
        if frame.cmd == self.command and stage == self.stage:
            self.seen += 1
            if self.seen == self.nth:
                self.act()
                self.reached.set()


def at_nth_command(command: int, stage: str, nth: int, act: Callable[[], object]) -> CommandHook:
    """``act()`` at the ``nth`` frame of ``command`` at ``stage``: see ``CommandHook``."""
    return CommandHook(command, stage, nth, act)


# -- the reference cloud ------------------------------------------------------------------

#: `storehub cloud serve` gets this long to answer /healthz.
CLOUD_START_TIMEOUT_S = 15.0


@dataclass
class CloudProcess:
    """The reference cloud (`storehub cloud serve`) as its own process, with its own SQLite file."""

    directory: Path
    port: int = field(default_factory=free_port)
    admin_token: str = field(default_factory=new_secret)
    store_tokens: dict[str, str] = field(default_factory=lambda: {STORE: new_secret()})
    #: Stores the cloud pulls: store -> (hub URL, bearer the hub expects).
    pulls: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: (certfile, keyfile, the authority that signed them) to serve HTTPS.
    tls: tuple[Path, Path, Path] | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "cloud.toml"

    def write_config(self) -> None:
        stores = []
        for store, token in self.store_tokens.items():
            pull_url, pull_token = self.pulls.get(store, (None, None))
            stores.append(
                StoreConfig(id=store, token_sha256=token_digest(token), pull_url=pull_url, pull_token=pull_token)
            )
        write_cloud_config(
            self.config_path,
            database="cloud.db",
            port=self.port,
            admin_token_sha256=token_digest(self.admin_token),
            certfile=self.tls[0] if self.tls else None,
            keyfile=self.tls[1] if self.tls else None,
            stores=stores,
        )

    def hub_section(self, store: str = STORE, *, mode: str = "push", **settings: Any) -> str:
        """The `[cloud]` section of a hub that talks to this cloud, with test-sized timings."""
        values: dict[str, Any] = {
            "mode": mode,
            "url": self.url,
            "token": self.store_tokens[store],
            "request_timeout_s": 2,
            "backoff_initial_s": 0.05,
            "backoff_max_s": 0.5,
            "inbound_wait_s": 5,
            "state_interval_s": 0.5,
        } | settings
        return "\n[cloud]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())

    def start(self) -> None:
        self.write_config()
        log = open(self.directory / "cloud.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "cloud", "serve", "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + CLOUD_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the cloud exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.admin("GET", "/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the cloud did not start in {CLOUD_START_TIMEOUT_S} s:\n{self.log()}")

    def log(self) -> str:
        path = self.directory / "cloud.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def admin(self, method: str, path: str, **request: Any) -> httpx.Response:
        return httpx.request(
            method,
            self.url + path,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            verify=ssl.create_default_context(cafile=self.tls[2]) if self.tls else True,
            **({"timeout": 10} | request),
        )

    def store(self, store: str = STORE) -> dict[str, Any]:
        answer = self.admin("GET", "/v1/admin/stores")
        assert answer.status_code == 200, answer.text
        return next(s for s in answer.json()["stores"] if s["store_id"] == store)

    def events(self, store: str = STORE) -> list[dict[str, Any]]:
        """Every event the cloud holds for ``store``, in seq order."""
        events: list[dict[str, Any]] = []
        while True:
            after = events[-1]["seq"] if events else 0
            answer = self.admin("GET", f"/v1/admin/stores/{store}/events", params={"after": after, "limit": 10000})
            assert answer.status_code == 200, answer.text
            page = answer.json()["events"]
            if not page:
                return events
            events += page

    def faults(self, **faults: Any) -> dict[str, Any]:
        answer = self.admin("POST", "/v1/admin/faults", json=faults)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def publish(self, store: str = STORE, **items: list[dict[str, Any]]) -> dict[str, Any]:
        answer = self.admin("POST", f"/v1/admin/stores/{store}/inbound", json=items)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudProcess]:
    """A reference cloud, configured for the test store; not started (a test may want it down first)."""
    cloud = CloudProcess(tmp_path / "cloud")
    cloud.write_config()
    try:
        yield cloud
    finally:
        cloud.stop()
