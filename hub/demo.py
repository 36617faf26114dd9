"""The demo store: its own config, example clients with printed credentials, and a
simulated peripheral of every kind, driven by the real drivers.

``storehub demo`` writes ``<dir>/storehub.toml`` afresh at every start (so new device
kinds appear as the product grows) and keeps the clients' secrets in
``<dir>/credentials.json`` (mode 0600) so they stay the same from one run to the next.
The simulators run in the demo's own process: serial ones on ptys linked under
``<dir>/dev/``, network ones on loopback ports; ``storehub sim`` drives them through
``<dir>/sim.sock``.  The ports stay clear of a system Mosquitto that Debian may have
started on 1883; ``--port-base N`` moves them all (``DemoPorts``), so two demos run
side by side, and ``<dir>/ports.json`` tells `storehub sim`, `sync` and `cloud` where
this demo's are.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO

from bus.passwords import hash_secret, new_secret
from cloud_link.reference.config import StoreConfig, token_digest, write_cloud_config
from hub.config import StoreHubConfig

DEMO_STORE = "demo-store"


@dataclass(frozen=True)
class DemoPorts:
    """Every loopback port the demo listens on.  The defaults are the README's; with
    ``--port-base N`` each is N plus its field's place in this list (0 to 5)."""

    mqtt: int = 1884
    websockets: int = 9002
    rest: int = 8080
    #: The reference cloud the demo store replicates to.
    cloud: int = 8090
    #: The simulated network receipt printer (a real one listens on 9100).
    printer: int = 19100
    #: The simulated card terminal (a real one listens on 20007).
    terminal: int = 21007

    @classmethod
    def from_base(cls, base: int) -> DemoPorts:
        return cls(*(base + offset for offset in range(len(fields(cls)))))

    @classmethod
    def read(cls, directory: Path) -> DemoPorts:
        """The ports of the demo in ``directory`` (the defaults when it never wrote them)."""
        try:
            return cls(**json.loads((directory / PORTS_FILE).read_text()))
        except (OSError, ValueError, TypeError):
            return cls()

    def write(self, directory: Path) -> None:
        (directory / PORTS_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    def taken(self) -> list[tuple[str, int]]:
        """The ports some other program listens on, as (what, number)."""
        return [(PORT_NAMES[name], number) for name, number in asdict(self).items() if _taken(number)]


#: What ``storehub demo`` writes beside its config: the ports it listens on, by name.
PORTS_FILE = "ports.json"

#: ``--port-base N`` uses N to N + PORT_SPAN - 1.
PORT_SPAN = len(fields(DemoPorts))

#: How a person calls each port in a message.
PORT_NAMES = {
    "mqtt": "the MQTT port",
    "websockets": "the MQTT over WebSockets port",
    "rest": "the REST port",
    "cloud": "the reference cloud's port",
    "printer": "the simulated receipt printer's port",
    "terminal": "the simulated card terminal's port",
}


def _taken(port: int) -> bool:
    with socket.socket() as probe:
        # As the servers themselves bind: a port held only by closing connections is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def ports_taken_message(taken: list[tuple[str, int]]) -> str:
    """``the REST port 8080 is taken (by another demo?); …``, one line a port."""
    lines = [f"{what} {number} is taken (by another demo?)" for what, number in taken]
    return "\n".join(lines) + f"; choose --port-base N (the demo then uses N to N+{PORT_SPAN - 1})"


DEMO_CLIENTS = (
    ("till-1", "till", "Till 1 at the checkout"),
    ("till-2", "till", "Till 2 at the checkout"),
    ("kiosk-1", "kiosk", "Endless-aisle kiosk by the entrance"),
    ("manager-1", "manager", "The store manager"),
    ("tech-1", "technician", "Field technician"),
    ("cloud", "cloud", "The central cloud"),
)

DEMO_ECHO_DEVICES = """
[[devices]]
id = "echo-1"
kind = "echo"
options = { sharing = "shared" }

[[devices]]
id = "echo-2"
kind = "echo"
options = { sharing = "exclusive", allow_crash = true }
"""


def demo_peripherals_toml(directory: Path, ports: DemoPorts) -> str:
    """The checkout's peripherals: what they are and where the hub finds their simulators."""
    dev = directory / "dev"
    return f"""
[[devices]]
id = "scanner-1"
kind = "scanner"
driver = "serial"
port = "{dev / "scanner-1"}"
options = {{ serial_terminator = "CR" }}

[[devices]]
id = "display-1"
kind = "customer_display"
port = "{dev / "display-1"}"
options = {{ code_page = "cp866" }}

[[devices]]
id = "printer-1"
kind = "receipt_printer"
driver = "network"
port = "127.0.0.1:{ports.printer}"
model = "TM-T88V"
options = {{ drawer_pin = 2 }}

[[devices]]
id = "drawer-1"
kind = "cash_drawer"
driver = "network"
port = "127.0.0.1:{ports.printer}"
options = {{ drawer_pin = 2 }}

[[devices]]
id = "fiscal-1"
kind = "fiscal_register"
port = "{dev / "fiscal-1"}"

[[devices]]
id = "terminal-1"
kind = "payment_terminal"
options = {{ host = "127.0.0.1", port = {ports.terminal}, currency = "EUR" }}
"""


class DemoPeripherals:
    """The demo's simulated peripherals, started before the hub and stopped after it."""

    def __init__(self, directory: Path, ports: DemoPorts) -> None:
        from devices.sim.control import SimulatorDesk
        from devices.sim.customer_display import LineDisplaySimulator
        from devices.sim.escpos_printer import EscposPrinterSimulator
        from devices.sim.fiscal_register import SerialFiscalRegister
        from devices.sim.scanner import SerialScannerSimulator
        from devices.sim.zvt_terminal import ZvtTerminalSimulator

        dev, sim = directory / "dev", directory / "sim"
        self.desk = SimulatorDesk(directory / "sim.sock")
        self.scanner = SerialScannerSimulator(dev / "scanner-1", terminator="CR")
        self.display = LineDisplaySimulator(dev / "display-1", state_file=sim / "display-1.txt")
        self.printer = EscposPrinterSimulator(port=ports.printer, receipts_dir=sim / "printer-1")
        # Its memory (numbering, shift, the fiscal storage's documents) outlives the demo,
        # as a real register's outlives the hub: a restarted demo goes on numbering.
        self.register = SerialFiscalRegister(dev / "fiscal-1", state_dir=sim / "fiscal-1")
        self.terminal = ZvtTerminalSimulator(port=ports.terminal)

    async def start(self) -> None:
        self.scanner.start()
        self.display.start()
        await self.printer.start()
        self.register.start()
        await self.terminal.start()
        for device, kind, simulator in (
            ("scanner-1", "scanner", self.scanner),
            ("display-1", "customer_display", self.display),
            ("printer-1", "receipt_printer", self.printer),
            ("fiscal-1", "fiscal_register", self.register),
            ("terminal-1", "payment_terminal", self.terminal),
        ):
            self.desk.register(device, kind, simulator.desk_handlers())
        await self.desk.start()

    async def stop(self) -> None:
        await self.desk.stop()
        await self.printer.stop()
        await self.terminal.stop()
        for simulator in (self.display, self.scanner, self.register):
            if simulator.running:
                simulator.stop()
        self.register.register.close()


#: Products whose price the "cloud" changed since the shelf labels were printed, so
#: the manager finds labels to print.
DEMO_PRICE_CHANGES = 6


def seed_demo_store(config: StoreHubConfig, now: float | None = None) -> str:
    """The first time: the cloud's catalogue, prices, cards, pickups and other stores'
    stock, the opening delivery, labels printed, then a few price changes.  Later
    starts keep what the demo store has become."""
    from sqlmodel import Session, select

    from hub.db import create_store_engine, migrate
    from hub.demo_catalogue import demo_inbound, demo_stock
    from hub.store.catalogue import clear_labels
    from hub.store.domain import apply_inbound
    from hub.store.models import Product
    from hub.store.schemas import InboundBatch, PriceIn, StockMoveCreate
    from hub.store.stock import book_move

    now = time.time() if now is None else now
    engine = create_store_engine(config.database_path)
    try:
        migrate(engine)
        with Session(engine) as session:
            if session.exec(select(Product).limit(1)).first() is not None:
                return "the demo store's catalogue is already there"
            batch = demo_inbound(now)
            apply_inbound(session=session, batch=batch, now=now)
            for sku, quantity in demo_stock(batch):
                book_move(
                    session=session,
                    move=StockMoveCreate(sku=sku, kind="receipt", quantity=quantity, reason="opening stock"),
                    client="demo",
                    now=now,
                )
            clear_labels(session=session)
            changes = [
                PriceIn(sku=price.sku, version=price.version + 1, amount=price.amount + price.amount // 10 // 100 * 100)
                for price in batch.prices[:: len(batch.prices) // DEMO_PRICE_CHANGES][:DEMO_PRICE_CHANGES]
            ]
            apply_inbound(session=session, batch=InboundBatch(prices=changes), now=now)
            session.commit()
        return f"seeded the demo store: {len(batch.products)} products, {len(batch.loyalty)} loyalty cards, {len(batch.pickups)} pickups, {len(changes)} labels to print"
    finally:
        engine.dispose()


async def run_demo(config: StoreHubConfig, directory: Path, ports: DemoPorts) -> None:
    from cloud_link.reference.process import CloudServer
    from hub.app import run_hub

    peripherals = DemoPeripherals(directory.resolve(), ports)
    folder = directory.resolve() / "cloud"
    cloud = CloudServer(
        folder / "cloud.toml", f"http://127.0.0.1:{ports.cloud}", folder / "cloud.log", pid_file=folder / CLOUD_PID_FILE
    )
    await cloud.start()
    try:
        await peripherals.start()
        try:
            await run_hub(config)
        finally:
            await peripherals.stop()
    finally:
        await cloud.stop()


@dataclass(frozen=True)
class DemoCredentials:
    secrets: dict[str, str]

    def banner(self, config: StoreHubConfig) -> str:
        width = max(len(c) for c in self.secrets)
        rows = "\n".join(f"  {cid:<{width}}  {secret}" for cid, secret in self.secrets.items())
        till = "till-1"
        topics = f"storehub/v1/{config.store_id}"
        return (
            f"StoreHub demo — store {config.store_id}\n"
            f"  MQTT      mqtt://{config.bus.host}:{config.bus.port}  (WebSockets :{config.bus.websockets_port})\n"
            f"  REST      http://{config.api.host}:{config.api.port}/docs\n"
            f"  state     {config.state_dir}\n"
            f"  cloud     {config.cloud.url}/  (the reference cloud: `storehub cloud status`; "
            "a WAN outage: `storehub sync pause`, then `resume`)\n"
            f"Clients (username = id, password = secret):\n{rows}\n"
            f"Try it, in another terminal in the checkout (README: Trying it):\n"
            f"  . .venv/bin/activate      # puts storehub on PATH\n"
            f"  SECRET=$(storehub demo --secret {till})\n"
            f'  mosquitto_rr -V 5 -p {config.bus.port} -u {till} -P "$SECRET" \\\n'
            f"    -t {topics}/client/{till}/req/echo-1 -e {topics}/client/{till}/res \\\n"
            f'    -m \'{{"action": "echo", "args": {{"hello": "shop"}}, "request_id": "r1"}}\'\n'
            f'  curl -H "Authorization: Bearer {till}:$SECRET" '
            f"http://{config.api.host}:{config.api.port}/api/v1/devices\n"
        )


def prepare_demo_cloud(directory: Path, ports: DemoPorts) -> str:
    """The reference cloud's config, and its two tokens in files of their own (mode 0600):
    ``admin-token`` for `storehub cloud` commands, ``store-token`` for the demo hub.
    Returns the store's token."""
    directory.mkdir(parents=True, exist_ok=True)
    tokens = {}
    for name in ("admin-token", "store-token"):
        path = directory / name
        if not path.exists():
            path.write_text(new_secret() + "\n")
        os.chmod(path, 0o600)
        tokens[name] = path.read_text().strip()
    write_cloud_config(
        directory / "cloud.toml",
        comment="The demo's reference cloud. Rewritten by `storehub demo` at every start.",
        database="cloud.db",
        port=ports.cloud,
        admin_token_sha256=token_digest(tokens["admin-token"]),
        stores=[StoreConfig(id=DEMO_STORE, name="Demo store", token_sha256=token_digest(tokens["store-token"]))],
    )
    return tokens["store-token"]


def demo_secret(directory: Path, client: str) -> str | None:
    """``client``'s secret, when there is a demo in ``directory`` that knows it."""
    credentials = directory / "credentials.json"
    if not credentials.exists():
        return None
    return json.loads(credentials.read_text()).get(client)


def demo_api_access(directory: Path, *, client: str) -> tuple[str, str] | None:
    """The demo hub's REST address and ``client``'s bearer token, when there is a demo in ``directory``."""
    secret = demo_secret(directory, client)
    return (f"http://127.0.0.1:{DemoPorts.read(directory).rest}", f"{client}:{secret}") if secret else None


#: Held (flock) by the running demo of a folder; the kernel lets go when the demo dies,
#: however it dies, so whoever gets it knows what runs from that folder is left over.
LOCK_FILE = "demo.lock"

#: The reference cloud's pid, beside its config, for the next demo to check.
CLOUD_PID_FILE = "cloud.pid"


class DemoRunning(Exception):
    pass


def hold_demo_folder(directory: Path) -> IO[str]:
    """Claim ``directory`` for this demo until the process ends (keep the returned file
    open); raises ``DemoRunning`` when a live demo holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = open(directory / LOCK_FILE, "a+")  # not inherited: children never hold it
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise DemoRunning(f"a demo (pid {holder}) is already running in {directory}; stop it, or give --dir") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def stop_leftovers(directory: Path) -> None:
    """What a demo in ``directory`` that was killed (SIGKILL, a closed terminal) left
    running, stopped before the ports are checked (call it holding the folder): its
    broker, which outlives the hub on purpose to deliver the hub's Last Will, and a
    reference cloud the kernel did not stop with it."""
    from bus.broker import stop_stale_broker
    from cloud_link.reference.process import stop_leftover_cloud

    stop_stale_broker(directory / "state" / "broker")
    stop_leftover_cloud(directory / "cloud" / CLOUD_PID_FILE, directory / "cloud" / "cloud.toml")


def prepare_demo(directory: Path, ports: DemoPorts | None = None) -> tuple[Path, DemoCredentials]:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    ports = ports or DemoPorts()
    ports.write(directory)
    credentials_path = directory / "credentials.json"
    secrets: dict[str, str] = {}
    if credentials_path.exists():
        secrets = json.loads(credentials_path.read_text())
    for client_id, _role, _text in DEMO_CLIENTS:
        secrets.setdefault(client_id, new_secret())
    credentials_path.write_text(json.dumps(secrets, indent=2))
    os.chmod(credentials_path, 0o600)

    clients = "".join(
        f'\n[[clients]]\nid = "{cid}"\nrole = "{role}"\ndescription = "{text}"\nsecret_hash = "{hash_secret(secrets[cid])}"\n'
        for cid, role, text in DEMO_CLIENTS
    )
    store_token = prepare_demo_cloud(directory / "cloud", ports)
    config_path = directory / "storehub.toml"
    config_path.write_text(
        "# The demo store. Rewritten by `storehub demo` at every start; edit a copy instead.\n"
        f'store_id = "{DEMO_STORE}"\n'
        f'state_dir = "{directory / "state"}"\n'
        "\n[bus]\n"
        'mode = "managed"\n'
        f"port = {ports.mqtt}\n"
        f"websockets_port = {ports.websockets}\n"
        "\n[api]\n"
        f"port = {ports.rest}\n"
        "\n[cloud]\n"
        "# Pushed to the reference cloud; the pull feed stays open too, for curl.\n"
        'mode = "both"\n'
        f'url = "http://127.0.0.1:{ports.cloud}"\n'
        f'token = "{store_token}"\n'
        "# The demo's thresholds are low, so an outage drill shows warnings within minutes.\n"
        "thresholds = { backlog_warning = 50, backlog_alarm = 500, age_warning_s = 60, age_alarm_s = 600 }\n"
        + clients
        + DEMO_ECHO_DEVICES
        + demo_peripherals_toml(directory, ports)
    )
    return config_path, DemoCredentials(secrets)
