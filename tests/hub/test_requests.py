"""A till's request reaches a device and its one answer comes back — whatever it sent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import httpx
import pytest

from bus.client import StoreHubClient
from bus.mqtt import Message
from bus.payloads import MAX_REQUEST_BYTES, ErrorCode
from bus.topics import TopicTree
from devices.sim.escpos_printer import EscposPrinterSimulator
from tests.conftest import STORE, Connect, HubProcess, start_hub, until, until_device_online
from tests.hub.test_availability import broker_pid_or_none

TOPICS = TopicTree(STORE)

#: A restarted broker or hub has its devices back well within this.
BACK_ONLINE_S = 15.0

#: How long a test waits for something that must not happen (a replayed kick).
QUIET_S = 0.7


async def test_mqtt5_round_trip_uses_response_topic_and_correlation_data(shared_hub: HubProcess, connect: Connect):
    till = await connect(shared_hub, "till-1", protocol=5)
    response = await till.request("echo-1", "echo", {"basket": ["milk", "bread"]})
    assert response.ok, response
    assert response.result == {"echo": {"basket": ["milk", "bread"]}}


async def test_mqtt311_round_trip_falls_back_to_res_topic_and_request_id(shared_hub: HubProcess, connect: Connect):
    till = await connect(shared_hub, "till-2", protocol=4)
    response = await till.request("echo-1", "echo", {"sku": "4006381333931"}, request_id="till-2-r1")
    assert response.ok
    assert response.request_id == "till-2-r1"
    assert response.result == {"echo": {"sku": "4006381333931"}}


async def test_rest_request_carries_the_same_envelope(shared_hub: HubProcess):
    token = f"till-1:{shared_hub.secrets['till-1']}"
    async with httpx.AsyncClient(base_url=shared_hub.api_url, headers={"Authorization": f"Bearer {token}"}) as http:
        answer = await http.post(
            "/api/v1/devices/echo-1/requests", json={"action": "echo", "args": {"a": 1}, "request_id": "rest-1"}
        )
        assert answer.status_code == 200
        assert answer.json() == {"request_id": "rest-1", "ok": True, "result": {"echo": {"a": 1}}, "error": None}

        unknown = await http.post("/api/v1/devices/nowhere/requests", json={"action": "echo", "request_id": "rest-2"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "unknown_target"

        malformed = await http.post("/api/v1/devices/echo-1/requests", json={"args": {}})
        assert malformed.status_code == 400
        assert malformed.json()["error"]["code"] == "invalid_request"
        assert "action" in malformed.json()["error"]["message"]


@pytest.mark.parametrize(
    ("payload", "code", "mentions"),
    [
        (b"{not json", ErrorCode.INVALID_REQUEST, "not valid JSON"),
        (b'["a list"]', ErrorCode.INVALID_REQUEST, "object"),
        (json.dumps({"args": {}, "request_id": "bad-1"}).encode(), ErrorCode.INVALID_REQUEST, "action"),
        (
            json.dumps({"action": "echo", "request_id": "bad-2", "colour": "red"}).encode(),
            ErrorCode.INVALID_REQUEST,
            "colour",
        ),
        (
            json.dumps({"action": "echo", "request_id": "bad-3", "deadline_ms": -5}).encode(),
            ErrorCode.INVALID_REQUEST,
            "deadline_ms",
        ),
        (json.dumps({"action": "fly", "request_id": "bad-4"}).encode(), ErrorCode.UNKNOWN_ACTION, "fly"),
        (
            json.dumps({"action": "sleep", "args": {"ms": "long"}, "request_id": "bad-5"}).encode(),
            ErrorCode.INVALID_REQUEST,
            "ms",
        ),
        # Flags and numbers are strict: true is no deadline, "yes" no override, "5" no count.
        (
            json.dumps({"action": "echo", "request_id": "bad-6", "deadline_ms": True}).encode(),
            ErrorCode.INVALID_REQUEST,
            "deadline_ms",
        ),
        (
            json.dumps({"action": "claim", "args": {"override": "yes"}, "request_id": "bad-7"}).encode(),
            ErrorCode.INVALID_REQUEST,
            "override",
        ),
        (
            json.dumps({"action": "claim", "args": {"lease_s": True}, "request_id": "bad-8"}).encode(),
            ErrorCode.INVALID_REQUEST,
            "lease_s",
        ),
        (
            json.dumps({"action": "sleep", "args": {"ms": "5"}, "request_id": "bad-9"}).encode(),
            ErrorCode.INVALID_REQUEST,
            "ms",
        ),
    ],
)
@pytest.mark.parametrize("protocol", [5, 4])
async def test_malformed_requests_get_a_structured_error_and_the_hub_stays_up(
    shared_hub: HubProcess, connect: Connect, payload: bytes, code: ErrorCode, mentions: str, protocol: int
):
    till = await connect(shared_hub, "till-1", protocol=protocol)
    request_id = json.loads(payload).get("request_id", "none") if payload.startswith(b'{"') else "none"
    response = await till.send_raw("echo-1", payload, request_id, timeout=5)
    assert not response.ok
    assert response.error is not None
    assert response.error.code == code
    assert mentions in response.error.message
    assert (await till.request("hub", "ping")).ok


def nested(depth: int) -> bytes:
    return b'{"action": "echo", "args": {"basket": ' + b"[" * depth + b"]" * depth + b'}, "request_id": "deep-1"}'


@pytest.mark.parametrize(
    ("payload", "request_id", "mentions"),
    [
        (nested(1_000), "deep-1", "nested too deeply"),
        (nested(100_000), "deep-1", "nested too deeply"),
        (b'{"action": "echo", "request_id": "sur-\\ud800"}', None, "lone surrogate"),
        (b'{"action": "echo", "request_id": "sur-\xed\xa0\x80"}', None, "not valid JSON"),
        (b'{"action": "echo", "args": {"note": "\\udfff"}, "request_id": "sur-2"}', "sur-2", "lone surrogate"),
    ],
    ids=["1000-levels", "100000-levels", "lone-surrogate-id", "surrogate-bytes-id", "lone-surrogate-arg"],
)
@pytest.mark.parametrize("protocol", [5, 4])
async def test_payloads_the_parser_cannot_take_are_answered_with_an_id_that_can_be_sent(
    shared_hub: HubProcess, connect: Connect, payload: bytes, request_id: str | None, mentions: str, protocol: int
):
    till = await connect(shared_hub, "till-1", protocol=protocol)
    response = await till.send_raw("echo-1", payload, request_id or "unreadable", timeout=5)
    assert response.error is not None and response.error.code == ErrorCode.INVALID_REQUEST, response
    assert mentions in response.error.message
    assert response.request_id == request_id
    assert (await till.request("hub", "ping")).ok


async def test_unknown_target_is_answered(shared_hub: HubProcess, connect: Connect):
    till = await connect(shared_hub, "till-1")
    response = await till.request("scanner-9", "claim")
    assert response.error is not None and response.error.code == ErrorCode.UNKNOWN_TARGET
    assert "scanner-9" in response.error.message


async def test_oversized_payload_is_refused_with_invalid_request(shared_hub: HubProcess, connect: Connect):
    till = await connect(shared_hub, "till-1")
    payload = json.dumps(
        {"action": "echo", "args": {"logo": "x" * (MAX_REQUEST_BYTES + 1)}, "request_id": "huge-1"}
    ).encode()
    response = await till.send_raw("echo-1", payload, "huge-1", timeout=5)
    assert response.error is not None and response.error.code == ErrorCode.INVALID_REQUEST
    assert "exceeds the limit" in response.error.message
    assert (await till.request("hub", "ping")).ok


async def test_response_topic_outside_the_senders_subtree_is_not_honoured(shared_hub: HubProcess, connect: Connect):
    """A till cannot make the hub deliver into another till's topics."""
    attacker = await connect(shared_hub, "till-1")
    victim = await connect(shared_hub, "till-2")
    topics = TopicTree(STORE)
    seen_by_victim: list[bytes] = []
    victim.bus.subscribe(topics.response("till-2"), lambda m: seen_by_victim.append(m.payload))
    answered = asyncio.get_running_loop().create_future()
    attacker.bus.subscribe(topics.response("till-1"), lambda m: answered.done() or answered.set_result(m.payload))
    attacker.bus.publish(
        topics.request("till-1", "echo-1"),
        json.dumps({"action": "echo", "request_id": "redirect-1"}).encode(),
        response_topic=topics.response("till-2"),
        correlation_data=b"redirect-1",
    )
    payload = await asyncio.wait_for(answered, 5)
    assert json.loads(payload)["request_id"] == "redirect-1"
    await asyncio.sleep(0.3)
    assert seen_by_victim == []


