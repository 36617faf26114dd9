"""Several tills share a few devices and never fight over one or leave one stuck."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import httpx
import pytest

from bus.client import StoreHubClient
from bus.payloads import DeviceError, ErrorCode, Event
from bus.topics import TopicTree
from hub.permissions import check_device_action
from tests.conftest import STORE, Connect, HubProcess, fresh_clients, start_hub, until

TILLS = [f"till-{n}" for n in range(1, 21)]
CLIENTS = {till: "till" for till in TILLS} | {
    "tech-1": "technician",
    "manager-1": "manager",
    "kiosk-1": "kiosk",
    "cloud-1": "cloud",
}
DEVICES = [
    {"id": "echo-x", "kind": "echo", "options": {"sharing": "exclusive"}},
    {"id": "echo-s", "kind": "echo", "options": {"sharing": "shared"}},
    {"id": "echo-a", "kind": "echo", "assigned_to": "till-1", "options": {"sharing": "exclusive"}},
]

#: Longest a test waits for an event or a state to reach a client.
SETTLE_S = 5.0

#: How long the hammering runs.
HAMMER_S = 4.0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    hub = start_hub(tmp_path_factory.mktemp("arbitration"), clients=fresh_clients(CLIENTS), devices=DEVICES)
    try:
        yield hub
    finally:
        hub.cleanup()


async def jobs_done(client: StoreHubClient, device: str) -> int:
    response = await client.request(device, "status")
    assert response.ok and response.result is not None, response
    return response.result["counters"]["jobs_done"]


def collect_events(client: StoreHubClient) -> list[Event]:
    events: list[Event] = []
    client.on_event(events.append)
    return events


# -- contention ----------------------------------------------------------------------


async def test_twenty_tills_hammering_one_exclusive_and_one_shared_device(store: HubProcess, connect: Connect):
    tills = [await connect(store, till) for till in TILLS]
    tech = await connect(store, "tech-1")
    # The status action counts itself: take the counts before and subtract those reads.
    before_x, before_s = await jobs_done(tech, "echo-x"), await jobs_done(tech, "echo-s")

    holds: list[tuple[float, float, str]] = []  # (granted, releasing, till) on one clock
    answered = {"x": 0, "s": 0}
    stop_at = time.monotonic() + HAMMER_S

    async def use_exclusive(till: StoreHubClient) -> None:
        while time.monotonic() < stop_at:
            claim = await till.request("echo-x", "claim", {"lease_s": 10, "wait_s": 30}, timeout=40)
            assert claim.ok, claim
            granted = time.monotonic()
            work = await till.request("echo-x", "echo", {"till": till.client_id})
            assert work.ok and work.result == {"echo": {"till": till.client_id}}, work
            answered["x"] += 1
            releasing = time.monotonic()
            holds.append((granted, releasing, till.client_id))
            assert (await till.request("echo-x", "release")).ok

    async def use_shared(till: StoreHubClient) -> None:
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            work = await till.request("echo-s", "echo", {"till": till.client_id, "n": n})
            assert work.ok and work.result == {"echo": {"till": till.client_id, "n": n}}, work
            answered["s"] += 1

    await asyncio.gather(*(use_exclusive(t) for t in tills), *(use_shared(t) for t in tills))

    # Never two holders at once: on the tills' shared clock, holds never overlap.
    holds.sort()
    for (_g1, released, first), (granted, _r2, second) in zip(holds, holds[1:], strict=False):
        assert granted >= released, f"{second} held echo-x while {first} still did"
    assert len({till for _, _, till in holds}) == len(TILLS), "some till never got the device"
    # No job lost or run twice: the devices ran exactly the jobs that were answered.
    assert await jobs_done(tech, "echo-x") - before_x - 1 == answered["x"]
    assert await jobs_done(tech, "echo-s") - before_s - 1 == answered["s"]
    assert answered["x"] >= len(TILLS) and answered["s"] > answered["x"]


# -- leases end by themselves ----------------------------------------------------------


async def test_a_till_killed_while_holding_releases_its_claim_within_two_seconds(store: HubProcess, connect: Connect):
    doomed = textwrap.dedent(
        f"""
        import asyncio
        from bus.client import StoreHubClient
        from bus.mqtt import BrokerAddress

        async def main():
            till = StoreHubClient(store="{STORE}", client_id="till-2", secret="{store.secrets["till-2"]}",
                                  address=BrokerAddress("127.0.0.1", {store.mqtt_port}))
            await till.connect()
            response = await till.request("echo-x", "claim", {{"lease_s": 600}})
            print("claimed" if response.ok else response, flush=True)
            await asyncio.sleep(120)

        asyncio.run(main())
        """
    )
    process = subprocess.Popen([sys.executable, "-c", doomed], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "claimed"
        waiting = await connect(store, "till-3")
        claim = asyncio.create_task(waiting.request("echo-x", "claim", {"wait_s": 10}, timeout=15))
        await asyncio.sleep(0.3)
        assert not claim.done(), "till-3 got echo-x while till-2 held it"
        process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        granted = await claim
        assert granted.ok and granted.result is not None and granted.result["holder"] == "till-3"
        assert time.monotonic() - killed < 2.0
        assert (await waiting.request("echo-x", "release")).ok
    finally:
        process.kill()
        process.wait()


async def test_a_till_that_stops_renewing_loses_the_claim_at_lease_expiry(store: HubProcess, connect: Connect):
    sleepy = await connect(store, "till-4")
    lost = collect_events(sleepy)
    next_in_line = await connect(store, "till-5")
    claimed = await sleepy.request("echo-x", "claim", {"lease_s": 1.5})
    assert claimed.ok
    granted_at = time.monotonic()
    waited = await next_in_line.request("echo-x", "claim", {"wait_s": 5}, timeout=10)
    expired_after = time.monotonic() - granted_at
    assert waited.ok and waited.result is not None and waited.result["holder"] == "till-5"
    assert 1.0 <= expired_after <= 2.0, expired_after
    await until(lambda: any(e.type == "claim_lost" for e in lost), timeout=SETTLE_S)
    assert next(e for e in lost if e.type == "claim_lost").data == {"device_id": "echo-x", "reason": "expired"}
    refused = await sleepy.request("echo-x", "echo", {})
    assert refused.error is not None and refused.error.code == ErrorCode.NOT_CLAIMED
    assert (await next_in_line.request("echo-x", "release")).ok


async def test_any_action_by_the_holder_renews_its_lease(store: HubProcess, connect: Connect):
    till = await connect(store, "till-6")
    assert (await till.request("echo-x", "claim", {"lease_s": 1.0})).ok
    for _ in range(4):  # 2 s of work on a 1 s lease
        await asyncio.sleep(0.5)
        assert (await till.request("echo-x", "echo", {})).ok
    renewed = await till.request("echo-x", "renew", {"lease_s": 5})
    assert renewed.ok and renewed.result is not None and renewed.result["lease_s"] == 5
    again = await till.request("echo-x", "claim", {"lease_s": 5})
    assert again.ok, "re-claiming by the holder is harmless"
    assert (await till.request("echo-x", "release")).ok


async def test_claim_rules_name_the_holder_and_answer_with_the_documented_codes(store: HubProcess, connect: Connect):
    holder, other = await connect(store, "till-7"), await connect(store, "till-8")
    assert (await holder.request("echo-x", "claim")).ok
    busy = await other.request("echo-x", "claim")
    assert busy.error is not None and busy.error.code == ErrorCode.CLAIMED_BY_OTHER
    assert "till-7" in busy.error.message and busy.error.retryable
    without = await other.request("echo-x", "echo", {})
    assert without.error is not None and without.error.code == ErrorCode.NOT_CLAIMED
    not_holder = await other.request("echo-x", "release")
    assert not_holder.error is not None and not_holder.error.code == ErrorCode.NOT_CLAIMED
    # Anyone may ask for status; shared devices claimed by one till refuse the others.
    assert (await other.request("echo-x", "status")).ok
    assert (await holder.request("echo-s", "claim")).ok
    refused = await other.request("echo-s", "echo", {})
    assert refused.error is not None and refused.error.code == ErrorCode.CLAIMED_BY_OTHER
    for device in ("echo-x", "echo-s"):
        assert (await holder.request(device, "release")).ok
    assert (await other.request("echo-s", "echo", {})).ok


# -- override, assignment, roles ----------------------------------------------------------


async def test_a_technician_overrides_a_claim_and_the_old_holder_is_told(store: HubProcess, connect: Connect):
    till, tech, till_b = await connect(store, "till-9"), await connect(store, "tech-1"), await connect(store, "till-10")
    events = collect_events(till)
    assert (await till.request("echo-x", "claim", {"lease_s": 60})).ok
    plain = await till_b.request("echo-x", "claim", {"override": True})
    assert plain.error is not None and plain.error.code == ErrorCode.FORBIDDEN
    taken = await tech.request("echo-x", "claim", {"override": True})
    assert taken.ok and taken.result is not None
    assert taken.result["holder"] == "tech-1" and taken.result["took_over_from"] == "till-9"
    await until(lambda: any(e.type == "claim_lost" for e in events), timeout=SETTLE_S)
    lost = next(e for e in events if e.type == "claim_lost")
    assert lost.data == {"device_id": "echo-x", "reason": "overridden", "by": "tech-1"}
    assert (await tech.request("echo-x", "release")).ok


async def test_force_release_is_for_staff_and_frees_a_stuck_device(store: HubProcess, connect: Connect):
    till, manager = await connect(store, "till-11"), await connect(store, "manager-1")
    assert (await till.request("echo-x", "claim", {"lease_s": 600})).ok
    claims = await manager.request("hub", "list_claims")
    assert claims.result is not None
    assert {"device_id": "echo-x", "holder": "till-11"}.items() <= claims.result["claims"][0].items()
    refused = await till.request("hub", "force_release", {"device": "echo-x"})
    assert refused.error is not None and refused.error.code == ErrorCode.FORBIDDEN
    freed = await manager.request("hub", "force_release", {"device": "echo-x"})
    assert freed.ok and freed.result == {"device_id": "echo-x", "released": True, "holder_was": "till-11"}
    assert (await manager.request("hub", "list_claims")).result == {"claims": []}


async def test_an_assigned_device_is_claimed_only_by_its_till(store: HubProcess, connect: Connect):
    own, stranger = await connect(store, "till-1"), await connect(store, "till-12")
    refused = await stranger.request("echo-a", "claim")
    assert refused.error is not None and refused.error.code == ErrorCode.FORBIDDEN
    assert "till-1" in refused.error.message
    assert (await own.request("echo-a", "claim")).ok
    assert (await own.request("echo-a", "release")).ok


async def test_roles_that_may_not_use_devices_are_forbidden(store: HubProcess, connect: Connect):
    cloud, kiosk = await connect(store, "cloud-1"), await connect(store, "kiosk-1")
    for action in ("echo", "claim", "status"):
        refused = await cloud.request("echo-s", action)
        assert refused.error is not None and refused.error.code == ErrorCode.FORBIDDEN, action
    assert (await kiosk.request("echo-s", "echo", {"kiosk": True})).ok


# -- queues -----------------------------------------------------------------------------


async def test_an_interactive_job_overtakes_a_running_200_item_bulk_job_between_two_items(
    store: HubProcess, connect: Connect
):
    labels, till = await connect(store, "till-13"), await connect(store, "till-14")
    progress: list[int] = []
    labels.on_event(lambda e: progress.append(e.data["done"]) if e.type == "progress" else None)
    batch = asyncio.create_task(labels.request("echo-s", "batch", {"items": 200, "item_ms": 20}, timeout=30))
    await until(lambda: len(progress) >= 10, timeout=SETTLE_S)
    seen_at_send = progress[-1]
    receipt = await till.request("echo-s", "echo", {"receipt": 1})
    assert receipt.ok
    # From the till's view, at most the item in progress and one already in flight.
    assert progress[-1] - seen_at_send <= 2, (seen_at_send, progress[-1])
    assert (await batch).result == {"items": 200}
    assert progress == list(range(1, 201))


async def test_a_job_whose_deadline_passes_in_the_queue_is_answered_timeout_and_never_runs(
    store: HubProcess, connect: Connect
):
    till, tech = await connect(store, "till-15"), await connect(store, "tech-1")
    before = await jobs_done(tech, "echo-s")
    long = asyncio.create_task(till.request("echo-s", "sleep", {"ms": 800}))
    await asyncio.sleep(0.1)
    late = await till.request("echo-s", "sleep", {"ms": 1}, deadline_ms=200)
    assert late.error is not None and late.error.code == ErrorCode.TIMEOUT and "not executed" in late.error.message
    # The same through MQTT 5 message expiry instead of deadline_ms.
    topics = TopicTree(STORE)
    answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    till.bus.subscribe(topics.response("till-15") + "/expiry", lambda m: answer.done() or answer.set_result(m.payload))
    expiring = asyncio.create_task(till.request("echo-s", "sleep", {"ms": 1500}))
    await asyncio.sleep(0.1)
    till.bus.publish(
        topics.request("till-15", "echo-s"),
        json.dumps({"action": "sleep", "args": {"ms": 1}, "request_id": "expiring"}).encode(),
        response_topic=topics.response("till-15") + "/expiry",
        expiry_s=1,
    )
    expired = json.loads(await asyncio.wait_for(answer, 5))
    assert expired["error"]["code"] == "timeout"
    assert (await long).ok and (await expiring).ok
    # The status read itself counts once.
    assert await jobs_done(tech, "echo-s") - before == 3


async def test_a_queued_job_can_be_cancelled_by_its_owner_only(store: HubProcess, connect: Connect):
    owner, other = await connect(store, "till-16"), await connect(store, "till-17")
    long = asyncio.create_task(owner.request("echo-s", "sleep", {"ms": 600}))
    await asyncio.sleep(0.1)
    queued = asyncio.create_task(owner.request("echo-s", "sleep", {"ms": 1}, request_id="till-16-queued"))
    await asyncio.sleep(0.1)
    listing = await other.request("hub", "list_queue", {"device": "echo-s"})
    assert listing.result is not None and [j["request_id"] for j in listing.result["queue"]] == ["till-16-queued"]
    not_yours = await other.request("echo-s", "cancel", {"request_id": "till-16-queued"})
    assert not_yours.result == {
        "cancelled": False,
        "request_id": "till-16-queued",
        "reason": "no waiting job of yours has this request id (it may be running or answered already)",
    }
    cancelled = await owner.request("echo-s", "cancel", {"request_id": "till-16-queued"})
    assert cancelled.result == {"cancelled": True, "request_id": "till-16-queued"}
    answer = await queued
    assert answer.error is not None and answer.error.code == ErrorCode.CANCELLED
    assert (await long).ok


# -- idempotency ----------------------------------------------------------------------------


async def test_the_same_request_three_times_runs_once_and_gets_three_equal_answers(store: HubProcess, connect: Connect):
    till, tech = await connect(store, "till-18"), await connect(store, "tech-1")
    before = await jobs_done(tech, "echo-s")
    payload = {"ms": 300}

    def send(attempt: int):
        return till.request(
            "echo-s", "sleep", payload, idempotency_key="sale-42-receipt", request_id=f"till-18-attempt-{attempt}"
        )

    first, second = await asyncio.gather(send(1), send(2))  # the retry arrives while the first runs
    third = await send(3)  # and once more after it finished
    assert [a.request_id for a in (first, second, third)] == [f"till-18-attempt-{n}" for n in (1, 2, 3)]
    same = [a.model_dump(exclude={"request_id"}) for a in (first, second, third)]
    assert same[0] == same[1] == same[2] and first.ok
    assert await jobs_done(tech, "echo-s") - before == 2  # one sleep, one status read
    conflict = await till.request("echo-s", "sleep", {"ms": 5}, idempotency_key="sale-42-receipt")
    assert conflict.error is not None and conflict.error.code == ErrorCode.CONFLICT
    # Another till with the same key is never handed this till's answer.
    other = await connect(store, "till-17")
    foreign = await other.request("echo-s", "sleep", payload, idempotency_key="sale-42-receipt")
    assert foreign.error is not None and foreign.error.code == ErrorCode.CONFLICT


async def test_a_request_refused_before_it_ran_may_be_retried_with_its_key(store: HubProcess, connect: Connect):
    holder, till = await connect(store, "till-19"), await connect(store, "till-20")
    assert (await holder.request("echo-x", "claim")).ok
    refused = await till.request("echo-x", "echo", {"n": 1}, idempotency_key="k-retry")
    assert refused.error is not None and refused.error.code == ErrorCode.NOT_CLAIMED
    assert (await holder.request("echo-x", "release")).ok
    assert (await till.request("echo-x", "claim")).ok
    retried = await till.request("echo-x", "echo", {"n": 1}, idempotency_key="k-retry")
    assert retried.ok, "a key whose first use never ran must not block the retry"
    assert (await till.request("echo-x", "release")).ok


# -- visible state ---------------------------------------------------------------------------


async def test_the_state_document_shows_holder_lease_and_queue(store: HubProcess, connect: Connect):
    till, tech = await connect(store, "till-3"), await connect(store, "tech-1")
    states: list[dict] = []
    tech.watch("dev/echo-x/state", lambda topic, document: states.append(document))
    assert (await till.request("echo-x", "claim", {"lease_s": 30})).ok
    await until(lambda: any(s["claimed_by"] == "till-3" for s in states), timeout=SETTLE_S)
    held = next(s for s in states if s["claimed_by"] == "till-3")
    assert held["lease_expires_at"] > time.time() + 25
    assert (await till.request("echo-x", "release")).ok
    await until(lambda: states[-1]["claimed_by"] is None, timeout=SETTLE_S)
    metrics = (await asyncio.to_thread(httpx.get, store.api_url + "/metrics")).text
    assert 'storehub_claims_total{device="echo-x",event="granted"}' in metrics
    assert "storehub_claim_wait_seconds_bucket" in metrics and "storehub_job_seconds_bucket" in metrics
    assert 'storehub_queue_depth{device="echo-s"} 0.0' in metrics


def test_permissions_table_keeps_kiosks_away_from_money():
    for kind, action in (("cash_drawer", "open"), ("receipt_printer", "open_drawer"), ("fiscal_register", "fiscalize")):
        with pytest.raises(DeviceError) as refused:
            check_device_action("kiosk", kind, action)
        assert refused.value.code == ErrorCode.FORBIDDEN
    check_device_action("kiosk", "receipt_printer", "print")
    check_device_action("kiosk", "scanner", "claim")
    check_device_action("till", "cash_drawer", "open")
    with pytest.raises(DeviceError):
        check_device_action("cloud", "scanner", "status")


def test_a_kiosk_may_print_a_slip_but_not_kick_the_drawer_open_with_it():
    check_device_action("kiosk", "receipt_printer", "print", {"blocks": [], "open_drawer": False})
    with pytest.raises(DeviceError) as refused:
        check_device_action("kiosk", "receipt_printer", "print", {"blocks": [], "open_drawer": True})
    assert refused.value.code == ErrorCode.FORBIDDEN and "open_drawer" in refused.value.message
    check_device_action("till", "receipt_printer", "print", {"blocks": [], "open_drawer": True})
