"""A throwaway store: a hub's config written for one run, the hub as its own process,
and the reference cloud beside it, on free loopback ports.  The tests' fixtures and the
benches build their stores from this; the demo writes its config with it too.

The pieces, from the bottom up:

``free_loopback_ports(count) -> list[int]``
    Distinct ports the kernel says are free on 127.0.0.1.

``write_hub_config(path, *, store_id, state_dir, bus, api_port, …) -> Path``
    The one writer of a hub's TOML (tomli-w, mode 0600).  Keyword arguments:
    ``store_id``, ``state_dir``, ``log_level`` (omitted: the hub's default), ``settings``
    (more top-level keys, e.g. ``{"database_max_mb": 1}``), ``bus`` (``ManagedBus(port,
    websockets_port)``: the hub runs Mosquitto on those ports; ``ExternalBus(url,
    hub_password)``: it logs in to someone else's), ``api_port`` and ``api_host``,
    ``cloud`` (the ``[cloud]`` table as a dict, nested tables such as ``thresholds``
    included), ``clients`` (``Client(id, role, secret, description)``: the secret is
    written as its hash, ``bus.passwords.hash_secret``; a Client made without one gets a
    fresh one), ``devices`` (each a dict: ``{"id": "echo-1", "kind": "echo", "options":
    {"sharing": "shared"}}``) and ``comment`` (the file's first lines, as ``#`` comments).

``HubServer(config, *, api_url, log)``
    One hub process, ``python -m hub.cli run --config …``, its output appended to
    ``log``, in its own session (a Ctrl-C meant for the caller does not reach it) and
    without the caller's ``STOREHUB_*`` variables (the config alone decides).
    ``launch()`` starts it and returns; ``wait_ready()`` waits until ``/readyz`` says
    ready, raising RuntimeError with the log's tail if the hub exits or time runs out;
    ``start()`` is both.  ``stop()`` sends SIGTERM and returns the exit code (after
    ``timeout`` it kills the hub and raises ``HubDidNotStop``); ``kill()`` is SIGKILL;
    ``log()`` is the log's tail.  Its methods block: async callers use
    ``asyncio.to_thread``.

``ThrowawayStore(directory, store_id, …)``
    A store in a folder: its config (``storehub.toml``), state (``state/``) and log
    (``hub.log``), its ports (free ones unless given), clients, devices and settings as
    data; ``write_config()`` writes them with ``write_hub_config``; ``server`` is its
    ``HubServer``, and ``start``, ``stop``, ``kill`` and ``log`` go to it.  ``cleanup()``
    stops the hub and then a broker a killed hub left behind (it outlives the hub on
    purpose, to deliver the hub's Last Will).  ``secrets``, ``headers(client)``,
    ``address`` and ``api_url`` are how its clients reach it.

``ThrowawayCloud(directory, …)``
    The reference cloud in a folder: its config (``cloud.toml``, written by
    ``cloud_link.reference.config.write_cloud_config``), its tokens, the stores it pulls
    and TLS, and its process, ``cloud_link.reference.process.CloudServer``.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tomli_w
from stdnum import ean

from bus.broker import stop_stale_broker
from bus.mqtt import BrokerAddress
from bus.passwords import hash_secret, new_secret
from cloud_link.reference.config import StoreConfig, token_digest, write_cloud_config
from cloud_link.reference.process import CloudServer

#: A hub runs its migrations and starts its broker before /readyz says ready; generous
#: for a machine running a test suite.
READY_TIMEOUT_S = 20.0

#: After SIGTERM a hub publishes its devices offline, then itself; it is killed after this.
STOP_TIMEOUT_S = 15.0

#: How often the start-up wait asks /readyz again (and looks whether the hub exited).
POLL_INTERVAL_S = 0.05

#: How much of a log the error messages and ``log()`` show.
LOG_TAIL_CHARS = 4000

#: The diagnostic devices of the demo's and the tests' stores: a shared one, and an
#: exclusive one that can be told to crash (for the supervisor's restarts).
ECHO_DEVICES: tuple[dict[str, Any], ...] = (
    {"id": "echo-1", "kind": "echo", "options": {"sharing": "shared"}},
    {"id": "echo-2", "kind": "echo", "options": {"sharing": "exclusive", "allow_crash": True}},
)


def free_loopback_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (all held open at once, so distinct), drawn below the
    kernel's ephemeral range: a port the kernel hands out for ``bind(0)`` is the next
    one any outgoing connection may take as its source (another test's, a till's)
    before the server binds it; a port below the range is taken only by whoever asks."""
    highest = _ephemeral_ports_start() - 1
    chosen: list[int] = []
    with contextlib.ExitStack() as stack:
        for _ in range(FREE_PORT_TRIES):
            if len(chosen) == count:
                return chosen
            port = random.randint(LOWEST_FREE_PORT, highest)
            probe = stack.enter_context(socket.socket())
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen.append(port)
    raise RuntimeError(f"no {count} free loopback ports between {LOWEST_FREE_PORT} and {highest}")


