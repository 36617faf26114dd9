"""Talking to a simulated label printer over its TCP port as the hub does: labels in,
the status question, its answer read until the language says it is whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from devices.labels.language import LabelLanguage, LabelStatus
from devices.labels.tspl import TSPL
from devices.labels.zpl import ZPL
from devices.sim.label_printer import LabelPrinterSimulator
from devices.sim.tspl_printer import TsplPrinterSimulator
from devices.sim.zpl_printer import ZplPrinterSimulator

#: How long a test waits for the printer to answer or to have printed what was sent.
SETTLE_S = 5.0


@dataclass(frozen=True)
class Kind:
    """A printer language and the simulator that speaks it."""

    language: LabelLanguage
    simulator: type[LabelPrinterSimulator]

    def __str__(self) -> str:
        return self.language.name


KINDS = [Kind(ZPL, ZplPrinterSimulator), Kind(TSPL, TsplPrinterSimulator)]


class Link:
    def __init__(self, language: LabelLanguage, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.language = language
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def status(self) -> LabelStatus:
        await self.send(self.language.status_query)
        reply = b""
        while not self.language.status_reply_complete(reply):
            chunk = await asyncio.wait_for(self.reader.read(256), SETTLE_S)
            assert chunk, f"the printer hung up before answering (had {reply!r})"
            reply += chunk
        return self.language.parse_status(reply)

    async def closed_by_printer(self) -> bool:
        """Whether the printer has hung up (its end reads as the end of the stream)."""
        try:
            return await asyncio.wait_for(self.reader.read(1), SETTLE_S) == b""
        except ConnectionError:
            return True

    def close(self) -> None:
        self.writer.close()


@asynccontextmanager
async def connected(printer: LabelPrinterSimulator, language: LabelLanguage) -> AsyncIterator[Link]:
    reader, writer = await asyncio.open_connection(printer.host, printer.port)
    link = Link(language, reader, writer)
    try:
        yield link
    finally:
        link.close()
