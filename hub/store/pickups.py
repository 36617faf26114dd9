"""Click and collect: orders from the cloud, waiting in the store for their shopper.

arrived → ready → collected, or returned (never collected) or cancelled.  ``ready``
reserves the goods, so no till sells them meanwhile; ``collected`` takes them out of
stock and needs the shopper's code; returned and cancelled put them back on sale.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from bus.payloads import ErrorCode
from hub.store.catalogue import find_product
from hub.store.errors import StoreError, not_found
from hub.store.models import Pickup
from hub.store.outbox import NewEvent, append_event
from hub.store.schemas import (
    PickupIn,
    PickupLine,
    PickupList,
    PickupPublic,
    aware,
    decimal_quantity,
    epoch,
    thousandths,
)
from hub.store.stock import level_of, record_move

#: Where an order may go from each state.
NEXT_STATES: dict[str, tuple[str, ...]] = {
    "arrived": ("ready", "cancelled"),
    "ready": ("collected", "returned", "cancelled"),
    "collected": (),
    "returned": (),
    "cancelled": (),
}


def code_hash(order_id: str, code: str) -> str:
    return hashlib.sha256(f"{order_id}:{code}".encode()).hexdigest()


def receive_pickup(*, session: Session, order: PickupIn, now: float) -> str:
    """An order from the cloud: ``arrived`` if new, ``updated``, ``cancelled``, or why it was ignored."""
    row = session.get(Pickup, order.id)
    if row is not None and order.version <= row.version:
        return "same_version" if order.version == row.version else "older_version"
    for line in order.lines:
        find_product(session=session, sku=line.sku)
    lines = _dump_lines(order.lines)
    if row is None:
        if order.cancelled:
            return "not_applicable"  # cancelled before it ever reached the store
        row = Pickup(
            id=order.id, version=order.version, state="arrived", customer_name=order.customer_name,
            customer_contact=order.customer_contact, code_hash=code_hash(order.id, order.code), lines=lines,
            deadline=epoch(order.deadline), arrived_at=now, updated_at=now,
        )  # fmt: skip
        session.add(row)
        _event(session, row, "pickup.arrived", client=None, now=now)
        return "arrived"
    if not NEXT_STATES[row.state]:
        return "not_applicable"  # collected, returned or cancelled here: nothing left to change
    row.version = order.version
    row.customer_name, row.customer_contact = order.customer_name, order.customer_contact
    row.code_hash, row.deadline, row.updated_at = code_hash(order.id, order.code), epoch(order.deadline), now
    if row.state == "arrived":
        row.lines = lines  # once ready, the picked goods are what they are
    session.add(row)
    if order.cancelled:
        _transition(session, row, "cancelled", client=None, now=now)
        return "cancelled"
    return "updated"


def transition_pickup(
    *, session: Session, order_id: str, to: str, code: str | None, client: str, now: float
) -> PickupPublic:
    row = session.get(Pickup, order_id)
    if row is None:
        raise not_found("pickup order", order_id, field="id")
    if to not in NEXT_STATES[row.state]:
        allowed = NEXT_STATES[row.state]
        raise StoreError(
            ErrorCode.CONFLICT,
            f"pickup {order_id} is {row.state}; it can go to {', '.join(allowed)}"
            if allowed
            else f"pickup {order_id} is {row.state} and closed",
            field="to",
            state=row.state,
            allowed=list(NEXT_STATES[row.state]),
        )
    if to == "collected":
        if not code or not hmac.compare_digest(code_hash(order_id, code), row.code_hash):
            raise StoreError(ErrorCode.FORBIDDEN, f"wrong collection code for pickup {order_id}", field="code")
    if to == "ready":
        _check_available(session, row)
    _transition(session, row, to, client=client, now=now)
    return pickup_public(row, now)


def _check_available(session: Session, row: Pickup) -> None:
    needed: dict[str, int] = {}
    for line in _lines(row):  # two lines of one product need both quantities
        needed[line["sku"]] = needed.get(line["sku"], 0) + line["quantity"]
    short = []
    for sku, quantity in needed.items():
        level = level_of(session=session, sku=sku)
        if level.on_hand - level.reserved < quantity:
            short.append({"sku": sku, "needed": str(decimal_quantity(quantity)),
                          "available": str(decimal_quantity(level.on_hand - level.reserved))})  # fmt: skip
    if short:
        raise StoreError(
            ErrorCode.CONFLICT,
            "not enough stock to set this order aside",
            field="lines",
            reason="insufficient_stock",
            short=short,
        )


#: The stock move a transition makes, per unit of each line: (kind, on hand, reserved).
#: Returned or cancelled releases only what ``ready`` had set aside.
STOCK_MOVES: dict[str, tuple[str, int, int]] = {
    "ready": ("reservation", 0, 1),
    "collected": ("collection", -1, -1),
    "returned": ("release", 0, -1),
    "cancelled": ("release", 0, -1),
}


def _transition(session: Session, row: Pickup, to: str, *, client: str | None, now: float) -> None:
    held = row.state == "ready"  # only a ready order has stock set aside
    row.state, row.updated_at = to, now
    session.add(row)
    seq = _event(session, row, f"pickup.{to}", client=client, now=now)
    kind, on_hand, reserved = STOCK_MOVES[to]
    if kind == "release" and not held:
        return
    for line in _lines(row):
        record_move(
            session=session, sku=line["sku"], kind=kind, on_hand_delta=on_hand * line["quantity"],
            reserved_delta=reserved * line["quantity"], reference=row.id, client=client or "", seq=seq, now=now,
        )  # fmt: skip


def _event(session: Session, row: Pickup, event_type: str, *, client: str | None, now: float) -> int:
    return append_event(
        session=session,
        event=NewEvent(
            event_type,
            {
                "pickup_id": row.id,
                "state": row.state,
                "lines": [
                    {"sku": line["sku"], "quantity": str(decimal_quantity(line["quantity"]))} for line in _lines(row)
                ],
            },  # fmt: skip
            client=client,
            occurred_at=now,
        ),
    )


def get_pickup(*, session: Session, order_id: str, now: float) -> PickupPublic:
    row = session.get(Pickup, order_id)
    if row is None:
        raise not_found("pickup order", order_id, field="id")
    return pickup_public(row, now)


#: The states of an order still waiting for its shopper.
OPEN_STATES = ("arrived", "ready")


def list_pickups(
    *,
    session: Session,
    state: str | None,
    overdue: bool,
    now: float,
    limit: int = 500,
    search: str | None = None,
    open_only: bool = False,
    due_before: float | None = None,
) -> PickupList:
    """Orders by deadline; ``overdue``: still waiting for their shopper after the deadline.
    ``search``: part of the order's id or of the customer's name; ``open_only``: still
    waiting (arrived or ready); ``due_before``: a deadline before then (an epoch)."""
    query = select(Pickup).order_by(Pickup.deadline).limit(limit)
    if state is not None:
        query = query.where(Pickup.state == state)
    if overdue:
        query = query.where(Pickup.deadline < now, Pickup.state.in_(OPEN_STATES))
    if open_only:
        query = query.where(Pickup.state.in_(OPEN_STATES))
    if due_before is not None:
        query = query.where(Pickup.deadline < due_before)
    if search:
        # SQLite's LIKE folds only Latin letters: a Cyrillic name is also tried capitalised.
        names = {search, search.lower(), search.capitalize()}
        query = query.where(
            or_(
                Pickup.id.contains(search, autoescape=True),
                *(Pickup.customer_name.contains(name, autoescape=True) for name in names),
            )
        )
    rows = list(session.execute(query).scalars())
    return PickupList(count=len(rows), pickups=[pickup_public(row, now) for row in rows])


def pickup_public(row: Pickup, now: float) -> PickupPublic:
    return PickupPublic(
        id=row.id,
        version=row.version,
        state=row.state,  # type: ignore[arg-type]
        customer_name=row.customer_name,
        customer_contact=row.customer_contact,
        deadline=aware(row.deadline),
        overdue=row.deadline < now and row.state in OPEN_STATES,
        lines=[
            PickupLine(sku=line["sku"], quantity=decimal_quantity(line["quantity"]), name=line["name"])
            for line in _lines(row)
        ],
        arrived_at=aware(row.arrived_at),
        updated_at=aware(row.updated_at),
        next_states=list(NEXT_STATES[row.state]),  # type: ignore[arg-type]
    )


def _dump_lines(lines: list[PickupLine]) -> str:
    return json.dumps(
        [{"sku": line.sku, "quantity": thousandths(line.quantity), "name": line.name} for line in lines],
        ensure_ascii=False,
    )


def _lines(row: Pickup) -> list[dict[str, Any]]:
    return json.loads(row.lines)
