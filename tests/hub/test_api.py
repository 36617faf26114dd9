"""The REST door: tokens checked, health and metrics visible, OpenAPI served."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import HubProcess
from tests.offline_pages import assert_served_whole_by


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer till-1:wrong", "Bearer nobody:whatever", "Bearer till-1", "Basic dGlsbC0xOng="],
)
def test_calls_without_a_valid_token_get_401(shared_hub: HubProcess, authorization: str | None):
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in (
        ("GET", "/api/v1/devices"),
        ("GET", "/api/v1/devices/echo-1"),
        ("POST", "/api/v1/devices/echo-1/requests"),
    ):
        answer = httpx.request(
            method, shared_hub.api_url + path, headers=headers, json={"action": "echo", "request_id": "r"}
        )
        assert answer.status_code == 401, (method, path, answer.text)


def test_devices_are_listed_with_their_state(shared_hub: HubProcess):
    headers = {"Authorization": f"Bearer tech-1:{shared_hub.secrets['tech-1']}"}
    devices = httpx.get(shared_hub.api_url + "/api/v1/devices", headers=headers).json()
    assert {(d["device_id"], d["sharing"]) for d in devices} == {("echo-1", "shared"), ("echo-2", "exclusive")}
    one = httpx.get(shared_hub.api_url + "/api/v1/devices/echo-2", headers=headers)
    assert one.status_code == 200 and one.json()["status"] == "idle"
    missing = httpx.get(shared_hub.api_url + "/api/v1/devices/nowhere", headers=headers)
    assert missing.status_code == 404


def test_health_readiness_metrics_and_openapi(shared_hub: HubProcess):
    assert httpx.get(shared_hub.api_url + "/healthz").json() == {"status": "alive"}
    ready = httpx.get(shared_hub.api_url + "/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    metrics = httpx.get(shared_hub.api_url + "/metrics").text
    assert "storehub_bus_connected 1.0" in metrics
    assert 'storehub_devices{status="idle"} 2.0' in metrics
    spec = httpx.get(shared_hub.api_url + "/openapi.json").json()
    assert "/api/v1/devices/{device_id}/requests" in spec["paths"]
    assert "bearer" in str(spec["components"]["securitySchemes"]).lower()


def test_a_streamed_oversized_body_is_refused_too(shared_hub: HubProcess):
    headers = {"Authorization": f"Bearer till-1:{shared_hub.secrets['till-1']}", "Content-Type": "application/json"}

    def chunks():  # no Content-Length: the body arrives chunked
        yield b'{"action": "echo", "request_id": "big", "args": {"x": "'
        for _ in range(40):
            yield b"y" * 10_000
        yield b'"}}'

    answer = httpx.post(shared_hub.api_url + "/api/v1/devices/echo-1/requests", headers=headers, content=chunks())
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "invalid_request"


def test_an_invalid_body_keeps_its_request_id(shared_hub: HubProcess):
    headers = {"Authorization": f"Bearer till-1:{shared_hub.secrets['till-1']}"}
    answer = httpx.post(
        shared_hub.api_url + "/api/v1/devices/echo-1/requests", headers=headers, json={"request_id": "till-1-77"}
    )
    assert answer.status_code == 400
    assert answer.json()["request_id"] == "till-1-77"
    assert "action" in answer.json()["error"]["message"]


def test_an_oversized_body_is_refused_with_the_envelope(shared_hub: HubProcess):
    headers = {"Authorization": f"Bearer till-1:{shared_hub.secrets['till-1']}"}
    answer = httpx.post(
        shared_hub.api_url + "/api/v1/devices/echo-1/requests",
        headers=headers,
        json={"action": "echo", "request_id": "big", "args": {"x": "y" * 400_000}},
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "invalid_request"


def test_every_error_code_has_an_http_status():
    from bus.payloads import ErrorCode
    from hub.api.refusals import HTTP_STATUS

    assert set(HTTP_STATUS) == set(ErrorCode)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_pages_load_everything_from_the_hub(shared_hub: HubProcess, page: str):
    """A back office without internet still gets its API pages: no CDN, no web fonts."""
    urls = assert_served_whole_by(shared_hub.api_url, page)
    suffixes = {url[url.rindex(".") :] for url in urls}
    assert {".js", ".json", ".png"} <= suffixes, urls