#: Where the throwaway stores' ports are drawn from, up to the ephemeral range.
LOWEST_FREE_PORT = 10_000
FREE_PORT_TRIES = 1000


def _ephemeral_ports_start() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default
    return max(low, LOWEST_FREE_PORT + 1000)


def shelf_products(count: int, first: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` products with right EAN-13s and a price each, as the head office
    publishes them (``ThrowawayCloud.publish``): as many new shelf labels in a store."""
    products, prices = [], []
    for n in range(first, first + count):
        stem = f"460{n:09d}"
        sku = f"B-{n:05d}"
        name = f"Товар для полки №{n}, 500 г"
        products.append({"sku": sku, "version": 1, "gtin": stem + ean.calc_check_digit(stem), "name": name})
        prices.append({"sku": sku, "version": 1, "amount": 9990 + n})
    return products, prices


# -- the hub's config ----------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """A till, kiosk, manager, technician or cloud the hub knows; ``secret`` is its
    password on the bus and its REST bearer's second half."""

    id: str
    role: str
    secret: str = field(default_factory=new_secret, repr=False)
    description: str = ""

    def table(self) -> dict[str, str]:
        described = {"description": self.description} if self.description else {}
        return {"id": self.id, "role": self.role} | described | {"secret_hash": hash_secret(self.secret)}


@dataclass(frozen=True)
class ManagedBus:
    """The hub runs Mosquitto itself on these loopback ports (``websockets_port`` 0: none)."""

    port: int
    websockets_port: int = 0

    def table(self) -> dict[str, Any]:
        return {"mode": "managed", "port": self.port, "websockets_port": self.websockets_port}


@dataclass(frozen=True)
class ExternalBus:
    """The hub logs in to a broker somebody else runs, as user ``storehub-hub``."""

    url: str
    hub_password: str = field(repr=False)

    def table(self) -> dict[str, Any]:
        return {"mode": "external", "url": self.url, "hub_password": self.hub_password}


def write_hub_config(
    path: Path,
    *,
    store_id: str,
    state_dir: Path,
    bus: ManagedBus | ExternalBus,
    api_port: int,
    api_host: str = "127.0.0.1",
    log_level: str | None = None,
    settings: Mapping[str, Any] | None = None,
    cloud: Mapping[str, Any] | None = None,
    clients: Iterable[Client] = (),
    devices: Iterable[Mapping[str, Any]] = (),
    comment: str | None = None,
) -> Path:
    """Write a hub's config to ``path`` (its folder made if missing; mode 0600: it holds
    the secrets' hashes, and an external broker's password); see the module's docstring
    for each argument."""
    document: dict[str, Any] = {"store_id": store_id, "state_dir": str(state_dir)}
    if log_level is not None:
        document["log_level"] = log_level
    document |= dict(settings or {})
    document["bus"] = bus.table()
    document["api"] = {"host": api_host, "port": api_port}
    if cloud is not None:
        document["cloud"] = dict(cloud)
    if tables := [client.table() for client in clients]:
        document["clients"] = tables
    if tables := [dict(device) for device in devices]:
        document["devices"] = tables
    text = tomli_w.dumps(document)
    if comment:
        text = "".join(f"# {line}\n" for line in comment.splitlines()) + text
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    path.chmod(0o600)  # an existing file keeps its mode through os.open
    return path


# -- the hub as a process ------------------------------------------------------------


class HubDidNotStop(RuntimeError):
    """SIGTERM did not end the hub in time; it was killed."""


def child_environment() -> dict[str, str]:
    """This environment without STOREHUB_* overrides, which would bend the config."""
    return {k: v for k, v in os.environ.items() if not k.startswith("STOREHUB_")}


class HubServer:
    """One hub process run from ``config``; see the module's docstring."""

    def __init__(self, config: Path, *, api_url: str, log: Path) -> None:
        self.config = config
        self.api_url = api_url
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def returncode(self) -> int | None:
        """None while it runs (or before it started)."""
        return self.process.poll() if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self) -> None:
        if self.running:
            raise RuntimeError("the hub is running already")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "run", "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(),
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        with httpx.Client(trust_env=False) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the hub exited with {self.process.returncode}:\n{self.log()}")
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    if http.get(f"{self.api_url}/readyz", timeout=0.5).json()["ready"]:
                        return
                time.sleep(POLL_INTERVAL_S)
        raise RuntimeError(f"the hub did not become ready in {timeout:g} s:\n{self.log()}")

    def start(self, timeout: float = READY_TIMEOUT_S) -> None:
        self.launch()
        self.wait_ready(timeout)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, as systemd would; returns the exit code (None: it never started)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise HubDidNotStop(f"the hub did not stop on SIGTERM within {timeout:g} s:\n{self.log()}") from None

    def kill(self) -> None:
        """SIGKILL, as a power cut would end it (its broker stays: see ``ThrowawayStore.cleanup``)."""
        assert self.process is not None, "launch() first"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""


# -- a store in a folder -------------------------------------------------------------


@dataclass
class ThrowawayStore:
    """A store's hub in ``directory``; see the module's docstring.  Ports left at 0 are
    picked free; ``bus`` None is a broker the hub runs itself on ``mqtt_port`` and
    ``websockets_port``."""

    directory: Path
    store_id: str
    clients: list[Client] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    log_level: str | None = None
    #: More top-level keys of the config (``database_max_mb``).
    settings: dict[str, Any] = field(default_factory=dict)
    #: The [cloud] table, when the store talks to a cloud.
    cloud: dict[str, Any] | None = None
    bus: ManagedBus | ExternalBus | None = None
    comment: str | None = None
    mqtt_port: int = 0
    websockets_port: int = 0
    api_port: int = 0
    server: HubServer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        unset = [name for name in ("mqtt_port", "websockets_port", "api_port") if not getattr(self, name)]
        for name, port in zip(unset, free_loopback_ports(len(unset)), strict=True):
            setattr(self, name, port)
        self.server = HubServer(self.config_path, api_url=self.api_url, log=self.directory / "hub.log")

    @property
    def config_path(self) -> Path:
        return self.directory / "storehub.toml"

    @property
    def state_dir(self) -> Path:
        return self.directory / "state"

    @property
    def broker_workdir(self) -> Path:
        """Where the broker the hub runs keeps its files (managed bus only)."""
        return self.state_dir / "broker"

    @property
    def address(self) -> BrokerAddress:
        return BrokerAddress("127.0.0.1", self.mqtt_port)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def secrets(self) -> dict[str, str]:
        return {client.id: client.secret for client in self.clients}

    def headers(self, client_id: str) -> dict[str, str]:
        """The REST bearer token of one of this store's clients."""
        return {"Authorization": f"Bearer {client_id}:{self.secrets[client_id]}"}

    def write_config(self, *, bus: ManagedBus | ExternalBus | None = None) -> Path:
        """The config as the fields say now; ``bus`` for this writing instead of the field's."""
        return write_hub_config(
            self.config_path,
            store_id=self.store_id,
            state_dir=self.state_dir,
            log_level=self.log_level,
            settings=self.settings,
            bus=bus or self.bus or ManagedBus(self.mqtt_port, self.websockets_port),
            api_port=self.api_port,
            cloud=self.cloud,
            clients=self.clients,
            devices=self.devices,
            comment=self.comment,
        )

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.server.process

    def launch(self) -> None:
        self.server.launch()

    def start(self, timeout: float = READY_TIMEOUT_S) -> None:
        self.server.start(timeout)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        self.server.wait_ready(timeout)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        return self.server.stop(timeout)

    def kill(self) -> None:
        self.server.kill()

    def log(self) -> str:
        return self.server.log()

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            # A hub killed with SIGKILL leaves its broker behind on purpose (so the Last
            # Will is delivered); whoever killed it must not leave that running.
            if not isinstance(self.bus, ExternalBus):
                stop_stale_broker(self.broker_workdir)


# -- the reference cloud -------------------------------------------------------------


@dataclass
class ThrowawayCloud:
    """The reference cloud in ``directory``, on a free loopback port unless given."""

    directory: Path
    port: int = 0
    admin_token: str = field(default_factory=new_secret, repr=False)
    #: The stores it serves: store id -> the token the store pushes with.
    store_tokens: dict[str, str] = field(default_factory=dict, repr=False)
    #: Stores the cloud pulls: store -> (hub URL, bearer the hub expects).
    pulls: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: (certfile, keyfile, the authority that signed them) to serve HTTPS.
    tls: tuple[Path, Path, Path] | None = None
    server: CloudServer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.port:
            [self.port] = free_loopback_ports(1)
        self.server = CloudServer(self.config_path, self.url, self.directory / "cloud.log", verify=self.verify)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "cloud.toml"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """How a client trusts this cloud: its own authority when it speaks HTTPS."""
        return ssl.create_default_context(cafile=self.tls[2]) if self.tls else True

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.server.process

    def write_config(self) -> Path:
        stores = []
        for store, token in self.store_tokens.items():
            pull_url, pull_token = self.pulls.get(store, (None, None))
            stores.append(
                StoreConfig(id=store, token_sha256=token_digest(token), pull_url=pull_url, pull_token=pull_token)
            )
        return write_cloud_config(
            self.config_path,
            database="cloud.db",
            port=self.port,
            admin_token_sha256=token_digest(self.admin_token),
            certfile=self.tls[0] if self.tls else None,
            keyfile=self.tls[1] if self.tls else None,
            stores=stores,
        )

    def hub_section(self, store: str | None = None, *, mode: str = "push", **settings: Any) -> dict[str, Any]:
        """The `[cloud]` table of a hub that talks to this cloud (``store``: the only one
        it serves unless named), with quick timings: a throwaway store does not wait."""
        return {
            "mode": mode,
            "url": self.url,
            "token": self.store_tokens[store or self._only_store()],
            "request_timeout_s": 2,
            "backoff_initial_s": 0.05,
            "backoff_max_s": 0.5,
            "inbound_wait_s": 5,
            "state_interval_s": 0.5,
        } | settings

    def admin(self, method: str, path: str, **request: Any) -> httpx.Response:
        """A call to the cloud's admin API, as the chain's head office makes it."""
        return httpx.request(
            method,
            self.url + path,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            verify=self.verify,
            **({"timeout": 10} | request),
        )

    def publish(self, store: str | None = None, **items: list[dict[str, Any]]) -> dict[str, Any]:
        """Products, prices or pickups the head office publishes for ``store``."""
        answer = self.admin("POST", f"/v1/admin/stores/{store or self._only_store()}/inbound", json=items)
        if answer.status_code != 200:
            raise RuntimeError(f"the cloud refused the publication: {answer.status_code} {answer.text}")
        return answer.json()

    def _only_store(self) -> str:
        [store] = self.store_tokens
        return store

    def start(self) -> None:
        """Its config as the fields say now, then the cloud, waited for until it answers."""
        self.write_config()
        try:
            self.server.start()
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}:\n{self.log()}") from None

    def stop(self) -> None:
        self.server.stop()

    def kill(self) -> None:
        self.server.kill()

    def log(self) -> str:
        return self.server.log_tail(LOG_TAIL_CHARS)
