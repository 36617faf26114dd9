"""`storehub sim serve KIND`: one simulator in the foreground, driven by somebody else's
driver (pyshtrih, python-escpos), as a process, stopped as a person stops it."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyshtrih
import pytest
from escpos.printer import Network

from devices.shtrikh import Mode
from devices.sim.serve import ServeError, start
from hub.throwaway import free_loopback_ports

#: Python, the simulators and the first line out.
SERVE_START_TIMEOUT_S = 15.0


class Serving:
    """``storehub sim serve …`` as a subprocess, its stdout read line by line as it comes."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "sim", "serve", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = SERVE_START_TIMEOUT_S) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                assert self.process.poll() is None, f"it exited: {self.process.stderr.read()}"  # type: ignore[union-attr]
                continue
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line matching {pattern!r} within {timeout:g} s; saw {self.seen}")

    def tell(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.process.wait(10)

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def serving() -> Iterator[type[Serving]]:
    started: list[Serving] = []

    class Tracked(Serving):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    try:
        yield Tracked
    finally:
        for one in started:
            one.cleanup()


def test_pyshtrih_reads_the_status_of_a_served_fiscal_register(tmp_path: Path, serving):
    link = tmp_path / "ttyFR0"
    register = serving("fiscal_register", "--pty", str(link))
    where = register.wait_for(r"^fiscal_register on (\S+) \(a link to (/dev/\S+)\)$")
    assert where.group(1) == str(link) and link.is_symlink() and os.readlink(link) == where.group(2)

    driver = pyshtrih.ShtrihM01F(str(link), 115200, timeout=1)
    driver.connect()
    try:
        assert driver.state()["Режим ФР"].state == (Mode.SHIFT_CLOSED, 0)
        driver.open_shift()
    finally:
        driver.disconnect()
    register.wait_for(r"^shift_opened$")  # what it did, as it did it

    register.tell("status")
    assert '"shift"' in register.wait_for(r'^\{"model"').string

    assert register.stop(signal.SIGTERM) == 0
    assert not os.path.lexists(link), "the link outlived the register"


def test_a_python_escpos_network_printer_prints_on_a_served_printer(serving):
    [port] = free_loopback_ports(1)
    printer = serving("receipt_printer", "--port", str(port))
    assert printer.wait_for(r"^receipt_printer on (\S+)$").group(1) == f"127.0.0.1:{port}"

    escpos = Network("127.0.0.1", port=port, timeout=5)
    escpos.open()
    try:
        escpos.set(bold=True)
        escpos.text("Kefir 1l      79.90\n")
        escpos.barcode("4601234567893", "EAN13")
        escpos.cut()
    finally:
        escpos.close()
    printer.wait_for(r"^receipt 1 \((partial|full) cut\):$")
    printer.wait_for(r"^Kefir 1l\s+79\.90$")
    printer.wait_for(r"\[EAN13 4601234567893\]")

    printer.tell("receipts")
    assert "Kefir 1l" in printer.wait_for(r'^\{"receipts"').string
    assert printer.stop(signal.SIGINT) == 0  # Ctrl-C


def test_serve_refuses_what_it_cannot_do(serving):
    refused = serving("nothing")
    assert refused.process.wait(SERVE_START_TIMEOUT_S) == 2
    assert "no simulator 'nothing'; there are: fiscal_register, receipt_printer" in refused.process.stderr.read()  # type: ignore[union-attr]
    for kind, where, says in (
        ("fiscal_register", {"port": 9}, "give --pty PATH"),
        ("payment_terminal", {"pty": Path("/tmp/x")}, "give --port N"),
        ("receipt_printer", {"pty": Path("/tmp/x"), "port": 9}, "not both"),
    ):
        with pytest.raises(ServeError, match=says):
            asyncio.run(start(kind, **{"pty": None, "port": None, **where}))


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("zpl_printer", b"^XA^PW464^LL320^FO20,20^A0N,40,40^FDMoloko 96.99^FS^PQ1^XZ"),
        ("tspl_printer", b'SIZE 58 mm,40 mm\r\nCLS\r\nTEXT 20,20,"3",0,1,1,"Moloko 96.99"\r\nPRINT 1,1\r\n'),
    ],
)
def test_a_served_label_printer_says_where_each_label_is_drawn(tmp_path: Path, serving, kind: str, label: bytes):
    [port] = free_loopback_ports(1)
    printer = serving(kind, "--port", str(port), "--labels", str(tmp_path))
    assert printer.wait_for(rf"^{kind} on (\S+)$").group(1) == f"127.0.0.1:{port}"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as link:
        link.sendall(label)
    png = Path(printer.wait_for(r"^label 1 printed \([\d.]+ x [\d.]+ mm\): (\S+\.png)$").group(1))
    assert png.parent == tmp_path and png.read_bytes().startswith(b"\x89PNG")

    printer.tell("paper_out")
    printer.wait_for(r'^\{.*"paper_out": true')  # the roll is out before the next label comes
    with socket.create_connection(("127.0.0.1", port), timeout=5) as link:
        link.sendall(label)
    printer.wait_for(r"^1 label\(s\) wait in the printer: .*paper")
    assert printer.stop(signal.SIGINT) == 0
