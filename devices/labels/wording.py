"""What a tag's fields say, in the words a Russian shopper reads on a shelf.

Money is printed the way Russian typography writes it: thousands apart by a narrow
no-break space, kopecks after a comma, the rouble sign after a no-break space
("1 234,50 ₽").  The unit price names its basis as the shelf-tag rules do
("за 1 кг", "за 100 мл").  Every field a template may print has its text here, so the
layout, the label printers and the A4 sheet all print the same words.
"""

from __future__ import annotations

import re
import unicodedata

from devices.labels.tag import TagData, TagUnitPrice, UnitBasis

#: Between groups of thousands: U+202F NARROW NO-BREAK SPACE, so "1 234" never breaks
#: across lines and reads as one number.
THOUSANDS = "\u202f"
#: Between the amount and "₽": U+00A0 NO-BREAK SPACE, the sign stays with its number.
BEFORE_SIGN = "\u00a0"
ROUBLE = "₽"
#: U+2212 MINUS SIGN, as a typeset figure has it (a hyphen is a dash of another kind).
MINUS = "\u2212"

#: The unit price's basis as a tag says it.
UNIT_BASIS: dict[UnitBasis, str] = {"kg": "за 1 кг", "l": "за 1 л", "100g": "за 100 г", "100ml": "за 100 мл"}

#: Between the parts of the small meta line (date · price version · store); the dot
#: stays at the end of a line, never starts the next one.
META_SEPARATOR = "\u00a0· "


def rubles(kopecks: int) -> str:
    """``123450`` -> ``"1 234,50 ₽"`` (narrow no-break spaces between thousands);
    ``-3799`` -> ``"−37,99 ₽"`` (a day's refunds by card may outweigh its card sales)."""
    whole, minor = divmod(abs(kopecks), 100)
    digits = f"{whole:,}".replace(",", THOUSANDS)
    return f"{MINUS if kopecks < 0 else ''}{digits},{minor:02d}{BEFORE_SIGN}{ROUBLE}"


def unit_price_text(unit_price: TagUnitPrice) -> str:
    """``"123,45 ₽ за 1 кг"``."""
    return f"{rubles(unit_price.amount)} {UNIT_BASIS[unit_price.per]}"


def date_text(tag: TagData) -> str:
    return tag.printed_on.strftime("%d.%m.%Y")


def meta_text(tag: TagData) -> str:
    """The small line a manager checks a tag by: when it was printed, which price
    version it shows, which store it belongs to."""
    return META_SEPARATOR.join((date_text(tag), f"v{tag.price_version}", tag.store))


def printable(text: str) -> str:
    """``text`` without control and format characters: a catalogue's stray tab or
    zero-width joiner must not reach the paper as a box.  Tabs and line breaks become
    spaces; no-break spaces stay what they are."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace() and category != "Zs":
            kept.append(" ")
        elif category[0] != "C":
            kept.append(char)
    return "".join(kept)


def words(text: str) -> list[str]:
    """``text`` split where a line may break: at spaces, never at a no-break space."""
    return [word for word in BREAKS.split(text) if word]


#: Spaces a line may break at: every space but the no-break ones.
BREAKS = re.compile(r"[^\S\u00a0\u2007\u202f]+")


def field_text(field: str, tag: TagData, caption: str | None = None) -> str | None:
    """What the template field ``field`` prints for ``tag``; ``None`` when the tag has
    no such data (no grade, no unit price, no old price)."""
    if field == "caption":
        return caption
    value = _FIELD_TEXT[field](tag)
    return None if value is None else printable(value)


def _money(kopecks: int | None) -> str | None:
    return None if kopecks is None else rubles(kopecks)


#: A space between a number and its unit ("250 г", "0,9 л", "3,2 %"): Russian
#: typesetting never breaks a line there, so neither does a tag.
_NUMBER_AND_UNIT = re.compile(r"(?<=\d) +(?=(?:кг|г|мг|л|мл|шт|м|см|мм|%)(?![^\W\d_]))")


def unbreakable_units(text: str) -> str:
    """``text`` with a no-break space between each number and its unit."""
    return _NUMBER_AND_UNIT.sub("\u00a0", text)


def without_dangling_separator(line: str) -> str:
    """A wrapped meta line that ends in its separator ("03.12.2026 · v2 ·"): without it."""
    return line.removesuffix(META_SEPARATOR.rstrip())


_FIELD_TEXT = {
    "name": lambda tag: unbreakable_units(tag.name),
    "grade": lambda tag: tag.grade,
    "price": lambda tag: rubles(tag.price),
    "old_price": lambda tag: _money(tag.old_price),
    "unit_price": lambda tag: None if tag.unit_price is None else unit_price_text(tag.unit_price),
    "sku": lambda tag: f"Арт. {tag.sku}",
    "gtin": lambda tag: tag.gtin,
    "store": lambda tag: tag.store,
    "printed_on": date_text,
    "price_version": lambda tag: f"v{tag.price_version}",
    "meta": meta_text,
}

#: Template fields that are text, and the barcode.  ``currency`` and ``promotion``
#: are TagData's too but say nothing a shopper reads (the sign is in the price, a
#: promotion tag is its template).
TEXT_FIELDS = frozenset(_FIELD_TEXT) | {"caption"}
BARCODE_FIELD = "barcode"
TEMPLATE_FIELDS = TEXT_FIELDS | {BARCODE_FIELD}

#: Fields shortened with "…" when they do not fit their box.  Money, dates and codes
#: are never cut: a cut price lies, so a tag whose price does not fit is refused.
CUTTABLE_FIELDS = frozenset({"name", "grade", "store", "meta", "caption"})
