"""Shelf labels from the store's side: the tags a label printer gets (named products or
the stale queue, refused when one would lie), what a print run changes (the queue, the
print journal, one labels.printed event), and the queue's numbers as they change."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import orjson
import pytest
from sqlmodel import Session

from bus.payloads import DeviceError, ErrorCode
from bus.topics import TopicTree
from cloud_link.reference.intake import read_batch
from devices.actor import DeviceSpec
from devices.labels.tag import LabelSelection, LabelsPrinted, PrintedTag
from hub.device_port import BusDevicePort
from hub.job_events import JobEvents
from hub.metrics import HubMetrics
from hub.store import outbox
from hub.store.domain import StoreDomain
from hub.store.models import LabelPrint, Product
from hub.store.schemas import PriceIn, ProductIn, ShelfTruth
from tests.conftest import until
from tests.hub.store.support import BREAD, MILK, STORE_ID, TEA, Clock, count, events, inbound, price, seed_catalogue

CHEESE = ProductIn(sku="CHS-200", gtin="4600000000046", name="Сыр российский 200 г", grade="высший",
                   net_content=Decimal("0.200"), unit_price_basis="kg", category="Сыры", aisle="C3", version=1)  # fmt: skip
KEFIR = ProductIn(sku="KEF-930", gtin="4600000000053", name="Кефир 1% 930 г", category="Молочные продукты",
                  aisle="B2", version=1)  # fmt: skip


def items(*skus_copies: tuple[str, int]) -> LabelSelection:
    return LabelSelection(items=[{"sku": sku, "copies": copies} for sku, copies in skus_copies])


def queue(**filters: object) -> LabelSelection:
    return LabelSelection(queue=filters)


def printed(*tags: tuple[str, int, int], from_queue: bool = True) -> LabelsPrinted:
    return LabelsPrinted(
        device="labels-1",
        client="manager-1",
        template="shelf-58x40",
        from_queue=from_queue,
        printed=[PrintedTag(sku=sku, price_version=version, copies=copies) for sku, version, copies in tags],
    )


def refused(domain: StoreDomain, selection: LabelSelection) -> DeviceError:
    with pytest.raises(DeviceError) as caught:
        domain.label_tags(selection)
    assert caught.value.code == ErrorCode.INVALID_REQUEST
    return caught.value


# -- the tags ---------------------------------------------------------------------------------


async def test_a_named_product_s_tag_says_what_the_catalogue_and_price_book_say(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, CHEESE, MILK, amount=25990)
    domain.store_name = "Магазин на Тверской"
    [(cheese, copies), (milk, milk_copies)] = domain.label_tags(items((CHEESE.sku, 3), (MILK.sku, 1)))
    assert (copies, milk_copies) == (3, 1)
    assert (cheese.sku, cheese.gtin, cheese.name, cheese.grade) == (CHEESE.sku, CHEESE.gtin, CHEESE.name, "высший")
    assert (cheese.price, cheese.price_version, cheese.old_price, cheese.promotion) == (25990, 1, None, False)
    # 259.90 for 200 g is 1299.50 a kilo.
    assert (cheese.unit_price.amount, cheese.unit_price.per) == (129950, "kg")
    assert cheese.store == "Магазин на Тверской"
    assert cheese.printed_on == dt.datetime.fromtimestamp(clock()).date()
    assert milk.grade is None and (milk.unit_price.amount, milk.unit_price.per) == (28878, "l")


async def test_a_tag_carries_the_current_price_version(domain: StoreDomain):
    await seed_catalogue(domain, TEA, amount=15990)
    await inbound(domain, prices=[price(TEA.sku, 2, 16990), price(TEA.sku, 3, 17490)])
    [(tea, _)] = domain.label_tags(items((TEA.sku, 1)))
    assert (tea.price, tea.price_version) == (17490, 3)


async def test_an_unknown_sku_is_refused_by_name_and_nothing_is_given(domain: StoreDomain):
    await seed_catalogue(domain, TEA)
    error = refused(domain, items((TEA.sku, 1), ("NOPE-1", 2), ("NOPE-2", 1)))
    assert "NOPE-1" in error.message and "NOPE-2" in error.message
    assert error.details["skus"] == ["NOPE-1", "NOPE-2"]


async def test_a_product_without_a_price_in_effect_is_refused(domain: StoreDomain, clock: Clock):
    await inbound(domain, products=[TEA], prices=[price(TEA.sku, 1, 15990, effective_at=clock() + 3600)])
    error = refused(domain, items((TEA.sku, 1)))
    assert TEA.sku in error.message and error.details["sku"] == TEA.sku


async def test_a_wrong_gtin_check_digit_is_refused_naming_the_sku(domain: StoreDomain):
    await seed_catalogue(domain, TEA, MILK)

    def misprint(session: Session) -> None:  # as an older catalogue or a hand edit could hold it
        product = session.get(Product, TEA.sku)
        product.gtin = "4600000000023"
        session.add(product)

    await domain.writer.run(misprint)
    error = refused(domain, items((MILK.sku, 1), (TEA.sku, 1)))
    assert TEA.sku in error.message and "4600000000023" in error.message
    assert error.details == {"field": "gtin", "sku": TEA.sku}
    await inbound(domain, prices=[price(TEA.sku, 2, 1)])
    refused(domain, queue())  # the queue's tags are checked the same way


async def test_items_and_queue_together_or_neither_are_refused(domain: StoreDomain):
    await seed_catalogue(domain, TEA)
    refused(domain, LabelSelection())
    refused(domain, LabelSelection(items=[{"sku": TEA.sku}], queue={}))


async def test_the_queue_gives_its_labels_oldest_first_once_each(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK, TEA, BREAD, amount=10000)
    for sku in (TEA.sku, BREAD.sku, MILK.sku):
        clock.advance(10)
        await inbound(domain, prices=[price(sku, 2, 12000)])
    tags = domain.label_tags(queue())
    assert [(tag.sku, copies) for tag, copies in tags] == [(TEA.sku, 1), (BREAD.sku, 1), (MILK.sku, 1)]
    assert {(tag.price, tag.price_version) for tag, _ in tags} == {(12000, 2)}
    assert [tag.sku for tag, _ in domain.label_tags(queue(limit=2))] == [TEA.sku, BREAD.sku]
    assert [tag.sku for tag, _ in domain.label_tags(queue(skus=[MILK.sku, "NOPE-1"]))] == [MILK.sku]


async def test_the_queue_filtered_by_category(domain: StoreDomain):
    await seed_catalogue(domain, CHEESE, KEFIR, MILK)
    await inbound(domain, prices=[price(sku, 2, 9000) for sku in (CHEESE.sku, KEFIR.sku, MILK.sku)])
    assert [tag.sku for tag, _ in domain.label_tags(queue(category="Сыры"))] == [CHEESE.sku]
    assert [tag.sku for tag, _ in domain.label_tags(queue(category="Молочные продукты"))] == [KEFIR.sku]
    assert domain.label_tags(queue(category="Хлеб")) == []


async def test_a_promotion_tag_strikes_through_the_price_the_shelf_shows(domain: StoreDomain):
    await seed_catalogue(domain, TEA, MILK, amount=15990)
    await inbound(
        domain,
        prices=[
            PriceIn(sku=TEA.sku, version=2, amount=12990, promotion=True),
            PriceIn(sku=MILK.sku, version=2, amount=16990, promotion=True),  # a "promotion" dearer than before
        ],
    )
    tags = {tag.sku: tag for tag, _ in domain.label_tags(queue())}
    assert (tags[TEA.sku].price, tags[TEA.sku].old_price, tags[TEA.sku].promotion) == (12990, 15990, True)
    assert tags[MILK.sku].old_price is None, "a struck price below the price would not be a saving"
    # Printed, then reprinted by name: the regular price is still the one struck through.
    await asyncio.to_thread(domain.labels_printed, printed((TEA.sku, 2, 1)))
    [(tea, _)] = domain.label_tags(items((TEA.sku, 1)))
    assert (tea.price, tea.old_price) == (12990, 15990)


async def test_a_promotion_mark_from_the_cloud_is_a_flag_and_nothing_else():
    with pytest.raises(ValueError):
        PriceIn.model_validate({"sku": TEA.sku, "version": 2, "amount": 1, "promotion": "yes"})
    assert PriceIn.model_validate({"sku": TEA.sku, "version": 2, "amount": 1}).promotion is False


async def test_the_label_printer_s_port_reads_and_writes_the_store_from_its_worker_thread(domain: StoreDomain):
    await seed_catalogue(domain, TEA, amount=15990)
    await inbound(domain, prices=[price(TEA.sku, 2, 16990)])
    port = BusDevicePort(
        bus=None,  # type: ignore[arg-type]  (the labels' calls publish nothing)
        topics=TopicTree(STORE_ID),
        spec=DeviceSpec(id="labels-1", kind="echo"),
        metrics=HubMetrics(),
        journal=None,  # type: ignore[arg-type]
        store=domain,
        job_events=JobEvents(),
    )
    [(tag, copies)] = await asyncio.to_thread(port.label_tags, queue())
    assert (tag.sku, tag.price, tag.price_version, copies) == (TEA.sku, 16990, 2, 1)
    with pytest.raises(DeviceError):
        await asyncio.to_thread(port.label_tags, items(("NOPE-1", 1)))
    await asyncio.to_thread(port.labels_printed, printed((tag.sku, tag.price_version, copies)))
    assert domain.labels().count == 0 and len(await events(domain, "labels.printed")) == 1


# -- what a print run changes ---------------------------------------------------------------


async def test_printing_clears_the_printed_version_and_keeps_a_newer_one_queued(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK, TEA, amount=10000)
    await inbound(domain, prices=[price(MILK.sku, 2, 9000), price(TEA.sku, 2, 11000)])
    tags = domain.label_tags(queue())
    assert {tag.sku: tag.price_version for tag, _ in tags} == {MILK.sku: 2, TEA.sku: 2}
    clock.advance(30)
    # While the batch prints, tea's price changes again: its new label is still to print.
    await inbound(domain, prices=[price(TEA.sku, 3, 11500)])
    clock.advance(5)
    await asyncio.to_thread(domain.labels_printed, printed(*((tag.sku, tag.price_version, 1) for tag, _ in tags)))

    [tea] = domain.labels().labels
    assert (tea.sku, tea.amount, tea.price_version) == (TEA.sku, 11500, 3)
    assert tea.previous_amount == 11000, "the shelf now shows version 2's price, not the one before"
    assert domain.product(sku=MILK.sku).label_stale is False
    [(again, _)] = domain.label_tags(queue())
    assert (again.sku, again.price_version) == (TEA.sku, 3)


async def test_a_newer_price_changed_back_to_the_printed_one_leaves_the_queue(domain: StoreDomain):
    await seed_catalogue(domain, TEA, amount=10000)
    await inbound(domain, prices=[price(TEA.sku, 2, 11000)])
    domain.label_tags(queue())
    await inbound(domain, prices=[price(TEA.sku, 3, 12000), price(TEA.sku, 4, 11000)])
    await asyncio.to_thread(domain.labels_printed, printed((TEA.sku, 2, 1)))
    assert domain.labels().count == 0, "the shelf shows 110.00, which is the price"


async def test_a_print_run_writes_its_journal_and_exactly_one_labels_printed_event(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK, TEA, amount=10000)
    await inbound(domain, prices=[price(MILK.sku, 2, 9000), price(TEA.sku, 2, 11000)])
    before = len(await events(domain))
    clock.advance(60)
    await asyncio.to_thread(domain.labels_printed, printed((MILK.sku, 2, 2), (TEA.sku, 2, 1)))

    [event] = await events(domain, "labels.printed")
    assert len(await events(domain)) == before + 1
    assert event["source"] == {"client": "manager-1", "device": "labels-1"}
    assert event["data"] == {
        "device": "labels-1",
        "template": "shelf-58x40",
        "labels": [
            {"sku": MILK.sku, "price_version": 2, "amount": 9000, "copies": 2},
            {"sku": TEA.sku, "price_version": 2, "amount": 11000, "copies": 1},
        ],
    }
    journal = domain.label_journal().entries
    assert [(e.sku, e.price_version, e.amount, e.copies) for e in journal] == [
        (TEA.sku, 2, 11000, 1),
        (MILK.sku, 2, 9000, 2),
    ], "newest first"
    milk = journal[1]
    assert (milk.name, milk.template, milk.device, milk.client, milk.from_queue) == (
        MILK.name, "shelf-58x40", "labels-1", "manager-1", True,
    )  # fmt: skip
    assert milk.seq == event["seq"] and milk.printed_at.timestamp() == clock()
    assert [e.sku for e in domain.label_journal(sku=MILK.sku).entries] == [MILK.sku]
    assert len(domain.label_journal(limit=1).entries) == 1


async def test_a_reprint_by_name_is_journalled_and_leaves_the_queue_alone(domain: StoreDomain):
    await seed_catalogue(domain, MILK, TEA, amount=10000)
    await inbound(domain, prices=[price(TEA.sku, 2, 11000)])
    await asyncio.to_thread(domain.labels_printed, printed((MILK.sku, 1, 4), from_queue=False))
    assert [label.sku for label in domain.labels().labels] == [TEA.sku]
    [entry] = domain.label_journal().entries
    assert (entry.sku, entry.copies, entry.from_queue) == (MILK.sku, 4, False)


async def test_a_tag_the_price_book_does_not_hold_is_left_out_not_guessed(domain: StoreDomain):
    await seed_catalogue(domain, MILK, amount=10000)
    await asyncio.to_thread(domain.labels_printed, printed((MILK.sku, 7, 1), ("NOPE-1", 1, 1)))
    assert count(domain, LabelPrint) == 0 and await events(domain, "labels.printed") == []
    await asyncio.to_thread(domain.labels_printed, printed((MILK.sku, 7, 1), (MILK.sku, 1, 1)))
    [event] = await events(domain, "labels.printed")
    assert event["data"]["labels"] == [{"sku": MILK.sku, "price_version": 1, "amount": 10000, "copies": 1}]


async def test_the_reference_cloud_takes_labels_printed_as_the_store_wrote_it(domain: StoreDomain):
    await seed_catalogue(domain, TEA)
    await asyncio.to_thread(domain.labels_printed, printed((TEA.sku, 1, 1), from_queue=False))

    def feed(session: Session) -> tuple[list[int], bytes]:
        return outbox.encoded_events_after(session=session, after=0, limit=100, store_id=STORE_ID)

    seqs, encoded = domain.read(feed)
    body = orjson.dumps(
        {
            "store_id": STORE_ID,
            "first_seq": seqs[0],
            "last_seq": seqs[-1],
            "head_seq": seqs[-1],
            "events": orjson.Fragment(encoded),
        }
    )
    batch, received = read_batch(body, store_id=STORE_ID, idempotency_key=f"{seqs[0]}-{seqs[-1]}")
    [held] = [event for event in received if orjson.loads(event.document)["type"] == "labels.printed"]
    assert orjson.loads(held.document)["data"]["labels"][0]["sku"] == TEA.sku
    assert len(batch.events) == len(seqs)


# -- the queue's numbers ------------------------------------------------------------------------


async def test_the_label_queue_says_how_many_lie_and_since_when(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK, TEA)
    assert domain.labels().model_dump(exclude={"labels"}) == {
        "count": 0,
        "matching": 0,
        "oldest_queued_at": None,
        "oldest_age_s": None,
    }
    first = clock()
    await inbound(domain, prices=[price(TEA.sku, 2, 1)])
    clock.advance(100)
    await inbound(domain, prices=[price(MILK.sku, 2, 1)])
    clock.advance(20.5)
    queue_now = domain.labels()
    assert (queue_now.count, queue_now.oldest_queued_at.timestamp(), queue_now.oldest_age_s) == (2, first, 120.5)
    assert domain.shelf_truth() == ShelfTruth(**queue_now.model_dump(exclude={"labels", "matching"}))


async def test_watchers_hear_the_numbers_when_the_queue_changes(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK, TEA)
    heard: list[ShelfTruth] = []
    stop = domain.watch_shelf(heard.append)
    assert [truth.count for truth in heard] == [0]
    await inbound(domain, prices=[price(TEA.sku, 2, 1), price(MILK.sku, 2, 1)])
    await until(lambda: heard[-1].count == 2, 5, "the new stale labels told")
    await asyncio.to_thread(domain.labels_printed, printed((TEA.sku, 2, 1)))
    await until(lambda: heard[-1].count == 1, 5, "the printed label told")
    assert heard[-1].oldest_queued_at.timestamp() == clock()
    told = len(heard)
    await inbound(domain, products=[TEA.model_copy(update={"version": 2, "name": "Чай"})])
    await asyncio.sleep(0.6)  # more than the look's interval: a look would have happened
    assert len(heard) == told, "a commit that left the queue as it was is not told again"
    stop()
    await inbound(domain, prices=[price(TEA.sku, 3, 2)])
    await asyncio.sleep(0.6)
    assert len(heard) == told


async def test_the_queue_is_searched_filtered_and_paged_in_the_store(domain: StoreDomain):
    shelf = [
        ProductIn(sku=f"SHL-{n:03d}", name=f"{'Сыр' if n % 3 == 0 else 'Кефир'} №{n}", aisle="A1",
                  category="Сыры" if n % 3 == 0 else "Молочное", version=1)
        for n in range(30)
    ]  # fmt: skip
    await seed_catalogue(domain, *shelf, TEA)
    await inbound(domain, prices=[price(p.sku, 2, 5000) for p in [*shelf, TEA]])
    assert domain.labels().matching == domain.labels().count == 31
    cheese = domain.labels(search="сыр")
    assert cheese.matching == 10 and {label.category for label in cheese.labels} == {"Сыры"}
    assert cheese.count == 31, "the figure counts the whole queue, the search only the list"
    assert {label.sku for label in domain.labels(search="shl-02").labels} == {f"SHL-02{n}" for n in range(10)}
    assert domain.labels(search="КЕФИР").matching == 20, "a Cyrillic word is found typed in capitals too"
    assert domain.labels(category="Молочное").matching == 20
    assert domain.labels(search="%").matching == 0, "a wildcard is a character, not a wildcard"
    pages = [domain.labels(8, offset=offset, category="Молочное").labels for offset in (0, 8, 16)]
    assert [len(page) for page in pages] == [8, 8, 4]
    assert len({label.sku for page in pages for label in page}) == 20, "no label on two pages"
    assert domain.label_categories() == ["", "Молочное", "Сыры"]
