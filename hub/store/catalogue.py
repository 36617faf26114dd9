"""Catalogue, price book and the label queue.

A price arrives with a version and an effective time.  The hub keeps every version
it is sent and puts on the shelf the newest one that is in effect; a version older
than one it already holds is refused, whenever it arrives.  The moment a price takes
effect and differs from the one before, the product's shelf label lies: it enters
the label queue (one entry per product, always the newest price) until printed.
"""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from hub.store.errors import not_found
from hub.store.models import PriceRow, Product, StaleLabel, StockElsewhere, StockLevel
from hub.store.schemas import (
    Ignored,
    LabelPublic,
    LabelQueue,
    PriceIn,
    PricePublic,
    ProductIn,
    ProductPublic,
    ProductSearch,
    ProductSummary,
    ShelfTruth,
    StockElsewherePublic,
    StockHere,
    UnitPrice,
    aware,
    decimal_quantity,
    epoch,
    thousandths,
)

#: The unit price basis, in thousandths of the measure (kg or litre) it is quoted per.
BASIS_THOUSANDTHS = {"kg": 1000, "l": 1000, "100g": 100, "100ml": 100}


def apply_product(*, session: Session, product: ProductIn, now: float) -> Ignored | None:
    """Create or update a product; an older or equal version is ignored (and said so)."""
    row = session.get(Product, product.sku)
    if row is not None and product.version <= row.version:
        reason = "same_version" if product.version == row.version else "older_version"
        return Ignored(
            kind="product", id=product.sku, version=product.version, reason=reason, current_version=row.version
        )
    if product.gtin is not None:
        holder = session.execute(select(Product.sku).where(Product.gtin == product.gtin)).scalar_one_or_none()
        if holder is not None and holder != product.sku:
            return Ignored(kind="product", id=product.sku, version=product.version, reason=f"gtin_used_by:{holder}")
    fields = product.model_dump(exclude={"net_content"}) | {
        "net_content": thousandths(product.net_content) if product.net_content is not None else None,
        "updated_at": now,
    }
    if row is None:
        row = Product(**fields)
    else:
        for name, value in fields.items():
            setattr(row, name, value)
    session.add(row)
    return None


def apply_price(*, session: Session, price: PriceIn, now: float) -> Ignored | str:
    """Store a price version.  Returns ``applied``, ``pending`` (takes effect later) or why not."""
    if session.get(Product, price.sku) is None:
        return Ignored(kind="price", id=price.sku, version=price.version, reason="unknown_product")
    newest = session.execute(select(func.max(PriceRow.version)).where(PriceRow.sku == price.sku)).scalar()
    if newest is not None and price.version <= newest:
        reason = "same_version" if price.version == newest else "older_version"
        return Ignored(kind="price", id=price.sku, version=price.version, reason=reason, current_version=newest)
    effective_at = epoch(price.effective_at) if price.effective_at is not None else now
    session.add(
        PriceRow(
            sku=price.sku,
            version=price.version,
            amount=price.amount,
            effective_at=effective_at,
            received_at=now,
            promotion=price.promotion,
        )
    )
    if effective_at > now:
        return "pending"
    session.flush()
    apply_due_prices(session=session, now=now, sku=price.sku)
    return "applied"


def apply_due_prices(*, session: Session, now: float, sku: str | None = None) -> int:
    """Put on the shelf every price whose time has come; returns how many labels went stale.

    Per product, the newest due version wins; due versions older than the one already
    in effect are marked superseded and never shown."""
    due = select(PriceRow).where(PriceRow.applied_at.is_(None), PriceRow.effective_at <= now)
    if sku is not None:
        due = due.where(PriceRow.sku == sku)
    stale = 0
    by_sku: dict[str, list[PriceRow]] = {}
    for row in session.execute(due.order_by(PriceRow.sku, PriceRow.version)).scalars():
        by_sku.setdefault(row.sku, []).append(row)
    for product_sku, rows in by_sku.items():
        current = current_price(session=session, sku=product_sku)
        for row in rows:
            row.applied_at = now
            session.add(row)
        newest = rows[-1]
        if current is not None and newest.version < current.version:
            continue  # all superseded by the price already on the shelf
        if current is None or newest.amount != current.amount:
            stale += _queue_label(session, newest, previous=current.amount if current else None, now=now)
    return stale


def _queue_label(session: Session, price: PriceRow, *, previous: int | None, now: float) -> bool:
    """Whether the product's label is now in the queue."""
    label = session.get(StaleLabel, price.sku)
    if label is None:
        label = StaleLabel(
            sku=price.sku, amount=price.amount, previous_amount=previous, price_version=price.version, queued_at=now
        )
    else:
        # The label on the shelf still shows the price from before the first change.
        label.amount, label.price_version, label.queued_at = price.amount, price.version, now
    if label.previous_amount == label.amount:
        session.delete(label)  # changed and changed back: the printed label is right again
        return False
    session.add(label)
    return True


