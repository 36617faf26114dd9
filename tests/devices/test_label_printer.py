"""The label printer actor against the simulated Zebra, over real TCP (and a pty).

The actor runs under a real supervisor; the ZPL printer simulator (devices/sim) parses
the ZPL it sends and draws each label, and zxing-cpp, which nobody here wrote, reads
the barcode off each printed label: the whole path from a tag to the paper.  The
store's side is ``LabelPort``: tags from a small catalogue, a stale-label queue, and
what printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import shutil
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zxingcpp

from bus.payloads import DeviceError, ErrorCode, Event
from devices import label_printer as label_printer_module
from devices import supervisor as supervisor_module
from devices.actor import DeviceSpec, Job
from devices.gtin import gtin_check_digit
from devices.label_printer import LabelPrinter
from devices.labels import template
from devices.labels.tag import LabelSelection, LabelsPrinted, TagData
from devices.sim.label_printer import LabelPrinterSimulator
from devices.sim.pty import PtyDevice
from devices.sim.tspl_printer import TsplPrinterSimulator
from devices.sim.zpl_printer import ZplPrinterSimulator
from devices.supervisor import DeviceSupervisor
from tests.conftest import until
from tests.devices.ports import RecordingPort

#: Longest a test waits for the actor to reach a state.
SETTLE_S = 5.0
# Status questions a printer has had once online: the one on connecting, proving it
# answers, and the watch's first look, which takes its state in.
FIRST_LOOK = 2

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
def quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(template.TEMPLATES, templates)
    (templates / "wide-120x40.toml").write_text(WIDE_TEMPLATE, encoding="utf-8")
    monkeypatch.setattr(
        label_printer_module, "load_template", functools.partial(template.load_template, folder=templates)
    )
    monkeypatch.setattr(label_printer_module, "ERROR_POLL_S", 0.05)
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MIN_S", 0.05)
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MAX_S", 0.1)


def gtin(n: int) -> str:
    body = f"460000000{n:03d}"
    return body + str(gtin_check_digit(body))


def sku(n: int) -> str:
    return f"sku-{n:03d}"


def tag(n: int) -> TagData:
    return TagData(
        sku=sku(n),
        gtin=gtin(n),
        name=f"Батон нарезной {n}",
        price=4500 + n,
        price_version=3,
        store="Ромашка",
        printed_on=dt.date(2026, 12, 3),
    )


def printed_gtins(sim: LabelPrinterSimulator) -> list[str]:
    """What a scanner reads off each label that came out of the printer."""
    found = []
    for label in sim.labels:
        codes = [code.text for code in zxingcpp.read_barcodes(label.image.convert("L"))]
        assert len(codes) == 1, f"label {label.number} has {len(codes)} readable barcodes"
        found.append(codes[0])
    return found


class SerialZplPrinter(PtyDevice):
    """The same Zebra on a serial line (a pty): for ``serial:`` ports."""

    def __init__(self, link: Path) -> None:
        super().__init__(link)
        self.printer = ZplPrinterSimulator()
        self._parser = self.printer.new_parser()

    def received(self, data: bytes) -> None:
        reply = self.printer.receive(data, self._parser)
        if reply:
            self.send(reply)


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


TAGS = [tag(n) for n in range(1, 201)] + [
    TagData.model_validate(tag(999).model_dump() | {"sku": "bad-gtin", "gtin": "4601234567890"})
]
QUEUE = [sku(n) for n in range(1, 121)]


@dataclass
class Rig:
    sim: ZplPrinterSimulator
    device: LabelPrinter
    port: LabelPort

    def events(self, type_: str) -> list[dict[str, Any]]:
        return [e.data for e in self.port.events if e.type == type_]


async def start(spec: DeviceSpec, port: LabelPort) -> tuple[LabelPrinter, DeviceSupervisor]:
    supervisor = DeviceSupervisor(lambda spec: port)
    supervisor.start([spec])
    device = supervisor.get(spec.id)
    assert isinstance(device, LabelPrinter)
    return device, supervisor


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    sim = ZplPrinterSimulator(dpmm=8)
    await sim.start()
    port = LabelPort(TAGS, queue=QUEUE)
    spec = DeviceSpec(
        id="labels-1", kind="label_printer", port=f"tcp:{sim.address}", options={"profile": "zebra-zd421-203"}
    )
    device, supervisor = await start(spec, port)
    try:
        await until(
            lambda: device.status == "idle" and sim.status_queries >= FIRST_LOOK, timeout=SETTLE_S, what="online"
        )
        yield Rig(sim, device, port)
    finally:
        await supervisor.stop()
        await sim.stop()


def job(action: str, args: dict[str, Any] | None = None, client: str = "manager-1") -> Job:
    return Job(client=client, action=action, args=args or {}, request_id=f"r-{action}-{time.monotonic_ns()}")


async def run(
    device: LabelPrinter, action: str, args: dict[str, Any] | None = None, timeout: float = SETTLE_S
) -> dict[str, Any]:
    request = job(action, args)
    device.submit(request)
    return await asyncio.wait_for(request.future, timeout)


async def refused(device: LabelPrinter, action: str, args: dict[str, Any]) -> DeviceError:
    with pytest.raises(DeviceError) as error:
        await run(device, action, args)
    return error.value


# -- printing ------------------------------------------------------------------------------


async def test_tags_reach_the_paper_with_their_barcodes_and_copies_and_the_store_hears_what_printed(rig: Rig):
    questions = rig.sim.status_queries
    items = [{"sku": sku(1), "copies": 2}, {"sku": sku(2)}, {"sku": sku(3)}]
    result = await run(rig.device, "print_labels", {"items": items, "copies": 4})
    assert result["printed"] == 3 and result["template"] == "shelf-58x40"
    assert [(t["sku"], t["copies"], t["price_version"]) for t in result["tags"]] == [
        (sku(1), 2, 3),
        (sku(2), 4, 3),
        (sku(3), 4, 3),
    ]
    # A scanner reads each label the printer drew: the right GTIN, as many copies as asked.
    assert printed_gtins(rig.sim) == [gtin(1)] * 2 + [gtin(2)] * 4 + [gtin(3)] * 4
    assert rig.sim.labels[0].image.size == (58 * 8, 40 * 8)
    assert not rig.sim.unknown and not rig.sim.malformed
    # Asked before the run and after every tag: each tag's fate is known.
    assert rig.sim.status_queries - questions == 4
    [outcome] = rig.port.printed
    assert outcome.device == "labels-1" and outcome.client == "manager-1" and not outcome.from_queue
    assert outcome.template == "shelf-58x40"
    assert [(t.sku, t.copies) for t in outcome.printed] == [(sku(1), 2), (sku(2), 4), (sku(3), 4)]
    # The store is asked and told from worker threads, never on the event loop.
    assert rig.port.threads == [False, False]
    [(client, done)] = [(c, e.data) for c, e in rig.port.client_events if e.type == "output_complete"]
    assert client == "manager-1" and done["printed"] == 3
    assert rig.device.counters["tags_printed"] == 3 and rig.device.counters["labels_printed"] == 10


async def test_every_tag_reports_progress_to_the_requester(rig: Rig):
    await run(rig.device, "print_labels", {"queue": {"limit": 5}})
    progress = [(c, e.data["done"], e.data["total"]) for c, e in rig.port.client_events if e.type == "progress"]
    assert progress == [("manager-1", n, 5) for n in range(1, 6)]
    # At full speed each tag is out of the printer by the time it is asked: printed as sent.
    assert [e.data["printed"] for _, e in rig.port.client_events if e.type == "progress"] == [1, 2, 3, 4, 5]
    assert rig.port.printed[0].from_queue
    assert rig.port.selections[-1].queue is not None and rig.port.selections[-1].queue.limit == 5


async def test_paper_out_at_tag_37_of_120_reports_36_printed_and_the_rest_not(rig: Rig):
    rig.sim.paper_out_after(37)  # the roll ends with the 37th label
    error = await refused(rig.device, "print_labels", {"queue": {}})
    assert error.code == ErrorCode.DEVICE_ERROR and error.details is not None
    assert error.details["reason"] == "paper_out"
    assert error.details["printed"] == QUEUE[:36]
    assert error.details["not_printed"] == QUEUE[36:]
    assert "out of labels" in error.message and "printed 36 of 120" in error.message
    assert error.retryable is False
    # The store takes exactly those 36 off the queue.  The 37th, the roll's last, is not
    # vouched for by a printer that says it is out of paper: it is printed again.
    assert rig.port.printed_skus() == QUEUE[:36]
    assert printed_gtins(rig.sim) == [gtin(n) for n in range(1, 38)]
    # The device shows why until a roll is loaded, then comes back by itself.
    assert rig.device.status == "error" and rig.device.error is not None
    assert rig.device.error["code"] == "paper_out"
    assert rig.events("paper_out")
    rig.sim.paper_out = False
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S, what="back from paper out")
    assert rig.events("paper_ok") == [{"cleared": "paper_out"}]


async def test_a_batch_is_printed_once_it_is_out_of_the_printer_not_once_it_is_in_it(rig: Rig):
    # A Zebra takes in a batch far faster than its head prints it: here 25 tags a second.
    rig.sim.labels_per_s = 25
    questions = rig.sim.status_queries
    answer = await run(rig.device, "print_labels", {"queue": {"limit": 8}})
    assert answer["printed"] == 8
    # The answer waited for the last tag to leave the buffer, asking as it went.
    assert len(rig.sim.labels) == 8 and rig.sim.held_labels == 0
    assert rig.sim.status_queries - questions > 1 + 8
    assert rig.port.printed_skus() == QUEUE[:8]


async def test_a_batch_in_a_slow_printer_s_buffer_is_told_printed_tag_by_tag_as_it_comes_out(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
):
    rig.sim.labels_per_s = 4  # the head is still on the first tag when the last one is in
    heard: list[tuple[dict[str, Any], int]] = []  # each progress, and the labels out of the printer then
    recorded = rig.port.send_to_client

    def hear(client: str, event: Event) -> None:
        recorded(client, event)
        if event.type == "progress":
            heard.append((event.data, len(rig.sim.labels)))

    monkeypatch.setattr(rig.port, "send_to_client", hear)
    assert (await run(rig.device, "print_labels", {"queue": {"limit": 4}}, timeout=30))["printed"] == 4
    assert all(data["total"] == 4 for data, _ in heard)
    printed = [data["printed"] for data, _ in heard]
    assert printed == sorted(printed) and printed[-1] == 4
    # A tag is told printed only once it has come out of the printer, and was sent.
    assert all(data["printed"] <= min(out, data["done"]) for data, out in heard), heard
    # After the last tag went in, each count that grew while the buffer drained was told.
    draining = [data["printed"] for data, _ in heard if data["done"] == 4]
    assert draining[0] < 4 and draining == sorted(set(draining)), heard


async def test_a_roll_that_runs_out_mid_buffer_leaves_the_stranded_tags_queued_and_cancelled(rig: Rig):
    rig.sim.labels_per_s = 25
    rig.sim.paper_out_after(4)  # every tag is in the printer before the fourth comes out
    error = await refused(rig.device, "print_labels", {"queue": {"limit": 10}})
    assert error.details is not None and error.details["reason"] == "paper_out"
    # Four came out, the fourth as the roll ended: three vouched for, seven to print again.
    assert len(rig.sim.labels) == 4
    assert error.details["printed"] == QUEUE[:3] and error.details["not_printed"] == QUEUE[3:10]
    assert rig.port.printed_skus() == QUEUE[:3]
    # The six still in the buffer were cancelled (~JA), so a new roll does not print them
    # beside the ones a manager prints again from the queue.
    assert rig.sim.held_labels == 0
    rig.sim.paper_out = False
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S, what="back from paper out")
    assert len(rig.sim.labels) == 4


async def test_a_printer_with_its_head_open_prints_nothing_and_may_be_asked_again(rig: Rig):
    rig.sim.head_open = True
    received = rig.sim.labels_received
    error = await refused(rig.device, "print_labels", {"items": [{"sku": sku(1)}]})
    assert error.code == ErrorCode.DEVICE_ERROR and error.details is not None
    assert error.details["reason"] == "head_open" and error.details["printed"] == []
    assert error.retryable is True
    assert rig.sim.labels_received == received and rig.port.printed_skus() == []
    rig.sim.head_open = False
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S, what="head closed")
    assert (await run(rig.device, "print_labels", {"items": [{"sku": sku(1)}]}))["printed"] == 1
    assert printed_gtins(rig.sim) == [gtin(1)]


async def test_a_printer_gone_mid_run_reports_what_printed_and_reconnects(rig: Rig):
    rig.sim.disconnect_after(10)  # the cable goes as the 10th label arrives
    error = await refused(rig.device, "print_labels", {"queue": {"limit": 30}})
    assert error.code == ErrorCode.DEVICE_OFFLINE and error.details is not None
    # The 10th came in just before the connection broke: nobody could say it printed.
    assert error.details["reason"] == "disconnected"
    assert error.details["printed"] == QUEUE[:9] and error.details["not_printed"] == QUEUE[9:30]
    assert rig.port.printed_skus() == QUEUE[:9]
    await until(lambda: rig.events("offline"), timeout=SETTLE_S, what="offline")
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S, what="reconnected")
    assert (await run(rig.device, "print_labels", {"items": [{"sku": sku(100)}]}))["printed"] == 1
    assert printed_gtins(rig.sim)[-1] == gtin(100)


async def test_a_question_asked_during_a_200_tag_run_is_answered_between_two_tags(rig: Rig):
    batch = job("print_labels", {"items": [{"sku": sku(n)} for n in range(1, 201)]})
    rig.device.submit(batch)
    await until(lambda: rig.sim.labels_received >= 5, timeout=SETTLE_S, what="the run under way")
    question = job("status", client="till-1")
    rig.device.submit(question)
    answer = await asyncio.wait_for(question.future, SETTLE_S)
    assert answer["answered"] and answer["problems"] == []
    # Answered while the run still had tags to print, not after its last.
    assert not batch.future.done() and rig.sim.labels_received < 200
    result = await asyncio.wait_for(batch.future, 60)
    assert result["printed"] == 200 and len(rig.sim.labels) == 200
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
        batch = job("print_labels", {"items": [{"sku": sku(n)} for n in range(1, 201)]})
        rig.device.submit(batch)
        await until(lambda: rig.sim.labels_received >= 3, timeout=SETTLE_S, what="the run under way")
        receipt = job("print", {"blocks": [{"type": "text", "text": "Чек"}, {"type": "cut"}]}, client="till-1")
        printer.submit(receipt)
        await asyncio.wait_for(receipt.future, SETTLE_S)
        assert sim.receipts and not batch.future.done() and rig.sim.labels_received < 200
        assert (await asyncio.wait_for(batch.future, 60))["printed"] == 200
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
    before = rig.sim.bytes_received
    with pytest.raises(DeviceError) as error:
        rig.device.submit(job("print_labels", args))
    assert error.value.code == ErrorCode.INVALID_REQUEST and complaint in error.value.message
    assert rig.device.queue_depth == 0 and rig.sim.bytes_received == before


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
    before = rig.sim.labels_received
    error = await refused(rig.device, "print_labels", args)
    assert error.code == ErrorCode.INVALID_REQUEST and complaint in error.message
    await asyncio.sleep(0.05)
    assert rig.sim.labels_received == before and rig.sim.labels == [] and rig.port.printed == []


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
    rig.sim.ribbon_out = True
    rig.sim.paused = True
    assert (await run(rig.device, "status"))["problems"] == ["ribbon_out", "paused"]
    assert rig.device.status == "error" and rig.device.error is not None
    assert rig.device.error["code"] == "ribbon_out"
    rig.sim.normal()
    assert await run(rig.device, "feed") == {"fed": True}
    assert await run(rig.device, "calibrate") == {"calibrated": True}
    assert (rig.sim.feeds, rig.sim.calibrations) == (1, 1)
    assert rig.device.capabilities["feed"] and rig.device.capabilities["calibrate"]
    assert rig.device.capabilities["dpmm"] == 8 and rig.device.capabilities["language"] == "zpl"


async def test_asked_only_at_the_end_a_stop_counts_what_left_the_buffer_before_the_roll_ran_out():
    sim = ZplPrinterSimulator()
    await sim.start()
    port = LabelPort(TAGS)
    options = {"profile": "zebra-zd421-203", "status_after_each": False}
    spec = DeviceSpec(id="labels-5", kind="label_printer", port=sim.address, options=options)
    device, supervisor = await start(spec, port)
    try:
        await until(
            lambda: device.status == "idle" and sim.status_queries >= FIRST_LOOK, timeout=SETTLE_S, what="online"
        )
        questions = sim.status_queries
        items = [{"sku": sku(n)} for n in range(1, 6)]
        assert (await run(device, "print_labels", {"items": items}))["printed"] == 5
        assert sim.status_queries - questions == 2  # before the run and after its last tag
        sim.paper_out_after(3)
        error = await refused(device, "print_labels", {"items": items})
        # Asked once, after the fifth: out of paper, two formats still in the buffer (then
        # cancelled).  The third came out as the roll ended and is not vouched for: it is
        # printed again.
        assert sim.held_labels == 0 and len(sim.labels) == 5 + 3
        assert error.details is not None and error.details["printed"] == [sku(1), sku(2)]
        assert error.details["not_printed"] == [sku(n) for n in range(3, 6)]
        assert port.printed_skus() == [sku(n) for n in range(1, 6)] + [sku(1), sku(2)]
    finally:
        await supervisor.stop()
        await sim.stop()


async def test_a_printer_on_a_serial_line_prints_and_answers(tmp_path: Path):
    printer = SerialZplPrinter(tmp_path / "label-printer")
    printer.start()
    spec = DeviceSpec(
        id="labels-4", kind="label_printer", port=f"serial:{printer.link}", options={"profile": "zebra-zd421-203"}
    )
    device, supervisor = await start(spec, LabelPort(TAGS))
    try:
        await until(lambda: device.status == "idle", timeout=SETTLE_S, what="online")
        result = await run(device, "print_labels", {"items": [{"sku": sku(1)}, {"sku": sku(2), "copies": 2}]})
        assert result["printed"] == 2 and printed_gtins(printer.printer) == [gtin(1), gtin(2), gtin(2)]
        printer.printer.paper_out = True
        assert (await run(device, "status"))["problems"] == ["paper_out"]
    finally:
        await supervisor.stop()
        printer.stop()


async def test_a_300_dpi_printer_gets_its_tags_at_12_dots_per_mm():
    sim = ZplPrinterSimulator(dpmm=12)
    await sim.start()
    spec = DeviceSpec(id="labels-6", kind="label_printer", port=sim.address, options={"profile": "zebra-zt411-300"})
    device, supervisor = await start(spec, LabelPort(TAGS))
    try:
        await until(lambda: device.status == "idle", timeout=SETTLE_S, what="online")
        await run(device, "print_labels", {"items": [{"sku": sku(7)}], "template": "small-43x25"})
        assert printed_gtins(sim) == [gtin(7)] and sim.labels[0].image.size == (43 * 12, 25 * 12)
    finally:
        await supervisor.stop()
        await sim.stop()


@pytest.mark.parametrize("profile", ["tsc-te200", "gprinter-gp-1324d"])
async def test_a_tspl_printer_prints_the_same_tags_and_says_when_its_paper_is_out(profile: str):
    sim = TsplPrinterSimulator(dpmm=8)
    await sim.start()
    port = LabelPort(TAGS)
    device, supervisor = await start(
        DeviceSpec(id="labels-7", kind="label_printer", port=sim.address, options={"profile": profile}), port
    )
    try:
        await until(
            lambda: device.status == "idle" and sim.status_queries >= FIRST_LOOK, timeout=SETTLE_S, what="online"
        )
        items = [{"sku": sku(n)} for n in range(1, 6)] + [{"sku": sku(6), "copies": 2}]
        assert (await run(device, "print_labels", {"items": items}))["printed"] == 6
        assert printed_gtins(sim) == [gtin(n) for n in range(1, 6)] + [gtin(6)] * 2
        assert not sim.unknown and not sim.malformed
        sim.paper_out_after(2)
        error = await refused(device, "print_labels", {"items": items})
        assert error.details is not None and error.details["reason"] == "paper_out"
        assert error.details["printed"] == [sku(1)] and port.printed_skus()[-1] == sku(1)
        sim.normal()
        await until(lambda: device.status == "idle", timeout=SETTLE_S, what="paper loaded")
        assert await run(device, "feed") == {"fed": True} and await run(device, "calibrate") == {"calibrated": True}
        assert (sim.feeds, sim.calibrations) == (1, 1)
    finally:
        await supervisor.stop()
        await sim.stop()


async def test_a_printer_that_is_never_asked_counts_a_tag_printed_once_sent():
    sim = TsplPrinterSimulator(dpmm=8)
    await sim.start()
    spec = DeviceSpec(id="labels-8", kind="label_printer", port=sim.address, options={"profile": "xprinter-xp-365b"})
    device, supervisor = await start(spec, LabelPort(TAGS))
    try:
        await until(lambda: device.status == "idle", timeout=SETTLE_S, what="online")
        assert (await run(device, "print_labels", {"items": [{"sku": sku(1)}, {"sku": sku(2)}]}))["printed"] == 2
        assert sim.status_queries == 0 and printed_gtins(sim) == [gtin(1), gtin(2)]
        assert (await run(device, "status")) == {"answered": False, "problems": [], "problem": None}
    finally:
        await supervisor.stop()
        await sim.stop()


# -- the A4 sheet ---------------------------------------------------------------------------


async def test_the_a4_sheet_profile_writes_a_pdf_with_every_tag(tmp_path: Path):
    import pypdfium2

    folder = tmp_path / "sheets"
    port = LabelPort(TAGS)
    spec = DeviceSpec(id="sheets-1", kind="label_printer", port=str(folder), options={"profile": "a4-sheet"})
    device, supervisor = await start(spec, port)
    try:
        await until(lambda: device.status == "idle", timeout=SETTLE_S, what="online")
        items = [{"sku": sku(n)} for n in range(1, 23)] + [{"sku": sku(23), "copies": 3}]
        result = await run(device, "print_labels", {"items": items})
        assert result["printed"] == 23 and result["template"] == "a4-70x37"
        pdf = pypdfium2.PdfDocument(folder / result["file"])
        assert len(pdf) == result["pages"] == 2
        # The real sheet: 24 tags a page, each tag's name on it as text, its barcode readable.
        text = "".join(page.get_textpage().get_text_range() for page in pdf)
        assert [
            n for n in range(1, 23) if text.count(f"Батон нарезной {n}\n") + text.count(f"Батон нарезной {n}\r") != 1
        ] == []
        codes = sorted(code.text for code in zxingcpp.read_barcodes(pdf[0].render(scale=6).to_pil()))
        assert codes == sorted([gtin(n) for n in range(1, 23)] + [gtin(23)] * 2)
        assert port.printed_skus() == [sku(n) for n in range(1, 24)]
        listed = await run(device, "sheets")
        assert [s["file"] for s in listed["sheets"]] == [result["file"]] and listed["total"] == 1
        assert sorted(p.name for p in folder.iterdir()) == [result["file"]]  # no half-written file left
        error = await refused(device, "feed", {})
        assert "an A4 sheet has no such command" in error.message
    finally:
        await supervisor.stop()


async def test_a_printer_without_a_profile_stays_offline_and_says_why():
    device, supervisor = await start(
        DeviceSpec(id="labels-3", kind="label_printer", port="127.0.0.1:1"), LabelPort(TAGS)
    )
    try:
        await until(lambda: device.error is not None, timeout=SETTLE_S, what="offline reason")
        assert device.status == "offline" and "no label printer profile" in device.error["message"]
    finally:
        await supervisor.stop()
