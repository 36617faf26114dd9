"""Loyalty: cards, the store's ledger of accruals and redemptions, and the cloud's balance.

The cloud owns the balance; the store sees it as of the last snapshot.  Each snapshot
says how much of this store's ledger it already includes (``store_seq``: the
highest of this store's events it had), so the store knows which of its own moves
are still pending.  Offline, a card may spend its synced balance minus what this
store has spent since — never points accrued here but not yet confirmed, and never
more than that, whatever number of tills ask at once (the writer serves them one
after another).  Accrual is always allowed.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import case, func, select
from sqlmodel import Session

from bus.payloads import ErrorCode
from hub.store.errors import StoreError, not_found
from hub.store.models import LoyaltyCard, LoyaltyMove
from hub.store.outbox import NewEvent, append_event
from hub.store.schemas import LoyaltyMovePublic, LoyaltyPublic, LoyaltySnapshotIn, aware, epoch


def accrual_for(paid_amount: int, percent: Decimal) -> int:
    """Points earned on ``paid_amount`` under the store's rule, rounded down."""
    return int((Decimal(paid_amount) * percent / 100).to_integral_value(ROUND_FLOOR))


def card_balance(*, session: Session, card: str) -> LoyaltyPublic:
    row = session.get(LoyaltyCard, card)
    if row is None:
        raise not_found("loyalty card", card, field="card")
    pending_accruals, pending_redemptions = session.execute(
        select(
            func.coalesce(func.sum(case((LoyaltyMove.kind == "accrual", LoyaltyMove.points), else_=0)), 0),
            func.coalesce(func.sum(case((LoyaltyMove.kind == "redemption", LoyaltyMove.points), else_=0)), 0),
        ).where(LoyaltyMove.card == card, LoyaltyMove.seq > row.synced_store_seq)
    ).one()
    return LoyaltyPublic(
        card=row.card,
        holder=row.holder,
        synced_balance=row.synced_balance,
        synced_at=aware(row.synced_at) if row.synced_at is not None else None,
        pending_accruals=pending_accruals,
        pending_redemptions=pending_redemptions,
        available=max(0, row.synced_balance - pending_redemptions),
    )


def ensure_card(*, session: Session, card: str) -> LoyaltyCard:
    row = session.get(LoyaltyCard, card)
    if row is None:
        # A card the cloud has not told this store about yet (issued elsewhere today):
        # it may earn here; it may spend nothing until its balance arrives.
        row = LoyaltyCard(card=card)
        session.add(row)
        session.flush()
    return row


def accrue(
    *, session: Session, card: str, points: int, reference: str, client: str, device: str | None = None, now: float
) -> LoyaltyMovePublic:
    ensure_card(session=session, card=card)
    return _move(session, card, "accrual", points, reference, client, device, now)


def redeem(
    *, session: Session, card: str, points: int, reference: str, client: str, device: str | None = None, now: float
) -> LoyaltyMovePublic:
    if session.get(LoyaltyCard, card) is None:
        raise StoreError(
            ErrorCode.INSUFFICIENT_BALANCE,
            f"card {card} has no balance in this store yet; it may spend nothing offline",
            field="points",
            available=0,
            requested=points,
        )
    available = card_balance(session=session, card=card).available
    if points > available:
        raise StoreError(
            ErrorCode.INSUFFICIENT_BALANCE,
            f"card {card} may spend {available} points now, not {points}",
            field="points",
            available=available,
            requested=points,
        )
    return _move(session, card, "redemption", points, reference, client, device, now)


def _move(
    session: Session, card: str, kind: str, points: int, reference: str, client: str, device: str | None, now: float
) -> LoyaltyMovePublic:
    seq = record_points(
        session=session, card=card, kind=kind, points=points, reference=reference, client=client, device=device, now=now
    )
    session.flush()
    return LoyaltyMovePublic(
        card=card, kind=kind, points=points, seq=seq, balance=card_balance(session=session, card=card)
    )  # type: ignore[arg-type]


def record_points(
    *, session: Session, card: str, kind: str, points: int, reference: str, client: str, device: str | None, now: float
) -> int:
    """One accrual or redemption on the card's ledger and its event; returns the event's seq.
    No check: callers decide whether the card may spend (a printed receipt already did)."""
    seq = append_event(
        session=session,
        event=NewEvent(
            "loyalty.accrued" if kind == "accrual" else "loyalty.redeemed",
            {"card": card, "points": points, "reference": reference},
            client=client or None,
            device=device,
            occurred_at=now,
        ),
    )
    session.add(
        LoyaltyMove(card=card, kind=kind, points=points, reference=reference, client=client, seq=seq, occurred_at=now)
    )
    return seq


def apply_snapshot(*, session: Session, snapshot: LoyaltySnapshotIn) -> bool:
    """The cloud's balance of a card; an older snapshot than the one held is ignored."""
    row = ensure_card(session=session, card=snapshot.card)
    as_of = epoch(snapshot.as_of)
    if row.synced_at is not None and as_of <= row.synced_at:
        return False
    row.synced_balance, row.synced_at, row.synced_store_seq = snapshot.balance, as_of, snapshot.store_seq
    if snapshot.holder:
        row.holder = snapshot.holder
    session.add(row)
    return True
