"""The label printer actor over real TCP: runs of tags, stops mid-run, the queue's order.

The actor runs under a real supervisor against ``LabelSink``, a network printer on a
loopback port that keeps every byte and answers status questions as the test says.
The store's side is ``LabelPort``: tags from a small catalogue, and what printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bus.payloads import DeviceError, ErrorCode
from devices import label_printer as label_printer_module
from devices import supervisor as supervisor_module
from devices.actor import DeviceSpec, Job
from devices.label_printer import LabelPrinter
from devices.labels import raster, template
from devices.labels.language import LabelStatus
from devices.labels.tag import LabelSelection, LabelsPrinted, TagData
from devices.sim.pty import PtyDevice
from devices.sim.tcp import TcpDevice
from devices.supervisor import DeviceSupervisor
from tests.conftest import until
from tests.devices.ports import RecordingPort

#: Longest a test waits for the actor to reach a state.
SETTLE_S = 5.0


# -- stand-ins for the language and the sheet (until theirs are merged) ------------------


@dataclass
class FakeLanguage:
    """ZPL-shaped: a label is ``^XA…^XZ``, the status answer one line."""

    name: str = "zpl"
    status_query: bytes = b"~HS"
    feed_bytes: bytes | None = b"~FEED"
    calibrate_bytes: bytes | None = b"~JC"

    def label_bytes(self, label: raster.DotLabel, *, copies: int) -> bytes:
        # The tags here have no GTIN: their barcode is Code 128 of the SKU.
        [barcode] = [item for item in label.items if isinstance(item, raster.DotBarcode)]
        return f"^XA^FD{barcode.data}^FS^PQ{copies}^XZ".encode()

    def status_reply_complete(self, data: bytes) -> bool:
        return data.endswith(b"\r\n")

    def parse_status(self, data: bytes) -> LabelStatus:
        flags = data.strip().decode()
        return LabelStatus(paper_out="P" in flags, head_open="H" in flags)


LANGUAGES = {"zpl": FakeLanguage(), "tspl": FakeLanguage(name="tspl", feed_bytes=None, calibrate_bytes=None)}


#: A real template file 120 mm wide: wider than any label printer here prints.
WIDE_TEMPLATE = """
name = "wide-120x40"
width = 120.0
height = 40.0

[[fields]]
name = "name"
box = { x = 2.0, y = 2.0, width = 116.0, height = 10.0 }
size = 4.0

