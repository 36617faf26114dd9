"""Inbound prices and pickups that name a product the store does not know yet.

The cloud's items may come out of order (a price on one page, its product on the
next).  Refusing them would lose them once the inbound cursor moves on, so they wait
here, as the cloud sent them, and are tried again before every later batch.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlmodel import Session

from hub.store.models import ParkedInbound
from hub.store.schemas import PickupIn, PriceIn

#: Items parked at most.  Past it, a cloud sending prices for products it never sends is
#: told so (``unknown_product``) instead of filling the store's database.
MAX_PARKED = 10_000


def park(*, session: Session, kind: str, item_id: str, item: BaseModel, now: float) -> None:
    """Keep ``item`` until its product arrives (the caller keeps within ``MAX_PARKED``)."""
    session.add(ParkedInbound(kind=kind, item_id=item_id, body=item.model_dump_json(), parked_at=now))


def take_for(*, session: Session, skus: set[str]) -> tuple[list[PriceIn], list[PickupIn]]:
    """The parked items that products ``skus`` may unblock, oldest first, off the shelf:
    prices for those skus, and every waiting pickup.  The caller applies or parks each again."""
    if not skus:
        return [], []
    waiting = (ParkedInbound.kind == "pickups") | ((ParkedInbound.kind == "prices") & ParkedInbound.item_id.in_(skus))  # type: ignore[attr-defined]
    rows = list(session.execute(select(ParkedInbound).where(waiting).order_by(ParkedInbound.id)).scalars())
    if rows:
        session.execute(delete(ParkedInbound).where(ParkedInbound.id.in_([row.id for row in rows])))  # type: ignore[union-attr]
    prices = [PriceIn.model_validate_json(row.body) for row in rows if row.kind == "prices"]
    orders = [PickupIn.model_validate_json(row.body) for row in rows if row.kind == "pickups"]
    return prices, orders


def count(*, session: Session) -> int:
    session.flush()
    return session.execute(select(func.count()).select_from(ParkedInbound)).scalar_one()
