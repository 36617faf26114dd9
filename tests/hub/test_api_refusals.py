"""One envelope for every error the REST API gives (hub/api/refusals.py, docs/rest.md):
whatever refuses a call — the door, the body's validation, a role, a device, the store
or the hub failing — the answer is the bus's ``{"request_id", "ok": false, "error"}``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

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
    # The reason a till on MQTT gets for the same payload (tests/hub/test_requests.py).
    assert "a string holds a lone surrogate" in refused["error"]["message"], refused


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


def sweep_cases(hub: HubProcess) -> list[tuple[str, str, str, dict[str, str], bytes | None, int, str]]:
    till = hub.headers("till-1")
    echo = b'{"action": "echo", "request_id": "r"}'
    return [
        ("no token", "GET", "/api/v1/devices", {}, None, 401, "forbidden"),
        ("wrong secret", "GET", "/api/v1/products?q=milk", {"Authorization": "Bearer till-1:wrong"}, None, 401, "forbidden"),
        ("not a bearer", "POST", DEVICE_REQUESTS, {"Authorization": "Basic dGlsbC0xOng="} | JSON, echo, 401, "forbidden"),
        ("role may not", "GET", "/api/v1/labels", hub.headers("kiosk-1"), None, 403, "forbidden"),
        ("unknown route", "GET", "/api/v1/nowhere", till, None, 404, "not_found"),
        ("unknown route, no token", "GET", "/nowhere", {}, None, 404, "not_found"),
        ("unknown device", "GET", "/api/v1/devices/nowhere", till, None, 404, "unknown_target"),
        ("unknown device request", "POST", "/api/v1/devices/nowhere/requests", till | JSON, echo, 404, "unknown_target"),
        ("unknown product", "GET", "/api/v1/products/NOPE-1", till, None, 404, "not_found"),
        ("wrong method", "DELETE", "/api/v1/devices", till, None, 405, "invalid_request"),
        ("wrong method on an asset", "POST", "/docs/assets/swagger-ui.css", {}, b"", 405, "invalid_request"),
        ("unknown asset", "GET", "/docs/assets/nothing.js", {}, None, 404, "not_found"),
        ("invalid utf-8", "POST", DEVICE_REQUESTS, till | JSON, b'{"action": "echo", "request_id": "\xff"}', 400, "invalid_request"),
        ("nested 1000 deep", "POST", DEVICE_REQUESTS, till | JSON, nested(1000), 400, "invalid_request"),
        ("not json", "POST", DEVICE_REQUESTS, till | JSON, b"{", 400, "invalid_request"),
        ("no body", "POST", DEVICE_REQUESTS, till | JSON, b"", 400, "invalid_request"),
        ("missing field", "POST", DEVICE_REQUESTS, till | JSON, b'{"request_id": "r"}', 400, "invalid_request"),
        ("bad query", "GET", "/api/v1/products?q=", till, None, 400, "invalid_request"),
        ("bad path", "GET", "/api/v1/products/gtin/123", till, None, 400, "invalid_request"),
        ("not declared json", "POST", DEVICE_REQUESTS, till | {"Content-Type": "text/plain"}, echo, 415, "invalid_request"),
        ("no content type", "POST", DEVICE_REQUESTS, till, echo, 415, "invalid_request"),
        ("too large", "POST", DEVICE_REQUESTS, till | JSON, b'{"x": "' + b"y" * 300_000 + b'"}', 413, "invalid_request"),
    ]  # fmt: skip


def test_every_refusal_has_the_envelope_and_its_status(shared_hub: HubProcess):
    wrong = []
    for name, method, path, headers, body, status, code in sweep_cases(shared_hub):
        answer = httpx.request(method, shared_hub.api_url + path, headers=headers, content=body, timeout=10)
        try:
            assert_envelope(answer, status, code)
        except (AssertionError, ValueError) as exc:
            wrong.append(
                f"{name}: {method} {path} -> {answer.status_code} {answer.text[:120]!r} ({str(exc).splitlines()[0][:80]})"
            )
    assert not wrong, "\n".join(wrong)


def test_a_401_says_how_to_authenticate(shared_hub: HubProcess):
    answer = httpx.get(shared_hub.api_url + "/api/v1/devices")
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in assert_envelope(answer, 401, "forbidden")["error"]["message"]


def test_a_405_says_which_methods_the_path_takes(shared_hub: HubProcess):
    answer = httpx.delete(shared_hub.api_url + "/api/v1/devices", headers=shared_hub.headers("till-1"))
    assert_envelope(answer, 405, "invalid_request")
    assert "GET" in answer.headers["allow"]


def test_the_hub_logged_no_traceback_for_any_of_it(shared_hub: HubProcess):
    """After this module's refusals (pytest runs a module's tests in order)."""
    assert "Traceback" not in (shared_hub.directory / "hub.log").read_text(errors="replace"), shared_hub.log()


async def test_a_failure_of_the_hub_itself_answers_internal_with_the_envelope():
    """The last resort, on an app of its own: the hub has no route that fails on purpose."""
    from hub.api.refusals import install_refusals

    app = FastAPI()
    install_refusals(app)

    @app.get("/fails")
    async def fails() -> None:
        raise RuntimeError("a bug")

    # The app raises the exception again once it has answered, for the server to log.
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        answer = await client.get("/fails")
    body = assert_envelope(answer, 500, "internal")
    assert body["error"]["retryable"] is True and "a bug" not in body["error"]["message"]


def test_the_openapi_document_gives_every_refusal_the_envelope(shared_hub: HubProcess):
    spec = httpx.get(shared_hub.api_url + "/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    envelope = "#/components/schemas/Response"
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert "422" not in operation["responses"], where
            refusals = {s: r for s, r in operation["responses"].items() if not s.startswith("2")}
            for status, response in refusals.items():
                assert response["content"]["application/json"]["schema"]["$ref"] == envelope, (where, status)
            if path.startswith("/api/v1/"):
                assert {"401", "default"} <= set(refusals), where
