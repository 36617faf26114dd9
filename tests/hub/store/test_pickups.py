"""Click and collect: which transitions are allowed, what each does to stock, the
cloud's cancellation, refusal when stock is short, and the overdue list."""

from __future__ import annotations

import pytest

from bus.payloads import ErrorCode
from hub.store.domain import StoreDomain
from hub.store.errors import StoreError
from hub.store.schemas import PickupTransition
from tests.hub.store.support import MILK, TEA, Clock, events, inbound, pickup_order, receive, seed_catalogue, stock_of

#: Where an order may go from each state (the product's table, written out again).
ALLOWED = {
    "arrived": {"ready", "cancelled"},
    "ready": {"collected", "returned", "cancelled"},
    "collected": set(),
    "returned": set(),
    "cancelled": set(),
}
#: How to bring a fresh order to each state.
PATH = {
    "arrived": [],
    "ready": ["ready"],
    "collected": ["ready", "collected"],
    "returned": ["ready", "returned"],
    "cancelled": ["cancelled"],
}
#: MILK (on hand, reserved) in thousandths after each state, from 10 on hand and an order of 2.
STOCK_AFTER = {
    "arrived": (10000, 0),
    "ready": (10000, 2000),
    "collected": (8000, 0),
    "returned": (10000, 0),
    "cancelled": (10000, 0),
}
TARGETS = ["ready", "collected", "returned", "cancelled"]


async def go(domain: StoreDomain, order_id: str, to: str, client: str = "till-1"):
    code = "4821" if to == "collected" else None
    return await domain.transition_pickup(order_id, PickupTransition(to=to, code=code), client)


async def arrived(domain: StoreDomain, clock: Clock, order_id: str = "CC-1", quantity: str = "2") -> None:
    await seed_catalogue(domain, MILK, TEA)
    await receive(domain, MILK.sku, "10")
    report = await inbound(domain, pickups=[pickup_order(order_id, [(MILK.sku, quantity)], deadline=clock() + 3600)])
    assert report.applied["pickups"] == 1, report


@pytest.mark.parametrize("start", list(ALLOWED))
@pytest.mark.parametrize("to", TARGETS)
async def test_transition_table(domain: StoreDomain, clock: Clock, start: str, to: str):
    await arrived(domain, clock)
    for step in PATH[start]:
        await go(domain, "CC-1", step)
    assert domain.pickup("CC-1").state == start and stock_of(domain, MILK.sku) == STOCK_AFTER[start]
    assert set(domain.pickup("CC-1").next_states) == ALLOWED[start]
    before = len(await events(domain))

    if to in ALLOWED[start]:
        moved = await go(domain, "CC-1", to)
        assert moved.state == to and domain.pickup("CC-1").state == to
        assert stock_of(domain, MILK.sku) == STOCK_AFTER[to]
        [event] = (await events(domain))[before:]
        assert event["type"] == f"pickup.{to}" and event["data"]["state"] == to
        assert event["data"]["lines"] == [{"sku": MILK.sku, "quantity": "2.000"}]
    else:
        with pytest.raises(StoreError) as refused:
            await go(domain, "CC-1", to)
        assert refused.value.code == ErrorCode.CONFLICT
        assert refused.value.details["state"] == start and set(refused.value.details["allowed"]) == ALLOWED[start]
        assert domain.pickup("CC-1").state == start
        assert stock_of(domain, MILK.sku) == STOCK_AFTER[start]
        assert len(await events(domain)) == before


async def test_collecting_needs_the_shoppers_code(domain: StoreDomain, clock: Clock):
    await arrived(domain, clock)
    await go(domain, "CC-1", "ready")
    for code in (None, "", "1111", "48211"):
        with pytest.raises(StoreError) as wrong:
            await domain.transition_pickup("CC-1", PickupTransition(to="collected", code=code), "till-1")
        assert wrong.value.code == ErrorCode.FORBIDDEN and wrong.value.details == {"field": "code"}
    assert domain.pickup("CC-1").state == "ready" and stock_of(domain, MILK.sku) == (10000, 2000)


async def test_cancelling_a_ready_order_puts_its_goods_back_on_sale(domain: StoreDomain, clock: Clock):
    await arrived(domain, clock, quantity="3")
    await go(domain, "CC-1", "ready")
    assert domain.product(sku=MILK.sku).stock.available == 7
    cancelled = await go(domain, "CC-1", "cancelled")
    assert cancelled.state == "cancelled" and cancelled.next_states == []
    assert stock_of(domain, MILK.sku) == (10000, 0)
    assert domain.product(sku=MILK.sku).stock.available == 10


