"""A property-based fuzz of every operation in the hub's OpenAPI document.

Schemathesis generates requests from ``/openapi.json`` — the document's own examples,
boundary values (its coverage phase) and random valid and invalid requests — and
sends them over HTTP to a real hub process: this module's own, seeded with a small
store, shared with no other module.  Each request carries the token of a role allowed
to use the operation, so it reaches the handler instead of stopping at 403; of the
generated ones, one in eight goes with the wrong role's token and one in eight with
none (their ``X-Fuzz-Sender`` header says which).

Generated values are steered towards the store: mostly, a path names a seeded
product, card, pickup, order or device; often a body's skus are the seeded ones; and
sometimes one integer or date-time of a body or query is swapped for a value at the
edge of what the hub stores (past 64 bits; outside years 1..9999 once in UTC).  The
cloud's sync operations go first, so what they store is then read by the others.

No answer may be a server error, a 2xx must match the schema the document gives for
it, and the hub must log no traceback.  The only 5xx that pass are the device route's
designed ones (502 device_error, 503 device_offline, 504 timeout) with their envelope.
What the fuzz found is pinned at the end, as plain requests.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import HubProcess, start_hub

#: Fuzzing cases per operation, on top of the document's examples and the coverage
#: phase's boundary cases; the cloud's feed gets more, its bodies being the richest.
MAX_EXAMPLES = 30
MAX_SYNC_EXAMPLES = 60


def fuzz_config(base_url: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": 20240611,  # with "deterministic", every run sends the same requests
            "suppress-health-check": ["all"],  # slow HTTP and filtered bodies are expected here
            "base-url": base_url,
            "request-timeout": 20,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # The test chooses each request's token (``caller``): schemathesis makes up none.
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
            "operations": [{"include-path-regex": "^/api/v1/sync/", "generation": {"max-examples": MAX_SYNC_EXAMPLES}}],
        }
    )


# -- the seeded store: the values the document's examples use, so they hit data ----------

MILK = {"sku": "MLK-001", "gtin": "4600682000013", "name": "Молоко 3,2% 0,9 л", "net_content": "0.900",
        "unit_price_basis": "l", "tax_group": 2, "version": 1}  # fmt: skip
TEA = {"sku": "TEA-017", "gtin": "4601234567893", "name": "Чай чёрный 100 пак.", "version": 1}
CARD = "7700123456789"
PICKUP, OVERDUE = "CC-1001", "CC-1002"

SKUS = [MILK["sku"], TEA["sku"]]
DEVICES = ["echo-1", "echo-2"]
#: Device actions that answer at once (not sleep, batch or crash).
DEVICE_ACTIONS = ["echo", "status", "fail"]
DEVICE_REQUESTS = "/api/v1/devices/{device_id}/requests"

#: Who may call each part of the API (hub.permissions.STORE_ROLES), by path prefix.
CALLERS = [
    ("/api/v1/sync/", "cloud"),
    ("/api/v1/labels", "manager-1"),
    ("/api/v1/pickups-overdue", "manager-1"),
    ("/api/v1/stock/", "manager-1"),
    ("/api/v1/orders", "kiosk-1"),
    ("/api/v1/devices", "tech-1"),
    ("/api/v1/", "till-1"),
]
#: Who sends a generated case: six times in eight the operation's own caller, once a
#: role it forbids, once nobody (no token).
SENDERS = ["own"] * 6 + ["wrong", "none"]
SENDER = "X-Fuzz-Sender"
#: A role each caller's operations forbid.
WRONG = {"cloud": "till-1", "manager-1": "kiosk-1", "kiosk-1": "cloud", "tech-1": "cloud", "till-1": "cloud"}

#: 5xx answers the device route gives by design, with the error code they carry.
DESIGNED_5XX = {502: "device_error", 503: "device_offline", 504: "timeout"}

#: Values at the edge of what the hub stores: SQLite's 64-bit integers, and datetimes
#: that are valid as written but fall outside years 1..9999 once converted to UTC.
EDGE_INTS = [2**63 - 1, 2**63, 2**64]
EDGE_DATETIMES = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat()


def seed(hub: HubProcess) -> str:
    """Two products with GTINs, prices and stock, a loyalty card, two pickups (one
    overdue) and a kiosk order; returns the order's id."""

    def ok(who: str, method: str, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.request(method, hub.api_url + path, json=body, headers=hub.headers(who), timeout=10)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    now = time.time()
    line = {"sku": MILK["sku"], "quantity": "1"}
    pickup = {"version": 1, "customer_name": "Анна", "code": "4821", "lines": [line]}
    ok(
        "cloud",
        "POST",
        "/api/v1/sync/inbound",
        {
            "products": [MILK, TEA],
            "prices": [
                {"sku": MILK["sku"], "version": 1, "amount": 8990, "effective_at": iso(now - 60)},
                {"sku": TEA["sku"], "version": 1, "amount": 15990},
            ],
            "loyalty": [{"card": CARD, "holder": "Иван", "balance": 100_000, "store_seq": 0, "as_of": iso(now)}],
            "pickups": [
                pickup | {"id": PICKUP, "deadline": iso(now + 86400)},
                pickup | {"id": OVERDUE, "deadline": iso(now - 3600)},
            ],
            "stock_elsewhere": [{"store_id": "store-arbat", "sku": MILK["sku"], "available": "12", "as_of": iso(now)}],
        },
    )
    for sku in SKUS:
        ok("manager-1", "POST", "/api/v1/stock/moves", {"sku": sku, "kind": "receipt", "quantity": "1000"})
    customer = {"name": "Анна", "contact": "anna@example.com", "address": "Тверская 1"}
    return ok("kiosk-1", "POST", "/api/v1/orders", {"lines": [line], "customer": customer})["id"]


@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """This module's own hub, with the store seeded: the fuzz changes it at will."""
    hub = start_hub(tmp_path_factory.mktemp("fuzz") / "hub")
    try:
        hub.kiosk_order = seed(hub)  # type: ignore[attr-defined]
        yield hub
    finally:
        hub.cleanup()


# -- steering generated values -------------------------------------------------------------


def spots(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, list]]:
    """Where in ``value`` an edge value may go: its integers and date-time strings."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from spots(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from spots(item, (*path, index))
    elif isinstance(value, int) and not isinstance(value, bool):
        yield path, EDGE_INTS
    elif isinstance(value, str) and DATETIME.match(value):
        yield path, EDGE_DATETIMES


def replaced(value: Any, path: tuple, new: Any) -> Any:
    value = copy.deepcopy(value)
    *parents, last = path
    target = value
    for step in parents:
        target = target[step]
    target[last] = new
    return value


def one_edge(value: Any) -> st.SearchStrategy:
    """``value`` with one of its integers or date-times swapped for an edge value."""
    candidates = list(spots(value))
    if not candidates:
        return st.just(value)
    return st.sampled_from(candidates).flatmap(
        lambda spot: st.sampled_from(spot[1]).map(lambda edge: replaced(value, spot[0], edge))
    )


def with_sku(value: Any, sku: str) -> Any:
    """``value`` with every string under a ``sku`` key, at any depth, set to ``sku``."""
    if isinstance(value, dict):
        return {k: sku if k == "sku" and isinstance(v, str) else with_sku(v, sku) for k, v in value.items()}
    if isinstance(value, list):
        return [with_sku(item, sku) for item in value]
    return value


def sent_by(case: schemathesis.Case, who: str) -> schemathesis.Case:
    headers = case.headers.copy()
    headers[SENDER] = who
    return case.derive(headers=headers)


def short_wait(query: dict[str, Any]) -> dict[str, Any]:
    """The feed long-polls for up to wait_s when there is no news: keep that short."""
    wait = query.get("wait_s")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > 0.05:
        return query | {"wait_s": 0.05}
    return query


@pytest.fixture(scope="module")
def api_schema(fuzz_hub: HubProcess) -> schemathesis.BaseSchema:
    document = httpx.get(fuzz_hub.api_url + "/openapi.json", timeout=10).json()
    # The cloud's operations first: the others then read what it stored.
    document["paths"] = dict(
        sorted(document["paths"].items(), key=lambda item: not item[0].startswith("/api/v1/sync/"))
    )
    schema = schemathesis.openapi.from_dict(document, config=fuzz_config(fuzz_hub.api_url))
    known = {
        "device_id": DEVICES,
        "gtin": [MILK["gtin"], TEA["gtin"]],
        "sku": SKUS,
        "card": [CARD],
        "order_id": [PICKUP, OVERDUE, fuzz_hub.kiosk_order],  # type: ignore[attr-defined]
    }

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: Any) -> st.SearchStrategy:
        """Mostly, a path names something the store has."""
        if not isinstance(path_parameters, dict):
            return st.just(path_parameters)
        names = [path_parameters | {name: value} for name in path_parameters for value in known.get(name, [])]
        return st.sampled_from([path_parameters, *names])

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> st.SearchStrategy:
        """A body as generated, with the store's skus, or with those and one value at an
        edge; a device request mostly asks for an action the echo device has."""
        if context.operation.path == DEVICE_REQUESTS and isinstance(body, dict):
            return st.sampled_from([body, *(body | {"action": action} for action in DEVICE_ACTIONS)])
        steered = st.sampled_from(SKUS).map(lambda sku: with_sku(body, sku))
        return st.one_of(st.just(body), steered, steered.flatmap(one_edge))

    @schema.hook
    def flatmap_case(context: Any, case: schemathesis.Case) -> st.SearchStrategy:
        """Who sends a generated case (see ``caller``), named in a header of its own."""
        if case.meta is not None and case.meta.phase.name.value == "examples":
            return st.just(case)
        return st.sampled_from(SENDERS).map(lambda who: sent_by(case, who))

    @schema.hook
    def flatmap_query(context: Any, query: Any) -> st.SearchStrategy:
        """A query as generated or with one value at an edge; never a long poll."""
        if not isinstance(query, dict):
            return st.just(query)
        return st.one_of(st.just(query), one_edge(query)).map(short_wait)

    return schema


# -- the fuzz ----------------------------------------------------------------------------


def caller_for(path: str) -> str | None:
    return next((who for prefix, who in CALLERS if path.startswith(prefix)), None)


def caller(case: schemathesis.Case, hub: HubProcess) -> dict[str, str]:
    """The token ``flatmap_case`` chose for the case: the operation's own caller's
    (always, for the document's examples and the coverage phase), the wrong role's, or none."""
    own = caller_for(case.operation.path)
    sender = (case.headers or {}).get(SENDER, "own")
    if own is None or sender == "none":
        return {}
    return hub.headers(WRONG[own] if sender == "wrong" else own)


def designed_5xx(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    if case.operation.path != DEVICE_REQUESTS or response.status_code not in DESIGNED_5XX:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and body.get("ok") is False
        and body["error"]["code"] == DESIGNED_5XX[response.status_code]
    )


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Schemathesis 4.32's lazy schemas read and write ``node._nodeid``, which pytest 9.2
    no longer has (it is ``node._id``): give them the attribute to work with."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_no_operation_answers_a_server_error(case: schemathesis.Case, fuzz_hub: HubProcess) -> None:
    headers = caller(case, fuzz_hub)
    response = case.call(headers=headers)
    checks = [response_schema_conformance] if response.status_code < 300 else []
    if not designed_5xx(case, response):
        checks.append(not_a_server_error)
    if checks:  # an empty list would mean schemathesis's default checks
        case.validate_response(response, checks=checks, headers=headers)


def test_the_hub_logged_no_traceback(fuzz_hub: HubProcess) -> None:
    """After the fuzz (pytest runs a module's tests in order): every refusal was handled."""
    log = (fuzz_hub.directory / "hub.log").read_text(errors="replace")
    tracebacks = [block.splitlines() for block in log.split("Traceback (most recent call last):")[1:]]
    # Of each, the project's own frames and the exception.
    summaries = [
        [line for line in lines[1:] if "/site-packages/" not in line and line.startswith("  File")]
        + [next((line for line in lines[1:] if line and not line.startswith(" ")), "?")]
        for lines in tracebacks
    ]
    assert not summaries, f"{len(summaries)} tracebacks in the hub log:\n" + "\n\n".join(
        "\n".join(summary) for summary in summaries[:10]
    )


# -- what the fuzz found -------------------------------------------------------------------

OLD, FAR = EDGE_DATETIMES  # years 0 and 10000 once in UTC


def edge_pickup(order_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": order_id, "version": 1, "customer_name": "Edge", "code": "1234", "deadline": iso(time.time() + 3600),
            "lines": [{"sku": "EDGE-1", "quantity": "1"}]} | fields  # fmt: skip


@pytest.mark.parametrize(
    ("batch", "read"),
    [
        pytest.param({"prices": [{"sku": "EDGE-1", "version": 2**63, "amount": 1}]}, None, id="price-version-2**63"),
        pytest.param(
            {"products": [{"sku": "EDGE-2", "name": "Edge", "version": 2**63}]}, None, id="product-version-2**63"
        ),
        pytest.param({"pickups": [edge_pickup("EDGE-P1", version=2**63)]}, None, id="pickup-version-2**63"),
        pytest.param(
            {"loyalty": [{"card": "EDGE-C1", "balance": 1, "store_seq": 2**63, "as_of": iso(time.time())}]},
            None,
            id="loyalty-store_seq-2**63",
        ),
        pytest.param(
            {"prices": [{"sku": "EDGE-1", "version": 2, "amount": 1, "effective_at": OLD}]},
            "/api/v1/products/EDGE-1",
            id="price-effective_at-year-0",
        ),
        pytest.param(
            {"loyalty": [{"card": "EDGE-C2", "balance": 1, "store_seq": 0, "as_of": FAR}]},
            "/api/v1/loyalty/cards/EDGE-C2",
            id="loyalty-as_of-year-10000",
        ),
        pytest.param(
            {"pickups": [edge_pickup("EDGE-P2", deadline=OLD)]}, "/api/v1/pickups/EDGE-P2", id="pickup-deadline-year-0"
        ),
        pytest.param(
            {"stock_elsewhere": [{"store_id": "edge", "sku": "EDGE-3", "available": "1", "as_of": FAR}]},
            "/api/v1/products/EDGE-3",
            id="stock_elsewhere-as_of-year-10000",
        ),
    ],
)
def test_edge_values_from_the_cloud_are_refused_or_served(
    fuzz_hub: HubProcess, batch: dict[str, Any], read: str | None
):
    """The fuzz's findings, pinned: a batch is refused (4xx) or applied, and then what
    it stored is served; never a 500."""

    def call(who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, fuzz_hub.api_url + path, headers=fuzz_hub.headers(who), timeout=10, **kwargs)

    products = [{"sku": sku, "name": "Edge", "version": 1} for sku in ("EDGE-1", "EDGE-3")]
    assert call("cloud", "POST", "/api/v1/sync/inbound", json={"products": products}).status_code == 200
    applied = call("cloud", "POST", "/api/v1/sync/inbound", json=batch)
    assert applied.status_code < 500, f"the batch: {applied.text}"
    if read is not None:
        served = call("till-1", "GET", read)
        assert served.status_code < 500, f"GET {read} after the batch was {applied.status_code}: {served.text}"


def test_a_feed_position_past_64_bits_is_refused_or_served(fuzz_hub: HubProcess):
    answer = httpx.get(
        fuzz_hub.api_url + "/api/v1/sync/events", params={"after": 2**63}, headers=fuzz_hub.headers("cloud"), timeout=10
    )
    assert answer.status_code < 500, answer.text
