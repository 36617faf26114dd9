"""Label templates: data files (``templates/*.toml``) that say where each field goes.

A template names its size in millimetres and a box per field it prints.  Shipped:
``shelf-58x40``, ``small-43x25``, ``a4-70x37`` (one cell of the A4 grid, with the
sheet's grid) and ``promo-58x40`` (the old price struck through).  A template that
names a field ``TagData`` lacks, or a box outside the tag, is refused when loaded.

A template file::

    name = "shelf-58x40"            # the file's own name, without .toml
    description = "…"
    width = 58.0                    # the tag, mm
    height = 40.0

    [[fields]]
    name = "name"                   # a TagData field, or barcode / meta / caption
    box = { x = 2.0, y = 1.5, width = 54.0, height = 12.0 }
    font = "DejaVuSansCondensed-Bold"
    size = 3.4                      # the font's size (its em), mm
    min_size = 2.8                  # shrink down to this before cutting with "…"
    max_lines = 3
    align = "left"                  # left | center | right; valign top | middle | bottom

    [[fields]]
    name = "barcode"                # EAN-13 of the GTIN, else Code 128 of the SKU
    box = { x = 2.0, y = 31.0, width = 34.0, height = 8.5 }
    digits = true

    [[rules]]                       # filled rectangles: separators (and ``frame = 0.5``)
    x = 2.0
    y = 13.8
    width = 54.0
    height = 0.25

    [sheet]                         # for the A4 sheet: the grid of tags on a page
    columns = 3
    rows = 8
    margin_left = 0.0
    margin_top = 0.5
"""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from bus.payloads import DeviceError, ErrorCode
from devices.labels.wording import BARCODE_FIELD, TEMPLATE_FIELDS

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")

#: Where Debian's fonts-dejavu-core puts the fonts tags are drawn in.
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

#: The DejaVu faces a template may name (fonts-dejavu-core ships these).
FONTS = frozenset(
    f"DejaVu{family}{style}"
    for family in ("Sans", "SansCondensed", "Serif", "SerifCondensed", "SansMono")
    for style in ("", "-Bold")
) | {"DejaVuSans-Oblique", "DejaVuSans-BoldOblique", "DejaVuSansCondensed-Oblique"}

#: Template names are file names in ``templates/``; the pattern keeps a request's name
#: from reaching outside the folder.
TEMPLATE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")

#: A4 portrait, mm.
PAGES = {"A4": (210.0, 297.0)}

#: Rounding slack when checking a box against the tag's edge, mm.
EDGE_SLACK_MM = 1e-6


class TemplateError(DeviceError):
    """A template that cannot be used: unknown, or a file that says something wrong.
    The message names the template and the field."""

    def __init__(self, template: str, message: str, field: str | None = None) -> None:
        where = f"template {template}" + (f", field {field}" if field else "")
        details = {"template": template} | ({"field": field} if field else {})
        super().__init__(ErrorCode.INVALID_REQUEST, f"{where}: {message}", details)


class FontMissing(DeviceError):
    """A font the templates use is not installed on the hub's box."""

    def __init__(self, font: str, path: Path) -> None:
        super().__init__(
            ErrorCode.DEVICE_ERROR,
            f"font {font} is not installed ({path} is missing): install Debian's fonts-dejavu-core",
            {"font": font},
        )


def font_path(font: str) -> Path:
    """The TrueType file of a font stem (DejaVu from Debian's fonts-dejavu-core)."""
    if font not in FONTS:
        raise ValueError(f"unknown font {font!r} (known: {', '.join(sorted(FONTS))})")
    path = FONT_DIR / f"{font}.ttf"
    if not path.is_file():
        raise FontMissing(font, path)
    return path


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Area(_Strict):
    """A rectangle on the tag, mm from its top-left corner."""

    x: float = Field(ge=0, description="From the tag's left edge, mm.")
    y: float = Field(ge=0, description="From the tag's top edge, mm.")
    width: float = Field(gt=0, description="mm.")
    height: float = Field(gt=0, description="mm.")


class TextField(_Strict):
    """A field printed as text: its words wrapped to the box."""

    name: str = Field(description="A TagData field (name, grade, price, …) or meta / caption.")
    box: Area
    font: str = Field("DejaVuSans", description="A DejaVu font stem, e.g. DejaVuSans-Bold.")
    size: float = Field(gt=0, le=100, description="The font's size (its em), mm: the largest it is printed.")
    min_size: float | None = Field(
        None, gt=0, description="Shrink to fit down to this size, mm (default: never shrink)."
    )
    max_lines: int = Field(1, ge=1, le=20)
    align: Literal["left", "center", "right"] = "left"
    valign: Literal["top", "middle", "bottom"] = Field("top", description="Where the lines sit in a taller box.")
    optional: bool = Field(False, description="Skipped on a tag without this data (grade, unit price); else refused.")
    strike: bool = Field(False, description="A line through the text: the old price of a promotion.")
    text: str | None = Field(None, max_length=64, description="The words of a caption (АКЦИЯ).")

    @property
    def floor(self) -> float:
        return self.size if self.min_size is None else self.min_size


class BarcodeField(_Strict):
    """The tag's barcode: EAN-13 of its GTIN, else Code 128 of its SKU."""

    name: Literal["barcode"]
    box: Area
    digits: bool = Field(True, description="Print the human-readable digits under the bars.")
    optional: bool = False


def _field_kind(value: Any) -> str:
    name = value.get("name") if isinstance(value, dict) else getattr(value, "name", None)
    return "barcode" if name == BARCODE_FIELD else "text"


