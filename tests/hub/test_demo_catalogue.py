"""The demo store's seed data is a shop the hub accepts, and the same shop every time."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from stdnum import ean

from hub.demo.catalogue import OUT_OF_STOCK, demo_inbound, demo_stock
from hub.store.schemas import InboundBatch

NOW = 1_760_000_000.0
CYRILLIC = re.compile(r"[А-Яа-яЁё]")


@pytest.fixture(scope="module")
def batch() -> InboundBatch:
    return demo_inbound(NOW)


def test_the_batch_survives_a_round_trip_through_validation(batch):
    assert InboundBatch.model_validate(batch.model_dump()) == batch


def test_a_few_hundred_products_with_unique_skus_and_valid_gtins(batch):
    skus = [product.sku for product in batch.products]
    gtins = [product.gtin for product in batch.products if product.gtin is not None]
    assert len(skus) >= 250
    assert len(set(skus)) == len(skus)
    assert len(set(gtins)) == len(gtins)
    assert all(len(gtin) == 13 and gtin[:3] in {str(n) for n in range(460, 470)} for gtin in gtins)
    assert all(ean.is_valid(gtin) for gtin in gtins)


def test_only_loose_goods_go_without_a_barcode(batch):
    for product in batch.products:
        assert (product.gtin is None) == (product.measure != "piece"), product.name


def test_names_are_russian(batch):
    for product in batch.products:
        assert CYRILLIC.search(product.name), product.name
        assert CYRILLIC.search(product.category), product.category


def test_every_product_has_exactly_one_price(batch):
    priced = Counter(price.sku for price in batch.prices)
    assert priced == Counter(product.sku for product in batch.products)
    assert all(price.amount > 0 and price.amount % 100 in (90, 99) for price in batch.prices)
    assert all(price.effective_at is not None and price.effective_at.timestamp() < NOW for price in batch.prices)


def test_pickup_lines_are_catalogue_products_covered_by_the_opening_stock(batch):
    catalogue = {product.sku for product in batch.products}
    stock = dict(demo_stock(batch))
    promised: dict[str, Decimal] = defaultdict(Decimal)
    for pickup in batch.pickups:
        for line in pickup.lines:
            assert line.sku in catalogue
            promised[line.sku] += line.quantity
    for sku, quantity in promised.items():
        assert stock.get(sku, Decimal(0)) >= quantity, sku


def test_one_pickup_is_overdue_and_the_rest_are_not(batch):
    overdue = [pickup.id for pickup in batch.pickups if pickup.deadline.timestamp() < NOW]
    assert len(batch.pickups) == 4
    assert len(overdue) == 1


def test_the_sold_out_products_have_no_stock_here_and_some_elsewhere(batch):
    stock = dict(demo_stock(batch))
    by_name = {product.name: product.sku for product in batch.products}
    elsewhere: dict[str, Decimal] = defaultdict(Decimal)
    for snapshot in batch.stock_elsewhere:
        assert snapshot.sku in by_name.values()
        elsewhere[snapshot.sku] += snapshot.available
    for name in OUT_OF_STOCK:
        assert by_name[name] not in stock, name
        assert elsewhere[by_name[name]] > 0, name
    assert all(quantity > 0 for quantity in stock.values())


def test_loyalty_cards(batch):
    assert len(batch.loyalty) == 8
    assert len({card.card for card in batch.loyalty}) == 8
    assert all(re.fullmatch(r"77\d{11}", card.card) and CYRILLIC.search(card.holder) for card in batch.loyalty)
    assert any(card.balance == 0 for card in batch.loyalty)


def test_the_same_store_every_time():
    assert demo_inbound(NOW) == demo_inbound(NOW)
    assert demo_stock(demo_inbound(NOW)) == demo_stock(demo_inbound(NOW + 60))
