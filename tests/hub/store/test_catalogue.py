"""The price book and the label queue: versions, future prices, labels that go stale and
right again; and the unit price a shelf label prints."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hub.store import parked
from hub.store.domain import StoreDomain
from hub.store.schemas import Ignored, ProductIn
from tests.hub.store.support import (
    BREAD,
    MILK,
    TEA,
    Clock,
    clear_labels,
    inbound,
    price,
    seed_catalogue,
)


async def test_a_future_price_is_pending_until_its_time_then_applied_with_a_stale_label(
    domain: StoreDomain, clock: Clock
):
    await seed_catalogue(domain, TEA, amount=15990)
    start = clock()
    report = await inbound(domain, prices=[price(TEA.sku, 2, 17990, effective_at=start + 3600)])
    assert (report.pending, report.applied["prices"], report.ignored) == (1, 0, [])
    assert domain.product(sku=TEA.sku).price.amount == 15990
    assert domain.labels().count == 0

    clock.advance(3599)
    assert await domain.apply_due_prices() == 0
    assert domain.product(sku=TEA.sku).price.version == 1
    assert domain.labels().count == 0

    clock.advance(1)  # exactly its effective time
    assert await domain.apply_due_prices() == 1
    product = domain.product(sku=TEA.sku)
    assert (product.price.amount, product.price.version) == (17990, 2)
    assert product.price.effective_at.timestamp() == start + 3600
    assert product.label_stale is True
    [label] = domain.labels().labels
    assert (label.sku, label.amount, label.previous_amount, label.price_version) == (TEA.sku, 17990, 15990, 2)
    assert label.queued_at.timestamp() == clock()

    clock.advance(60)
    assert await domain.apply_due_prices() == 0, "a price took effect twice"
    assert domain.labels().count == 1


async def test_an_older_version_arriving_after_a_newer_one_is_refused(domain: StoreDomain):
    await inbound(domain, products=[TEA])
    await inbound(domain, prices=[price(TEA.sku, 3, 17990)])
    older = await inbound(domain, prices=[price(TEA.sku, 2, 14990)])
    assert older.applied["prices"] == 0
    assert older.ignored == [Ignored(kind="price", id=TEA.sku, version=2, reason="older_version", current_version=3)]
    same = await inbound(domain, prices=[price(TEA.sku, 3, 12990)])
    assert [i.reason for i in same.ignored] == ["same_version"]
    product = domain.product(sku=TEA.sku)
    assert (product.price.amount, product.price.version) == (17990, 3)
    [label] = domain.labels().labels
    assert (label.amount, label.price_version) == (17990, 3)


async def test_a_price_that_comes_before_its_product_waits_for_it(domain: StoreDomain):
    early = await inbound(domain, prices=[price(TEA.sku, 2, 17990)])
    assert (early.parked, early.applied["prices"], early.ignored) == (1, 0, [])
    # Another batch, without the product: the price still waits, once.
    assert (await inbound(domain, prices=[price(MILK.sku, 1, 100)])).parked == 2

    arrived = await inbound(domain, products=[TEA])
    assert (arrived.applied["products"], arrived.applied["prices"], arrived.parked) == (1, 1, 1)
    assert (domain.product(sku=TEA.sku).price.amount, domain.product(sku=TEA.sku).price.version) == (17990, 2)
    # Applied once: the same version again is the same version.
    again = await inbound(domain, prices=[price(TEA.sku, 2, 17990)])
    assert [(i.id, i.reason) for i in again.ignored] == [(TEA.sku, "same_version")]


async def test_the_parking_shelf_is_bounded(domain: StoreDomain, monkeypatch: pytest.MonkeyPatch):
    """A cloud that sends prices for products it never sends is told so once the shelf is full."""
    monkeypatch.setattr(parked, "MAX_PARKED", 1)
    report = await inbound(domain, prices=[price(TEA.sku, 2, 17990), price(MILK.sku, 1, 100)])
    assert report.parked == 1
    assert [(i.id, i.reason) for i in report.ignored] == [(MILK.sku, "unknown_product")]


async def test_a_pending_older_version_never_replaces_a_newer_one_when_its_time_comes(
    domain: StoreDomain, clock: Clock
):
    await seed_catalogue(domain, TEA, amount=15990)
    start = clock()
    report = await inbound(domain, prices=[price(TEA.sku, 2, 14990, effective_at=start + 100)])
    assert report.pending == 1
    now = await inbound(domain, prices=[price(TEA.sku, 3, 16990)])  # newer, in effect at once
    assert now.applied["prices"] == 1
    await clear_labels(domain)

    clock.advance(200)
    assert await domain.apply_due_prices() == 0
    product = domain.product(sku=TEA.sku)
    assert (product.price.amount, product.price.version) == (16990, 3)
    assert domain.labels().count == 0 and product.label_stale is False


async def test_of_two_pending_versions_due_together_the_newer_one_wins(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, TEA, amount=15990)
    start = clock()
    await inbound(domain, prices=[price(TEA.sku, 2, 14990, effective_at=start + 100)])
    await inbound(domain, prices=[price(TEA.sku, 3, 16990, effective_at=start + 50)])
    clock.advance(500)  # the hub was off: both became due meanwhile
    assert await domain.apply_due_prices() == 1
    assert domain.product(sku=TEA.sku).price.version == 3
    [label] = domain.labels().labels
    assert (label.amount, label.previous_amount, label.price_version) == (16990, 15990, 3)


async def test_a_price_changed_back_to_the_printed_amount_takes_the_label_out_of_the_queue(domain: StoreDomain):
    await seed_catalogue(domain, TEA, MILK, amount=15990)
    await inbound(domain, prices=[price(TEA.sku, 2, 17990), price(MILK.sku, 2, 9990)])
    assert {label.sku for label in domain.labels().labels} == {TEA.sku, MILK.sku}

    await inbound(domain, prices=[price(TEA.sku, 3, 16990)])  # changed again: still one label, newest price
    labels = {label.sku: label for label in domain.labels().labels}
    assert (labels[TEA.sku].amount, labels[TEA.sku].previous_amount, labels[TEA.sku].price_version) == (
        16990,
        15990,
        3,
    )

    await inbound(domain, prices=[price(TEA.sku, 4, 15990)])  # back to what the shelf shows
    assert [label.sku for label in domain.labels().labels] == [MILK.sku]
    assert domain.product(sku=TEA.sku).label_stale is False
    assert domain.product(sku=TEA.sku).price.version == 4


async def test_a_new_version_with_the_same_amount_queues_no_label(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, TEA, amount=15990)
    report = await inbound(domain, prices=[price(TEA.sku, 2, 15990)])
    assert report.applied["prices"] == 1
    assert domain.product(sku=TEA.sku).price.version == 2
    assert domain.labels().count == 0

    await inbound(domain, prices=[price(TEA.sku, 3, 15990, effective_at=clock() + 10)])
    clock.advance(10)
    assert await domain.apply_due_prices() == 0
    assert domain.labels().count == 0 and domain.product(sku=TEA.sku).price.version == 3


async def test_the_first_price_of_a_new_product_queues_a_label(domain: StoreDomain):
    await inbound(domain, products=[TEA], prices=[price(TEA.sku, 1, 15990)])
    [label] = domain.labels().labels
    assert (label.amount, label.previous_amount) == (15990, None)


async def test_clear_labels_empties_the_queue_or_only_the_printed_ones(domain: StoreDomain):
    await seed_catalogue(domain, TEA, MILK, BREAD, amount=1000)
    await inbound(domain, prices=[price(p.sku, 2, 2000) for p in (TEA, MILK, BREAD)])
    assert domain.labels().count == 3
    assert await clear_labels(domain, [MILK.sku]) == 1
    assert {label.sku for label in domain.labels().labels} == {TEA.sku, BREAD.sku}
    assert await clear_labels(domain) == 2
    assert domain.labels().count == 0 and domain.labels().labels == []
    assert all(not domain.product(sku=p.sku).label_stale for p in (TEA, MILK, BREAD))


def _variant(base: ProductIn, sku: str, gtin: str | None, **fields) -> ProductIn:
    return base.model_copy(update={"sku": sku, "gtin": gtin, **fields})


async def test_unit_prices_per_kg_per_100_g_and_per_litre(domain: StoreDomain):
    bread_100g = _variant(BREAD, "BRD-400-H", None, unit_price_basis="100g")
    juice = _variant(MILK, "JCE-250", None, net_content=Decimal("0.250"), unit_price_basis="100ml")
    await inbound(
        domain,
        products=[BREAD, bread_100g, MILK, juice, TEA],
        prices=[
            price(BREAD.sku, 1, 5990),  # 400 g
            price(bread_100g.sku, 1, 5980),
            price(MILK.sku, 1, 8990),  # 0.9 l
            price(juice.sku, 1, 4500),  # 250 ml
            price(TEA.sku, 1, 15990),  # no unit price
        ],
    )
    unit = {sku: domain.product(sku=sku).unit_price for sku in (BREAD.sku, bread_100g.sku, MILK.sku, juice.sku)}
    assert (unit[BREAD.sku].amount, unit[BREAD.sku].per) == (14975, "kg")
    assert (unit[bread_100g.sku].amount, unit[bread_100g.sku].per) == (1495, "100g")
    assert (unit[MILK.sku].amount, unit[MILK.sku].per) == (9989, "l")  # 99.888… rounds up
    assert (unit[juice.sku].amount, unit[juice.sku].per) == (1800, "100ml")
    assert domain.product(sku=TEA.sku).unit_price is None
    # The shelf label prints the same unit price.
    labels = {label.sku: label for label in domain.labels().labels}
    assert labels[BREAD.sku].unit_price == unit[BREAD.sku]
    assert labels[TEA.sku].unit_price is None
    # And it follows the price.
    await inbound(domain, prices=[price(BREAD.sku, 2, 6400)])
    assert domain.product(sku=BREAD.sku).unit_price.amount == 16000


async def test_a_product_is_found_by_its_gtin_with_price_and_stock(domain: StoreDomain):
    await seed_catalogue(domain, MILK, amount=8990)
    by_gtin = domain.product(gtin=MILK.gtin)
    assert by_gtin == domain.product(sku=MILK.sku)
    assert by_gtin.sku == MILK.sku and by_gtin.price.amount == 8990
    assert (by_gtin.stock.on_hand, by_gtin.stock.available) == (Decimal("0.000"), Decimal("0.000"))