[[fields]]
name = "barcode"
box = { x = 2.0, y = 20.0, width = 60.0, height = 15.0 }
"""


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(template.TEMPLATES, templates)
    (templates / "wide-120x40.toml").write_text(WIDE_TEMPLATE, encoding="utf-8")
    monkeypatch.setattr(
        label_printer_module, "load_template", functools.partial(template.load_template, folder=templates)
    )
    monkeypatch.setattr(label_printer_module, "language_for", LANGUAGES.__getitem__)
    monkeypatch.setattr(label_printer_module, "ERROR_POLL_S", 0.05)
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MIN_S", 0.05)
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MAX_S", 0.1)


# -- the printer and the store ------------------------------------------------------------


class LabelSink(TcpDevice):
    """A network label printer: keeps the labels, answers ``~HS`` with its state."""

    def __init__(self) -> None:
        super().__init__()
        self.received = bytearray()
        #: What came in, in order: ("label", sku) and ("status", "").
        self.log: list[tuple[str, str]] = []
        #: The roll runs out once this many labels came in (None: endless).
        self.paper_out_at: int | None = None
        self.head_open = False
        #: The printer's connection breaks as this label arrives (None: never).
        self.drop_at: int | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def labels(self) -> list[str]:
        return [sku for what, sku in self.log if what == "label"]

    @property
    def paper_out(self) -> bool:
        return self.paper_out_at is not None and len(self.labels) >= self.paper_out_at

    def drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        buffer = b""
        try:
            while data := await reader.read(4096):
                self.received += data
                buffer = self.take(buffer + data, writer.write, writer.transport.abort)
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def take(self, buffer: bytes, answer: Callable[[bytes], object], hang_up: Callable[[], object]) -> bytes:
        """Act on what came in; what is left (an unfinished label) waits for more."""
        while True:
            if buffer.startswith(b"~HS"):
                self.log.append(("status", ""))
                answer((("P" if self.paper_out else "") + ("H" if self.head_open else "") + "OK\r\n").encode())
                buffer = buffer[3:]
            elif buffer.startswith(b"^XA") and b"^XZ" in buffer:
                label, _, buffer = buffer.partition(b"^XZ")
                if self.drop_at is not None and len(self.labels) + 1 >= self.drop_at:
                    self.drop_at = None
                    hang_up()
                    return b""
                self.log.append(("label", label.split(b"^FD")[1].split(b"^FS")[0].decode()))
            elif buffer.startswith((b"~FEED", b"~JC")):
                command = b"~FEED" if buffer.startswith(b"~FEED") else b"~JC"
                self.log.append((command.decode(), ""))
                buffer = buffer[len(command) :]
            else:
                return buffer


class SerialLabelSink(PtyDevice):
    """The same printer on a serial line (a pty): for ``serial:`` ports."""

    def __init__(self, link: Path) -> None:
        super().__init__(link)
        self.printer = LabelSink()
        self._buffer = b""

    def received(self, data: bytes) -> None:
        self.printer.received += data
        self._buffer = self.printer.take(self._buffer + data, self.send, self.stop)


def tag(sku: str, version: int = 3) -> TagData:
    return TagData(
        sku=sku,
        name=f"Батон {sku}",
        price=4500,
        price_version=version,
        store="Ромашка",
        printed_on=dt.date(2026, 12, 3),
    )


class LabelPort(RecordingPort):
    """The store's side: a catalogue of tags, a stale-label queue, the printed runs."""

    def __init__(self, tags: list[TagData], queue: list[str] | None = None) -> None:
        super().__init__()
        self.catalogue = {t.sku: t for t in tags}
        self.queue = queue or []
        self.selections: list[LabelSelection] = []
        self.printed: list[LabelsPrinted] = []
        self.threads: list[bool] = []

    def label_tags(self, selection: LabelSelection) -> list[tuple[TagData, int]]:
        self.threads.append(threading.current_thread() is threading.main_thread())
        self.selections.append(selection)
        if selection.queue is not None:
            return [(self.catalogue[sku], 1) for sku in self.queue[: selection.queue.limit]]
        assert selection.items is not None
        for item in selection.items:
            if item.sku not in self.catalogue:
                raise DeviceError(ErrorCode.INVALID_REQUEST, f"no product {item.sku}")
        return [(self.catalogue[item.sku], item.copies) for item in selection.items]

    def labels_printed(self, outcome: LabelsPrinted) -> None:
        self.threads.append(threading.current_thread() is threading.main_thread())
        self.printed.append(outcome)

    def printed_skus(self) -> list[str]:
        return [t.sku for outcome in self.printed for t in outcome.printed]


TAGS = [tag(f"sku-{n:03d}") for n in range(1, 201)] + [tag("bad-gtin").model_copy(update={"gtin": "4601234567890"})]


@dataclass
class Rig:
    sink: LabelSink
    device: LabelPrinter
    port: LabelPort

    def events(self, type_: str) -> list[dict[str, Any]]:
        return [e.data for e in self.port.events if e.type == type_]


@pytest.fixture
def supervisors() -> Iterator[list[DeviceSupervisor]]:
    started: list[DeviceSupervisor] = []
    yield started


async def start(spec: DeviceSpec, port: LabelPort) -> tuple[LabelPrinter, DeviceSupervisor]:
    supervisor = DeviceSupervisor(lambda spec: port)
    supervisor.start([spec])
    device = supervisor.get(spec.id)
    assert isinstance(device, LabelPrinter)
    return device, supervisor


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    sink = LabelSink()
    await sink.start()
    port = LabelPort(TAGS, queue=[f"sku-{n:03d}" for n in range(1, 121)])
    spec = DeviceSpec(
        id="labels-1", kind="label_printer", port=f"tcp:{sink.address}", options={"profile": "zebra-zd421-203"}
    )
    device, supervisor = await start(spec, port)
    try:
        await until(lambda: device.status == "idle" and sink.log, timeout=SETTLE_S, what="online")
        yield Rig(sink, device, port)
    finally:
        await supervisor.stop()
        await sink.stop()


