"""The `storehub` command line as a person meets it: its help and its log."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import pytest

from devices.actor import DeviceSpec
from devices.sim.escpos_printer import EscposPrinterSimulator
from hub.cli import main
from hub.cli_support import setup_logging
from tests.conftest import until
from tests.devices.test_receipt_printer import RECEIPT, run, start_printer

COMMANDS = [
    [], ["run"], ["demo"], ["sim"], ["sync"], ["cloud"], ["cloud", "status"], ["devices"], ["check-config"],
    ["hash-secret"], ["broker-files"], ["bench"], ["bench", "rtt"], ["bench", "sync"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "storehub")
def test_the_help_is_plain_text(command: list[str], capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as leaving:
        main([*command, "--help"])
    assert leaving.value.code == 0
    shown = capsys.readouterr().out
    assert "usage: storehub" in shown
    assert "``" not in shown, shown  # the descriptions come from docstrings written for Sphinx


@contextlib.contextmanager
def hub_logging(level: str, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The hub's logging set up as `storehub run` does, with pytest still listening; undone after."""
    root = logging.getLogger()
    handlers, root_level, filters = list(root.handlers), root.level, list(root.filters)
    setup_logging(level)
    root.addHandler(caplog.handler)  # basicConfig(force=True) took it away
    try:
        yield
    finally:
        root.handlers[:], root.filters[:] = handlers, filters
        root.setLevel(root_level)


async def test_network_receipts_leave_no_escpos_chatter_in_the_log(caplog: pytest.LogCaptureFixture):
    printer = EscposPrinterSimulator()
    await printer.start()
    device, _, supervisor = await start_printer(
        DeviceSpec(id="printer-1", kind="receipt_printer", driver="network", port=printer.address, model="TM-T88V")
    )
    with hub_logging("info", caplog):
        try:
            await until(lambda: device.status == "idle", timeout=3)
            for _ in range(2):
                assert (await run(device, "print", {"blocks": RECEIPT}))["printed"]
            assert len(printer.receipts) == 2
            logging.info("a line another library logs on the root logger")
        finally:
            await supervisor.stop()
            await printer.stop()
    shown = [record.getMessage() for record in caplog.records if record.levelno >= logging.INFO]
    assert not [line for line in shown if "Network printer enabled" in line or "Closing Network connection" in line]
    assert "a line another library logs on the root logger" in shown


def test_at_debug_the_escpos_lines_are_still_there(caplog: pytest.LogCaptureFixture):
    with hub_logging("debug", caplog):
        logging.info("Network printer enabled")
    [record] = [r for r in caplog.records if r.getMessage() == "Network printer enabled"]
    assert record.levelno == logging.DEBUG
