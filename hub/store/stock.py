"""The stock ledger: append-only moves, with running totals kept beside them.

On hand is what is in the store; reserved is what waits for pickups; available is
the difference, and what a till or kiosk may promise.  Every move updates
``stock_level`` in the same transaction, so a lookup reads one row instead of
summing the ledger; the ledger stays the record (``rebuild_levels`` recomputes).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from bus.payloads import ErrorCode
from hub.store.catalogue import find_product, stock_here
from hub.store.errors import StoreError
from hub.store.models import StockElsewhere, StockLevel, StockMove
from hub.store.outbox import NewEvent, append_event
from hub.store.schemas import StockElsewhereIn, StockMoveCreate, StockMovePublic, decimal_quantity, epoch, thousandths

#: Moves a till or manager books by hand, the event each becomes, and its sign.
MANUAL_MOVES = {"receipt": ("stock.received", 1), "write_off": ("stock.adjusted", -1)}


def record_move(
    *,
    session: Session,
    sku: str,
    kind: str,
    on_hand_delta: int,
    reserved_delta: int = 0,
    reference: str = "",
    client: str = "",
    seq: int | None = None,
    now: float,
) -> StockLevel:
    session.add(
        StockMove(
            sku=sku, kind=kind, on_hand_delta=on_hand_delta, reserved_delta=reserved_delta,
            reference=reference, client=client, seq=seq, occurred_at=now,
        )
    )  # fmt: skip
    level = session.get(StockLevel, sku) or StockLevel(sku=sku)
    level.on_hand += on_hand_delta
    level.reserved += reserved_delta
    session.add(level)
    return level


def level_of(*, session: Session, sku: str) -> StockLevel:
    return session.get(StockLevel, sku) or StockLevel(sku=sku)


def book_move(*, session: Session, move: StockMoveCreate, client: str, now: float) -> StockMovePublic:
    """Goods received, written off or counted: the move and its event, in one transaction."""
    product = find_product(session=session, sku=move.sku)
    quantity = thousandths(move.quantity)
    before = level_of(session=session, sku=product.sku)
    if move.kind == "count":
        delta, event_type = quantity - before.on_hand, "stock.adjusted"
    else:
        if quantity == 0:
            raise StoreError(ErrorCode.INVALID_REQUEST, f"a {move.kind} needs a quantity above zero", field="quantity")
        event_type, sign = MANUAL_MOVES[move.kind]
        delta = sign * quantity
    seq = append_event(
        session=session,
        event=NewEvent(
            event_type,
            {
                "sku": product.sku,
                "kind": move.kind,
                "quantity": str(decimal_quantity(delta)),
                "counted": str(decimal_quantity(quantity)) if move.kind == "count" else None,
                "on_hand": str(decimal_quantity(before.on_hand + delta)),
                "reason": move.reason,
            },
            client=client,
            occurred_at=now,
        ),
    )
    level = record_move(
        session=session,
        sku=product.sku,
        kind=move.kind,
        on_hand_delta=delta,
        reference=move.reason,
        client=client,
        seq=seq,
        now=now,
    )
    return StockMovePublic(
        sku=product.sku,
        kind=move.kind,
        quantity=decimal_quantity(delta),
        stock=stock_here(level.on_hand, level.reserved),
        seq=seq,
    )


def apply_stock_elsewhere(*, session: Session, snapshot: StockElsewhereIn) -> bool:
    """Another store's availability; only a newer snapshot replaces an older one."""
    row = session.get(StockElsewhere, (snapshot.store_id, snapshot.sku))
    as_of = epoch(snapshot.as_of)
    if row is not None and row.as_of >= as_of:
        return False
    row = row or StockElsewhere(store_id=snapshot.store_id, sku=snapshot.sku, available=0, as_of=as_of)
    row.store_name, row.available, row.as_of = snapshot.store_name, thousandths(snapshot.available), as_of
    session.add(row)
    return True


def rebuild_levels(*, session: Session) -> int:
    """Recompute every running total from the ledger (a technician's repair)."""
    totals = session.execute(
        select(StockMove.sku, func.sum(StockMove.on_hand_delta), func.sum(StockMove.reserved_delta)).group_by(
            StockMove.sku
        )
    ).all()
    for row in session.execute(select(StockLevel)).scalars():
        session.delete(row)
    session.flush()
    for sku, on_hand, reserved in totals:
        session.add(StockLevel(sku=sku, on_hand=on_hand, reserved=reserved))
    return len(totals)
