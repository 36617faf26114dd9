"""What a simulated label printer does with a label, whichever language brought it.

The ZPL printer (``zpl_printer``) and the TSPL printer (``tspl_printer``) parse their own
commands and draw each label on a ``LabelCanvas``; this class prints it.  Every copy that
comes out is a ``PrintedLabel`` in ``labels`` (and ``label-0001.png``, … in
``labels_dir`` when one is given), at the printer's resolution.

Faults are attributes to flip while it runs, or desk actions (``storehub sim``):

* ``paper_out`` (or ``paper_out_after(n)``: the roll ends after n more labels),
  ``head_open``, ``ribbon_out``, ``paused``.  A label that arrives then is not printed
  and not lost: it waits in the printer's buffer, as on a Zebra or a TSC, and comes out
  once the printer is ready again (paper loaded, head closed, resumed).  The status
  answer says how many wait (ZPL's "formats in receive buffer").  ``cancel_held()`` is
  ZPL's ``~JA``, or switching the printer off.
* ``labels_per_s``: the printer's speed (a Zebra ZD421 at 6 ips prints about three
  58x40 tags a second).  Unset, a label comes out the moment it arrives; set, labels
  wait in the buffer and come out one by one at that pace, so the status answer sees
  them waiting, as on a real printer while a batch feeds through it.
* ``link_bytes_per_s``: the link carries this many bytes a second (a slow serial line, a
  weak Wi-Fi bridge); the hub's writes then take as long as they would there.
* ``disconnect_after(n)``: the connection drops after n more labels have come in (a
  cable pulled mid-batch); what was still on the wire is lost.  ``offline`` as in
  ``TcpDevice``: connections are refused until it is back.
* ``normal()``: every fault cleared.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from devices.sim.label_canvas import png_of
from devices.sim.tcp import TcpDevice

log = logging.getLogger(__name__)

#: Largest read from a connection at once at full speed.
READ_CHUNK = 65536
#: A slow link is read in pieces of a twentieth of a second's worth, so its pace is even.
SLOW_READS_PER_S = 20

#: The print head of a 4-inch desktop printer (ZD421, TE200): the widest label it prints.
HEAD_WIDTH_MM = 104
#: The longest label it takes; a longer one is cut here rather than filling memory.
MAX_LENGTH_MM = 500
#: Copies of one label the simulator prints at most (a real one would print 99,999,999).
MAX_COPIES = 1000


@dataclass(frozen=True)
class PrintedLabel:
    """One label that came out of the printer."""

    number: int
    #: Mode "1" at the printer's dots: 0 is ink.
    image: Image.Image
    dpmm: int
    #: Where its PNG was written, when the printer has a folder.
    path: Path | None = None

    def png(self) -> bytes:
        return png_of(self.image, self.dpmm)


class CommandParser(Protocol):
    def feed(self, data: bytes) -> list[Any]: ...


@dataclass
class _Held:
    image: Image.Image
    copies: int


class LabelPrinterSimulator(TcpDevice):
    """The printer's paper path, faults and socket; subclasses speak a language."""

    language = "?"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, dpmm: int = 8, labels_dir: Path | None = None):
        super().__init__(host=host, port=port)
        if dpmm not in (8, 12, 24):
            raise ValueError(f"a label printer prints at 8, 12 or 24 dots per mm, not {dpmm}")
        self.dpmm = dpmm
        self.labels_dir = labels_dir
        self.head_width = HEAD_WIDTH_MM * dpmm
        self.max_length = MAX_LENGTH_MM * dpmm

        self._paper_out = self._head_open = self._ribbon_out = self._paused = False
        #: Labels left on the roll (None: endless); at 0 the paper is out.
        self.paper_labels_left: int | None = None
        #: Labels a second the head prints (None or 0: each at once, as it arrives).
        self.labels_per_s: float | None = None
        self._printing: asyncio.Task[None] | None = None
        #: Bytes a second the link carries (None or 0: as fast as the socket).
        self.link_bytes_per_s: int | None = None
        #: Labels still to come in before the connection drops (None: it does not).
        self.labels_before_disconnect: int | None = None
        self._offline_after_disconnect = False

        # What happened, for tests and the demo.
        self.labels: list[PrintedLabel] = []
        self.held: list[_Held] = []
        self.labels_received = 0
        self.bytes_received = 0
        self.status_queries = 0
        self.feeds = 0
        self.calibrations = 0
        self.unknown: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()
        self._writers: set[asyncio.StreamWriter] = set()
        self._cut = False

    # -- what the language's side provides ---------------------------------------------

    def new_parser(self) -> CommandParser:
        raise NotImplementedError

    def apply(self, command: Any) -> bytes:
        """Carry out one command; return what the printer answers (a status reply)."""
        raise NotImplementedError

    # -- faults -------------------------------------------------------------------------

    @property
    def paper_out(self) -> bool:
        return self._paper_out

    @paper_out.setter
    def paper_out(self, value: bool) -> None:
        self._paper_out = value
        if not value:
            self.paper_labels_left = None
        self._print_held()

    @property
    def head_open(self) -> bool:
        return self._head_open

    @head_open.setter
    def head_open(self, value: bool) -> None:
        self._head_open = value
        self._print_held()

    @property
    def ribbon_out(self) -> bool:
        return self._ribbon_out

    @ribbon_out.setter
    def ribbon_out(self, value: bool) -> None:
        self._ribbon_out = value
        self._print_held()

    @property
    def paused(self) -> bool:
        return self._paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self._paused = value
        self._print_held()

    @property
    def ready(self) -> bool:
        return not (self._paper_out or self._head_open or self._ribbon_out or self._paused)

    def paper_out_after(self, labels: int) -> None:
        """The roll ends after ``labels`` more labels (0: now)."""
        if labels < 0:
            raise ValueError("labels left cannot be negative")
        self.paper_labels_left = labels
        if labels == 0:
            self.paper_out = True

    def disconnect_after(self, labels: int, *, stay_offline: bool = False) -> None:
        """The connection drops after ``labels`` more labels have come in (0: now)."""
        if labels < 0:
            raise ValueError("labels cannot be negative")
        self._offline_after_disconnect = stay_offline
        self.labels_before_disconnect = labels
        if labels == 0:
            self._disconnect()

    def normal(self) -> None:
        """Paper in, head closed, ribbon in, resumed, full speed, online."""
        self.link_bytes_per_s = None
        self.labels_per_s = None
        self.labels_before_disconnect = None
        self.offline = False
        self._paper_out = self._head_open = self._ribbon_out = self._paused = False
        self.paper_labels_left = None
        self._print_held()

    def cancel_held(self) -> int:
        """Throw away the labels waiting in the buffer; how many there were."""
        count = sum(held.copies for held in self.held)
        self.held.clear()
        return count

    @property
    def held_labels(self) -> int:
        return sum(held.copies for held in self.held)

    # -- the socket ---------------------------------------------------------------------

    def drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()  # a pulled cable: nothing more goes either way
        self._writers.clear()

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        parser = self.new_parser()  # framing is per connection; the printer's state is shared
        try:
            while data := await reader.read(self._read_size()):
                if self.link_bytes_per_s:
                    await asyncio.sleep(len(data) / self.link_bytes_per_s)
                if writer not in self._writers:
                    break
                reply = self.receive(data, parser)
                if writer not in self._writers:
                    break
                if reply:
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _read_size(self) -> int:
        if self.link_bytes_per_s:
            return max(self.link_bytes_per_s // SLOW_READS_PER_S, 1)
        return READ_CHUNK

    def receive(self, data: bytes, parser: CommandParser) -> bytes:
        """Take in bytes from the hub; return what the printer answers."""
        self.bytes_received += len(data)
        self._cut = False
        reply = bytearray()
        for command in parser.feed(data):
            reply += self.apply(command)
            if self._cut:
                break  # the rest was still on the wire when the cable went
        return bytes(reply)

    def _disconnect(self) -> None:
        self.labels_before_disconnect = None
        self._cut = True
        if self._offline_after_disconnect:
            self.offline = True
        else:
            self.drop_connections()

    # -- printing -----------------------------------------------------------------------

    def take_label(self, image: Image.Image, copies: int) -> None:
        """A whole label came in (``^XZ``, ``PRINT``): print it, or hold it while not ready."""
        self.labels_received += 1
        if copies > MAX_COPIES:
            log.warning("%s printer: %d copies asked, %d printed", self.language, copies, MAX_COPIES)
            copies = MAX_COPIES
        if copies > 0:
            self.held.append(_Held(image, copies))
            self._print_held()
        if self.labels_before_disconnect is not None:
            self.labels_before_disconnect -= 1
            if self.labels_before_disconnect <= 0:
                self._disconnect()

    def _print_held(self) -> None:
        if self.labels_per_s:
            self._print_at_speed()
            return
        while self.held and self.ready:
            self._print_next()

    def _print_next(self) -> None:
        held = self.held[0]
        self._print(held.image)
        held.copies -= 1
        if held.copies == 0:
            self.held.pop(0)

    def _print_at_speed(self) -> None:
        """The head works through the buffer at ``labels_per_s``, in the background."""
        if self._printing is not None and not self._printing.done():
            return
        self._printing = asyncio.get_running_loop().create_task(self._feed_through())

    async def _feed_through(self) -> None:
        while self.held and self.ready and self.labels_per_s:
            await asyncio.sleep(1 / self.labels_per_s)
            if self.held and self.ready:
                self._print_next()
        if not self.labels_per_s:
            self._print_held()  # full speed again: the rest at once

    async def stop(self) -> None:
        if self._printing is not None:
            self._printing.cancel()
        await super().stop()

    def _print(self, image: Image.Image) -> None:
        number = len(self.labels) + 1
        path = None
        if self.labels_dir is not None:
            self.labels_dir.mkdir(parents=True, exist_ok=True)
            path = self.labels_dir / f"label-{number:04d}.png"
            path.write_bytes(png_of(image, self.dpmm))
        self.labels.append(PrintedLabel(number, image, self.dpmm, path))
        if self.paper_labels_left is not None:
            self.paper_labels_left -= 1
            if self.paper_labels_left <= 0:
                self._paper_out, self.paper_labels_left = True, None

    def clamp_size(self, width: int | None, length: int | None, default_length: int) -> tuple[int, int]:
        """The label's size in dots as the printer can print it."""
        width = self.head_width if width is None else width
        length = default_length if length is None else length
        return min(max(width, 1), self.head_width), min(max(length, 1), self.max_length)

    def note_unknown(self, name: str) -> None:
        """A command this printer does not know: counted, logged the first time, skipped."""
        if not self.unknown[name]:
            log.warning("%s printer: unknown command %s skipped", self.language, name)
        self.unknown[name] += 1

    def note_malformed(self, name: str, problem: object) -> None:
        """A known command it could not read: counted, logged, skipped."""
        log.warning("%s printer: %s skipped: %s", self.language, name, problem)
        self.malformed[name] += 1

    # -- the simulator desk (``storehub sim``) ------------------------------------------

    def desk_handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """What a person at ``storehub sim`` can tell this printer to do."""

        def then_describe(change: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
            def handler(args: dict[str, Any]) -> dict[str, Any]:
                change(args)
                return self.describe()

            return handler

        def flag(name: str, value: bool) -> Callable[[dict[str, Any]], Any]:
            return then_describe(lambda args: setattr(self, name, value))

        def paper_out(args: dict[str, Any]) -> None:
            self.paper_out_after(int(args.get("after", 0)))

        def slow(args: dict[str, Any]) -> None:
            self.link_bytes_per_s = int(args.get("bytes_per_s", 2000)) or None

        def speed(args: dict[str, Any]) -> None:
            self.labels_per_s = float(args.get("labels_per_s", 3)) or None
            self._print_held()

        def disconnect(args: dict[str, Any]) -> None:
            self.disconnect_after(int(args.get("after", 0)), stay_offline=bool(args.get("stay_offline", False)))

        def last(args: dict[str, Any]) -> dict[str, Any]:
            count = int(args.get("count", 1))
            return {"labels": [_summary(label) for label in self.labels[-count:]] if count > 0 else []}

        return {
            "status": lambda args: self.describe(),
            "paper_out": then_describe(paper_out),
            "paper_in": flag("paper_out", False),
            "head_open": flag("head_open", True),
            "head_close": flag("head_open", False),
            "ribbon_out": flag("ribbon_out", True),
            "ribbon_in": flag("ribbon_out", False),
            "pause": flag("paused", True),
            "resume": flag("paused", False),
            "slow": then_describe(slow),
            "speed": then_describe(speed),
            "disconnect": then_describe(disconnect),
            "unplug": flag("offline", True),
            "plug_in": flag("offline", False),
            "cancel_held": then_describe(lambda args: self.cancel_held()),
            "normal": then_describe(lambda args: self.normal()),
            "labels": last,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "language": self.language,
            "dpmm": self.dpmm,
            "paper_out": self.paper_out,
            "paper_labels_left": self.paper_labels_left,
            "head_open": self.head_open,
            "ribbon_out": self.ribbon_out,
            "paused": self.paused,
            "offline": self.offline,
            "labels_per_s": self.labels_per_s,
            "link_bytes_per_s": self.link_bytes_per_s,
            "labels_before_disconnect": self.labels_before_disconnect,
            "labels": len(self.labels),
            "held": self.held_labels,
            "unknown_commands": dict(self.unknown),
            "malformed_commands": dict(self.malformed),
        }


def _summary(label: PrintedLabel) -> dict[str, Any]:
    return {
        "number": label.number,
        "width": label.image.width,
        "height": label.image.height,
        "path": str(label.path) if label.path else None,
    }


def numbers(values: Iterable[str], defaults: tuple[int | None, ...]) -> list[int | None]:
    """Whole-number parameters, each its default where it is missing or empty."""
    out: list[int | None] = list(defaults)
    for index, value in enumerate(values):
        if index >= len(out):
            break
        value = value.strip()
        if value:
            out[index] = int(float(value))
    return out
