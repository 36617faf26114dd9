"""Both simulated label printers over real TCP: a tag the hub encodes comes out as a PNG
that zxing-cpp and tesseract read as laid out, and faults show in the real status answer
and in what comes out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devices.sim.label_printer import LabelPrinterSimulator
from tests.conftest import until
from tests.devices.labels.dot_tags import (
    BARCODES,
    NAME,
    PRICE,
    all_ink,
    decoded,
    hand_tag,
    ocr,
    png_image,
    same_pixels,
)
from tests.devices.sim.label_link import KINDS, SETTLE_S, Kind, connected

pytestmark = pytest.mark.parametrize("kind", KINDS, ids=str)


@pytest.fixture
async def printer(kind: Kind, tmp_path: Path) -> AsyncIterator[LabelPrinterSimulator]:
    sim = kind.simulator(dpmm=8, labels_dir=tmp_path / "labels")
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def tag_bytes(kind: Kind, copies: int = 1, dpmm: int = 8) -> bytes:
    return kind.language.label_bytes(hand_tag(dpmm).label, copies=copies)


@pytest.mark.parametrize("dpmm", [8, 12])
async def test_a_tag_comes_out_as_it_was_laid_out(kind: Kind, dpmm: int, tmp_path: Path):
    sim = kind.simulator(dpmm=dpmm, labels_dir=tmp_path)
    await sim.start()
    try:
        async with connected(sim, kind.language) as link:
            await link.send(tag_bytes(kind, dpmm=dpmm))
            assert (await link.status()).ok
        await until(lambda: len(sim.labels) == 1, SETTLE_S, "one label")
    finally:
        await sim.stop()
    tag = hand_tag(dpmm)
    (label,) = sim.labels
    assert label.path == tmp_path / "label-0001.png"
    image = png_image(label.path.read_bytes())
    assert image.size == (tag.label.width, tag.label.height)
    assert image.info["dpi"] == pytest.approx((dpmm * 25.4, dpmm * 25.4), abs=0.5)
    assert decoded(image) == BARCODES
    assert same_pixels(image, tag.name) and same_pixels(image, tag.price)
    assert all(all_ink(image, rule) for rule in tag.rules)
    assert not sim.unknown and not sim.malformed


async def test_tesseract_reads_the_price_and_the_cyrillic_name_off_the_printed_label(
    kind: Kind, printer: LabelPrinterSimulator
):
    async with connected(printer, kind.language) as link:
        await link.send(tag_bytes(kind))
        await link.status()
    text = ocr(png_image(printer.labels[0].png()))
    assert NAME in text
    # tesseract drops the narrow thousands space; the digits and the comma must be exact.
    assert PRICE.replace(" ", "") in text.replace(" ", "")


async def test_copies_come_out_as_that_many_labels(kind: Kind, printer: LabelPrinterSimulator):
    async with connected(printer, kind.language) as link:
        await link.send(tag_bytes(kind, copies=3) + tag_bytes(kind, copies=2))
        await link.status()
    assert len(printer.labels) == 5 and printer.labels_received == 2
    assert [label.number for label in printer.labels] == [1, 2, 3, 4, 5]
    assert len({label.png() for label in printer.labels}) == 1
    assert sorted(path.name for path in (printer.labels_dir or Path()).iterdir())[-1] == "label-0005.png"


@pytest.mark.parametrize("fault", ["paper_out", "head_open", "paused", "ribbon_out"])
async def test_each_fault_is_in_the_status_answer_and_holds_the_labels(
    kind: Kind, printer: LabelPrinterSimulator, fault: str
):
    async with connected(printer, kind.language) as link:
        setattr(printer, fault, True)
        status = await link.status()
        assert status.problems == (fault,)
        await link.send(tag_bytes(kind, copies=2))
        await link.status()
        assert printer.labels == [] and printer.held_labels == 2
        setattr(printer, fault, False)
        assert (await link.status()).ok
    # Once the printer is ready again, what it held comes out, as on a real one.
    assert len(printer.labels) == 2 and printer.held_labels == 0


async def test_every_fault_at_once_and_then_back_to_normal(kind: Kind, printer: LabelPrinterSimulator):
    async with connected(printer, kind.language) as link:
        printer.paper_out = printer.head_open = printer.paused = printer.ribbon_out = True
        assert set((await link.status()).problems) == {"paper_out", "head_open", "paused", "ribbon_out"}
        printer.normal()
        assert (await link.status()).ok


async def test_paper_out_after_n_labels_prints_exactly_n(kind: Kind, printer: LabelPrinterSimulator):
    printer.paper_out_after(2)
    async with connected(printer, kind.language) as link:
        for _ in range(5):
            await link.send(tag_bytes(kind))
        status = await link.status()
        assert status.problems == ("paper_out",)
        assert len(printer.labels) == 2 and printer.held_labels == 3 and printer.labels_received == 5
        printer.paper_out = False  # a new roll
        assert (await link.status()).ok
    assert len(printer.labels) == 5


async def test_the_roll_can_end_between_the_copies_of_one_label(kind: Kind, printer: LabelPrinterSimulator):
    printer.paper_out_after(2)
    async with connected(printer, kind.language) as link:
        await link.send(tag_bytes(kind, copies=3))
        assert (await link.status()).paper_out
    assert len(printer.labels) == 2 and printer.held_labels == 1


async def test_the_connection_drops_in_the_middle_of_a_batch(kind: Kind, printer: LabelPrinterSimulator):
    printer.disconnect_after(2)
    async with connected(printer, kind.language) as link:
        await link.send(b"".join(tag_bytes(kind) for _ in range(5)))
        assert await link.closed_by_printer()
    assert len(printer.labels) == 2 and printer.labels_received == 2
    # A blip, not an unplug: the next connection is served.
    async with connected(printer, kind.language) as link:
        await link.send(tag_bytes(kind))
        assert (await link.status()).ok
    assert len(printer.labels) == 3


async def test_a_printer_unplugged_mid_batch_refuses_connections_until_plugged_in(
    kind: Kind, printer: LabelPrinterSimulator
):
    printer.disconnect_after(1, stay_offline=True)
    async with connected(printer, kind.language) as link:
        await link.send(tag_bytes(kind) + tag_bytes(kind))
        assert await link.closed_by_printer()
    async with connected(printer, kind.language) as link:
        assert await link.closed_by_printer()
    printer.offline = False
    async with connected(printer, kind.language) as link:
        assert (await link.status()).ok
    assert len(printer.labels) == 1


async def test_a_slow_link_takes_the_label_in_pieces(kind: Kind, printer: LabelPrinterSimulator):
    data = tag_bytes(kind)
    printer.link_bytes_per_s = len(data) * 2  # half a second for the label
    async with connected(printer, kind.language) as link:
        await link.send(data)
        await until(lambda: printer.bytes_received > 0, SETTLE_S, "the first bytes")
        assert printer.bytes_received < len(data) and not printer.labels
        assert (await link.status()).ok
    assert len(printer.labels) == 1 and printer.bytes_received == len(data) + len(kind.language.status_query)


async def test_garbage_on_the_wire_is_counted_and_the_next_label_still_prints(
    kind: Kind, printer: LabelPrinterSimulator
):
    async with connected(printer, kind.language) as link:
        await link.send(b"\x00\xff\r\nNOSUCH 1,2\r\n^ZZ9~QQ\r\n" + tag_bytes(kind))
        assert (await link.status()).ok
    assert len(printer.labels) == 1
    assert printer.unknown  # counted, and the printer carried on


async def test_the_desk_drives_the_faults_and_lists_the_labels(kind: Kind, printer: LabelPrinterSimulator):
    desk = printer.desk_handlers()
    assert desk["paper_out"]({"after": 1})["paper_labels_left"] == 1
    async with connected(printer, kind.language) as link:
        await link.send(tag_bytes(kind) + tag_bytes(kind))
        assert (await link.status()).paper_out
        assert desk["status"]({})["held"] == 1
        assert desk["paper_in"]({})["labels"] == 2
        assert desk["pause"]({})["paused"] is True
        assert (await link.status()).paused
        desk["head_open"]({})
        assert set((await link.status()).problems) == {"head_open", "paused"}
        desk["normal"]({})
        assert (await link.status()).ok
        assert desk["slow"]({"bytes_per_s": 5000})["link_bytes_per_s"] == 5000
        assert desk["slow"]({"bytes_per_s": 0})["link_bytes_per_s"] is None
    listed = desk["labels"]({"count": 2})["labels"]
    assert [entry["number"] for entry in listed] == [1, 2]
    assert listed[0]["width"] == 464 and listed[0]["path"].endswith("label-0001.png")
    with pytest.raises(ValueError):
        desk["paper_out"]({"after": -1})
