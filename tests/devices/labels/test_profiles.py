"""Label printer profiles: the shipped ones load, and a bad file is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.labels.profiles import ProfileError, known_profiles, load_profile, read_profile
from devices.labels.template import known_templates

GOOD = """
name = "{name}"
language = "zpl"
dpmm = 8
print_width_mm = 104
max_length_mm = 991
resident_cyrillic = false
cutter = false
peeler = false
status = true
default_template = "shelf-58x40"
"""


def test_every_shipped_model_loads_with_what_the_shop_needs():
    assert set(known_profiles()) >= {
        "zebra-zd421-203",
        "zebra-zt411-300",
        "tsc-te200",
        "xprinter-xp-365b",
        "gprinter-gp-1324d",
        "a4-sheet",
    }
    for name in known_profiles():
        profile = load_profile(name)
        assert profile.name == name and profile.default_template in known_templates()
    zd421, zt411, te200, xp365 = (
        load_profile(n) for n in ("zebra-zd421-203", "zebra-zt411-300", "tsc-te200", "xprinter-xp-365b")
    )
    assert (zd421.language, zd421.dpmm, zd421.print_width_mm) == ("zpl", 8, 104)
    assert (zt411.language, zt411.dpmm) == ("zpl", 12)
    assert (te200.language, te200.dpmm, te200.print_width_mm) == ("tspl", 8, 108)
    assert (xp365.language, xp365.dpmm, xp365.print_width_mm) == ("tspl", 8, 80)
    assert load_profile("gprinter-gp-1324d").language == "tspl"
    sheet = load_profile("a4-sheet")
    assert sheet.language == "pdf" and sheet.default_template == "a4-70x37"


def test_an_unknown_profile_names_the_known_ones():
    with pytest.raises(ProfileError, match="no label printer profile 'zebra-zd999'; known: a4-sheet"):
        load_profile("zebra-zd999")
    with pytest.raises(ProfileError, match="no label printer profile"):
        load_profile("../templates/shelf-58x40")


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("dpmm = 8", "dpmm = 10"), "dpmm: Input should be 8 or 12"),
        (('language = "zpl"', 'language = "epl"'), "language: Input should be 'zpl', 'tspl' or 'pdf'"),
        (("print_width_mm = 104", "print_width_mm = -4"), "print_width_mm: Input should be greater than 0"),
        (("cutter = false\n", ""), "cutter: Field required"),
        (("status = true", 'status = true\ncolour = "red"'), "colour: Extra inputs are not permitted"),
        (("status = true", 'status = "maybe"'), "status: Input should be a valid boolean"),
        (("shelf-58x40", "shelf-99x99"), "default_template 'shelf-99x99' is not one of"),
        (("dpmm = 8", "dpmm = 8 8"), "cannot read it"),
    ],
)
def test_a_bad_profile_file_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, change: tuple[str, str], complaint: str
):
    path = tmp_path / "zebra-test.toml"
    path.write_text(GOOD.format(name="zebra-test").replace(*change), encoding="utf-8")
    with pytest.raises(ProfileError) as refused:
        read_profile(path)
    assert "zebra-test.toml" in str(refused.value) and complaint in str(refused.value)


def test_a_profile_named_otherwise_than_its_file_is_refused(tmp_path: Path):
    path = tmp_path / "zebra-test.toml"
    path.write_text(GOOD.format(name="zebra-other"), encoding="utf-8")
    with pytest.raises(ProfileError, match="says its name is 'zebra-other'; it must be 'zebra-test'"):
        read_profile(path)


def test_a_sheet_has_no_status_cutter_or_peeler(tmp_path: Path):
    path = tmp_path / "a4-test.toml"
    path.write_text(
        GOOD.format(name="a4-test").replace('"zpl"', '"pdf"').replace("shelf-58x40", "a4-70x37"), encoding="utf-8"
    )
    with pytest.raises(ProfileError, match="a pdf profile is a file"):
        read_profile(path)
