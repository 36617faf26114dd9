"""The customer display: a 2x20 line display on a serial port, held by one till at a time.

The till that serves a customer claims the display and shows the item just scanned
and the running total.  The bytes come from ``devices/line_display.py``; this actor
owns the port (pyserial, so a path, a by-id link or any ``serial_for_url`` URL), sends
each frame in one write, and remembers what the display should be showing.  When the
display is unplugged the actor goes offline within a second; when it returns it is
initialised and shown those lines again, so a replugged display shows the right total.

Displays send nothing the hub uses, so a listener thread reads the port only to learn
that it has gone: a read on an unplugged USB-serial adapter (or a pty whose other end
closed) fails at once, while the display is idle and no write would have noticed.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any

import serial
from pydantic import BaseModel, ConfigDict, Field, model_validator

from devices.actor import DeviceActor, DeviceGone, DevicePort, DeviceSpec, Job, action
from devices.line_display import (
    ALIGNMENTS,
    DEFAULT_CODE_PAGE,
    DEFAULT_COLUMNS,
    ROWS,
    Align,
    LineDisplay,
    Lines,
)
from devices.queue import Priority
from devices.serial_port import open_serial

#: A frame is under 50 bytes, about 50 ms at 9600 baud.  A display that has not taken
#: it in a second is not listening (flow control stuck, adapter wedged): offline.
WRITE_TIMEOUT_S = 1.0

#: How long the listener's read waits before it looks whether the port is closing.
#: Unplugging is noticed at once regardless: the read fails as soon as the port goes.
LISTEN_POLL_S = 0.5

#: Largest read of whatever a display sends back (nothing this driver uses).
LISTEN_CHUNK = 64

#: How long ``close`` waits for the listener thread to let go of the port.
LISTENER_JOIN_S = 2.0

#: A line of text longer than this is a mistake in the till, not a long product name;
#: the display shows 20 cells of it anyway.
MAX_TEXT = 200

#: Serial speeds Epson displays and their clones are set to with DIP switches.
BAUD_RATES = (2400, 4800, 9600, 19200, 38400, 57600, 115200)


class CustomerDisplayOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    baudrate: int = Field(9600, description=f"Serial speed, as set on the display: one of {BAUD_RATES}.")
    columns: int = Field(DEFAULT_COLUMNS, ge=8, le=40, description="Characters per line (20 on a 2x20 display).")
    code_page: str = Field(
        DEFAULT_CODE_PAGE, description="Python's name of the display's character table (cp866 shows Cyrillic)."
    )
    code_page_number: int | None = Field(
        None, ge=0, le=255, description="The display's ESC t number for that table, when it is not Epson's."
    )

    @model_validator(mode="after")
    def _display_can_be_driven(self) -> CustomerDisplayOptions:
        if self.baudrate not in BAUD_RATES:
            raise ValueError(f"baudrate {self.baudrate} is not one of {BAUD_RATES}")
        self.commands()  # raises ValueError for a code page the display cannot be given
        return self

    def commands(self) -> LineDisplay:
        return LineDisplay(columns=self.columns, code_page=self.code_page, code_page_number=self.code_page_number)


class ShowArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line1: str = Field("", max_length=MAX_TEXT, description="The upper line (an item name, a greeting).")
    line2: str = Field("", max_length=MAX_TEXT, description="The lower line (the total).")
    align1: Align = Field("left", description="Where line1 sits when shorter than the display: left, center, right.")
    align2: Align = Field("left", description="Where line2 sits when shorter than the display.")
    right1: str | None = Field(
        None,
        max_length=MAX_TEXT,
        description="Text kept whole at the right end of line 1 (a price); line1 is cut to fit.",
    )
    right2: str | None = Field(None, max_length=MAX_TEXT, description="Text kept whole at the right end of line 2.")

    @model_validator(mode="after")
    def _pair_is_left_aligned(self) -> ShowArgs:
        for n, (align, right) in enumerate(((self.align1, self.right1), (self.align2, self.right2)), start=1):
            if right is not None and align != "left":
                raise ValueError(f"align{n} is for a single text; with right{n} the line is name left, price right")
        return self


class CustomerDisplay(DeviceActor):
    kind = "customer_display"
    sharing = "exclusive"
    Options = CustomerDisplayOptions

    def __init__(self, spec: DeviceSpec, port: DevicePort) -> None:
        super().__init__(spec, port)
        self.commands = self.options.commands()
        self.capabilities = {
            "rows": ROWS,
            "columns": self.commands.columns,
            "code_page": self.commands.code_page,
            "alignments": list(ALIGNMENTS),
        }
        #: What the display should be showing: the last frame it took, laid out.
        self.showing: Lines = self.commands.blank()
        self._serial: serial.SerialBase | None = None
        self._listener: threading.Thread | None = None
        self._closing = threading.Event()
        self._unplugged: asyncio.Future[None] | None = None

    # -- the transport ----------------------------------------------------------

    async def open(self) -> None:
        self._serial = await self.blocking(
            functools.partial(
                open_serial,
                self.id,
                self.spec.port,
                baudrate=self.options.baudrate,
                timeout=LISTEN_POLL_S,
                write_timeout=WRITE_TIMEOUT_S,
            )
        )
        loop = asyncio.get_running_loop()
        self._unplugged = loop.create_future()
        self._closing = threading.Event()
        self._listener = threading.Thread(
            target=self._listen,
            args=(self._serial, loop, self._unplugged, self._closing),
            daemon=True,
            name=f"display-{self.id}",
        )
        self._listener.start()
        # Power-on state is unknown (another program may have left its text): reset it,
        # then put back what this display was showing before it went away.
        frame = self.commands.initialise()
        if self.showing != self.commands.blank():
            frame += self.commands.draw(self.showing)
        await self._send(frame)

    async def close(self) -> None:
        self._closing.set()
        port, listener, unplugged = self._serial, self._listener, self._unplugged
        self._serial = self._listener = self._unplugged = None
        if unplugged is not None:
            # Settled or not, nobody waits for it now; a settled one is read so asyncio
            # does not report an exception that was never retrieved.
            if unplugged.done() and not unplugged.cancelled():
                unplugged.exception()
            unplugged.cancel()
        if port is not None:
            cancel_read = getattr(port, "cancel_read", None)
            if cancel_read is not None:
                try:
                    cancel_read()  # wake the listener now rather than after its poll
                except (serial.SerialException, OSError):
                    pass
        if listener is not None:
            await self.blocking(listener.join, LISTENER_JOIN_S)
        if port is not None:
            await self.blocking(port.close)

    @staticmethod
    def _listen(
        port: serial.SerialBase,
        loop: asyncio.AbstractEventLoop,
        unplugged: asyncio.Future[None],
        closing: threading.Event,
    ) -> None:
        while not closing.is_set():
            try:
                port.read(LISTEN_CHUNK)  # whatever a display says is of no use here
            except Exception as exc:  # SerialException, OSError; anything once closed under us
                if not closing.is_set():
                    gone = DeviceGone(f"the display stopped answering: {exc}")
                    try:
                        loop.call_soon_threadsafe(_settle, unplugged, gone)
                    except RuntimeError:  # the loop is shutting down
                        pass
                return

    async def watch(self) -> None:
        """The listener's verdict: the display was unplugged (raises ``DeviceGone``)."""
        assert self._unplugged is not None, "watch() before open()"
        await self._unplugged

    async def _send(self, frame: bytes) -> None:
        """One frame, one write: a frame never reaches the display in pieces from two jobs."""
        port = self._serial
        if port is None:
            raise DeviceGone(f"{self.id} is not open")
        try:
            await self.blocking(port.write, frame)
        except (serial.SerialException, OSError) as exc:
            raise DeviceGone(f"the display stopped taking data: {exc}") from exc

    # -- actions -------------------------------------------------------------------

    @action("show", ShowArgs, priority=Priority.INTERACTIVE)
    async def show(self, job: Job) -> dict[str, Any]:
        args: ShowArgs = job.args
        lines = self.commands.layout(
            args.line1, args.line2, align1=args.align1, align2=args.align2, right1=args.right1, right2=args.right2
        )
        await self._send(self.commands.draw(lines))
        self.showing = lines
        return self._showing()

    @action("clear", priority=Priority.INTERACTIVE)
    async def clear(self, job: Job) -> dict[str, Any]:
        await self._send(self.commands.clear())
        self.showing = self.commands.blank()
        return self._showing()

    @action("status", needs_claim=False)
    async def status_(self, job: Job) -> dict[str, Any]:
        return {**self._showing(), "capabilities": dict(self.capabilities)}

    def _showing(self) -> dict[str, Any]:
        """The lines as the customer reads them (trailing blanks are not text)."""
        line1, line2 = (line.rstrip(" ") for line in self.showing)
        return {"showing": {"line1": line1, "line2": line2}}


def _settle(future: asyncio.Future[None], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