def current_price(*, session: Session, sku: str) -> PriceRow | None:
    return session.execute(
        select(PriceRow)
        .where(PriceRow.sku == sku, PriceRow.applied_at.is_not(None))
        .order_by(PriceRow.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def unit_price(product: Product, amount: int) -> UnitPrice | None:
    if product.unit_price_basis is None or not product.net_content:
        return None
    per = BASIS_THOUSANDTHS[product.unit_price_basis]
    value = (Decimal(amount) * per / product.net_content).quantize(Decimal(1), ROUND_HALF_UP)
    return UnitPrice(amount=int(value), per=product.unit_price_basis)  # type: ignore[arg-type]


def find_product(*, session: Session, sku: str | None = None, gtin: str | None = None) -> Product:
    if sku is not None:
        product = session.get(Product, sku)
        if product is None:
            raise not_found("product", sku, field="sku")
        return product
    assert gtin is not None
    product = session.execute(select(Product).where(Product.gtin == gtin)).scalar_one_or_none()
    if product is None:
        raise not_found("product with GTIN", gtin, field="gtin")
    return product


def on_the_shelf() -> ColumnElement[bool]:
    """Joins a product to the price it shows now: its newest version in effect."""
    newest = aliased(PriceRow)
    current = (
        select(func.max(newest.version))
        .where(newest.sku == Product.sku, newest.applied_at.is_not(None))
        .correlate(Product)
        .scalar_subquery()
    )
    return and_(PriceRow.sku == Product.sku, PriceRow.version == current)


def _lookup_statement(by: str) -> Select:
    """Product, its current price, stock level and label state in one statement.

    Built once per key: a till's lookup then only binds its code, instead of paying
    for building and compiling four statements per scan."""
    key = Product.gtin if by == "gtin" else Product.sku
    return (
        select(
            Product,
            PriceRow.amount,
            PriceRow.version,
            PriceRow.effective_at,
            PriceRow.promotion,
            StockLevel.on_hand,
            StockLevel.reserved,
            StaleLabel.sku.label("stale"),
        )  # fmt: skip
        .select_from(Product)
        .outerjoin(PriceRow, on_the_shelf())
        .outerjoin(StockLevel, StockLevel.sku == Product.sku)
        .outerjoin(StaleLabel, StaleLabel.sku == Product.sku)
        .where(key == bindparam("code"))
    )


LOOKUP = {"gtin": _lookup_statement("gtin"), "sku": _lookup_statement("sku")}
ELSEWHERE = (
    select(StockElsewhere.store_id, StockElsewhere.store_name, StockElsewhere.available, StockElsewhere.as_of)
    .where(StockElsewhere.sku == bindparam("sku"))
    .order_by(StockElsewhere.available.desc())
)


def lookup_product(
    *, session: Session, sku: str | None = None, gtin: str | None = None, now: float | None = None
) -> ProductPublic:
    """Everything a till or kiosk shows for a scanned product, in one read."""
    now = time.time() if now is None else now
    by, code = ("sku", sku) if sku is not None else ("gtin", gtin)
    row = session.execute(LOOKUP[by], {"code": code}).first()
    if row is None:
        raise not_found("product" if by == "sku" else "product with GTIN", code or "", field=by)
    product, amount, version, effective_at, promotion, on_hand, reserved, stale = row
    elsewhere = session.execute(ELSEWHERE, {"sku": product.sku}).all()
    return ProductPublic(
        sku=product.sku,
        gtin=product.gtin,
        name=product.name,
        measure=product.measure,  # type: ignore[arg-type]
        net_content=decimal_quantity(product.net_content) if product.net_content else None,
        unit_price_basis=product.unit_price_basis,  # type: ignore[arg-type]
        category=product.category,
        aisle=product.aisle,
        tax_group=product.tax_group,
        grade=product.grade,
        version=product.version,
        price=None
        if amount is None
        else PricePublic(amount=amount, version=version, effective_at=aware(effective_at), promotion=promotion),
        unit_price=None if amount is None else unit_price(product, amount),
        stock=stock_here(on_hand or 0, reserved or 0),
        elsewhere=[
            StockElsewherePublic(
                store_id=store_id,
                store_name=store_name,
                available=decimal_quantity(available),
                as_of=aware(as_of),
                age_s=round(max(0.0, now - as_of), 1),
            )
            for store_id, store_name, available, as_of in elsewhere
        ],
        label_stale=stale is not None,
    )


def stock_here(on_hand: int, reserved: int) -> StockHere:
    return StockHere(
        on_hand=decimal_quantity(on_hand),
        reserved=decimal_quantity(reserved),
        available=decimal_quantity(on_hand - reserved),
    )


#: The longest product search: a product's name, or part of it, its SKU or its barcode.
MAX_PRODUCT_SEARCH = 64


def search_products(*, session: Session, query: str, limit: int, offset: int = 0) -> ProductSearch:
    """Products whose name, sku or gtin contains ``query`` (any case), by name; ``limit``
    of them from ``offset``.  ``%`` and ``_`` are looked for as typed ("2%" finds "2%"),
    and an empty query finds every product."""
    part = query.strip().lower()
    rows = session.execute(
        select(Product, PriceRow.amount, StockLevel.on_hand, StockLevel.reserved)
        .select_from(Product)
        .outerjoin(PriceRow, on_the_shelf())
        .outerjoin(StockLevel, StockLevel.sku == Product.sku)
        .where(
            or_(
                _lower(Product.name).contains(part, autoescape=True),
                func.lower(Product.sku).contains(part, autoescape=True),
                Product.gtin.contains(part, autoescape=True),
            )
        )
        .order_by(Product.name, Product.sku)
        .offset(offset)
        .limit(limit)
    ).all()
    return ProductSearch(
        query=query,
        products=[
            ProductSummary(
                sku=p.sku,
                gtin=p.gtin,
                name=p.name,
                price=amount,
                available=decimal_quantity((on_hand or 0) - (reserved or 0)),
            )
            for p, amount, on_hand, reserved in rows
        ],
    )


def _lower(column):  # SQLite's lower() knows only ASCII; Cyrillic names need Python's
    return func.py_lower(column)


def shelf_truth(*, session: Session, now: float) -> ShelfTruth:
    """How many shelf labels lie, and since when the oldest of them does."""
    count, oldest = session.execute(select(func.count(), func.min(StaleLabel.queued_at))).one()
    return ShelfTruth(
        count=count,
        oldest_queued_at=None if oldest is None else aware(oldest),
        oldest_age_s=None if oldest is None else round(max(0.0, now - oldest), 1),
    )


#: The longest search a label queue takes: a product's name, or part of its SKU.
MAX_LABEL_SEARCH = 64


def _queue_matching(search: str | None, category: str | None) -> list[ColumnElement[bool]]:
    """The queue's filter as SQL: a search in the name or the SKU, a category.  SQLite's
    LIKE folds only Latin letters, so a Cyrillic word is also tried as typed lower and
    capitalised ("сыр" finds "Сыр российский")."""
    where: list[ColumnElement[bool]] = []
    if search:
        words = {search, search.lower(), search.capitalize()}
        where.append(
            or_(
                Product.sku.contains(search, autoescape=True),
                *(Product.name.contains(word, autoescape=True) for word in words),
            )
        )
    if category is not None:
        where.append(Product.category == category)
    return where


def label_queue(
    *,
    session: Session,
    limit: int = 1000,
    now: float | None = None,
    offset: int = 0,
    search: str | None = None,
    category: str | None = None,
) -> LabelQueue:
    """The queue's numbers, and its labels in aisle order: those matching ``search`` and
    ``category``, ``limit`` of them from ``offset``; ``matching`` counts them all."""
    truth = shelf_truth(session=session, now=time.time() if now is None else now)
    where = _queue_matching(search, category)
    matching = truth.count
    if where:
        matching = session.execute(
            select(func.count()).select_from(StaleLabel).join(Product, Product.sku == StaleLabel.sku).where(*where)
        ).scalar_one()
    rows = session.execute(
        select(StaleLabel, Product)
        .join(Product, Product.sku == StaleLabel.sku)
        .where(*where)
        .order_by(Product.aisle, Product.name, Product.sku)
        .offset(offset)
        .limit(limit)
    ).all()
    return LabelQueue(
        **truth.model_dump(),
        matching=matching,
        labels=[
            LabelPublic(
                sku=label.sku,
                gtin=product.gtin,
                name=product.name,
                category=product.category,
                aisle=product.aisle,
                amount=label.amount,
                previous_amount=label.previous_amount,
                price_version=label.price_version,
                unit_price=unit_price(product, label.amount),
                queued_at=aware(label.queued_at),
            )
            for label, product in rows
        ],
    )


def label_categories(*, session: Session) -> list[str]:
    """The categories the label queue has labels in, for its filter."""
    query = select(Product.category).join(StaleLabel, StaleLabel.sku == Product.sku).distinct()
    return sorted(session.execute(query).scalars())


def clear_labels(*, session: Session, skus: list[str] | None = None) -> int:
    """Labels printed: out of the queue (all of them when ``skus`` is None)."""
    query = select(StaleLabel)
    if skus is not None:
        query = query.where(StaleLabel.sku.in_(skus))
    rows = list(session.execute(query).scalars())
    for row in rows:
        session.delete(row)
    return len(rows)
