"""Label templates: data files (``templates/*.toml``) that say where each field goes.

A template names its size in millimetres and a box per field it prints.  Shipped:
``shelf-58x40``, ``small-43x25``, ``a4-70x37`` (one cell of the A4 grid, with the
sheet's grid) and ``promo-58x40`` (the old price struck through).  A template that
names a field ``TagData`` lacks, or a box outside the tag, is refused when loaded.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).with_name("templates")


class Template:  # filled in by the templates' work: a pydantic model loaded from TOML
    name: str
    width: float
    height: float


def load_template(name: str) -> Template:
    raise NotImplementedError


def font_path(font: str) -> Path:
    """The TrueType file of a font stem (DejaVu from Debian's fonts-dejavu-core)."""
    raise NotImplementedError
