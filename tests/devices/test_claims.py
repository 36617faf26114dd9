"""Claims in-process: waiters in arrival order, leases that end by themselves."""

from __future__ import annotations

import asyncio

import pytest

from bus.payloads import DeviceError, ErrorCode
from devices.claims import ClaimArgs, ClaimBook


def book(assigned_to: str | None = None) -> tuple[ClaimBook, list[tuple[str, str, dict]]]:
    told: list[tuple[str, str, dict]] = []
    return ClaimBook("scanner-1", assigned_to=assigned_to, changed=lambda: None, tell=lambda *t: told.append(t)), told


async def test_waiters_are_granted_in_the_order_they_asked():
    claims, _ = book()
    await claims.claim("till-1", "till", ClaimArgs(lease_s=60))
    waiting = [asyncio.create_task(claims.claim(f"till-{n}", "till", ClaimArgs(wait_s=5))) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    granted = []
    for holder in ("till-1", "till-2", "till-3"):
        claims.release(holder)
        await asyncio.sleep(0)
        granted.append(claims.holder)
    assert granted == ["till-2", "till-3", "till-4"]
    await asyncio.gather(*waiting)
    claims.close("test over")


async def test_a_wait_that_runs_out_names_the_holder_and_leaves_the_queue():
    claims, _ = book()
    await claims.claim("till-1", "till", ClaimArgs(lease_s=60))
    with pytest.raises(DeviceError) as refused:
        await claims.claim("till-2", "till", ClaimArgs(wait_s=0.05))
    assert refused.value.code == ErrorCode.CLAIMED_BY_OTHER and "till-1" in refused.value.message
    assert not claims.waiters
    claims.close("test over")


async def test_a_waiter_whose_till_goes_offline_is_answered_and_skipped():
    claims, told = book()
    await claims.claim("till-1", "till", ClaimArgs(lease_s=60))
    gone = asyncio.create_task(claims.claim("till-2", "till", ClaimArgs(wait_s=5)))
    kept = asyncio.create_task(claims.claim("till-3", "till", ClaimArgs(wait_s=5)))
    await asyncio.sleep(0)
    claims.client_left("till-2")
    with pytest.raises(DeviceError):
        await gone
    claims.client_left("till-1")  # the holder's Last Will
    assert (await kept)["holder"] == "till-3"
    assert told == [("till-1", "claim_lost", {"device_id": "scanner-1", "reason": "client_offline"})]
    claims.close("test over")


async def test_a_lease_ends_by_itself():
    claims, told = book()
    await claims.claim("till-1", "till", ClaimArgs(lease_s=0.05))
    await asyncio.sleep(0.1)
    assert claims.holder is None
    assert told == [("till-1", "claim_lost", {"device_id": "scanner-1", "reason": "expired"})]


async def test_an_assigned_device_refuses_other_tills_but_not_a_technicians_override():
    claims, _ = book(assigned_to="till-1")
    with pytest.raises(DeviceError) as refused:
        await claims.claim("till-2", "till", ClaimArgs())
    assert refused.value.code == ErrorCode.FORBIDDEN
    assert (await claims.claim("tech-1", "technician", ClaimArgs(override=True)))["holder"] == "tech-1"
    claims.close("test over")


async def test_an_override_goes_straight_to_the_overrider_and_waiters_keep_their_place():
    claims, told = book()
    await claims.claim("till-1", "till", ClaimArgs(lease_s=60))
    waiting = asyncio.create_task(claims.claim("till-2", "till", ClaimArgs(wait_s=5)))
    await asyncio.sleep(0)
    taken = await claims.claim("tech-1", "technician", ClaimArgs(override=True))
    assert taken["holder"] == claims.holder == "tech-1"
    assert not waiting.done() and [w.client for w in claims.waiters] == ["till-2"]
    claims.release("tech-1")
    assert (await waiting)["holder"] == "till-2"
    assert told == [("till-1", "claim_lost", {"device_id": "scanner-1", "reason": "overridden", "by": "tech-1"})]
    claims.close("test over")
