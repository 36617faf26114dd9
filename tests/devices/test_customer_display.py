"""The customer display actor drives a simulated display on a real pty.

The real actor runs under the real supervisor in-process; the ``RecordingPort``
stands where the hub's bus port would.  The simulator parses what arrives, so each
test checks what the customer would read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bus.payloads import DeviceError, ErrorCode
from devices.actor import DeviceSpec, Job
from devices.claims import ClaimArgs
from devices.customer_display import CustomerDisplay
from devices.line_display import LineDisplay
from devices.sim.customer_display import LineDisplaySimulator
from devices.supervisor import DeviceSupervisor
from tests.conftest import until
from tests.devices.ports import RecordingPort

TILL = "till-1"


def job(action: str, args: dict[str, Any] | None = None, client: str = TILL) -> Job:
    return Job(client=client, action=action, args=args or {}, request_id=f"r-{action}-{time.monotonic_ns()}")


async def run(device: CustomerDisplay, action: str, args: dict[str, Any] | None = None, client: str = TILL) -> dict:
    j = job(action, args, client)
    device.submit(j)
    return await j.future


async def sees(sim: LineDisplaySimulator, lines: tuple[str, str], timeout: float = 2.0) -> bool:
    return await asyncio.to_thread(sim.wait_for, lines, timeout)


@pytest.fixture
async def display(tmp_path: Path) -> AsyncIterator[tuple[CustomerDisplay, LineDisplaySimulator, RecordingPort]]:
    """A display on a pty link, driven by its actor, claimed by till-1."""
    sim = LineDisplaySimulator(tmp_path / "serial" / "by-id" / "usb-Epson_DM-D110-if00")
    sim.start()
    port = RecordingPort()
    supervisor = DeviceSupervisor(lambda spec: port)
    supervisor.start([DeviceSpec(id="display-1", kind="customer_display", port=str(sim.link))])
    device = supervisor.get("display-1")
    assert isinstance(device, CustomerDisplay)
    try:
        await until(lambda: device.status == "idle", timeout=2)
        await device.claims.claim(TILL, "till", ClaimArgs(lease_s=60))
        yield device, sim, port
    finally:
        await supervisor.stop()
        sim.stop()


async def test_show_puts_both_lines_on_the_display_in_cyrillic(display):
    device, sim, _ = display
    result = await run(device, "show", {"line1": "Молоко 1л", "right1": "89.90", "line2": "ИТОГО", "right2": "89.90"})
    assert result == {"showing": {"line1": "Молоко 1л      89.90", "line2": "ИТОГО          89.90"}}
    assert await sees(sim, ("Молоко 1л      89.90", "ИТОГО          89.90"))
    assert sim.screen.unknown == []


async def test_the_display_receives_exactly_the_protocol_bytes(display):
    device, sim, _ = display
    await run(device, "show", {"line1": "Хлеб", "line2": "45.00", "align2": "right"})
    assert await sees(sim, ("Хлеб", "               45.00"))
    commands = LineDisplay()
    assert bytes(sim.received_bytes) == commands.initialise() + commands.show("Хлеб", "45.00", align2="right")


async def test_long_names_are_cut_and_the_till_is_told_what_is_shown(display):
    device, sim, _ = display
    result = await run(
        device, "show", {"line1": "Шоколад молочный с цельным фундуком", "line2": "Итого", "align2": "center"}
    )
    assert result["showing"] == {"line1": "Шоколад молочный с ц", "line2": "       Итого"}
    assert await sees(sim, ("Шоколад молочный с ц", "       Итого"))


async def test_clear_blanks_the_display_and_status_says_so(display):
    device, sim, _ = display
    await run(device, "show", {"line1": "Спасибо за покупку!"})
    assert await sees(sim, ("Спасибо за покупку!", ""))
    assert await run(device, "clear") == {"showing": {"line1": "", "line2": ""}}
    assert await sees(sim, ("", ""))
    status = await run(device, "status", client="till-2")  # anyone may look
    assert status["showing"] == {"line1": "", "line2": ""}
    assert status["capabilities"] == {
        "rows": 2,
        "columns": 20,
        "code_page": "cp866",
        "alignments": ["left", "center", "right"],
    }


async def test_only_the_holder_may_show_and_bad_arguments_are_refused(display):
    device, _sim, _ = display
    with pytest.raises(DeviceError) as other:
        device.submit(job("show", {"line1": "чужой"}, client="till-2"))
    assert other.value.code == ErrorCode.NOT_CLAIMED and TILL in other.value.message
    for bad in ({"line1": "x", "align1": "justify"}, {"line1": "x", "right1": "1", "align1": "center"}, {"text": "x"}):
        with pytest.raises(DeviceError) as refused:
            device.submit(job("show", bad))
        assert refused.value.code == ErrorCode.INVALID_REQUEST


async def test_an_unplugged_display_goes_offline_and_shows_the_last_lines_when_it_returns(display):
    device, sim, port = display
    await run(device, "show", {"line1": "Молоко 1л", "line2": "ИТОГО 89.90"})
    assert await sees(sim, ("Молоко 1л", "ИТОГО 89.90"))

    sim.stop()
    assert await until(lambda: device.status == "offline", timeout=1.0) < 1.0
    assert port.events[-1].type == "offline"
    with pytest.raises(DeviceError) as meanwhile:
        device.submit(job("show", {"line1": "Кефир"}))
    assert meanwhile.value.code == ErrorCode.DEVICE_OFFLINE

    sim.start()  # plugged back in: the display powers up blank
    assert await until(lambda: device.status == "idle", timeout=2.0) < 2.0
    assert await sees(sim, ("Молоко 1л", "ИТОГО 89.90")), "the replugged display lost the total"
    assert device.claims.holder == TILL, "unplugging the display does not end the till's claim"
    await run(device, "show", {"line1": "Кефир", "line2": "ИТОГО 159.80"})
    assert await sees(sim, ("Кефир", "ИТОГО 159.80"))


async def test_an_unplugged_display_says_why_once(display):
    device, sim, port = display
    sim.stop()
    await until(lambda: device.error is not None and device.error["message"].startswith("cannot open"), timeout=3.0)
    # pyserial's own text says "[Errno 2]" and the path twice over; the technician reads it once.
    assert device.error["message"] == f"cannot open {sim.link}: [Errno 2] No such file or directory"
    reasons = [e.data.get("reason", "") for e in port.events if e.type == "offline"]
    assert reasons and all(reason.count("Errno") <= 1 for reason in reasons), reasons


async def test_a_display_missing_at_start_comes_online_when_plugged_in(tmp_path: Path):
    sim = LineDisplaySimulator(tmp_path / "display")
    port = RecordingPort()
    supervisor = DeviceSupervisor(lambda spec: port)
    supervisor.start([DeviceSpec(id="display-1", kind="customer_display", port=str(sim.link))])
    device = supervisor.get("display-1")
    assert device is not None
    try:
        await asyncio.sleep(0.2)
        assert device.status == "offline"
        assert device.error is not None and "cannot open" in device.error["message"]
        sim.start()
        await until(lambda: device.status == "idle", timeout=2.0)
        # A blank screen is also what the display shows before anything arrives: wait
        # for the bytes themselves (idle comes as the write returns, before the read).
        await until(lambda: bytes(sim.received_bytes) == LineDisplay().initialise(), timeout=2.0)
        assert await sees(sim, ("", ""))
    finally:
        await supervisor.stop()
        sim.stop()


def test_options_refuse_a_display_that_cannot_be_driven():
    CustomerDisplay.Options.model_validate({"baudrate": 19200, "code_page": "cp858", "columns": 16})
    for options in ({"code_page": "utf-8"}, {"code_page": "koi8-r"}, {"baudrate": 12345}, {"colour": "green"}):
        with pytest.raises(ValidationError):
            CustomerDisplay.Options.model_validate(options)
    CustomerDisplay.Options.model_validate({"code_page": "koi8-r", "code_page_number": 30})
