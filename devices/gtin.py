"""GTIN check digits and a guess at a scanned code's symbology.

GS1 check digit: weights 3 and 1 alternate from the rightmost data digit; the check
digit brings the weighted sum up to a multiple of ten.  The same rule serves GTIN-8,
GTIN-12 (UPC-A), GTIN-13 (EAN-13) and GTIN-14.
"""

from __future__ import annotations

GTIN_LENGTHS = {8: "EAN-8", 12: "UPC-A", 13: "EAN-13", 14: "GTIN-14"}


def gtin_check_digit(body: str) -> int:
    """The check digit for ``body`` (a GTIN without its last digit)."""
    if not body.isdigit():
        raise ValueError("a GTIN has digits only")
    total = sum(int(digit) * (3 if position % 2 == 0 else 1) for position, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def is_valid_gtin(code: str) -> bool:
    """True for a GTIN-8/12/13/14 whose last digit is its correct check digit."""
    return len(code) in GTIN_LENGTHS and code.isdigit() and gtin_check_digit(code[:-1]) == int(code[-1])


def guess_symbology(code: str) -> str:
    """What the code most likely was printed as, from its content alone."""
    if code.isdigit() and len(code) in GTIN_LENGTHS:
        return GTIN_LENGTHS[len(code)]
    if code.isdigit():
        return "ITF" if len(code) % 2 == 0 else "Code 128"
    if code.startswith(("http://", "https://")) or len(code) > 48:
        return "QR"
    if all(c.isupper() or c.isdigit() or c in " -.$/+%" for c in code):
        return "Code 39"
    return "Code 128"
