"""The cash drawer: kicked through a receipt printer's drawer port, or on its own serial port.

Through a printer (``through = "printer"``, the usual wiring: an RJ12 cable from the
drawer to the printer) the drawer has its own link to the printer's address, with the
same ``driver`` and ``port`` as the printer's entry, and opens it with ``ESC p``.  The
printer also reports the drawer's sensor (``DLE EOT 1``, bit 2), so the actor confirms
the drawer opened (``opened``), then watches it every ``DRAWER_POLL_S`` until it is
pushed shut (``closed``) or ``watch_s`` passes (``left_open``, once).

A standalone drawer (``through = "own_port"``, driver ``serial``) opens when it receives
its kick bytes (``kick_hex``); it has no sensor, so it reports nothing back.

A network printer that serves one TCP client at a time cannot take the drawer's link
while the receipt printer holds its own: wire such a drawer through the printer's
``open_drawer`` action (or ``print`` with ``open_drawer``) instead.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from devices.actor import DevicePort, DeviceSpec, Job, action
from devices.escpos_link import IDLE_CHECK_S, EscposActor, EscposLink, LinkAddress, LinkOptions, driver_can_read
from devices.escpos_receipt import drawer_kick_bytes
from devices.escpos_status import DRAWER_STATUS_REQUEST, SensorLevel, parse_drawer_status
from devices.queue import Priority

#: How often the drawer sensor is read while the drawer is being watched.  A cashier
#: pushes a drawer shut in well under a second; five questions a second catch it and
#: cost a printer nothing (it answers DLE EOT in real time, even while printing).
DRAWER_POLL_S = 0.2

#: How long after a kick the sensor has to show the drawer open.  The solenoid pulse is
#: 100 ms and the drawer springs out at once; a drawer still shut after this is locked
#: with its key, jammed, or unplugged from the printer.
OPEN_CONFIRM_S = 1.0


class CashDrawerOptions(LinkOptions):
    through: Literal["printer", "own_port"] = Field(
        "printer", description="Kicked through a receipt printer's drawer port, or a drawer with its own serial port."
    )
    drawer_pin: Literal[2, 5] = Field(2, description="Through a printer: the drawer connector pin it is wired to.")
    pulse_ms: int = Field(100, ge=2, le=510, description="Through a printer: how long the kick pulse lasts.")
    drawer_open_when: SensorLevel = Field("high", description="Which sensor level means open (drawers differ).")
    watch_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How long to watch an opened drawer for closing before reporting it left open.",
    )
    kick_hex: str | None = Field(
        None, description="Own port: the bytes that open the drawer, in hex (see its manual; often 07 or 1b700019fa)."
    )

    @field_validator("kick_hex")
    @classmethod
    def _is_hex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                if not bytes.fromhex(value):
                    raise ValueError
            except ValueError:
                raise ValueError("must be bytes in hex, like 1b700019fa") from None
        return value

    @model_validator(mode="after")
    def _own_port_needs_its_kick(self) -> CashDrawerOptions:
        if self.through == "own_port" and self.kick_hex is None:
            raise ValueError("a drawer on its own port needs kick_hex: the bytes that open it")
        return self


class OpenArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CashDrawer(EscposActor):
    kind = "cash_drawer"
    sharing = "shared"
    Options = CashDrawerOptions

    def __init__(self, spec: DeviceSpec, port: DevicePort) -> None:
        super().__init__(spec, port)
        self.options: CashDrawerOptions
        #: The sensor's last word: True open, False shut, None unknown (or no sensor).
        self.drawer_open: bool | None = None
        #: Until when (monotonic) an opened drawer is watched for closing.
        self._watch_until = 0.0
        self._opened_at = 0.0
        self._opened_by: str | None = None
        self._watching = asyncio.Event()
        if self.options.through == "printer":
            self.kick = drawer_kick_bytes(self.options.drawer_pin, self.options.pulse_ms)
        else:
            self.kick = bytes.fromhex(self.options.kick_hex or "")
        self.capabilities = {
            "through": self.options.through,
            "sensor": self.has_sensor,
            "drawer_pin": self.options.drawer_pin if self.options.through == "printer" else None,
        }
        self.counters |= {"kicks": 0}

    @property
    def has_sensor(self) -> bool:
        """Only a printer reports a drawer's sensor; a file or a bare serial drawer cannot."""
        return self.options.through == "printer" and driver_can_read(self.spec.driver)

    # -- the transport ----------------------------------------------------------------

    def check_address(self, address: LinkAddress) -> None:
        if self.options.through == "own_port" and address.driver != "serial":
            raise ValueError("a drawer on its own port uses the serial driver")

    def opening_question(self, link: EscposLink) -> tuple[bytes, int] | None:
        return (DRAWER_STATUS_REQUEST, 1) if self.has_sensor and self.on_network else None

    async def _sensor(self) -> bool | None:
        """Read the drawer sensor now (hold ``_talking``); None when the printer did not say."""
        if not self.has_sensor:
            return None
        replies = await self.blocking(self._link().ask, DRAWER_STATUS_REQUEST, 1)
        return parse_drawer_status(replies, drawer_open_when=self.options.drawer_open_when)

    def _note(self, now_open: bool | None) -> None:
        if now_open is None:
            return
        if now_open and self.drawer_open is not True:
            self._opened_at = time.monotonic()
            self.emit("opened", {}, to_client=self._opened_by)
        elif not now_open and self.drawer_open is True:
            self.emit("closed", {"open_for_s": round(time.monotonic() - self._opened_at, 1)}, to_client=self._opened_by)
        self.drawer_open = now_open

    async def watch(self) -> None:
        async with self._talking:  # what the drawer is like when the device comes online
            self.drawer_open = await self._sensor()
        while True:
            try:
                await asyncio.wait_for(self._watching.wait(), IDLE_CHECK_S)
            except TimeoutError:
                if self.has_sensor and self.on_network:
                    async with self._talking:  # idle: is the printer still there?
                        self._note(await self._sensor())
                continue
            await asyncio.sleep(DRAWER_POLL_S)
            async with self._talking:
                self._note(await self._sensor())
            if self.drawer_open is False or self.drawer_open is None:
                self._watching.clear()
            elif time.monotonic() > self._watch_until:
                self._watching.clear()
                self.emit(
                    "left_open", {"open_for_s": round(time.monotonic() - self._opened_at, 1)}, to_client=self._opened_by
                )

    # -- actions ----------------------------------------------------------------------

    @action("open", OpenArgs, priority=Priority.INTERACTIVE)
    async def open_drawer(self, job: Job) -> dict[str, Any]:
        self._opened_by = job.client  # the till that opened it hears when it shuts
        async with self._talking:
            await self.blocking(self._link().write, self.kick)
            self.counters["kicks"] += 1
            if not self.has_sensor:
                return {"kicked": True, "opened": None}
            deadline = time.monotonic() + OPEN_CONFIRM_S
            while True:
                now_open = await self._sensor()
                if now_open or time.monotonic() > deadline:
                    break
                await asyncio.sleep(DRAWER_POLL_S / 2)
            self._note(now_open)
        if now_open:
            self._watch_until = time.monotonic() + self.options.watch_s
            self._watching.set()
            return {"kicked": True, "opened": True}
        hint = "no answer from the printer" if now_open is None else "the sensor still says shut (locked? unplugged?)"
        return {"kicked": True, "opened": None if now_open is None else False, "note": hint}

    @action("status", needs_claim=False)
    async def drawer_status(self, job: Job) -> dict[str, Any]:
        async with self._talking:
            now_open = await self._sensor()
            self._note(now_open)
        if now_open:
            self._watch_until = max(self._watch_until, time.monotonic() + self.options.watch_s)
            self._watching.set()
        return {"open": now_open, "sensor": self.has_sensor}
