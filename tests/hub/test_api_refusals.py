"""The REST API's refusals (hub/api_refusals.py, docs/rest.md): every JSON body is read
as the bus reads it, and what is not JSON gets the invalid_request envelope."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import HubProcess

ENVELOPE = {"request_id", "ok", "result", "error"}
ERROR = {"code", "message", "retryable", "details"}
DEVICE_REQUESTS = "/api/v1/devices/echo-1/requests"
JSON = {"Content-Type": "application/json"}


def nested(depth: int) -> bytes:
    """A device request whose args hold lists ``depth`` levels deep."""
    return b'{"action": "echo", "request_id": "deep", "args": {"a": ' + b"[" * depth + b"]" * depth + b"}}"


def assert_envelope(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json", answer.headers
    body = answer.json()
    assert set(body) == ENVELOPE and body["ok"] is False and body["result"] is None, body
    assert set(body["error"]) == ERROR and body["error"]["code"] == code, body
    assert body["error"]["message"], body
    return body


#: A JSON object with a lone surrogate in a string (the escape ``\ud800``, written as
#: bytes: Python would not let a str hold it on its way out).
LONE_SURROGATES = {
    "high-in-args": b'{"action": "echo", "request_id": "r1", "args": {"s": "\\ud800"}}',
    "low-in-request-id": b'{"action": "echo", "request_id": "\\udc00"}',
    "in-a-key": b'{"action": "echo", "request_id": "r2", "args": {"\\ud800": 1}}',
}


@pytest.mark.parametrize("body", LONE_SURROGATES.values(), ids=LONE_SURROGATES.keys())
def test_a_lone_surrogate_in_a_device_request_is_refused(shared_hub: HubProcess, body: bytes):
    answer = httpx.post(shared_hub.api_url + DEVICE_REQUESTS, headers=shared_hub.headers("till-1") | JSON, content=body)
    refused = assert_envelope(answer, 400, "invalid_request")
    assert refused["error"]["details"]["field"] == "body"
    assert "surrogate" in refused["error"]["message"] or "hex escape" in refused["error"]["message"]


#: Who may send a body to each part of the API (hub.permissions.STORE_ROLES).
BODY_SENDERS = [("/api/v1/sync/", "cloud"), ("/api/v1/stock/", "manager-1"), ("/api/v1/orders", "kiosk-1")]

#: Bodies no JSON route may take, each refused at the door.
BAD_JSON = {
    "lone-surrogate": b'{"sku": "\\ud800", "request_id": "\\udfff"}',
    "invalid-utf-8": b'{"sku": "\xff\xfe"}',
    "nested-1000-deep": b'{"lines": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    "not-json": b'{"sku": ',
}


@pytest.mark.parametrize("body", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_every_json_route_refuses_what_is_not_json_with_the_envelope(shared_hub: HubProcess, body: bytes):
    """Every operation that takes a body, as the OpenAPI document lists them."""
    spec = httpx.get(shared_hub.api_url + "/openapi.json").json()
    operations = [
        (method, path.replace("{device_id}", "echo-1").replace("{card}", "7700000000017").replace("{order_id}", "CC-1"))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]
    assert len(operations) >= 8, operations
    for method, path in operations:
        who = next((who for prefix, who in BODY_SENDERS if path.startswith(prefix)), "till-1")
        answer = httpx.request(
            method, shared_hub.api_url + path, headers=shared_hub.headers(who) | JSON, content=body, timeout=10
        )
        refused = assert_envelope(answer, 400, "invalid_request")
        assert refused["error"]["details"]["field"] == "body", (method, path, refused)


def test_bodies_nested_past_the_bus_limit_are_refused_and_shallower_ones_served(shared_hub: HubProcess):
    """The same limit as on MQTT (the bus's parser): 200 levels."""
    headers = shared_hub.headers("till-1") | JSON
    for depth in (201, 900, 1000, 5000):
        answer = httpx.post(shared_hub.api_url + DEVICE_REQUESTS, headers=headers, content=nested(depth))
        assert_envelope(answer, 400, "invalid_request")
    served = httpx.post(shared_hub.api_url + DEVICE_REQUESTS, headers=headers, content=nested(150))
    assert served.status_code == 200 and served.json()["ok"] is True, served.text


def test_the_hub_logged_no_traceback_for_any_of_it(shared_hub: HubProcess):
    """After this module's refusals (pytest runs a module's tests in order)."""
    assert "Traceback" not in (shared_hub.directory / "hub.log").read_text(errors="replace"), shared_hub.log()