def job(action: str, args: dict[str, Any] | None = None, client: str = "manager-1") -> Job:
    return Job(client=client, action=action, args=args or {}, request_id=f"r-{action}-{time.monotonic_ns()}")


async def run(device: LabelPrinter, action: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    request = job(action, args)
    device.submit(request)
    return await asyncio.wait_for(request.future, SETTLE_S)


async def refused(device: LabelPrinter, action: str, args: dict[str, Any]) -> DeviceError:
    with pytest.raises(DeviceError) as error:
        await run(device, action, args)
    return error.value


# -- printing ------------------------------------------------------------------------------


async def test_a_run_prints_each_tag_with_its_copies_and_the_store_hears_what_printed(rig: Rig):
    rig.sink.log.clear()
    items = [{"sku": "sku-001", "copies": 2}, {"sku": "sku-002"}, {"sku": "sku-003"}]
    result = await run(rig.device, "print_labels", {"items": items, "copies": 4})
    assert result["printed"] == 3 and result["template"] == "shelf-58x40"
    assert [(t["sku"], t["copies"], t["price_version"]) for t in result["tags"]] == [
        ("sku-001", 2, 3),
        ("sku-002", 4, 3),
        ("sku-003", 4, 3),
    ]
    # A status question before the run and after every tag: each tag's fate is known.
    assert rig.sink.log == [
        ("status", ""),
        ("label", "sku-001"),
        ("status", ""),
        ("label", "sku-002"),
        ("status", ""),
        ("label", "sku-003"),
        ("status", ""),
    ]
    assert b"^FDsku-001^FS^PQ2^XZ" in rig.sink.received and b"^FDsku-002^FS^PQ4^XZ" in rig.sink.received
    [outcome] = rig.port.printed
    assert outcome.device == "labels-1" and outcome.client == "manager-1" and not outcome.from_queue
    assert [(t.sku, t.copies) for t in outcome.printed] == [("sku-001", 2), ("sku-002", 4), ("sku-003", 4)]
    # The store is asked and told from worker threads, never on the event loop.
    assert rig.port.threads == [False, False]
    [done] = rig.events("output_complete")
    assert done["printed"] == 3
    assert rig.device.counters["tags_printed"] == 3 and rig.device.counters["labels_printed"] == 10


async def test_every_tag_reports_progress_to_the_requester(rig: Rig):
    await run(rig.device, "print_labels", {"queue": {"limit": 5}})
    progress = [(c, e.data["done"], e.data["total"]) for c, e in rig.port.client_events if e.type == "progress"]
    assert progress == [("manager-1", n, 5) for n in range(1, 6)]
    assert rig.port.printed[0].from_queue
    assert rig.port.selections[-1].queue is not None and rig.port.selections[-1].queue.limit == 5


async def test_paper_out_at_tag_37_of_120_reports_36_printed_and_the_rest_not(rig: Rig):
    rig.sink.paper_out_at = 37
    error = await refused(rig.device, "print_labels", {"queue": {}})
    queue = [f"sku-{n:03d}" for n in range(1, 121)]
    assert error.code == ErrorCode.DEVICE_ERROR and error.details is not None
    assert error.details["reason"] == "paper_out"
    assert error.details["printed"] == queue[:36]
    assert error.details["not_printed"] == queue[36:]
    assert "out of labels" in error.message and "printed 36 of 120" in error.message
    assert error.retryable is False
    # The store takes exactly those 36 off the queue; the 37th went out but did not print.
    assert rig.port.printed_skus() == queue[:36] and rig.sink.labels == queue[:37]
    # The device shows why until a roll is loaded, then comes back by itself.
    assert rig.device.status == "error" and rig.device.error is not None
    assert rig.device.error["code"] == "paper_out"
    assert rig.events("paper_out")
    rig.sink.paper_out_at = None
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S, what="back from paper out")
    assert rig.events("paper_ok") == [{"cleared": "paper_out"}]


