"""Fixtures that start real things — a Mosquitto, a hub process — and always stop them."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bus.broker import find_mosquitto
from bus.client import DEFAULT_REQUEST_TIMEOUT_S, RequestTimeout, StoreHubClient
from bus.passwords import new_secret
from bus.payloads import ErrorCode, Response
from hub.throwaway import ECHO_DEVICES, Client, ThrowawayCloud, ThrowawayStore
from tests.demo_support import demos  # noqa: F401 (a fixture: demo stores as processes)

if TYPE_CHECKING:
    from devices.shtrikh import Frame

STORE = "test-store"

#: The clients every test hub knows: id -> role (each hub gives them fresh secrets).
TEST_CLIENTS = {
    "till-1": "till",
    "till-2": "till",
    "kiosk-1": "kiosk",
    "tech-1": "technician",
    "manager-1": "manager",
    "cloud": "cloud",
}

TEST_DEVICES = list(ECHO_DEVICES)


def fresh_clients(roles: dict[str, str]) -> list[Client]:
    """Clients with these roles (id -> role), each with a fresh secret."""
    return [Client(client_id, role) for client_id, role in roles.items()]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if find_mosquitto() is None:
        raise pytest.UsageError("Mosquitto is not installed; `make test` installs it")
    # `make test` runs the suite on every CPU (pytest-xdist, --dist loadgroup).  The
    # benches' tests look for processes a bench left running by their command line;
    # one worker runs them all, so none sees another's bench as its own leftover.
    for item in items:
        if "bench" in item.path.name:
            item.add_marker(pytest.mark.xdist_group("benches"))


@dataclass
class HubProcess(ThrowawayStore):
    """A hub running as its own process, as in the shop, driven from the outside: the
    test store (``hub.throwaway.ThrowawayStore``) with the tests' clients and devices.

    ``start``, ``stop`` and ``kill`` block; async tests with live clients call them
    through ``asyncio.to_thread`` so the clients keep reading their sockets meanwhile.
    """

    store_id: str = STORE
    clients: list[Client] = field(default_factory=lambda: fresh_clients(TEST_CLIENTS))
    devices: list[dict[str, Any]] = field(default_factory=lambda: [dict(device) for device in TEST_DEVICES])
    log_level: str | None = "debug"

    def broker_pid(self) -> int:
        return int((self.broker_workdir / "mosquitto.pid").read_text())


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


@dataclass
class CloudProcess(ThrowawayCloud):
    """The reference cloud (`storehub cloud serve`) as its own process, with its own SQLite
    file (``hub.throwaway.ThrowawayCloud``), serving the test store; and what tests ask of it."""

    store_tokens: dict[str, str] = field(default_factory=lambda: {STORE: new_secret()}, repr=False)

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


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudProcess]:
    """A reference cloud, configured for the test store; not started (a test may want it down first)."""
    cloud = CloudProcess(tmp_path / "cloud")
    cloud.write_config()
    try:
        yield cloud
    finally:
        cloud.stop()
