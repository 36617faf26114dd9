"""Sales from receipts: a closed fiscal document becomes stock out, loyalty and an event.

The fiscal register hands each closed document here as its typed receipt
(``devices.fiscal_register.ClosedReceipt``), and after a restart its journal hands over
what it kept.  One transaction books it: a stock move per line, the
card's accrual (and its redemption if the receipt paid with points), and
``sale.completed`` (``sale.refunded`` for a refund).  The document is the key — its
register, its fiscal storage and its number there, as a replaced storage numbers from
1 again: delivered twice, it is booked once.

Paying with points: a till that wants the points guaranteed redeems them first
(``loyalty redeem`` with the sale's idempotency key as its reference), then
fiscalizes with a ``loyalty`` payment; the receipt then books no second redemption.
A receipt paid with points the till did not redeem first is still booked — the
document is printed and fiscal — and the log says the card went over.
"""

from __future__ import annotations

import json
import logging
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import case, exists, func, select
from sqlmodel import Session

from devices.fiscal_register import ClosedLine, ClosedReceipt
from devices.journal import JournalState
from hub.store.loyalty import accrual_for, card_balance, ensure_card, record_points
from hub.store.models import DeviceJournalRow, LoyaltyMove, Product, Sale
from hub.store.outbox import NewEvent, append_event
from hub.store.schemas import DayFigures, TillDay
from hub.store.stock import record_move

log = logging.getLogger(__name__)


def line_total(quantity_thousandths: int, price: int) -> int:
    """A line's amount in minor units, rounded half up as the fiscal register does."""
    return int((Decimal(quantity_thousandths) * price / 1000).quantize(Decimal(1), ROUND_HALF_UP))


def record_receipt(
    *, session: Session, device_id: str, receipt: ClosedReceipt, accrual_percent: Decimal, now: float
) -> int | None:
    """Book one fiscal document; returns its event's seq, or None if it was booked before."""
    if session.get(Sale, (device_id, receipt.fn_serial, receipt.document_number)) is not None:
        return None
    refund = receipt.operation == "refund"
    lines = [_line(session, line) for line in receipt.lines]
    loyalty = _loyalty_points(session, receipt, accrual_percent) if receipt.loyalty_card else None
    seq = append_event(
        session=session,
        event=NewEvent(
            "sale.refunded" if refund else "sale.completed",
            {
                "fiscal": {
                    "device": device_id,
                    "fn_serial": receipt.fn_serial,
                    "document_number": receipt.document_number,
                    "fiscal_sign": receipt.fiscal_sign,
                    "issued_at": receipt.issued_at,
                },
                "total": receipt.total,
                "lines": [event_line for event_line, _, _ in lines],
                "payments": [payment.model_dump() for payment in receipt.payments],
                "loyalty": loyalty,
                "idempotency_key": receipt.idempotency_key,
            },
            client=receipt.client or None,
            device=device_id,
            occurred_at=now,
        ),
    )
    if loyalty is not None:
        _book_loyalty(session, device_id, receipt, loyalty, now)
    sign = 1 if refund else -1
    for _, sku, quantity in lines:
        if sku is not None:
            record_move(
                session=session, sku=sku, kind="refund" if refund else "sale", on_hand_delta=sign * quantity,
                reference=receipt.reference(device_id), client=receipt.client, seq=seq, now=now,
            )  # fmt: skip
    session.add(
        Sale(
            device_id=device_id, fn_serial=receipt.fn_serial, document_number=receipt.document_number,
            operation=receipt.operation,
            fiscal_sign=receipt.fiscal_sign, total=receipt.total, client=receipt.client,
            card=_paid(receipt, "card"), points=receipt.paid_with_points,
            idempotency_key=receipt.idempotency_key, seq=seq, recorded_at=now,
        )
    )  # fmt: skip
    return seq


def _paid(receipt: ClosedReceipt, kind: str) -> int:
    return sum(p.amount for p in receipt.payments if p.type == kind)


def _line(session: Session, line: ClosedLine) -> tuple[dict[str, Any], str | None, int]:
    """The line as the event carries it, the product whose stock it moves (None if the
    catalogue does not know it: the sku found from the gtin if the till gave only that),
    and its quantity in thousandths."""
    if line.sku is not None:
        sku, stocked = line.sku, session.get(Product, line.sku) is not None
    else:
        sku = session.execute(select(Product.sku).where(Product.gtin == line.gtin)).scalar() if line.gtin else None
        stocked = sku is not None
    quantity = line.quantity.quantize(Decimal("0.001"))
    event_line = {
        "sku": sku, "gtin": line.gtin, "name": line.name, "quantity": str(quantity), "price": line.price,
        "total": line.total,
    }  # fmt: skip
    return event_line, sku if stocked else None, int(quantity * 1000)