async def test_hub_target_answers_ping_status_and_device_list(shared_hub: HubProcess, connect: Connect):
    till = await connect(shared_hub, "till-1")
    ping = await till.request("hub", "ping")
    assert ping.ok and ping.result is not None and ping.result["pong"] is True
    devices = await till.request("hub", "list_devices")
    assert devices.result is not None
    assert {d["device_id"] for d in devices.result["devices"]} == {"echo-1", "echo-2"}
    status = await till.request("hub", "status")
    assert status.result is not None and status.result["bus_connected"] is True
    unknown = await till.request("hub", "self_destruct")
    assert unknown.error is not None and unknown.error.code == ErrorCode.UNKNOWN_ACTION


async def test_device_errors_reach_the_requester(shared_hub: HubProcess, connect: Connect):
    till = await connect(shared_hub, "till-1")
    response = await till.request("echo-1", "fail", {"message": "paper jam"})
    assert response.error is not None
    assert response.error.code == ErrorCode.DEVICE_ERROR and response.error.message == "paper jam"


async def test_a_slow_job_does_not_hold_up_other_devices(shared_hub: HubProcess, connect: Connect):
    till = await connect(shared_hub, "till-1")
    assert (await till.request("echo-2", "claim")).ok  # echo-2 is exclusive
    slow = asyncio.create_task(till.request("echo-2", "sleep", {"ms": 1500}))
    await asyncio.sleep(0.1)
    started = asyncio.get_running_loop().time()
    fast = await till.request("echo-1", "echo", {"n": 1})
    assert fast.ok
    assert asyncio.get_running_loop().time() - started < 1.0, "the hub's loop was blocked by a device"
    assert (await slow).ok
    assert (await till.request("echo-2", "release")).ok


