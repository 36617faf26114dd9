"""`storehub sim serve KIND`: one simulator on its own, in the foreground, for drivers
that are not StoreHub's (pyshtrih, python-escpos's ``Network`` printer, a ZVT client,
anything that sends a Zebra ZPL II or a TSC TSPL label to port 9100).

The first line on stdout says where it listens: a pty behind a link (``--pty PATH``,
else a link in a temporary folder) or ``127.0.0.1:PORT`` (``--port N``, else a free
port); a label printer's second line says where each label's PNG goes (``--labels
DIR``, else a new folder in the temporary folder, kept after it stops, for looking at).
After that it prints what the device did (a receipt, a fiscal document, the display's
lines, a card payment, a label and its PNG), and each line typed on stdin is an action for it, as
``storehub sim DEVICE`` takes them (``status``, ``paper_out``, ``scan code=…``), answered
with JSON.  SIGINT (Ctrl-C) or SIGTERM stops it and removes the link.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

#: How often what the device did is looked at and printed.
NEWS_POLL_S = 0.1

#: The simulators ``serve`` runs, and how each is reached.
KINDS = {
    "fiscal_register": "a Shtrikh-M fiscal register (ШТРИХ-М-01Ф) on a pty",
    "receipt_printer": "an ESC/POS receipt printer (TM-T88V) on TCP, or on a pty with --pty",
    "payment_terminal": "a ZVT card terminal on TCP",
    "customer_display": "a 2x20 customer display (Epson command set) on a pty",
    "scanner": "a serial barcode scanner on a pty (type `scan code=…`)",
    "zpl_printer": "a Zebra label printer (ZPL II, 203 dpi, ZD421) on TCP; each label drawn as a PNG",
    "tspl_printer": "a TSC label printer (TSPL, 203 dpi, TE200) on TCP; each label drawn as a PNG",
}
ON_A_PTY = {"fiscal_register", "customer_display", "scanner"}
ON_TCP = {"payment_terminal", "zpl_printer", "tspl_printer"}
LABEL_PRINTERS = {"zpl_printer", "tspl_printer"}

#: The label printers' resolution: 203 dpi, as the ZD421 and TE200 profiles say.
LABEL_DPMM = 8


class ServeError(Exception):
    """A request ``serve`` cannot follow, in one line."""


@dataclass
class Served:
    """A running simulator: where it is, what it can be told, what it did since last asked."""

    where: str
    desk: dict[str, Callable[[dict[str, Any]], Any]]
    news: Callable[[], list[str]]
    stop: Callable[[], Any]
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    #: Said after where it listens: where a label printer's PNGs go.
    note: str | None = None


async def start(
    kind: str, *, pty: Path | None, port: int | None, labels: Path | None = None, host: str = "127.0.0.1"
) -> Served:
    _check_request(kind, pty=pty, port=port, labels=labels)
    if kind in LABEL_PRINTERS:
        return await _label_printer(kind, host, port or 0, labels)
    cleanup: list[Callable[[], None]] = []
    if kind in ON_A_PTY and pty is None:
        folder = Path(tempfile.mkdtemp(prefix="storehub-sim-"))
        cleanup.append(lambda: shutil.rmtree(folder, ignore_errors=True))
        pty = folder / kind
    try:
        served = _on_a_pty(kind, pty.absolute()) if pty is not None else await _on_tcp(kind, host, port or 0)
    except BaseException:
        for undo in cleanup:
            undo()
        raise
    served.cleanup = cleanup
    return served


def _check_request(kind: str, *, pty: Path | None, port: int | None, labels: Path | None) -> None:
    if kind not in KINDS:
        raise ServeError(f"no simulator {kind!r}; there are: {', '.join(KINDS)}")
    if pty is not None and port is not None:
        raise ServeError("--pty or --port, not both")
    if kind in ON_A_PTY and port is not None:
        raise ServeError(f"{kind} is a serial device: give --pty PATH, not --port")
    if kind in ON_TCP and pty is not None:
        raise ServeError(f"{kind} is a network device: give --port N, not --pty")
    if labels is not None and kind not in LABEL_PRINTERS:
        raise ServeError(f"{kind} prints no labels: --labels is for {' and '.join(sorted(LABEL_PRINTERS))}")
    if labels is not None and labels.exists() and not labels.is_dir():
        raise ServeError(f"{labels} is not a folder; --labels names the folder each label's PNG goes to")


def _on_a_pty(kind: str, link: Path) -> Served:
    from devices.sim.customer_display import LineDisplaySimulator
    from devices.sim.escpos_printer import SerialEscposPrinter
    from devices.sim.fiscal_register import SerialFiscalRegister
    from devices.sim.scanner import SerialScannerSimulator

    if link.exists() and not link.is_symlink():
        raise ServeError(f"{link} exists and is not a link; --pty makes a link there")
    device: Any
    if kind == "fiscal_register":
        device = SerialFiscalRegister(link)
        news = _fiscal_news(device)
    elif kind == "customer_display":
        device = LineDisplaySimulator(link)
        news = _display_news(device)
    elif kind == "scanner":
        device = SerialScannerSimulator(link)
        news = _nothing
    else:
        device = SerialEscposPrinter(link)
        news = _receipt_news(device.printer)
    device.start()
    desk = device.printer.desk_handlers() if kind == "receipt_printer" else device.desk_handlers()
    return Served(
        f"{link} (a link to {Path(link).resolve()})", desk, news, lambda: device.stop() if device.running else None
    )


async def _on_tcp(kind: str, host: str, port: int) -> Served:
    from devices.sim.escpos_printer import EscposPrinterSimulator
    from devices.sim.zvt_terminal import ZvtTerminalSimulator

    device: Any = (
        EscposPrinterSimulator(host=host, port=port)
        if kind == "receipt_printer"
        else ZvtTerminalSimulator(host=host, port=port)
    )
    try:
        await device.start()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)  # asyncio's text repeats the address
        raise ServeError(f"cannot listen on {host}:{port}: {reason}") from None
    news = _receipt_news(device) if kind == "receipt_printer" else _terminal_news(device)
    return Served(device.address, device.desk_handlers(), news, device.stop)


async def _label_printer(kind: str, host: str, port: int, labels: Path | None) -> Served:
    """A Zebra or a TSC on TCP; its labels stay in ``labels`` (or a new temporary
    folder) after it stops, so a person can look at them."""
    from devices.sim.tspl_printer import TsplPrinterSimulator
    from devices.sim.zpl_printer import ZplPrinterSimulator

    folder = (labels or Path(tempfile.mkdtemp(prefix=f"storehub-{kind.replace('_', '-')}-"))).absolute()
    simulator = ZplPrinterSimulator if kind == "zpl_printer" else TsplPrinterSimulator
    device = simulator(host=host, port=port, dpmm=LABEL_DPMM, labels_dir=folder)
    try:
        await device.start()
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {os.strerror(exc.errno) if exc.errno else exc}") from None
    note = f"each label is drawn at {LABEL_DPMM} dots per mm into {folder}/label-NNNN.png"
    return Served(device.address, device.desk_handlers(), _label_news(device), device.stop, note=note)


# -- what the device did ---------------------------------------------------------------


def _nothing() -> list[str]:
    return []


def _receipt_news(printer: Any) -> Callable[[], list[str]]:
    seen = 0

    def news() -> list[str]:
        nonlocal seen
        receipts = printer.receipts[seen:]
        seen += len(receipts)
        return [f"receipt {r.number} ({r.cut} cut):\n{r.render().rstrip()}" for r in receipts]

    return news


def _label_news(printer: Any) -> Callable[[], list[str]]:
    """A line for each label that came out, and one when labels start waiting in the
    printer's buffer (paper out, head open, paused), as a person at the printer sees it."""
    seen, held = 0, 0

    def news() -> list[str]:
        nonlocal seen, held
        lines = [
            f"label {label.number} printed ({label.image.width / label.dpmm:g} x {label.image.height / label.dpmm:g} mm): "
            f"{label.path}"
            for label in printer.labels[seen:]
        ]
        seen = len(printer.labels)
        if printer.held_labels != held:
            held = printer.held_labels
            if held:
                lines.append(f"{held} label(s) wait in the printer: {', '.join(_problems(printer))}")
        return lines

    return news


