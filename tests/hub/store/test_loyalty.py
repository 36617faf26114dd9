"""Loyalty offline: a card spends its synced balance minus what this store spent since,
never more, however many tills ask at once; it may always earn."""

from __future__ import annotations

import asyncio

import pytest

from bus.payloads import ErrorCode
from hub.store.domain import StoreDomain
from hub.store.errors import StoreError
from hub.store.schemas import AccrualCreate, RedemptionCreate
from tests.hub.store.support import CARD, Clock, events, loyalty_moves, snapshot


def redemption(points: int, key: str | None = None, reference: str = "") -> RedemptionCreate:
    return RedemptionCreate(points=points, idempotency_key=key, reference=reference)


async def test_available_is_the_synced_balance_minus_pending_redemptions(domain: StoreDomain, clock: Clock):
    await snapshot(domain, CARD, 1000, store_seq=0, as_of=clock() - 5)
    spent = await domain.redeem(CARD, redemption(300), "till-1")
    assert spent["kind"] == "redemption" and spent["balance"]["available"] == 700
    earned = await domain.accrue(CARD, AccrualCreate(points=200), "till-2")
    assert earned["kind"] == "accrual"
    balance = domain.balance(CARD)
    assert (balance.synced_balance, balance.pending_redemptions, balance.pending_accruals) == (1000, 300, 200)
    assert balance.available == 700, "points earned but not confirmed by the cloud must not be spendable"
    await domain.redeem(CARD, redemption(700), "till-1")
    assert domain.balance(CARD).available == 0
    with pytest.raises(StoreError) as over:
        await domain.redeem(CARD, redemption(1), "till-1")
    assert over.value.code == ErrorCode.INSUFFICIENT_BALANCE
    assert over.value.details == {"field": "points", "available": 0, "requested": 1}


async def test_a_snapshot_that_includes_the_stores_redemptions_ends_their_pending(domain: StoreDomain, clock: Clock):
    await snapshot(domain, CARD, 1000, store_seq=0, as_of=clock() - 60)
    first = await domain.redeem(CARD, redemption(300), "till-1")
    second = await domain.redeem(CARD, redemption(100), "till-1")
    assert domain.balance(CARD).available == 600

    # The cloud has the first redemption, not yet the second.
    clock.advance(30)
    report = await snapshot(domain, CARD, 700, store_seq=first["seq"], as_of=clock())
    assert report.applied["loyalty"] == 1
    balance = domain.balance(CARD)
    assert (balance.synced_balance, balance.pending_redemptions, balance.available) == (700, 100, 600)
    assert balance.synced_at.timestamp() == clock()

    clock.advance(30)
    await snapshot(domain, CARD, 600, store_seq=second["seq"], as_of=clock())
    balance = domain.balance(CARD)
    assert (balance.pending_redemptions, balance.available) == (0, 600)


async def test_an_older_snapshot_is_ignored(domain: StoreDomain, clock: Clock):
    await snapshot(domain, CARD, 700, store_seq=0, as_of=clock())
    older = await snapshot(domain, CARD, 5000, store_seq=0, as_of=clock() - 1)
    assert older.applied["loyalty"] == 0
    assert [(i.kind, i.id, i.reason) for i in older.ignored] == [("loyalty", CARD, "older_version")]
    same_time = await snapshot(domain, CARD, 5000, store_seq=0, as_of=clock())
    assert same_time.applied["loyalty"] == 0
    assert domain.balance(CARD).synced_balance == 700


async def test_a_card_the_store_does_not_know_may_earn_but_not_spend(domain: StoreDomain):
    with pytest.raises(StoreError) as unknown:
        await domain.redeem(CARD, redemption(50), "till-1")
    assert unknown.value.code == ErrorCode.INSUFFICIENT_BALANCE
    assert unknown.value.details == {"field": "points", "available": 0, "requested": 50}
    with pytest.raises(StoreError) as not_found:
        domain.balance(CARD)
    assert not_found.value.code == ErrorCode.NOT_FOUND

    earned = await domain.accrue(CARD, AccrualCreate(paid_amount=1999, reference="r-1"), "till-1")
    assert earned["points"] == 99  # 5 % of 19.99, rounded down
    balance = domain.balance(CARD)
    assert (balance.synced_balance, balance.pending_accruals, balance.available) == (0, 99, 0)
    with pytest.raises(StoreError) as still:
        await domain.redeem(CARD, redemption(50), "till-1")
    assert still.value.code == ErrorCode.INSUFFICIENT_BALANCE and still.value.details["available"] == 0
    assert [e["type"] for e in await events(domain)] == ["loyalty.accrued"]


async def test_an_accrual_needs_points_or_a_paid_amount_not_both(domain: StoreDomain):
    for body in (AccrualCreate(), AccrualCreate(points=5, paid_amount=100)):
        with pytest.raises(StoreError) as refused:
            await domain.accrue(CARD, body, "till-1")
        assert refused.value.code == ErrorCode.INVALID_REQUEST and refused.value.details == {"field": "points"}


async def test_concurrent_redemptions_through_the_writer_never_exceed_the_limit(domain: StoreDomain, clock: Clock):
    await snapshot(domain, CARD, 1000, store_seq=0, as_of=clock())
    outcomes = await asyncio.gather(
        *(domain.redeem(CARD, redemption(70, key=f"till-{n % 3}-{n}"), f"till-{n % 3}") for n in range(40)),
        return_exceptions=True,
    )
    granted = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, StoreError)]
    assert len(granted) == 14 and len(refused) == 26  # 14 × 70 = 980 of 1000
    assert all(r.code == ErrorCode.INSUFFICIENT_BALANCE and r.details["available"] == 20 for r in refused)
    balance = domain.balance(CARD)
    assert (balance.pending_redemptions, balance.available) == (980, 20)
    assert len(loyalty_moves(domain, CARD)) == 14 and len(await events(domain, "loyalty.redeemed")) == 14


async def test_a_keyed_redemption_retried_is_answered_again_not_spent_again(domain: StoreDomain, clock: Clock):
    await snapshot(domain, CARD, 1000, store_seq=0, as_of=clock())
    first = await domain.redeem(CARD, redemption(400, key="till-1-r-1"), "till-1")
    again = await domain.redeem(CARD, redemption(400, key="till-1-r-1"), "till-1")
    assert again == first
    assert domain.balance(CARD).pending_redemptions == 400
    with pytest.raises(StoreError) as changed:
        await domain.redeem(CARD, redemption(500, key="till-1-r-1"), "till-1")
    assert changed.value.code == ErrorCode.CONFLICT
    # The same key on an accrual is another operation: a conflict too, not a silent answer.
    with pytest.raises(StoreError) as other_operation:
        await domain.accrue(CARD, AccrualCreate(points=400, idempotency_key="till-1-r-1"), "till-1")
    assert other_operation.value.code == ErrorCode.CONFLICT
    assert domain.balance(CARD).pending_redemptions == 400 and domain.balance(CARD).pending_accruals == 0