async def test_a_printer_with_its_head_open_prints_nothing_and_may_be_asked_again(rig: Rig):
    rig.sink.head_open = True
    rig.sink.log.clear()
    error = await refused(rig.device, "print_labels", {"items": [{"sku": "sku-001"}]})
    assert error.code == ErrorCode.DEVICE_ERROR and error.details is not None
    assert error.details["reason"] == "head_open" and error.details["printed"] == []
    assert error.retryable is True
    assert rig.sink.labels == [] and rig.port.printed_skus() == []
    rig.sink.head_open = False
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S, what="head closed")
    assert (await run(rig.device, "print_labels", {"items": [{"sku": "sku-001"}]}))["printed"] == 1


async def test_a_printer_gone_mid_run_reports_what_printed_and_reconnects(rig: Rig):
    rig.sink.drop_at = 11
    error = await refused(rig.device, "print_labels", {"queue": {"limit": 30}})
    assert error.code == ErrorCode.DEVICE_OFFLINE and error.details is not None
    queue = [f"sku-{n:03d}" for n in range(1, 31)]
    assert error.details["printed"] == queue[:10] and error.details["not_printed"] == queue[10:]
    assert rig.port.printed_skus() == queue[:10]
    await until(lambda: rig.events("offline"), timeout=SETTLE_S, what="offline")
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S, what="reconnected")
    assert (await run(rig.device, "print_labels", {"items": [{"sku": "sku-100"}]}))["printed"] == 1
    assert rig.sink.labels[-1] == "sku-100"


async def test_a_question_asked_during_a_200_tag_run_is_answered_between_two_tags(rig: Rig):
    batch = job("print_labels", {"items": [{"sku": f"sku-{n:03d}"} for n in range(1, 201)]})
    rig.device.submit(batch)
    await until(lambda: len(rig.sink.labels) >= 5, timeout=SETTLE_S, what="the run under way")
    question = job("status", client="till-1")
    rig.device.submit(question)
    answer = await asyncio.wait_for(question.future, SETTLE_S)
    assert answer["answered"] and answer["problems"] == []
    assert not batch.future.done()
    labels_by_then = len(rig.sink.labels)
    assert labels_by_then < 200
    result = await asyncio.wait_for(batch.future, 30)
    assert result["printed"] == 200
    # The till's job ran between two of the run's tags, not after the last.
    done = [e.data["done"] for c, e in rig.port.client_events if e.type == "progress" and c == "manager-1"]
    assert done == list(range(1, 201))


async def test_a_receipt_printer_on_the_same_loop_prints_while_a_label_run_is_rendered(rig: Rig):
    from devices.receipt_printer import ReceiptPrinter
    from devices.sim.escpos_printer import EscposPrinterSimulator

    sim = EscposPrinterSimulator()
    await sim.start()
    receipts = DeviceSupervisor(lambda spec: RecordingPort())
    receipts.start([DeviceSpec(id="printer-1", kind="receipt_printer", driver="network", port=sim.address)])
    printer = receipts.get("printer-1")
    assert isinstance(printer, ReceiptPrinter)
    try:
        await until(lambda: printer.status == "idle", timeout=SETTLE_S, what="receipt printer online")
        batch = job("print_labels", {"items": [{"sku": f"sku-{n:03d}"} for n in range(1, 201)]})
        rig.device.submit(batch)
        await until(lambda: len(rig.sink.labels) >= 3, timeout=SETTLE_S, what="the run under way")
        receipt = job("print", {"blocks": [{"type": "text", "text": "Чек"}, {"type": "cut"}]}, client="till-1")
        printer.submit(receipt)
        await asyncio.wait_for(receipt.future, SETTLE_S)
        assert sim.receipts and not batch.future.done() and len(rig.sink.labels) < 200
        assert (await asyncio.wait_for(batch.future, 30))["printed"] == 200
    finally:
        await receipts.stop()
        await sim.stop()