def _problems(printer: Any) -> list[str]:
    return [name for name in ("paper_out", "head_open", "ribbon_out", "paused") if getattr(printer, name)] or ["?"]


def _fiscal_news(register: Any) -> Callable[[], list[str]]:
    from devices.sim.fiscal_register import Receipt, render

    seen = 0

    def news() -> list[str]:
        nonlocal seen
        documents = register.documents()[seen:]
        seen += len(documents)
        return [f"{d.kind}:\n{render(d).rstrip()}" if isinstance(d, Receipt) else d.kind for d in documents]

    return news


def _display_news(display: Any) -> Callable[[], list[str]]:
    shown: tuple[str, ...] | None = None

    def news() -> list[str]:
        nonlocal shown
        lines = tuple(display.lines)
        if lines == shown:
            return []
        shown = lines
        return ["display:\n" + "\n".join(f"|{line}|" for line in lines)]

    return news


def _terminal_news(terminal: Any) -> Callable[[], list[str]]:
    from devices import zvt

    seen = 0

    def news() -> list[str]:
        nonlocal seen
        done = terminal.transactions[seen:]
        seen += len(done)
        return [
            f"{t.kind} {t.amount} {zvt.currency_name(t.currency)}: receipt {t.receipt_no}, approval {t.approval_code}"
            for t in done
        ]

    return news


