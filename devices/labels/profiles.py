"""Label printer models as data: ``profiles/*.toml``, one file per model.

A profile says what the actor needs to know of a printer: the language it speaks
(ZPL II, TSPL, or a PDF sheet for an office printer), its dots per millimetre, how wide
and how long a label it can print, whether its resident font has Cyrillic (else text
goes as bitmaps), its cutter and peeler, whether it answers a status query, and the
template it prints when a request names none.  Adding a model is a new file.

A file that breaks these rules is refused when loaded, with the file and the field.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bus.payloads import describe_validation_error
from devices.labels.template import known_templates

PROFILES = Path(__file__).with_name("profiles")

LanguageName = Literal["zpl", "tspl", "pdf"]


class ProfileError(ValueError):
    """A profile that is unknown, or whose file is not a valid profile."""


class LabelProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="The file's name without .toml.")
    description: str = Field("", max_length=200, description="The model in the shop's words.")
    language: LanguageName = Field(description="What the printer speaks: ZPL II, TSPL, or a PDF sheet.")
    dpmm: Literal[8, 12] = Field(description="Dots per millimetre: 8 (203 dpi) or 12 (300 dpi).")
    print_width_mm: float = Field(gt=0, le=300, description="The widest label the head prints across.")
    max_length_mm: float = Field(gt=0, le=3000, description="The longest label the printer takes.")
    resident_cyrillic: bool = Field(description="Its resident font has Cyrillic: text stays text, not bitmaps.")
    cutter: bool = Field(description="It has a cutter.")
    peeler: bool = Field(description="It has a peeler (label dispenser).")
    status: bool = Field(description="It answers the language's status query.")
    default_template: str = Field(
        min_length=1, max_length=64, description="The template printed when a request names none."
    )

    @model_validator(mode="after")
    def _a_sheet_is_not_asked(self) -> LabelProfile:
        if self.language == "pdf" and (self.status or self.cutter or self.peeler):
            raise ValueError("a pdf profile is a file: it has no status, cutter or peeler")
        return self


def known_profiles() -> list[str]:
    """The shipped profiles' names, sorted."""
    return sorted(path.stem for path in PROFILES.glob("*.toml"))


@functools.cache
def load_profile(name: str) -> LabelProfile:
    """The profile called ``name``; ``ProfileError`` if there is none or it is not valid."""
    path = PROFILES / f"{name}.toml"
    if "/" in name or name.startswith(".") or not path.is_file():
        raise ProfileError(f"no label printer profile {name!r}; known: {', '.join(known_profiles())}")
    return read_profile(path)


def read_profile(path: Path) -> LabelProfile:
    """One profile file, checked: valid TOML, the fields above, and named after its file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"label printer profile {path.name}: cannot read it: {exc}") from None
    try:
        profile = LabelProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(f"label printer profile {path.name}: {describe_validation_error(exc)}") from None
    if profile.name != path.stem:
        raise ProfileError(
            f"label printer profile {path.name} says its name is {profile.name!r}; it must be {path.stem!r}"
        )
    if profile.default_template not in known_templates():
        raise ProfileError(
            f"label printer profile {path.name}: default_template {profile.default_template!r} is not one of "
            f"{', '.join(known_templates())}"
        )
    return profile
