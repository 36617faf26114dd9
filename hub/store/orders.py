"""Endless aisle: a kiosk orders for home delivery what the store does not have."""

from __future__ import annotations

import json
import time

from sqlmodel import Session
from uuid6 import uuid7

from bus.payloads import ErrorCode
from hub.store.catalogue import current_price, find_product
from hub.store.errors import StoreError, not_found
from hub.store.models import KioskOrder
from hub.store.outbox import NewEvent, append_event
from hub.store.sales import line_total
from hub.store.schemas import Customer, KioskOrderCreate, KioskOrderPublic, OrderLinePublic, aware, thousandths


def create_kiosk_order(
    *, session: Session, order: KioskOrderCreate, client: str, now: float | None = None
) -> KioskOrderPublic:
    now = time.time() if now is None else now
    lines = []
    for index, line in enumerate(order.lines):
        product = find_product(session=session, sku=line.sku)
        price = current_price(session=session, sku=product.sku)
        if price is None:
            raise StoreError(ErrorCode.CONFLICT, f"{product.sku} has no price yet", field=f"lines.{index}.sku")
        total = line_total(thousandths(line.quantity), price.amount)
        lines.append(
            OrderLinePublic(sku=product.sku, quantity=line.quantity, name=product.name, price=price.amount, total=total)
        )
    order_id = str(uuid7())
    total = sum(line.total for line in lines)
    seq = append_event(
        session=session,
        event=NewEvent(
            "order.created",
            {
                "order_id": order_id,
                "channel": "kiosk",
                "lines": [line.model_dump(mode="json") for line in lines],
                "total": total,
                "customer": order.customer.model_dump(),
            },
            client=client,
            occurred_at=now,
        ),
    )
    session.add(
        KioskOrder(
            id=order_id, client=client, customer=order.customer.model_dump_json(),
            lines=json.dumps([line.model_dump(mode="json") for line in lines], ensure_ascii=False),
            total=total, seq=seq, created_at=now,
        )
    )  # fmt: skip
    return KioskOrderPublic(
        id=order_id, lines=lines, total=total, customer=order.customer, created_at=aware(now), seq=seq
    )


def get_kiosk_order(*, session: Session, order_id: str) -> KioskOrderPublic:
    row = session.get(KioskOrder, order_id)
    if row is None:
        raise not_found("kiosk order", order_id, field="id")
    return KioskOrderPublic(
        id=row.id,
        lines=[OrderLinePublic.model_validate(line) for line in json.loads(row.lines)],
        total=row.total,
        customer=Customer.model_validate_json(row.customer),
        created_at=aware(row.created_at),
        seq=row.seq,
    )