def _loyalty_points(session: Session, receipt: ClosedReceipt, percent: Decimal) -> dict[str, Any]:
    """Accrual on what was paid in money; points paid, or given back by a refund."""
    assert receipt.loyalty_card is not None
    earned = accrual_for(receipt.total - receipt.paid_with_points, percent)
    if receipt.operation == "sale":
        # Points the till redeemed beforehand for this sale are spent already.
        before = _redeemed_beforehand(session, receipt.loyalty_card, receipt.idempotency_key)
        accrued, redeemed = earned, max(0, receipt.paid_with_points - before)
    else:
        # A refund gives back the points it was paid with and takes back what it had earned.
        accrued, redeemed = receipt.paid_with_points, earned
    return {"card": receipt.loyalty_card, "accrued": accrued, "redeemed": redeemed}


def _book_loyalty(session: Session, device_id: str, receipt: ClosedReceipt, points: dict[str, Any], now: float) -> None:
    """Facts, not requests: a printed document is booked even if it takes the card over
    its offline limit (and the log says so)."""
    card, reference = points["card"], receipt.reference(device_id)
    ensure_card(session=session, card=card)
    if points["redeemed"]:
        available = card_balance(session=session, card=card).available
        if points["redeemed"] > available:
            log.warning(
                "receipt %s took card %s over its offline limit: %d points, %d available",
                reference, card, points["redeemed"], available,
            )  # fmt: skip
    for key, kind in (("accrued", "accrual"), ("redeemed", "redemption")):
        if points[key]:
            record_points(
                session=session, card=card, kind=kind, points=points[key], reference=reference,
                client=receipt.client, device=device_id, now=now,
            )  # fmt: skip


def _redeemed_beforehand(session: Session, card: str, key: str | None) -> int:
    """Points redeemed on ``card`` with the sale's idempotency key as reference."""
    if not key:
        return 0
    return session.execute(
        select(func.coalesce(func.sum(LoyaltyMove.points), 0)).where(
            LoyaltyMove.card == card, LoyaltyMove.kind == "redemption", LoyaltyMove.reference == key
        )
    ).scalar_one()


def unbooked_journal_receipts(*, session: Session) -> list[tuple[str, ClosedReceipt]]:
    """Receipts the fiscal journal has as closed but no sale was booked for: the hub
    stopped between the register's answer and the booking.  Found at every start."""
    document = func.json_extract(DeviceJournalRow.result, "$.document_number")
    # A result from before the storage was recorded has none: "", as its sale was booked.
    storage = func.coalesce(func.json_extract(DeviceJournalRow.result, "$.fn_serial"), "")
    rows = session.execute(
        select(DeviceJournalRow).where(
            DeviceJournalRow.state == JournalState.DONE,
            DeviceJournalRow.action.in_(("fiscalize", "refund")),
            ~exists().where(
                Sale.device_id == DeviceJournalRow.device_id,
                Sale.fn_serial == storage,
                Sale.document_number == document,
            ),
        )
    ).scalars()
    found = []
    for row in rows:
        try:
            data = json.loads(row.result or "{}") | {"client": row.client, "idempotency_key": row.key}
            found.append((row.device_id, ClosedReceipt.model_validate(data)))
        except (ValueError, ValidationError):
            log.warning("journal entry %s/%s has no readable receipt; not booked", row.device_id, row.key)
    return found


def store_day(*, session: Session, since: float, until: float) -> tuple[DayFigures, list[TillDay]]:
    """The receipts booked from ``since`` to before ``until`` (Unix time), summed in one
    query per till: counts, money, and how it was paid; a refund counts against the
    day's revenue.  Returns the whole store's figures and each till's, by till name.

    A till is the client that asked for the receipt (the register's id if the journal
    kept none).  A document is one ``sale`` row, so a receipt delivered twice counts once."""
    till = func.coalesce(func.nullif(Sale.client, ""), Sale.device_id)
    sale, known = Sale.operation == "sale", Sale.card.is_not(None)  # type: ignore[union-attr]
    sign = case((sale, 1), else_=-1)

    def total(condition: Any, amount: Any) -> Any:
        return func.coalesce(func.sum(case((condition, amount), else_=0)), 0)

    rows = session.execute(
        select(
            till,
            total(sale, 1),
            total(~sale, 1),
            total(sale, Sale.total),
            total(~sale, Sale.total),
            total(known, sign * Sale.card),
            total(known, sign * Sale.points),
            total(known, sign * (Sale.total - Sale.card - Sale.points)),
            total(~known, sign * Sale.total),
        )
        .where(Sale.recorded_at >= since, Sale.recorded_at < until)
        .group_by(till)
        .order_by(till)
    ).all()
    tills = [TillDay(till=row[0], **_figures(*row[1:])) for row in rows]
    whole = _figures(*(sum(row[i] for row in rows) for i in range(1, 9)))
    return DayFigures(**whole), tills


def _figures(
    receipts: int, refunds: int, sold: int, refunded: int, card: int, points: int, cash: int, unsplit: int
) -> dict[str, Any]:
    average = None if not receipts else (2 * sold + receipts) // (2 * receipts)  # half up, in integers
    return {
        "receipts": receipts, "refunds": refunds, "sold": sold, "refunded": refunded, "revenue": sold - refunded,
        "average_receipt": average, "card": card, "cash": cash, "points": points, "unsplit": unsplit,
    }  # fmt: skip
