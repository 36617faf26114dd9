"""The hub actions the technician's console uses: restart a device actor, and list the
clients with the claims each holds. Technicians only; a till is refused with `forbidden`."""

from __future__ import annotations

from typing import Any

import pytest

from bus.payloads import ErrorCode
from tests.conftest import Connect, HubProcess, until, until_device_online


@pytest.mark.parametrize("action", ["restart_device", "list_clients"])
async def test_a_till_and_a_manager_are_refused_the_technicians_actions(
    shared_hub: HubProcess, connect: Connect, action: str
) -> None:
    for client in ("till-1", "manager-1"):
        asker = await connect(shared_hub, client)
        refused = await asker.request("hub", action, {"device": "echo-1"})
        assert refused.error is not None and refused.error.code == ErrorCode.FORBIDDEN, refused
        assert "for technicians" in refused.error.message


async def test_a_technician_restarts_a_device_it_goes_offline_and_comes_back_with_its_claim(
    shared_hub: HubProcess, connect: Connect
) -> None:
    till, tech = await connect(shared_hub, "till-2"), await connect(shared_hub, "tech-1")
    await until_device_online(till, shared_hub, "echo-1", 15)
    assert (await till.request("echo-1", "claim")).ok
    states: list[dict[str, Any]] = []
    tech.watch("dev/echo-1/state", lambda topic, doc: states.append(doc))
    await until(lambda: states, 5, "echo-1's retained state")
    try:
        restarted = await tech.request("hub", "restart_device", {"device": "echo-1"})
        assert restarted.ok and restarted.result is not None, restarted
        assert restarted.result["device_id"] == "echo-1" and restarted.result["restarted"] is True
        await until(
            lambda: any(s["status"] == "offline" and "restarted by tech-1" in str(s.get("error")) for s in states),
            10,
            "echo-1 offline, restarted by tech-1",
        )
        await until(lambda: states[-1]["status"] == "idle", 10, "echo-1 back online")
        assert states[-1]["claimed_by"] == "till-2", "a restart took the till's claim"
        assert (await till.request("echo-1", "echo", {"text": "back"})).ok
    finally:
        await till.request("echo-1", "release")


async def test_restart_names_the_device_as_force_release_does(shared_hub: HubProcess, connect: Connect) -> None:
    tech = await connect(shared_hub, "tech-1")
    missing = await tech.request("hub", "restart_device", {})
    assert missing.error is not None and missing.error.code == ErrorCode.INVALID_REQUEST
    unknown = await tech.request("hub", "restart_device", {"device": "no-such"})
    assert unknown.error is not None and unknown.error.code == ErrorCode.UNKNOWN_TARGET


async def test_the_client_list_shows_a_tills_claim(shared_hub: HubProcess, connect: Connect) -> None:
    till, tech = await connect(shared_hub, "till-1"), await connect(shared_hub, "tech-1")
    await until_device_online(till, shared_hub, "echo-2", 15)
    assert (await till.request("echo-2", "claim")).ok
    try:
        listed = await tech.request("hub", "list_clients")
        assert listed.ok and listed.result is not None, listed
        clients = {c["client_id"]: c for c in listed.result["clients"]}
        assert clients["till-1"] == {"client_id": "till-1", "role": "till", "holds": ["echo-2"], "waits_for": []}
        assert clients["kiosk-1"]["holds"] == [] and clients["tech-1"]["role"] == "technician"
    finally:
        await till.request("echo-2", "release")
    listed = await tech.request("hub", "list_clients")
    assert listed.result is not None
    assert {c["client_id"]: c["holds"] for c in listed.result["clients"]}["till-1"] == []