# -- refusals: nothing reaches the printer ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        ({}, "name the tags"),
        ({"items": []}, "name the tags"),
        ({"items": [{"sku": "sku-001", "copies": 0}]}, "items.0.copies"),
        ({"items": [{"sku": "sku-001", "copies": -1}]}, "items.0.copies"),
        ({"items": [{"sku": "sku-001", "copies": 51}]}, "items.0.copies"),
        ({"items": [{"sku": "sku-001", "copies": "2"}]}, "items.0.copies"),
        ({"queue": {}, "copies": 1000}, "copies"),
        ({"items": [{"sku": "sku-001"}], "queue": {}}, "not both"),
        ({"items": [{"sku": "sku-001"}], "colour": "red"}, "colour"),
    ],
)
async def test_bad_arguments_are_refused_before_the_job_is_queued(rig: Rig, args: dict[str, Any], complaint: str):
    before = len(rig.sink.received)
    with pytest.raises(DeviceError) as error:
        rig.device.submit(job("print_labels", args))
    assert error.value.code == ErrorCode.INVALID_REQUEST and complaint in error.value.message
    assert rig.device.queue_depth == 0 and len(rig.sink.received) == before


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        ({"items": [{"sku": "sku-001"}], "template": "nope-10x10"}, "template nope-10x10: no such template"),
        ({"items": [{"sku": "sku-001"}], "template": "wide-120x40"}, "at most 104 mm across"),
        (
            {"items": [{"sku": "sku-001"}, {"sku": "bad-gtin"}]},
            "tag bad-gtin: product bad-gtin: the GTIN 4601234567890 has a wrong check digit",
        ),
        ({"items": [{"sku": "sku-001"}, {"sku": "no-such"}]}, "no product no-such"),
    ],
)
async def test_a_run_that_cannot_print_right_is_refused_whole_with_nothing_sent(
    rig: Rig, args: dict[str, Any], complaint: str
):
    before = len(rig.sink.received)
    error = await refused(rig.device, "print_labels", args)
    assert error.code == ErrorCode.INVALID_REQUEST and complaint in error.message
    await asyncio.sleep(0.05)
    assert rig.sink.received[before:] == b"" and rig.port.printed == []


# -- status, feed, calibrate ----------------------------------------------------------------


async def test_status_feed_and_calibrate(rig: Rig):
    assert (await run(rig.device, "status")) == {
        "paper_out": False,
        "ribbon_out": False,
        "head_open": False,
        "paused": False,
        "problems": [],
        "answered": True,
        "problem": None,
    }
    rig.sink.paper_out_at = 0
    assert (await run(rig.device, "status"))["problems"] == ["paper_out"]
    rig.sink.log.clear()
    assert await run(rig.device, "feed") == {"fed": True}
    assert await run(rig.device, "calibrate") == {"calibrated": True}
    assert rig.sink.log == [("~FEED", ""), ("~JC", "")]
    assert rig.device.capabilities["feed"] and rig.device.capabilities["calibrate"]


async def test_a_language_without_feed_says_so(tmp_path: Path):
    sink = LabelSink()
    await sink.start()
    spec = DeviceSpec(id="labels-2", kind="label_printer", port=sink.address, options={"profile": "tsc-te200"})
    device, supervisor = await start(spec, LabelPort(TAGS))
    try:
        await until(lambda: device.status == "idle", timeout=SETTLE_S, what="online")
        error = await refused(device, "feed", {})
        assert error.code == ErrorCode.INVALID_REQUEST and "TSPL has no such command" in error.message
        assert not device.capabilities["feed"]
    finally:
        await supervisor.stop()
        await sink.stop()


