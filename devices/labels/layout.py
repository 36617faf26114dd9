"""A tag laid out on its template, in millimetres from the tag's top-left corner.

``lay_out`` decides everything that depends on the words: which fields the template
prints, how the name wraps to its box (shortened with "…" when it must), the price's
size.  Backends (``raster`` for label printers, ``pdf`` for A4 sheets) draw the blocks
as they are; none of them wraps or measures text again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from devices.labels.tag import TagData
from devices.labels.template import Template

Align = Literal["left", "center", "right"]
Symbology = Literal["ean13", "code128"]


@dataclass(frozen=True)
class TextBlock:
    x: float
    y: float
    width: float
    height: float
    lines: tuple[str, ...]
    #: A font file's stem, e.g. "DejaVuSans-Bold" (see ``template.font_path``).
    font: str
    #: Cap-to-descender size of one line, mm.
    size: float
    align: Align = "left"
    #: A line through the text: the old price on a promotion tag.
    strike: bool = False


@dataclass(frozen=True)
class BarcodeBlock:
    x: float
    y: float
    width: float
    height: float
    symbology: Symbology
    #: EAN-13: all 13 digits, the check digit already checked.
    data: str
    human_readable: bool = True


@dataclass(frozen=True)
class RuleBlock:
    """A filled rectangle: a frame's side, a separator."""

    x: float
    y: float
    width: float
    height: float


Block = TextBlock | BarcodeBlock | RuleBlock


@dataclass(frozen=True)
class TagLayout:
    width: float
    height: float
    blocks: tuple[Block, ...]


def lay_out(tag: TagData, template: Template) -> TagLayout:
    """The tag on the template; ``LabelRefused`` when the tag cannot be printed right."""
    raise NotImplementedError