@pytest.mark.parametrize("state", ["arrived", "ready"])
async def test_the_clouds_cancellation_cancels_and_releases(domain: StoreDomain, clock: Clock, state: str):
    await arrived(domain, clock)
    for step in PATH[state]:
        await go(domain, "CC-1", step)
    report = await inbound(
        domain, pickups=[pickup_order("CC-1", [(MILK.sku, "2")], deadline=clock() + 3600, version=2, cancelled=True)]
    )
    assert report.applied["pickups"] == 1 and report.ignored == []
    order = domain.pickup("CC-1")
    assert (order.state, order.version) == ("cancelled", 2)
    assert stock_of(domain, MILK.sku) == (10000, 0)
    cancelled = await events(domain, "pickup.cancelled")
    assert len(cancelled) == 1 and cancelled[0]["source"]["client"] is None


async def test_the_clouds_cancellation_of_a_collected_order_is_not_reported_as_applied(
    domain: StoreDomain, clock: Clock
):
    """The shopper has the goods: the cloud must hear that its cancellation did not happen."""
    await arrived(domain, clock)
    await go(domain, "CC-1", "ready")
    await go(domain, "CC-1", "collected")
    report = await inbound(
        domain, pickups=[pickup_order("CC-1", [(MILK.sku, "2")], deadline=clock() + 3600, version=2, cancelled=True)]
    )
    assert domain.pickup("CC-1").state == "collected"
    assert stock_of(domain, MILK.sku) == (8000, 0)
    assert await events(domain, "pickup.cancelled") == []
    assert report.applied["pickups"] == 0, "a cancellation that did not happen was reported as applied"
    assert [(i.id, i.reason) for i in report.ignored] == [("CC-1", "not_applicable")]


async def test_the_cloud_cancelling_an_order_the_store_never_had_changes_nothing(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK)
    report = await inbound(
        domain, pickups=[pickup_order("CC-9", [(MILK.sku, "1")], deadline=clock() + 60, cancelled=True)]
    )
    assert [(i.kind, i.id, i.reason) for i in report.ignored] == [("pickup", "CC-9", "not_applicable")]
    assert domain.pickups().count == 0


async def test_a_cloud_update_of_an_arrived_order_changes_its_lines_but_not_once_ready(
    domain: StoreDomain, clock: Clock
):
    await arrived(domain, clock)
    await inbound(domain, pickups=[pickup_order("CC-1", [(MILK.sku, "4")], deadline=clock() + 7200, version=2)])
    assert [str(line.quantity) for line in domain.pickup("CC-1").lines] == ["4.000"]
    await go(domain, "CC-1", "ready")
    assert stock_of(domain, MILK.sku) == (10000, 4000)
    await inbound(domain, pickups=[pickup_order("CC-1", [(MILK.sku, "1")], deadline=clock() + 7200, version=3)])
    assert [str(line.quantity) for line in domain.pickup("CC-1").lines] == ["4.000"]
    assert stock_of(domain, MILK.sku) == (10000, 4000)
    await go(domain, "CC-1", "collected")
    assert stock_of(domain, MILK.sku) == (6000, 0), "collected what was set aside, not the cloud's later lines"


async def test_ready_is_refused_with_the_short_lines_when_stock_is_short(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK, TEA)
    await receive(domain, MILK.sku, "1")
    await receive(domain, TEA.sku, "5")
    await inbound(domain, pickups=[pickup_order("CC-1", [(MILK.sku, "2"), (TEA.sku, "1")], deadline=clock() + 3600)])
    with pytest.raises(StoreError) as short:
        await go(domain, "CC-1", "ready")
    assert short.value.code == ErrorCode.CONFLICT
    assert short.value.details == {
        "field": "lines",
        "reason": "insufficient_stock",
        "short": [{"sku": MILK.sku, "needed": "2.000", "available": "1.000"}],
    }
    assert domain.pickup("CC-1").state == "arrived"
    assert stock_of(domain, MILK.sku) == (1000, 0) and stock_of(domain, TEA.sku) == (5000, 0)
    assert await events(domain, "pickup.ready") == []

    await receive(domain, MILK.sku, "1")
    assert (await go(domain, "CC-1", "ready")).state == "ready"


async def test_stock_another_order_set_aside_is_not_available_for_ready(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK)
    await receive(domain, MILK.sku, "3")
    await inbound(domain, pickups=[pickup_order("CC-1", [(MILK.sku, "2")], deadline=clock() + 3600),
                                   pickup_order("CC-2", [(MILK.sku, "2")], deadline=clock() + 3600)])  # fmt: skip
    await go(domain, "CC-1", "ready")
    with pytest.raises(StoreError) as short:
        await go(domain, "CC-2", "ready")
    assert short.value.details["short"] == [{"sku": MILK.sku, "needed": "2.000", "available": "1.000"}]


