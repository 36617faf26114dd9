"""The demo store before it opens: what it writes in its folder (the hub's config afresh
at every start, the clients' credentials kept from run to run, the reference cloud's
config and tokens), and its database seeded once from the demo catalogue.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bus.passwords import new_secret
from cloud_link.reference.config import StoreConfig, token_digest, write_cloud_config
from hub.config import StoreHubConfig
from hub.demo.peripherals import demo_peripheral_devices
from hub.demo.ports import DemoPorts
from hub.throwaway import ECHO_DEVICES, Client, ManagedBus, write_hub_config

DEMO_STORE = "demo-store"

#: The shop's name as shoppers know it: its receipts say it, and every shelf label.
DEMO_STORE_NAME = "Ромашка"

DEMO_CLIENTS = (
    ("till-1", "till", "Till 1 at the checkout"),
    ("till-2", "till", "Till 2 at the checkout"),
    ("kiosk-1", "kiosk", "Endless-aisle kiosk by the entrance"),
    ("manager-1", "manager", "The store manager"),
    ("tech-1", "technician", "Field technician"),
    ("cloud", "cloud", "The central cloud"),
)


#: Products whose price the "cloud" changed since the shelf labels were printed, so
#: the manager finds labels to print.
DEMO_PRICE_CHANGES = 6


def seed_demo_store(config: StoreHubConfig, now: float | None = None) -> str:
    """The first time: the cloud's catalogue, prices, cards, pickups and other stores'
    stock, the opening delivery, labels printed, then a few price changes.  Later
    starts keep what the demo store has become."""
    from sqlmodel import Session, select

    from hub.db import create_store_engine, migrate
    from hub.demo.catalogue import demo_inbound, demo_stock
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

    store_token = prepare_demo_cloud(directory / "cloud", ports)
    config_path = write_hub_config(
        directory / "storehub.toml",
        comment=(
            "The demo store. Rewritten by `storehub demo` at every start; edit a copy instead.\n"
            "It pushes to the reference cloud, and the pull feed stays open too, for curl.\n"
            "Its cloud thresholds are low, so an outage drill shows warnings within minutes."
        ),
        store_id=DEMO_STORE,
        settings={"store_name": DEMO_STORE_NAME},
        state_dir=directory / "state",
        bus=ManagedBus(ports.mqtt, ports.websockets),
        api_port=ports.rest,
        cloud={
            "mode": "both",
            "url": f"http://127.0.0.1:{ports.cloud}",
            "token": store_token,
            "thresholds": {"backlog_warning": 50, "backlog_alarm": 500, "age_warning_s": 60, "age_alarm_s": 600},
        },
        clients=[Client(cid, role, secrets[cid], text) for cid, role, text in DEMO_CLIENTS],
        devices=[*ECHO_DEVICES, *demo_peripheral_devices(directory, ports)],
    )
    return config_path, DemoCredentials(secrets)
