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


def park(*, session: Session, kind: str, item_id: str, item: BaseModel, now: float) -> None:
    session.add(ParkedInbound(kind=kind, item_id=item_id, body=item.model_dump_json(), parked_at=now))


def take_all(*, session: Session) -> tuple[list[PriceIn], list[PickupIn]]:
    """Every parked item, oldest first, off the shelf: the caller applies or parks each again."""
    rows = list(session.execute(select(ParkedInbound).order_by(ParkedInbound.id)).scalars())
    if rows:
        session.execute(delete(ParkedInbound))
    prices = [PriceIn.model_validate_json(row.body) for row in rows if row.kind == "prices"]
    orders = [PickupIn.model_validate_json(row.body) for row in rows if row.kind == "pickups"]
    return prices, orders


def count(*, session: Session) -> int:
    session.flush()
    return session.execute(select(func.count()).select_from(ParkedInbound)).scalar_one()