# -- the foreground ----------------------------------------------------------------------


def command_from_words(words: list[str]) -> tuple[str, dict[str, Any]]:
    """``paper_out`` or ``scan code=4601234567893``: values are JSON when they parse."""
    action, *pairs = words
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ValueError(f"{pair!r}: arguments are KEY=VALUE")
        try:
            args[key] = json.loads(raw)
        except ValueError:
            args[key] = raw
    return action, args


def _answer(served: Served, line: str) -> str:
    words = line.split()
    if words == ["help"]:
        return "actions: " + ", ".join(sorted(served.desk))
    try:
        action, args = command_from_words(words)
    except ValueError as exc:
        return f"error: {exc}"
    handler = served.desk.get(action)
    if handler is None:
        return f"error: no action {action!r}; it can: {', '.join(sorted(served.desk))}"
    try:
        return json.dumps(handler(args), ensure_ascii=False, default=str)
    except (KeyError, TypeError, ValueError, OSError) as exc:
        return f"error: {action}: {exc}"


def _read_lines(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str], stream: TextIO) -> None:
    """Stdin blocks, and may be a file or /dev/null, which the event loop cannot watch."""
    for line in stream:
        loop.call_soon_threadsafe(lines.put_nowait, line)


async def serve(
    kind: str,
    *,
    pty: Path | None = None,
    port: int | None = None,
    labels: Path | None = None,
    out: TextIO = sys.stdout,
    stdin: TextIO = sys.stdin,
) -> None:
    """Run until SIGINT or SIGTERM; raises ``ServeError`` when it cannot start."""

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    served = await start(kind, pty=pty, port=port, labels=labels)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    lines: asyncio.Queue[str] = asyncio.Queue()
    threading.Thread(target=_read_lines, args=(loop, lines, stdin), daemon=True, name="sim-serve-stdin").start()
    try:
        say(f"{kind} on {served.where}")
        if served.note:
            say(served.note)
        say(f"{KINDS[kind]}. Type an action and Enter (`help` lists them); Ctrl-C stops it.")
        while not stop.is_set():
            for item in served.news():
                say(item)
            try:
                line = await asyncio.wait_for(lines.get(), NEWS_POLL_S)
            except TimeoutError:
                continue
            if line.strip():
                say(_answer(served, line))
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        result = served.stop()
        if asyncio.iscoroutine(result):
            await result
        for undo in served.cleanup:
            undo()
    say(f"{kind} stopped")