async def test_asked_only_at_the_end_a_stop_counts_none_of_the_run_as_printed():
    sink = LabelSink()
    await sink.start()
    port = LabelPort(TAGS)
    options = {"profile": "zebra-zd421-203", "status_after_each": False}
    device, supervisor = await start(
        DeviceSpec(id="labels-5", kind="label_printer", port=sink.address, options=options), port
    )
    try:
        await until(lambda: device.status == "idle", timeout=SETTLE_S, what="online")
        sink.log.clear()
        items = [{"sku": f"sku-{n:03d}"} for n in range(1, 6)]
        assert (await run(device, "print_labels", {"items": items}))["printed"] == 5
        assert sink.log == [("status", "")] + [("label", f"sku-{n:03d}") for n in range(1, 6)] + [("status", "")]
        sink.paper_out_at = 8
        error = await refused(device, "print_labels", {"items": items})
        assert error.details is not None and error.details["printed"] == []
        assert error.details["not_printed"] == [f"sku-{n:03d}" for n in range(1, 6)]
        assert port.printed_skus() == [f"sku-{n:03d}" for n in range(1, 6)]  # the first run's only
    finally:
        await supervisor.stop()
        await sink.stop()


async def test_a_printer_on_a_serial_line_prints_and_answers(tmp_path: Path):
    sink = SerialLabelSink(tmp_path / "label-printer")
    sink.start()
    spec = DeviceSpec(
        id="labels-4", kind="label_printer", port=f"serial:{sink.link}", options={"profile": "zebra-zd421-203"}
    )
    device, supervisor = await start(spec, LabelPort(TAGS))
    try:
        await until(lambda: device.status == "idle", timeout=SETTLE_S, what="online")
        result = await run(device, "print_labels", {"items": [{"sku": "sku-001"}, {"sku": "sku-002", "copies": 2}]})
        assert result["printed"] == 2 and sink.printer.labels == ["sku-001", "sku-002"]
        sink.printer.paper_out_at = 0
        assert (await run(device, "status"))["problems"] == ["paper_out"]
    finally:
        await supervisor.stop()
        sink.stop()


# -- the A4 sheet ---------------------------------------------------------------------------


async def test_the_a4_sheet_profile_writes_a_pdf_with_every_tag(tmp_path: Path):
    import pypdfium2
    import zxingcpp

    folder = tmp_path / "sheets"
    port = LabelPort(TAGS)
    spec = DeviceSpec(id="sheets-1", kind="label_printer", port=str(folder), options={"profile": "a4-sheet"})
    device, supervisor = await start(spec, port)
    try:
        await until(lambda: device.status == "idle", timeout=SETTLE_S, what="online")
        items = [{"sku": f"sku-{n:03d}"} for n in range(1, 23)] + [{"sku": "sku-023", "copies": 3}]
        result = await run(device, "print_labels", {"items": items})
        assert result["printed"] == 23 and result["template"] == "a4-70x37"
        pdf = pypdfium2.PdfDocument(folder / result["file"])
        assert len(pdf) == result["pages"] == 2
        # The real sheet: 24 tags a page, and every tag's name is on it as text.
        text = "".join(page.get_textpage().get_text_range() for page in pdf)
        assert [n for n in range(1, 23) if text.count(f"Батон sku-{n:03d}") != 1] == []
        assert text.count("Батон sku-023") == 3
        # And a scanner reads each tag's barcode off the printed page.
        image = pdf[0].render(scale=6).to_pil()
        codes = sorted(code.text for code in zxingcpp.read_barcodes(image))
        assert codes == sorted([f"sku-{n:03d}" for n in range(1, 23)] + ["sku-023"] * 2)
        assert port.printed_skus() == [f"sku-{n:03d}" for n in range(1, 24)]
        listed = await run(device, "sheets")
        assert [s["file"] for s in listed["sheets"]] == [result["file"]] and listed["total"] == 1
        assert sorted(p.name for p in folder.iterdir()) == [result["file"]]  # no half-written file left
        error = await refused(device, "feed", {})
        assert "an A4 sheet has no such command" in error.message
    finally:
        await supervisor.stop()


async def test_a_printer_without_a_profile_stays_offline_and_says_why():
    port = LabelPort(TAGS)
    device, supervisor = await start(DeviceSpec(id="labels-3", kind="label_printer", port="127.0.0.1:1"), port)
    try:
        await until(lambda: device.error is not None, timeout=SETTLE_S, what="offline reason")
        assert device.status == "offline" and "no label printer profile" in device.error["message"]
    finally:
        await supervisor.stop()
