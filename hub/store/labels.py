"""Shelf labels from the store's side: what each tag says, and what a print run changed.

``label_tags`` reads the catalogue, the price book and the label queue into the
``TagData`` a label printer lays out (devices/labels/tag.py); ``record_printed`` takes
a print run's outcome into the store in one transaction: the queue entries it made
true leave the queue, the print journal keeps each tag, and ``labels.printed`` tells
the cloud the price versions now on the shelf.

A tag must not lie: an unknown article, a product with no price in effect, or a GTIN
whose check digit is wrong is refused (naming the article) before anything prints.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlmodel import Session

from bus.payloads import ErrorCode
from devices.gtin import is_valid_gtin
from devices.labels.tag import LabelItem, LabelSelection, LabelsPrinted, QueueFilter, TagData, TagUnitPrice
from hub.store import outbox
from hub.store.catalogue import on_the_shelf, unit_price
from hub.store.errors import StoreError
from hub.store.models import LabelPrint, PriceRow, Product, StaleLabel
from hub.store.schemas import LabelJournal, LabelPrintPublic, aware

log = logging.getLogger(__name__)

#: The journal's longest page: a manager scrolls back a day or two, not a year.
MAX_JOURNAL_ENTRIES = 1000


@dataclass(frozen=True)
class Shop:
    """What every tag of this store prints the same: its name and today's date."""

    name: str
    today: dt.date


# -- the tags -----------------------------------------------------------------------------


def label_tags(*, session: Session, selection: LabelSelection, shop: Shop) -> list[tuple[TagData, int]]:
    """The tags ``selection`` asks for, each with its copies; ``StoreError`` if one would lie."""
    if (selection.items is None) == (selection.queue is None):
        raise StoreError(ErrorCode.INVALID_REQUEST, "name the labels: either items or queue, not both", field="items")
    if selection.items is not None:
        return _named_tags(session, selection.items, shop)
    assert selection.queue is not None
    return [(tag, 1) for tag in _queued_tags(session, selection.queue, shop)]


def _tag_rows() -> Select:
    """A product, the price it shows now, and its queue entry if its label is stale."""
    return (
        select(Product, PriceRow, StaleLabel)
        .select_from(Product)
        .outerjoin(PriceRow, on_the_shelf())
        .outerjoin(StaleLabel, StaleLabel.sku == Product.sku)
    )


def _named_tags(session: Session, items: list[LabelItem], shop: Shop) -> list[tuple[TagData, int]]:
    wanted = {item.sku for item in items}
    rows = {row[0].sku: row for row in session.execute(_tag_rows().where(Product.sku.in_(wanted))).all()}
    unknown = [item.sku for item in items if item.sku not in rows]
    if unknown:
        raise StoreError(
            ErrorCode.INVALID_REQUEST,
            f"this store has no product {', '.join(unknown[:10])}: no label printed",
            field="items",
            skus=unknown[:100],
        )
    return [(_tag(session, *rows[item.sku], shop), item.copies) for item in items]


def _queued_tags(session: Session, queue: QueueFilter, shop: Shop) -> list[TagData]:
    """The queue's labels, oldest first (the shelf that has lied longest is put right first)."""
    query = _tag_rows().where(StaleLabel.sku.is_not(None))
    if queue.category is not None:
        query = query.where(Product.category == queue.category)
    if queue.skus is not None:
        query = query.where(Product.sku.in_(queue.skus))
    rows = session.execute(query.order_by(StaleLabel.queued_at, StaleLabel.sku).limit(queue.limit)).all()
    return [_tag(session, product, price, stale, shop) for product, price, stale in rows]


def _tag(session: Session, product: Product, price: PriceRow | None, stale: StaleLabel | None, shop: Shop) -> TagData:
    if price is None:
        raise StoreError(
            ErrorCode.INVALID_REQUEST,
            f"{product.sku} has no price in effect: its label would show none",
            field="sku",
            sku=product.sku,
        )
    if product.gtin is not None and not is_valid_gtin(product.gtin):
        raise StoreError(
            ErrorCode.INVALID_REQUEST,
            f"{product.sku}'s GTIN {product.gtin} has a wrong check digit: its barcode would not scan",
            field="gtin",
            sku=product.sku,
        )
    per_unit = unit_price(product, price.amount)
    return TagData(
        sku=product.sku,
        gtin=product.gtin,
        name=product.name,
        grade=product.grade,
        price=price.amount,
        old_price=_struck_price(session, price, stale) if price.promotion else None,
        unit_price=None if per_unit is None else TagUnitPrice(amount=per_unit.amount, per=per_unit.per),
        price_version=price.version,
        store=shop.name,
        printed_on=shop.today,
        promotion=price.promotion,
    )