TemplateField = Annotated[
    Annotated[BarcodeField, Tag("barcode")] | Annotated[TextField, Tag("text")], Discriminator(_field_kind)
]


class Sheet(_Strict):
    """The grid of tags on a page of an office printer's sheet (a die-cut label sheet)."""

    page: Literal["A4"] = "A4"
    columns: int = Field(ge=1, le=20)
    rows: int = Field(ge=1, le=40)
    margin_left: float = Field(0, ge=0, description="mm from the page's left edge to the first column.")
    margin_top: float = Field(0, ge=0, description="mm from the page's top edge to the first row.")
    gap_x: float = Field(0, ge=0, description="mm between columns.")
    gap_y: float = Field(0, ge=0, description="mm between rows.")

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


class Template(_Strict):
    name: str = Field(description="The file's name without .toml.")
    description: str = ""
    width: float = Field(gt=0, le=300, description="The tag, mm.")
    height: float = Field(gt=0, le=300, description="The tag, mm.")
    fields: list[TemplateField] = Field(min_length=1, max_length=40)
    rules: list[Area] = Field(default_factory=list, max_length=40)
    frame: float | None = Field(None, gt=0, le=5, description="A frame round the tag this thick, mm.")
    sheet: Sheet | None = Field(None, description="The A4 grid, for a template that is a sheet's cell.")

    @model_validator(mode="after")
    def _check(self) -> Template:
        for field in self.fields:
            _check_field(self, field)
        for number, rule in enumerate(self.rules, 1):
            if not self.holds(rule):
                raise TemplateError(self.name, f"rule {number} lies outside the {self.width}x{self.height} mm tag")
        if self.sheet is not None:
            _check_sheet(self, self.sheet)
        return self

    def holds(self, area: Area) -> bool:
        return area.x + area.width <= self.width + EDGE_SLACK_MM and area.y + area.height <= self.height + EDGE_SLACK_MM


def _check_field(template: Template, field: TextField | BarcodeField) -> None:
    def refuse(message: str) -> TemplateError:
        return TemplateError(template.name, message, field.name)

    if field.name not in TEMPLATE_FIELDS:
        raise refuse(f"a tag has no such field (fields: {', '.join(sorted(TEMPLATE_FIELDS))})")
    if not template.holds(field.box):
        raise refuse(f"its box {_area_text(field.box)} lies outside the {template.width}x{template.height} mm tag")
    if isinstance(field, BarcodeField):
        return
    if field.font not in FONTS:
        raise refuse(f"unknown font {field.font!r} (fonts: {', '.join(sorted(FONTS))})")
    font_path(field.font)
    if field.floor > field.size:
        raise refuse(f"min_size {field.min_size} is larger than size {field.size}")
    if (field.name == "caption") != (field.text is not None):
        raise refuse("a caption, and only a caption, has its text")


def _check_sheet(template: Template, sheet: Sheet) -> None:
    page_width, page_height = PAGES[sheet.page]
    across = sheet.margin_left + sheet.columns * template.width + (sheet.columns - 1) * sheet.gap_x
    down = sheet.margin_top + sheet.rows * template.height + (sheet.rows - 1) * sheet.gap_y
    if across > page_width + EDGE_SLACK_MM or down > page_height + EDGE_SLACK_MM:
        raise TemplateError(
            template.name, f"the sheet's grid ({across:g}x{down:g} mm) is larger than {sheet.page}", "sheet"
        )


def _area_text(area: Area) -> str:
    return f"({area.x:g}, {area.y:g}) {area.width:g}x{area.height:g} mm"


def known_templates(folder: Path = TEMPLATES) -> list[str]:
    """The templates a request may name, sorted."""
    return sorted(path.stem for path in folder.glob("*.toml") if TEMPLATE_NAME.fullmatch(path.stem))


def load_template(name: str, *, folder: Path = TEMPLATES) -> Template:
    """The template ``name`` from ``folder``; ``TemplateError`` naming the template and
    the field when it is unknown or its file is wrong."""
    try:
        return _read_template(name, folder)
    except TemplateError as error:
        log.warning("label template refused: %s", error.message)
        raise


def _read_template(name: str, folder: Path) -> Template:
    path = folder / f"{name}.toml"
    if not TEMPLATE_NAME.fullmatch(name) or not path.is_file():
        raise TemplateError(name, f"no such template (templates: {', '.join(known_templates(folder)) or 'none'})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TemplateError(name, f"not a TOML file: {error}") from None
    if data.get("name", name) != name:
        raise TemplateError(name, f"the file says its name is {data.get('name')!r}", "name")
    try:
        # The checks that need the whole template raise TemplateError themselves.
        return Template.model_validate(data | {"name": name})
    except ValidationError as error:
        raise _validation_error(name, data, error) from None


def _validation_error(name: str, data: dict[str, Any], error: ValidationError) -> TemplateError:
    """pydantic's first complaint, said as "template X, field Y: what is wrong"."""
    first = error.errors()[0]
    location = first["loc"]
    field = None
    if len(location) >= 2 and location[0] == "fields" and isinstance(location[1], int):
        fields = data.get("fields") or []
        entry = fields[location[1]] if location[1] < len(fields) else None
        field = entry.get("name") if isinstance(entry, dict) else f"number {location[1] + 1}"
        location = location[2:]
    # The discriminator's tags (barcode / text) are pydantic's, not the file's.
    what = ".".join(str(part) for part in location if part not in ("barcode", "text"))
    return TemplateError(name, f"{what + ': ' if what else ''}{first['msg']}", field)
