"""How the hub reaches a printer: python-escpos's transports, picked by the config.

A receipt printer, a cash drawer kicked through one, or a label printer (ZPL, TSPL: the
transports only move bytes) names its ``driver`` and ``port``:

    network  "tcp://10.0.0.21:9100", "10.0.0.21:9100" or "10.0.0.21" (port 9100)
    serial   "/dev/serial/by-id/usb-…" (pyserial)
    usb      "usb:04b8:0202" (vendor:product, hex; needs pyusb, absent on the test box)
    file     "/dev/usb/lp0" (write only: such a printer cannot be asked for its status)

A label printer's ``port`` may name the driver itself instead (``port_names_driver``):
"tcp:10.0.0.32:9100", "serial:/dev/ttyUSB0", "file:/dev/usb/lp0", "usb:0a5f:0181".

The link writes bytes and asks status questions; it does not know what the bytes mean.
Every call blocks: actors run them through ``DeviceActor.blocking``.  A transport that
fails (refused, reset, closed, unplugged) raises ``DeviceGone``, so the supervisor marks
the device offline and reopens it.  ``EscposActor`` is what the printers' and the
drawer's actors share: the address from the config, the link, opening and closing it,
and a printer's status watch and error state.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from escpos import exceptions as escpos_errors
from pydantic import BaseModel, ConfigDict, Field

from devices.actor import DeviceActor, DeviceGone, DevicePort, DeviceSpec

Driver = Literal["network", "serial", "usb", "file"]
DRIVERS: tuple[Driver, ...] = ("network", "serial", "usb", "file")

#: The raw-printing port every network receipt printer listens on (JetDirect).
DEFAULT_NETWORK_PORT = 9100

#: A network printer or drawer that is idle is asked for its status this often, so one
#: that restarted or vanished is noticed before the next customer's receipt.
IDLE_CHECK_S = 10.0

#: How long connecting to a network printer may take.  A printer on the shop's LAN
#: answers in milliseconds; one that is switched off never does, and the supervisor
#: tries again a second later.
CONNECT_TIMEOUT_S = 3.0

#: How long a printer may stop taking data before the link counts it as gone.  A long
#: receipt with a logo drains into a small printer buffer at print speed: seconds.
WRITE_TIMEOUT_S = 30.0

#: Bytes read at once while clearing stale replies.
DRAIN_CHUNK = 64

#: Whether the bytes read so far are a whole answer (``LabelLanguage.status_reply_complete``).
ReplyComplete = Callable[[bytes], bool]
#: A status question: (request, most reply bytes) or (request, most reply bytes, complete).
Question = tuple[bytes, int] | tuple[bytes, int, ReplyComplete]


class LinkOptions(BaseModel):
    """Options every kind reached over an ESC/POS link has."""

    model_config = ConfigDict(extra="forbid")
    baudrate: int = Field(
        9600, ge=1200, le=921_600, description="Serial driver: line speed (most printers ship at 9600 or 38400)."
    )
    flow_control: Literal["none", "rtscts", "dsrdtr", "xonxoff"] = Field(
        "none", description="Serial driver: how the printer says its buffer is full."
    )
    usb_timeout_ms: int = Field(5000, ge=100, le=60_000, description="USB driver: longest single transfer.")
    status_timeout_ms: int = Field(
        500,
        ge=20,
        le=10_000,
        description="How long to wait for the printer's status bytes before counting the status as unknown.",
    )


@dataclass(frozen=True, slots=True)
class LinkAddress:
    driver: Driver
    #: network: host; serial and file: the path; usb: "vvvv:pppp".
    target: str
    port: int | None = None

    def __str__(self) -> str:
        return f"{self.target}:{self.port}" if self.driver == "network" else self.target


#: A ``port`` that names its own driver when the config gives none ("serial:/dev/ttyUSB0").
PORT_PREFIXES: dict[str, Driver] = {"tcp:": "network", "serial:": "serial", "file:": "file", "usb:": "usb"}


def driver_from_port(port: str) -> tuple[Driver, str]:
    """The driver a prefixed ``port`` names, and the port as its driver reads it.

    ``tcp:host:9100``, ``serial:/dev/ttyUSB0``, ``file:/dev/usb/lp0``, ``usb:vvvv:pppp``;
    a bare ``host:port`` or ``host`` is a network printer.  A bare path is refused: it
    could be a serial port or a device file.
    """
    for prefix, driver in PORT_PREFIXES.items():
        if port.startswith(prefix):
            if driver == "network":
                return driver, port
            return driver, port if driver == "usb" else port.removeprefix(prefix)
    if port.startswith("/"):
        raise ValueError(f"say which driver {port!r} is: serial:{port} or file:{port} (or set driver)")
    return "network", port


def parse_address(driver: str | None, port: str | None, *, port_names_driver: bool = False) -> LinkAddress:
    """The config's ``driver`` and ``port`` as an address; ``ValueError`` names what is wrong.

    With ``port_names_driver`` (the label printer's config), a ``port`` without a
    ``driver`` may name it by its prefix (``driver_from_port``)."""
    if driver is None and port and port_names_driver:
        driver, port = driver_from_port(port)
    if driver not in DRIVERS:
        raise ValueError(f"driver must be one of {', '.join(DRIVERS)}; got {driver!r}")
    if not port:
        raise ValueError(f"the {driver} driver needs a port")
    if driver == "network":
        if port.startswith("tcp:") and not port.startswith("tcp://"):
            port = "tcp://" + port.removeprefix("tcp:")
        parts = urlsplit(port if "://" in port else f"tcp://{port}")
        if parts.scheme not in {"tcp", "socket"} or not parts.hostname:
            raise ValueError(f"a network printer's port is host:port or tcp://host:port; got {port!r}")
        try:
            number = parts.port or DEFAULT_NETWORK_PORT
        except ValueError:
            raise ValueError(f"bad TCP port in {port!r}") from None
        return LinkAddress("network", parts.hostname, number)
    if driver == "usb":
        ids = port.removeprefix("usb:").split(":")
        if len(ids) != 2 or not all(len(i) == 4 for i in ids):
            raise ValueError(f"a USB printer's port is usb:vvvv:pppp (hex vendor and product); got {port!r}")
        try:
            int(ids[0], 16), int(ids[1], 16)
        except ValueError:
            raise ValueError(f"a USB printer's port is usb:vvvv:pppp (hex vendor and product); got {port!r}") from None
        return LinkAddress("usb", ":".join(ids))
    return LinkAddress(driver, port)


def driver_can_read(driver: str | None) -> bool:
    """Whether a printer on ``driver`` can answer at all (a write-only file cannot)."""
    return driver != "file"


class EscposLink:
    """One open transport to one printer (a python-escpos printer object underneath)."""

    def __init__(self, address: LinkAddress, options: LinkOptions) -> None:
        self.address = address
        self.options = options
        self._printer: Any = None

    @property
    def can_read(self) -> bool:
        """Whether the printer can answer at all (a write-only file cannot)."""
        return driver_can_read(self.address.driver)

    # -- opening ----------------------------------------------------------------------

    def open(self) -> None:
        printer = self._make_printer()
        try:
            printer.open()
        except (OSError, escpos_errors.Error) as exc:
            raise DeviceGone(f"cannot reach {self.address}: {_first_line(exc)}") from None
        if self.address.driver == "network":
            printer.device.settimeout(WRITE_TIMEOUT_S)
            # A status question right after a receipt would otherwise wait for the
            # printer's delayed ACK (Nagle's algorithm): ~40 ms on every print.
            printer.device.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.address.driver == "serial" and self.options.flow_control == "rtscts":
            printer.device.rtscts = True  # python-escpos's Serial has no switch for it
        self._printer = printer

    def _make_printer(self) -> Any:
        address, options = self.address, self.options
        match address.driver:
            case "network":
                from escpos.printer import Network

                return Network(host=address.target, port=address.port, timeout=CONNECT_TIMEOUT_S)
            case "serial":
                from escpos.printer import Serial

                return Serial(
                    devfile=address.target,
                    baudrate=options.baudrate,
                    timeout=WRITE_TIMEOUT_S,
                    xonxoff=options.flow_control == "xonxoff",
                    dsrdtr=options.flow_control == "dsrdtr",
                )
            case "usb":
                # Not exercised here (no pyusb, no USB printer on the test box).
                from escpos.printer import Usb

                vendor, product = (int(part, 16) for part in address.target.split(":"))
                return Usb(idVendor=vendor, idProduct=product, timeout=options.usb_timeout_ms)
            case "file":
                from escpos.printer import File

                return File(devfile=address.target)
        raise AssertionError(address.driver)

    def close(self) -> None:
        printer, self._printer = self._printer, None
        if printer is not None:
            try:
                printer.close()
            except (OSError, escpos_errors.Error):
                pass  # it is gone either way

    # -- talking ----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send ``data`` in one write: a receipt is never interleaved with anything."""
        printer = self._open_printer()
        try:
            printer._raw(data)
        except (OSError, escpos_errors.Error) as exc:
            raise DeviceGone(f"{self.address} stopped taking data: {_first_line(exc)}") from None

    def ask(
        self, request: bytes, reply_bytes: int, complete: ReplyComplete | None = None, *, reconnect: bool = True
    ) -> bytes:
        """Send a real-time question and collect up to ``reply_bytes`` answer bytes.

        ``complete`` ends the wait early once it says the bytes so far are the whole
        answer (a label printer's status line has no fixed length).  ``reconnect=False``
        when the question is what proves the bytes just sent arrived: an answer on a new
        connection says nothing of what the old one carried.

        Fewer bytes (none, from a printer without a back channel) come back when the
        printer did not answer within ``status_timeout_ms``; the caller reads that as
        unknown.  Replies that arrived late for an earlier question are thrown away
        first, so they are never taken for this one's.
        """
        try:
            return self._ask_once(request, reply_bytes, complete)
        except DeviceGone:
            if self.address.driver != "network" or not reconnect:
                raise
            # A printer that restarted dropped our old connection.  A question prints
            # nothing, so reconnect once and ask again before calling the printer gone.
            self.close()
            self.open()
            return self._ask_once(request, reply_bytes, complete)

    def _ask_once(self, request: bytes, reply_bytes: int, complete: ReplyComplete | None) -> bytes:
        printer = self._open_printer()
        try:
            match self.address.driver:
                case "network":
                    return self._ask_socket(printer.device, request, reply_bytes, complete)
                case "serial":
                    return self._ask_serial(printer.device, request, reply_bytes, complete)
                case "usb":
                    return self._ask_usb(printer, request, reply_bytes)
                case _:  # a write-only file: nobody to ask
                    return b""
        except (OSError, escpos_errors.Error) as exc:
            raise DeviceGone(f"{self.address} stopped answering: {_first_line(exc)}") from None

    def _open_printer(self) -> Any:
        if self._printer is None:
            raise DeviceGone(f"{self.address} is not open")
        return self._printer

    def _ask_socket(
        self, sock: socket.socket, request: bytes, reply_bytes: int, complete: ReplyComplete | None
    ) -> bytes:
        sock.setblocking(False)
        try:
            while True:  # drop what an earlier, timed-out question left behind
                stale = sock.recv(DRAIN_CHUNK)
                if not stale:
                    raise DeviceGone(f"{self.address} closed the connection")
        except BlockingIOError:
            pass
        finally:
            sock.settimeout(WRITE_TIMEOUT_S)
        sock.sendall(request)
        reply = b""
        deadline = time.monotonic() + self.options.status_timeout_ms / 1000
        try:
            while len(reply) < reply_bytes and not (complete and complete(reply)):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                chunk = sock.recv(reply_bytes - len(reply))
                if not chunk:
                    raise DeviceGone(f"{self.address} closed the connection")
                reply += chunk
        except TimeoutError:
            pass
        finally:
            sock.settimeout(WRITE_TIMEOUT_S)
        return reply

    def _ask_serial(self, port: Any, request: bytes, reply_bytes: int, complete: ReplyComplete | None) -> bytes:
        port.reset_input_buffer()
        port.write(request)
        saved = port.timeout
        port.timeout = self.options.status_timeout_ms / 1000
        try:
            if complete is None:
                return bytes(port.read(reply_bytes))
            return self._read_serial_until(port, reply_bytes, complete)
        finally:
            port.timeout = saved

    def _read_serial_until(self, port: Any, reply_bytes: int, complete: ReplyComplete) -> bytes:
        reply = b""
        deadline = time.monotonic() + self.options.status_timeout_ms / 1000
        while len(reply) < reply_bytes and not complete(reply):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            port.timeout = left
            chunk = bytes(port.read(max(1, min(port.in_waiting, reply_bytes - len(reply)))))
            if not chunk:
                break
            reply += chunk
        return reply

    def _ask_usb(self, printer: Any, request: bytes, reply_bytes: int) -> bytes:
        import usb.core  # present wherever the usb driver could open at all

        printer._raw(request)
        try:
            return bytes(printer.device.read(printer.in_ep, reply_bytes, self.options.status_timeout_ms))
        except usb.core.USBTimeoutError:
            return b""


class EscposActor(DeviceActor):
    """An actor that reaches its device through one ``EscposLink``: a receipt printer,
    or a cash drawer kicked through one (or on its own serial port).

    The config's ``driver`` and ``port`` are read once; a bad pair keeps the device
    offline with the problem as its reason until the config is fixed.  A kind refuses
    an address that parses but does not suit it in ``check_address``, and names in
    ``opening_question`` the status question that proves the device answers.
    """

    #: Whether the config's ``port`` may name the driver itself ("serial:/dev/ttyUSB0").
    port_names_driver: ClassVar[bool] = False

    def __init__(self, spec: DeviceSpec, port: DevicePort) -> None:
        super().__init__(spec, port)
        self.options: LinkOptions
        self.address: LinkAddress | None = None
        self._address_problem: str | None = None
        try:
            address = parse_address(spec.driver, spec.port, port_names_driver=self.port_names_driver)
            self.check_address(address)
        except ValueError as exc:
            # Shown as the offline reason until the config is fixed.
            self._address_problem = f"bad driver/port in the config: {exc}"
        else:
            self.address = address
        self.link: EscposLink | None = None
        #: One conversation with the device at a time: a job's or the watch's.
        self._talking = asyncio.Lock()
        #: The printer's own problem (paper_out, cover_open, …) while the device is in error.
        self._trouble: str | None = None

    def check_address(self, address: LinkAddress) -> None:
        """Raise ``ValueError`` when this kind cannot use ``address``; any will do by default.

        Called from ``__init__`` with only ``spec`` and ``options`` set."""

    def opening_question(self, link: EscposLink) -> Question | None:
        """The status question (request, reply bytes[, complete]) asked once on opening;
        None: none."""
        return None

    def printer_trouble(self, code: str, words: str, status: dict[str, Any]) -> None:
        """The printer reports a problem: the device shows ``error`` with it, and the
        first time it is seen ``code`` goes out as an event."""
        if self._trouble != code:
            self.emit(code, {"message": f"{self.id}: {words}", "status": status})
        self._trouble = code
        self.status = "error"
        self.error = {"code": code, "message": f"{self.id}: {words}"}
        self._state_changed()

    def printer_fine(self) -> None:
        """The printer answered with nothing wrong: out of error (``paper_ok`` after paper
        out, else ``ready``)."""
        if self._trouble is None:
            return
        cleared, self._trouble = self._trouble, None
        self.error = None
        self.status = "busy" if self._running else "idle"
        self.emit("paper_ok" if cleared == "paper_out" else "ready", {"cleared": cleared})
        self._state_changed()

    def went_online(self) -> None:
        self._trouble = None  # asked afresh by the watch; announced again if still there
        super().went_online()

    async def keep_asking(self, ask: Callable[[], Awaitable[object]], *, poll_s: float) -> None:
        """A printer's watch: ``ask`` (its status question, taken in) once on coming online,
        so a printer that starts without paper shows as error before the first customer;
        then every ``poll_s`` while in trouble, and every ``IDLE_CHECK_S`` while a network
        printer is idle, so one that vanished is noticed before the next job."""
        async with self._talking:
            await ask()
        idle_since = time.monotonic()
        while True:
            await asyncio.sleep(poll_s)
            if self._running:
                idle_since = time.monotonic()
                continue
            idle_check_due = self.on_network and time.monotonic() - idle_since >= IDLE_CHECK_S
            if self._trouble is not None or idle_check_due:
                idle_since = time.monotonic()
                async with self._talking:
                    await ask()

    @property
    def on_network(self) -> bool:
        """Whether the device is reached over TCP, where an idle one is asked now and then
        whether it is still there."""
        return self.address is not None and self.address.driver == "network"

    # -- the transport ----------------------------------------------------------------

    async def open(self) -> None:
        if self.address is None:
            raise ValueError(self._address_problem)
        link = EscposLink(self.address, self.options)
        await self.blocking(link.open)
        self.link = link
        question = self.opening_question(link)
        if question is not None:
            # Connected is not answering: a printer that takes the connection and drops
            # it stays offline here instead of flapping online and offline every second.
            await self.blocking(link.ask, *question)

    async def close(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            await self.blocking(link.close)

    def _link(self) -> EscposLink:
        if self.link is None:
            raise DeviceGone(f"{self.id} is not connected")
        return self.link


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return " ".join(text.split())
