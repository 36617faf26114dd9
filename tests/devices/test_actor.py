"""The actor runtime: one job at a time, structured errors, supervision, state on the bus.

These run the real actor and supervisor in-process; the ``RecordingPort`` stands where
the hub's bus port would and keeps what would have been published.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bus.payloads import DeviceError, ErrorCode
from devices import actor as actor_module
from devices import supervisor as supervisor_module
from devices.actor import DeviceSpec, Job
from devices.echo import EchoDevice
from devices.supervisor import DeviceSupervisor
from tests.conftest import until
from tests.devices.ports import RecordingPort


def job(action: str, args: dict[str, Any] | None = None, **kwargs: Any) -> Job:
    return Job(client="till-1", action=action, args=args or {}, request_id=f"r-{action}", **kwargs)


@pytest.fixture
async def echo():
    """An echo device under a real supervisor."""
    port = RecordingPort()
    supervisor = DeviceSupervisor(lambda spec: port)
    supervisor.start([DeviceSpec(id="echo-1", kind="echo", options={"allow_crash": True})])
    device = supervisor.get("echo-1")
    assert isinstance(device, EchoDevice)
    while device.status != "idle":
        await asyncio.sleep(0.001)
    yield device, port, supervisor
    await supervisor.stop()


async def test_jobs_run_one_at_a_time_in_order(echo):
    device, _port, _ = echo
    # Longest first: run side by side they would finish shortest first.
    durations = [60, 30, 10]
    jobs = [job("sleep", {"ms": ms}) for ms in durations]
    finished: list[int] = []
    started = time.monotonic()
    for ms, j in zip(durations, jobs, strict=True):
        j.future.add_done_callback(lambda _, ms=ms: finished.append(ms))
        device.submit(j)
    results = await asyncio.gather(*(j.future for j in jobs))
    assert time.monotonic() - started >= sum(durations) / 1000, "jobs overlapped"
    assert finished == durations, "jobs finished out of order"
    assert results == [{"slept_ms": ms} for ms in durations]
    assert device.counters["jobs_done"] == 3


async def test_blocking_io_runs_off_the_event_loop(echo):
    device, _port, _ = echo
    sleeping = job("sleep", {"ms": 300})
    device.submit(sleeping)
    ticks = 0
    while not sleeping.future.done():
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks >= 10, "the loop stalled while the device was busy"


async def test_unknown_action_and_bad_arguments_are_refused_before_queueing(echo):
    device, _port, _ = echo
    with pytest.raises(DeviceError) as unknown:
        device.submit(job("teleport"))
    assert unknown.value.code == ErrorCode.UNKNOWN_ACTION and "echo" in unknown.value.message
    with pytest.raises(DeviceError) as bad:
        device.submit(job("sleep", {"ms": -1}))
    assert bad.value.code == ErrorCode.INVALID_REQUEST and "ms" in bad.value.message
    assert device.queue_depth == 0


async def test_a_job_whose_deadline_passed_is_dropped_not_run(echo):
    device, _port, _ = echo
    blocker = job("sleep", {"ms": 100})
    late = job("sleep", {"ms": 1}, deadline=time.monotonic() + 0.02)
    device.submit(blocker)
    device.submit(late)
    with pytest.raises(DeviceError) as expired:
        await late.future
    assert expired.value.code == ErrorCode.TIMEOUT
    await blocker.future
    assert device.counters["jobs_done"] == 1
    assert device.counters["jobs_expired"] == 1


async def test_a_full_inbox_answers_busy(echo):
    device, _port, _ = echo
    taken = [job("sleep", {"ms": 200})]
    device.submit(taken[0])
    await asyncio.sleep(0.01)  # the first job is running, the inbox is empty
    for n in range(actor_module.INBOX_LIMIT):
        taken.append(job("echo", {"n": n}))
        device.submit(taken[-1])
    with pytest.raises(DeviceError) as full:
        device.submit(job("echo"))
    assert full.value.code == ErrorCode.BUSY
    # Every job that was taken is still answered.
    results = await asyncio.gather(*(j.future for j in taken))
    assert results == [{"slept_ms": 200}] + [{"echo": {"n": n}} for n in range(actor_module.INBOX_LIMIT)]


async def test_a_crash_fails_the_job_and_the_supervisor_brings_the_device_back(echo, monkeypatch):
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MIN_S", 0.05)
    device, port, supervisor = echo
    crash = job("crash")
    device.submit(crash)
    with pytest.raises(DeviceError) as failed:
        await crash.future
    assert failed.value.code == ErrorCode.INTERNAL
    # The session ends a loop turn after the failed job is answered.
    await until(lambda: device.status == "offline", timeout=2.0, what="echo-1 offline")
    with pytest.raises(DeviceError) as offline:
        device.submit(job("echo"))
    assert offline.value.code == ErrorCode.DEVICE_OFFLINE
    await until(lambda: device.status == "idle", timeout=2.0, what="echo-1 back")
    assert supervisor.restarts["echo-1"] == 1
    assert [e.type for e in port.events][-2:] == ["offline", "online"]
    again = job("echo", {"n": 1})
    device.submit(again)
    assert await again.future == {"echo": {"n": 1}}


async def test_an_unplugged_device_answers_queued_jobs_device_offline(echo):
    device, _port, _ = echo
    unplug = job("fail", {"offline": True, "message": "cable pulled"})
    waiting = job("sleep", {"ms": 1})  # same priority class: it waits behind the unplug
    device.submit(unplug)
    device.submit(waiting)
    with pytest.raises(DeviceError) as gone:
        await unplug.future
    assert gone.value.code == ErrorCode.DEVICE_OFFLINE
    with pytest.raises(DeviceError) as queued:
        await waiting.future
    assert queued.value.code == ErrorCode.DEVICE_OFFLINE and "cable pulled" in queued.value.message


async def test_status_changes_publish_at_once_and_counters_are_coalesced(echo, monkeypatch):
    device, port, _ = echo
    await asyncio.sleep(0.01)
    published = len(port.states)
    assert port.states[-1].status == "idle"
    jobs = [job("echo", {"n": n}) for n in range(50)]
    for j in jobs:
        device.submit(j)
    await asyncio.gather(*(j.future for j in jobs))
    await asyncio.sleep(0.01)
    # Fifty instant jobs: no flood of retained documents.
    assert len(port.states) - published <= 2
    device.submit(failing := job("fail", {"message": "jam"}))
    with pytest.raises(DeviceError):
        await failing.future
    await asyncio.sleep(actor_module.COUNTER_PUBLISH_INTERVAL_S + 0.2)
    assert port.states[-1].counters["jobs_done"] == 50
    assert port.states[-1].counters["jobs_failed"] == 1


async def test_stopping_answers_the_running_job_and_marks_the_device_offline(echo):
    device, port, supervisor = echo
    running = job("sleep", {"ms": 1000})
    device.submit(running)
    await asyncio.sleep(0.05)
    await supervisor.stop()
    with pytest.raises(DeviceError) as stopped:
        await running.future
    assert stopped.value.code == ErrorCode.DEVICE_OFFLINE
    assert port.states[-1].status == "offline"


async def test_a_bulk_job_lets_an_interactive_job_through_after_the_item_it_is_on(echo):
    device, port, _ = echo
    batch = job("batch", {"items": 200, "item_ms": 5})
    device.submit(batch)
    while len([e for _, e in port.client_events if e.type == "progress"]) < 20:
        await asyncio.sleep(0.001)
    receipt = job("echo", {"receipt": 7})
    device.submit(receipt)
    items_when_submitted = len([e for _, e in port.client_events if e.type == "progress"])
    await receipt.future
    items_when_answered = len([e for _, e in port.client_events if e.type == "progress"])
    assert items_when_answered - items_when_submitted == 1, "the receipt waited for more than one label"
    assert (await batch.future) == {"items": 200}
    assert device.status == "idle"


async def test_jobs_run_by_priority_class_then_in_arrival_order(echo):
    device, _port, _ = echo
    order: list[str] = []
    blocker = job("sleep", {"ms": 50})
    device.submit(blocker)
    await asyncio.sleep(0.01)
    queued = [
        job("batch", {"items": 1}),
        job("sleep", {"ms": 0}),
        job("echo", {"n": 1}),
        job("sleep", {"ms": 1}),
        job("echo", {"n": 2}),
    ]
    for j in queued:
        j.request_id = f"{j.action}-{len(order)}-{id(j)}"
        j.future.add_done_callback(lambda f, j=j: order.append(f"{j.action}:{j.args.model_dump()}"))
        device.submit(j)
    await asyncio.gather(blocker.future, *(j.future for j in queued))
    assert order == [
        "echo:{'n': 1}",
        "echo:{'n': 2}",
        "sleep:{'ms': 0}",
        "sleep:{'ms': 1}",
        "batch:{'items': 1, 'item_ms': 0}",
    ]


async def test_a_holder_working_its_device_does_not_republish_state_for_every_job(echo):
    from devices.claims import ClaimArgs

    device, port, _ = echo
    await device.claims.claim("till-1", "till", ClaimArgs(lease_s=30))
    await asyncio.sleep(0.01)
    published = len(port.states)
    assert port.states[-1].claimed_by == "till-1"
    for n in range(30):  # each job renews the lease
        j = job("echo", {"n": n})
        device.submit(j)
        await j.future
    await asyncio.sleep(0.01)
    assert len(port.states) - published <= 1


async def test_a_job_with_a_deadline_waits_for_an_unplugged_device_to_return(echo, monkeypatch):
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MIN_S", 0.2)
    device, _port, _ = echo
    unplug = job("fail", {"offline": True, "message": "cable pulled"})
    device.submit(unplug)
    with pytest.raises(DeviceError):
        await unplug.future
    # The session ends a loop turn after the failed job is answered.
    await until(lambda: device.status == "offline", timeout=2.0, what="echo-1 offline")
    without_deadline = job("echo", {"n": 0})
    with pytest.raises(DeviceError) as refused:
        device.submit(without_deadline)
    assert refused.value.code == ErrorCode.DEVICE_OFFLINE
    patient = job("echo", {"n": 1}, deadline=time.monotonic() + 3)
    impatient = job("echo", {"n": 2}, deadline=time.monotonic() + 0.05)
    device.submit(patient)
    device.submit(impatient)
    with pytest.raises(DeviceError) as expired:
        await impatient.future
    assert expired.value.code == ErrorCode.TIMEOUT and "stayed offline" in expired.value.message
    assert await patient.future == {"echo": {"n": 1}}
    assert device.status == "idle"
