"""Products a shop prints tags for, as the store hands them to the label printer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from devices.labels.tag import TagData, TagUnitPrice

#: A real-looking EAN-13 with its right check digit.
MILK_GTIN = "4601234567893"


def milk(**changes: Any) -> TagData:
    """A tag with every field a template may print."""
    fields: dict[str, Any] = {
        "sku": "MLK-930",
        "gtin": MILK_GTIN,
        "name": "Молоко пастеризованное «Домик в деревне» 3,2 % 930 мл в бутылке ПЭТ",
        "grade": "высший сорт",
        "price": 12345,
        "old_price": 15990,
        "unit_price": TagUnitPrice(amount=13274, per="l"),
        "price_version": 17,
        "store": "Магазин №12 на Ленина",
        "printed_on": dt.date(2026, 12, 3),
    }
    return TagData(**(fields | changes))


def bread(**changes: Any) -> TagData:
    """A tag without a GTIN, grade, unit price or old price: the bare minimum."""
    fields: dict[str, Any] = {
        "sku": "BRD-77",
        "name": "Хлеб Бородинский нарезка",
        "price": 4990,
        "price_version": 3,
        "store": "Магазин №12",
        "printed_on": dt.date(2026, 12, 3),
    }
    return TagData(**(fields | changes))
