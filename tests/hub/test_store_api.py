"""The store domain through a real hub process: REST as tills, kiosks, managers and the
cloud use it, and the checkout's lookups over MQTT."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import httpx
import pytest

from tests.conftest import Connect, HubProcess

MILK = {
    "sku": "MLK-001",
    "gtin": "4600682000013",
    "name": "Молоко 3,2% 0,9 л",
    "measure": "piece",
    "net_content": "0.900",
    "unit_price_basis": "l",
    "category": "Молочные продукты",
    "aisle": "B2",
    "tax_group": 2,
    "version": 1,
}
TEA = MILK | {"sku": "TEA-017", "gtin": "4601234567893", "name": "Чай чёрный 100 пак.", "net_content": None,
              "unit_price_basis": None, "category": "Чай и кофе", "aisle": "D1", "tax_group": 1}  # fmt: skip
CARD = "7700000000017"


def iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat()


class Store:
    """A hub seen from the outside: one HTTP client per role."""

    def __init__(self, hub: HubProcess) -> None:
        self.hub = hub

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, self.hub.api_url + "/api/v1" + path, headers=self.hub.headers(who), timeout=35, **kwargs
        )

    def ok(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.call(who, method, path, **kwargs)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    def inbound(self, **batch: Any) -> dict[str, Any]:
        return self.ok("cloud", "POST", "/sync/inbound", json=batch)

    def events(self, after: int = 0, **params: Any) -> dict[str, Any]:
        return self.ok("cloud", "GET", "/sync/events", params={"after": after, **params})


@pytest.fixture(scope="module")
def store(shared_hub: HubProcess) -> Store:
    store = Store(shared_hub)
    now = time.time()
    report = store.inbound(
        products=[MILK, TEA],
        prices=[
            {"sku": "MLK-001", "version": 1, "amount": 8990, "effective_at": iso(now - 60)},
            {"sku": "TEA-017", "version": 1, "amount": 15990, "effective_at": iso(now - 60)},
        ],
        loyalty=[{"card": CARD, "holder": "Иван Петров", "balance": 1000, "store_seq": 0, "as_of": iso(now - 5)}],
        stock_elsewhere=[
            {
                "store_id": "store-arbat",
                "store_name": "Магазин на Арбате",
                "sku": "MLK-001",
                "available": "12",
                "as_of": iso(now - 600),
            }
        ],
    )
    assert report["applied"] == {"products": 2, "prices": 2, "pickups": 0, "loyalty": 1, "stock_elsewhere": 1}, report
    store.ok(
        "manager-1",
        "POST",
        "/stock/moves",
        json={"sku": "MLK-001", "kind": "receipt", "quantity": "40", "reason": "delivery 118"},
    )
    return store


async def test_a_scanned_gtin_resolves_in_one_call_over_rest_and_mqtt(
    store: Store, shared_hub: HubProcess, connect: Connect
):
    product = store.ok("till-1", "GET", "/products/gtin/4600682000013")
    assert product["sku"] == "MLK-001" and product["name"] == "Молоко 3,2% 0,9 л"
    assert product["price"]["amount"] == 8990 and product["price"]["version"] == 1
    assert product["unit_price"] == {"amount": 9989, "per": "l"}  # 89.90 for 0.9 l
    assert float(product["stock"]["on_hand"]) >= 0
    [arbat] = product["elsewhere"]
    assert arbat["store_id"] == "store-arbat" and arbat["available"] == "12.000" and 500 < arbat["age_s"] < 3600

    till = await connect(shared_hub, "till-1")
    over_mqtt = (await till.request("hub", "product", {"gtin": "4600682000013"})).result
    assert over_mqtt is not None
    assert over_mqtt["sku"] == "MLK-001" and over_mqtt["price"] == product["price"]
    assert over_mqtt["stock"] == store.ok("till-1", "GET", "/products/gtin/4600682000013")["stock"]
    balance = (await till.request("hub", "loyalty_balance", {"card": CARD})).result
    assert balance is not None and balance["card"] == CARD and balance["synced_balance"] == 1000

    kiosk = await connect(shared_hub, "kiosk-1")
    found = (await kiosk.request("hub", "search_products", {"query": "МОЛОКО"})).result
    assert found is not None and [p["sku"] for p in found["products"]] == ["MLK-001"]
    unknown = await till.request("hub", "product", {"gtin": "4006381333931"})
    assert unknown.error is not None and unknown.error.code == "not_found"
    assert unknown.error.details == {"field": "gtin"}
    misread = await till.request("hub", "product", {"gtin": "4600682000014"})
    assert (
        misread.error is not None and misread.error.code == "invalid_request" and "check digit" in misread.error.message
    )
    cloud = await connect(shared_hub, "cloud")
    refused = await cloud.request("hub", "product", {"sku": "MLK-001"})
    assert refused.error is not None and refused.error.code == "forbidden"


def test_an_older_price_is_ignored_and_a_newer_one_makes_a_stale_label(store: Store):
    before = store.ok("manager-1", "GET", "/labels")["count"]
    newer = store.inbound(prices=[{"sku": "TEA-017", "version": 3, "amount": 17990}])
    assert newer["applied"]["prices"] == 1
    labels = store.ok("manager-1", "GET", "/labels")
    # Tea's label waits already (a new product's first price has no label yet): the entry
    # is brought up to the newest price, not added twice.
    assert labels["count"] == before
    tea = next(label for label in labels["labels"] if label["sku"] == "TEA-017")
    assert tea["amount"] == 17990 and tea["price_version"] == 3

    older = store.inbound(prices=[{"sku": "TEA-017", "version": 2, "amount": 14990}])
    assert older["applied"]["prices"] == 0
    assert older["ignored"] == [
        {"kind": "price", "id": "TEA-017", "version": 2, "reason": "older_version", "current_version": 3}
    ]
    assert store.ok("kiosk-1", "GET", "/products/TEA-017")["price"]["amount"] == 17990
    assert store.ok("manager-1", "GET", "/labels")["count"] == labels["count"]


def test_the_pull_feed_is_gapless_resumable_and_long_polls(store: Store):
    page = store.events(0, limit=1000)
    seqs = [event["seq"] for event in page["events"]]
    assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] == page["last_seq"]
    first = page["events"][0]
    assert set(first) == {"event_id", "store_id", "seq", "type", "occurred_at", "source", "schema", "data"}
    assert first["store_id"] == "test-store" and first["schema"] == 1
    middle = len(seqs) // 2
    resumed = store.events(middle, limit=2)
    assert [event["seq"] for event in resumed["events"]] == seqs[middle : middle + 2]

    started = time.monotonic()
    empty = store.events(page["last_seq"], wait_s=0.5)
    assert empty["events"] == [] and time.monotonic() - started >= 0.45

    async def wait_and_write() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=store.hub.api_url, timeout=35) as http:
            waiting = asyncio.create_task(
                http.get(
                    "/api/v1/sync/events",
                    params={"after": page["last_seq"], "wait_s": 20},
                    headers=store.hub.headers("cloud"),
                )
            )
            await asyncio.sleep(0.3)
            await http.post("/api/v1/stock/moves", json={"sku": "TEA-017", "kind": "receipt", "quantity": "6"},
                            headers=store.hub.headers("manager-1"))  # fmt: skip
            started = time.monotonic()
            answer = (await waiting).json()
            return answer | {"woke_after": time.monotonic() - started}

    woken = asyncio.run(wait_and_write())
    assert [event["type"] for event in woken["events"]] == ["stock.received"]
    assert woken["events"][0]["seq"] == page["last_seq"] + 1 and woken["woke_after"] < 5

    acked = store.ok("cloud", "POST", "/sync/ack", json={"upto_seq": 2})
    assert acked["acked_seq"] >= 2
    beyond = store.call("cloud", "POST", "/sync/ack", json={"upto_seq": 10**9})
    assert beyond.status_code == 400 and beyond.json()["error"]["details"]["field"] == "upto_seq"


def test_concurrent_redemptions_never_overdraw_the_synced_balance(store: Store, shared_hub: HubProcess):
    card = "7700000000031"
    store.inbound(
        loyalty=[
            {
                "card": card,
                "balance": 1000,
                "store_seq": store.events(0, limit=1)["last_seq"],
                "as_of": iso(time.time()),
            }
        ]
    )

    async def redeem_from(till: str, http: httpx.AsyncClient, n: int) -> httpx.Response:
        return await http.post(f"/api/v1/loyalty/cards/{card}/redemptions", json={"points": 70, "idempotency_key": f"{till}-{n}"},
                               headers=shared_hub.headers(till))  # fmt: skip

    async def rush() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=shared_hub.api_url, timeout=30) as http:
            return await asyncio.gather(
                *(redeem_from(till, http, n) for n in range(10) for till in ("till-1", "till-2", "manager-1"))
            )

    answers = asyncio.run(rush())
    granted = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert len(granted) == 14 and len(refused) == 16  # 14 × 70 = 980 of 1000
    for answer in refused:
        error = answer.json()["error"]
        assert answer.status_code == 409 and error["code"] == "insufficient_balance"
        assert error["details"]["available"] == 20 and error["details"]["field"] == "points"
    balance = store.ok("till-1", "GET", f"/loyalty/cards/{card}")
    assert balance["pending_redemptions"] == 980 and balance["available"] == 20
    # A retry of a granted redemption is answered again, not redeemed again.
    again = asyncio.run(
        _post(
            shared_hub,
            f"/api/v1/loyalty/cards/{card}/redemptions",
            "till-1",
            {"points": 70, "idempotency_key": "till-1-0"},
        )
    )
    assert again.status_code in (200, 409)
    assert store.ok("till-1", "GET", f"/loyalty/cards/{card}")["pending_redemptions"] == 980
    # Accrual is always allowed.
    accrued = store.ok("till-2", "POST", f"/loyalty/cards/{card}/accruals", json={"paid_amount": 10000})
    assert accrued["points"] == 500 and accrued["balance"]["available"] == 20


async def _post(hub: HubProcess, path: str, who: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=hub.api_url, timeout=30) as http:
        return await http.post(path, json=body, headers=hub.headers(who))


def test_pickup_lifecycle(store: Store):
    deadline = iso(time.time() + 86400)
    order = {"id": "CC-100231", "version": 1, "customer_name": "Анна Смирнова", "customer_contact": "+7 916 000-00-00",
             "code": "4821", "deadline": deadline, "lines": [{"sku": "MLK-001", "quantity": "2", "name": "Молоко"}]}  # fmt: skip
    assert store.inbound(pickups=[order])["applied"]["pickups"] == 1
    assert store.inbound(pickups=[order])["ignored"][0]["reason"] == "same_version"
    arrived = store.ok("till-1", "GET", "/pickups/CC-100231")
    assert arrived["state"] == "arrived" and arrived["next_states"] == ["ready", "cancelled"]
    before = store.ok("till-1", "GET", "/products/MLK-001")["stock"]

    early = store.call("till-1", "POST", "/pickups/CC-100231/transitions", json={"to": "collected", "code": "4821"})
    assert early.status_code == 409 and early.json()["error"]["details"]["state"] == "arrived"

    store.ok("till-1", "POST", "/pickups/CC-100231/transitions", json={"to": "ready"})
    held = store.ok("till-1", "GET", "/products/MLK-001")["stock"]
    assert float(held["reserved"]) == float(before["reserved"]) + 2
    assert float(held["available"]) == float(before["available"]) - 2 and held["on_hand"] == before["on_hand"]

    wrong = store.call("till-1", "POST", "/pickups/CC-100231/transitions", json={"to": "collected", "code": "1111"})
    assert wrong.status_code == 403 and wrong.json()["error"]["details"]["field"] == "code"
    collected = store.ok("till-2", "POST", "/pickups/CC-100231/transitions", json={"to": "collected", "code": "4821"})
    assert collected["state"] == "collected" and collected["next_states"] == []
    after = store.ok("till-1", "GET", "/products/MLK-001")["stock"]
    assert float(after["on_hand"]) == float(before["on_hand"]) - 2 and after["reserved"] == before["reserved"]

    twice = store.call("till-1", "POST", "/pickups/CC-100231/transitions", json={"to": "collected", "code": "4821"})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "conflict"
    types = [e["type"] for e in store.events(0, limit=1000)["events"] if e["data"].get("pickup_id") == "CC-100231"]
    assert types == ["pickup.arrived", "pickup.ready", "pickup.collected"]


def test_overdue_pickups_and_kiosk_orders(store: Store):
    late = {"id": "CC-100077", "version": 1, "customer_name": "Олег", "code": "7777", "deadline": iso(time.time() - 3600),
            "lines": [{"sku": "TEA-017", "quantity": "1"}]}  # fmt: skip
    store.inbound(pickups=[late])
    overdue = store.ok("manager-1", "GET", "/pickups-overdue")
    assert [p["id"] for p in overdue["pickups"]] == ["CC-100077"] and overdue["pickups"][0]["overdue"] is True
    assert store.ok("till-1", "GET", "/pickups", params={"overdue": "true"})["count"] == 1

    body = {"lines": [{"sku": "TEA-017", "quantity": "2"}], "idempotency_key": "kiosk-1-o-1",
            "customer": {"name": "Анна", "contact": "anna@example.com", "address": "Тверская 1, кв. 5"}}  # fmt: skip
    order = store.call("kiosk-1", "POST", "/orders", json=body)
    assert order.status_code == 201, order.text
    created = order.json()
    assert created["total"] == 2 * 17990 or created["total"] == 2 * 15990
    assert store.call("kiosk-1", "POST", "/orders", json=body).json()["id"] == created["id"]
    [event] = [e for e in store.events(0, limit=1000)["events"] if e["type"] == "order.created"]
    assert event["data"]["order_id"] == created["id"] and event["source"]["client"] == "kiosk-1"
    assert store.ok("kiosk-1", "GET", f"/orders/{created['id']}")["lines"][0]["name"] == "Чай чёрный 100 пак."


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "status", "field"),
    [
        (
            "manager-1",
            "POST",
            "/stock/moves",
            {"sku": "MLK-001", "kind": "receipt", "quantity": "-3"},
            400,
            "body.quantity",
        ),
        (
            "manager-1",
            "POST",
            "/stock/moves",
            {"sku": "MLK-001", "kind": "receipt", "quantity": "many"},
            400,
            "body.quantity",
        ),
        ("manager-1", "POST", "/stock/moves", {"sku": "MLK-001", "kind": "theft", "quantity": "1"}, 400, "body.kind"),
        ("manager-1", "POST", "/stock/moves", {"sku": "NOPE-1", "kind": "receipt", "quantity": "1"}, 404, "sku"),
        (
            "manager-1",
            "POST",
            "/stock/moves",
            {"sku": "MLK-001", "kind": "receipt", "quantity": "1", "colour": "red"},
            400,
            "body.colour",
        ),
        ("manager-1", "POST", "/stock/moves", {"sku": "MLK-001", "kind": "receipt", "quantity": "0"}, 400, "quantity"),
        # Quantities, money and flags are strict: no other script's digits, no true for 1.
        (
            "manager-1",
            "POST",
            "/stock/moves",
            {"sku": "MLK-001", "kind": "receipt", "quantity": "٣"},
            400,
            "body.quantity",
        ),
        (
            "manager-1",
            "POST",
            "/stock/moves",
            {"sku": "MLK-001", "kind": "receipt", "quantity": True},
            400,
            "body.quantity",
        ),
        (
            "kiosk-1",
            "POST",
            "/orders",
            {
                "lines": [{"sku": "MLK-001", "quantity": "٣"}],
                "customer": {"name": "Анна", "contact": "anna@example.com", "address": "Тверская 1, кв. 5"},
            },
            400,
            "body.lines.0.quantity",
        ),
        ("till-1", "POST", f"/loyalty/cards/{CARD}/redemptions", {"points": True}, 400, "body.points"),
        ("till-1", "POST", f"/loyalty/cards/{CARD}/redemptions", {"points": "5"}, 400, "body.points"),
        (
            "cloud",
            "POST",
            "/sync/inbound",
            {"prices": [{"sku": "MLK-001", "version": 9, "amount": True}]},
            400,
            "body.prices.0.amount",
        ),
        ("till-1", "GET", "/products/gtin/4600682000014", None, 400, "path.gtin"),
        ("till-1", "GET", "/products/NOPE-1", None, 404, "sku"),
        ("till-1", "POST", f"/loyalty/cards/{CARD}/redemptions", {"points": "lots"}, 400, "body.points"),
        ("till-1", "POST", f"/loyalty/cards/{CARD}/redemptions", {"points": -5}, 400, "body.points"),
        ("till-1", "POST", "/pickups/CC-404/transitions", {"to": "ready"}, 404, "id"),
        (
            "cloud",
            "POST",
            "/sync/inbound",
            {"prices": [{"sku": "MLK-001", "version": "x", "amount": 1}]},
            400,
            "body.prices.0.version",
        ),
        (
            "cloud",
            "POST",
            "/sync/inbound",
            {"products": [MILK | {"gtin": "4600682000010"}]},
            400,
            "body.products.0.gtin",
        ),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_field(store: Store, who, method, path, body, status, field):
    answer = store.call(who, method, path, json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["details"]["field"] == field, error
    assert error["message"]


def test_oversized_bodies_and_wrong_roles_are_refused(store: Store):
    huge = {"sku": "MLK-001", "kind": "receipt", "quantity": "1", "reason": "x" * 300_000}
    assert store.call("manager-1", "POST", "/stock/moves", json=huge).status_code == 413
    refusals = [
        ("kiosk-1", "POST", "/stock/moves", {"sku": "MLK-001", "kind": "receipt", "quantity": "1"}),
        ("till-1", "GET", "/sync/events", None),
        ("till-1", "GET", "/labels", None),
        ("kiosk-1", "POST", f"/loyalty/cards/{CARD}/redemptions", {"points": 1}),
        ("cloud", "GET", "/products/MLK-001", None),
    ]
    for who, method, path, body in refusals:
        answer = store.call(who, method, path, json=body)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden", (who, path, answer.text)
    assert httpx.get(store.hub.api_url + "/api/v1/products/MLK-001").status_code == 401