# -- retained requests ------------------------------------------------------------------


async def until_hub_answers(till: StoreHubClient) -> None:
    """After a broker or hub restart: wait until the hub answers this till again."""
    deadline = asyncio.get_running_loop().time() + BACK_ONLINE_S
    while True:
        try:
            if (await till.request("hub", "ping", timeout=1)).ok:
                return
        except TimeoutError:
            pass
        assert asyncio.get_running_loop().time() < deadline, "the hub did not come back"
        await asyncio.sleep(0.1)


async def test_a_retained_request_opens_the_drawer_once_and_never_again_from_the_brokers_store(
    tmp_path: Path, connect: Connect
):
    """``mosquitto_pub -r`` on a request topic: the drawer opens when it is sent, and
    neither a broker restart nor a hub restart opens it again by itself."""
    printer = EscposPrinterSimulator(receipts_dir=tmp_path / "receipts", drawer_open_s=0.2)
    await printer.start()
    devices = [{"id": "drawer-1", "kind": "cash_drawer", "driver": "network", "port": printer.address}]
    hub = await asyncio.to_thread(start_hub, tmp_path / "hub", devices=devices)
    try:
        till, tech = await connect(hub, "till-1"), await connect(hub, "tech-1")
        await until_device_online(till, hub, "drawer-1", BACK_ONLINE_S)
        stored: list[Message] = []  # copies the broker keeps on till-1's request topics
        tech.bus.subscribe(f"{TOPICS.prefix}/client/till-1/req/#", lambda m: m.replayed and stored.append(m))
        answers: list[Message] = []
        reply_to = TOPICS.response("till-1") + "/retained"
        till.bus.subscribe(reply_to, answers.append)

        request = json.dumps({"action": "open", "request_id": "kick-1"}).encode()
        till.bus.publish(TOPICS.request("till-1", "drawer-1"), request, retain=True, response_topic=reply_to)
        await until(lambda: answers, 5, "the answer to the retained request")
        assert json.loads(answers[0].payload)["ok"] is True
        assert printer.drawer_kicks == 1
        async with httpx.AsyncClient(base_url=hub.api_url) as http:
            metrics = (await http.get("/metrics")).text
        assert 'storehub_retained_requests_total{outcome="run_once_cleared"} 1.0' in metrics

        # The broker restarts, saving its store first (SIGTERM), under the running hub.
        broker = hub.broker_pid()
        os.kill(broker, signal.SIGTERM)
        await until(lambda: broker_pid_or_none(hub) not in (None, broker), 10, "the broker's restart")
        await until_hub_answers(till)
        # The hub restarts cleanly (its broker stops, saving its store, and starts again).
        await asyncio.to_thread(hub.stop)
        await asyncio.to_thread(hub.start)
        await until_device_online(till, hub, "drawer-1", BACK_ONLINE_S)
        await asyncio.sleep(QUIET_S)
        assert printer.drawer_kicks == 1, "a stored copy of the request opened the drawer again"
        assert stored == [], "the broker still keeps the retained request"
        assert len(answers) == 1

        # Sent while the hub is down (its broker outlives it): never run later by surprise.
        await asyncio.to_thread(hub.kill)
        late = json.dumps({"action": "open", "request_id": "kick-2"}).encode()
        info = till.bus.publish(TOPICS.request("till-1", "drawer-1"), late, retain=True, response_topic=reply_to)
        await asyncio.to_thread(info.wait_for_publish, 2)
        await asyncio.to_thread(hub.start)
        await until_device_online(till, hub, "drawer-1", BACK_ONLINE_S)
        await asyncio.sleep(QUIET_S)
        assert printer.drawer_kicks == 1, "a request sent while the hub was down opened the drawer when it came back"
        assert len(answers) == 1
    finally:
        await asyncio.to_thread(hub.cleanup)
        await printer.stop()