def _struck_price(session: Session, price: PriceRow, stale: StaleLabel | None) -> int | None:
    """The price a promotion tag strikes through: the one the shelf label shows now
    (the queue's ``previous_amount``), else the regular price before the promotion.
    None when that is not above the promotion price: a struck price must be a saving."""
    before = stale.previous_amount if stale is not None else None
    if before is None:
        before = session.execute(
            select(PriceRow.amount)
            .where(
                PriceRow.sku == price.sku,
                PriceRow.version < price.version,
                PriceRow.applied_at.is_not(None),
                PriceRow.promotion.is_(False),
            )
            .order_by(PriceRow.version.desc())
            .limit(1)
        ).scalar_one_or_none()
    return before if before is not None and before > price.amount else None


# -- what a print run changed ----------------------------------------------------------------


def record_printed(*, session: Session, outcome: LabelsPrinted, now: float) -> int | None:
    """The queue, the print journal and ``labels.printed``, in the caller's transaction.
    Returns the event's seq; None when nothing reached the paper."""
    known = _printed_amounts(session, outcome)
    printed = [tag for tag in outcome.printed if (tag.sku, tag.price_version) in known]
    if not printed:
        return None
    seq = outbox.append_event(
        session=session,
        event=outbox.NewEvent(
            type="labels.printed",
            data={
                "device": outcome.device,
                "template": outcome.template,
                "labels": [
                    {
                        "sku": tag.sku,
                        "price_version": tag.price_version,
                        "amount": known[tag.sku, tag.price_version],
                        "copies": tag.copies,
                    }
                    for tag in printed
                ],
            },
            client=outcome.client,
            device=outcome.device,
            occurred_at=now,
        ),
    )
    for tag in printed:
        amount = known[tag.sku, tag.price_version]
        session.add(
            LabelPrint(
                sku=tag.sku,
                price_version=tag.price_version,
                amount=amount,
                template=outcome.template,
                device=outcome.device,
                client=outcome.client,
                copies=tag.copies,
                from_queue=outcome.from_queue,
                seq=seq,
                printed_at=now,
            )
        )
        _shelf_shows(session, tag.sku, tag.price_version, amount)
    return seq


def _printed_amounts(session: Session, outcome: LabelsPrinted) -> dict[tuple[str, int], int]:
    """The amount of each printed (sku, price version) the price book knows.  One it does
    not know cannot have come from ``label_tags``: logged and left out, never guessed."""
    skus = {tag.sku for tag in outcome.printed}
    rows = session.execute(select(PriceRow.sku, PriceRow.version, PriceRow.amount).where(PriceRow.sku.in_(skus))).all()
    known = {(sku, version): amount for sku, version, amount in rows}
    for tag in outcome.printed:
        if (tag.sku, tag.price_version) not in known:
            log.warning(
                "%s printed %s at price version %d, which the price book does not hold; not journalled",
                outcome.device,
                tag.sku,
                tag.price_version,
            )
    return known


def _shelf_shows(session: Session, sku: str, version: int, amount: int) -> None:
    """The shelf now shows ``version``: its queue entry goes if that is the price to show.
    A newer price that came while the batch printed keeps the entry, now against the
    amount just printed; changed back to that amount, the label is right and it goes."""
    stale = session.get(StaleLabel, sku)
    if stale is None:
        return
    if version >= stale.price_version or stale.amount == amount:
        session.delete(stale)
        return
    stale.previous_amount = amount
    session.add(stale)


# -- the print journal ----------------------------------------------------------------------


def label_journal(*, session: Session, sku: str | None, limit: int) -> LabelJournal:
    """What reached the paper, newest first; one product's only, with ``sku``."""
    query = select(LabelPrint, Product.name).join(Product, Product.sku == LabelPrint.sku)
    if sku is not None:
        query = query.where(LabelPrint.sku == sku)
    rows = session.execute(query.order_by(LabelPrint.id.desc()).limit(min(limit, MAX_JOURNAL_ENTRIES))).all()
    return LabelJournal(
        entries=[
            LabelPrintPublic(
                sku=entry.sku,
                name=name,
                price_version=entry.price_version,
                amount=entry.amount,
                copies=entry.copies,
                template=entry.template,
                device=entry.device,
                client=entry.client,
                from_queue=entry.from_queue,
                seq=entry.seq,
                printed_at=aware(entry.printed_at),
            )
            for entry, name in rows
        ]
    )