async def test_ready_counts_every_line_of_one_product_together(domain: StoreDomain, clock: Clock):
    """Two lines of the same product (two pack sizes picked separately online) need
    their sum on hand; checked line by line, 3 in stock 'covers' 2 + 2."""
    await seed_catalogue(domain, MILK)
    await receive(domain, MILK.sku, "3")
    await inbound(domain, pickups=[pickup_order("CC-1", [(MILK.sku, "2"), (MILK.sku, "2")], deadline=clock() + 3600)])
    with pytest.raises(StoreError) as short:
        await go(domain, "CC-1", "ready")
    assert short.value.details["reason"] == "insufficient_stock"
    assert stock_of(domain, MILK.sku) == (3000, 0)
    assert domain.product(sku=MILK.sku).stock.available >= 0


async def test_the_overdue_list_holds_orders_still_waiting_past_their_deadline(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK)
    await receive(domain, MILK.sku, "10")
    now = clock()
    await inbound(
        domain,
        pickups=[
            pickup_order("CC-LATE", [(MILK.sku, "1")], deadline=now - 60),
            pickup_order("CC-SOON", [(MILK.sku, "1")], deadline=now + 600),
            pickup_order("CC-DONE", [(MILK.sku, "1")], deadline=now - 120),
            pickup_order("CC-HELD", [(MILK.sku, "1")], deadline=now - 30),
        ],
    )
    await go(domain, "CC-DONE", "cancelled")
    await go(domain, "CC-HELD", "ready")

    overdue = domain.pickups(overdue=True)
    assert [p.id for p in overdue.pickups] == ["CC-LATE", "CC-HELD"] and overdue.count == 2
    assert all(p.overdue for p in overdue.pickups)
    assert domain.pickup("CC-SOON").overdue is False and domain.pickup("CC-DONE").overdue is False
    assert [p.id for p in domain.pickups(state="ready", overdue=True).pickups] == ["CC-HELD"]

    clock.advance(601)  # the soon one's deadline passes
    assert [p.id for p in domain.pickups(overdue=True).pickups] == ["CC-LATE", "CC-HELD", "CC-SOON"]
    assert domain.pickup("CC-SOON").overdue is True
    assert [p.id for p in domain.pickups().pickups] == ["CC-DONE", "CC-LATE", "CC-HELD", "CC-SOON"]


async def test_the_counter_finds_an_order_by_its_number_or_the_shoppers_name(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK)
    await receive(domain, MILK.sku, "10")
    now = clock()
    orders = [("CC-1001", "Иванова Мария", now + 600), ("CC-1002", "Петров Олег", now + 90_000),
              ("WEB-77", "Maria Smith", now - 60), ("CC-1003", "Иванов Пётр", now + 300)]  # fmt: skip
    await inbound(
        domain,
        pickups=[
            pickup_order(order, [(MILK.sku, "1")], deadline=deadline).model_copy(update={"customer_name": name})
            for order, name, deadline in orders
        ],
    )
    await go(domain, "CC-1003", "cancelled")

    def found(**query) -> list[str]:
        return [p.id for p in domain.pickups(**query).pickups]

    assert found(search="1002") == ["CC-1002"]
    assert found(search="иванов") == ["CC-1003", "CC-1001"]  # a lower-case Cyrillic name finds the capitalised
    assert found(search="maria") == ["WEB-77"]
    assert found(search="Иванов", open_only=True) == ["CC-1001"]
    assert found(open_only=True, due_before=now + 3600) == ["WEB-77", "CC-1001"]  # due within the hour
    assert found(search="%") == [] and found(search="_") == []  # LIKE's wildcards are only characters


async def test_an_unknown_pickup_is_not_found(domain: StoreDomain):
    with pytest.raises(StoreError) as missing:
        await go(domain, "CC-404", "ready")
    assert missing.value.code == ErrorCode.NOT_FOUND and missing.value.details == {"field": "id"}


async def test_a_pickup_for_a_product_the_store_does_not_know_yet_waits_for_it(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK)
    report = await inbound(
        domain, pickups=[pickup_order("CC-1", [(MILK.sku, "1"), (TEA.sku, "1")], deadline=clock() + 60)]
    )
    assert (report.parked, report.ignored) == (1, [])
    assert domain.pickups().count == 0 and await events(domain, "pickup.arrived") == []

    arrived = await inbound(domain, products=[TEA])
    assert (arrived.applied["pickups"], arrived.parked) == (1, 0)
    assert domain.pickup("CC-1").state == "arrived" and len(await events(domain, "pickup.arrived")) == 1
