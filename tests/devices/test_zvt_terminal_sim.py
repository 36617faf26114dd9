"""The simulated terminal on the wire: a bare socket sends hand-written ZVT bytes and reads
exactly what a terminal answers, message by message, acknowledging each as an ECR must."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from devices import zvt
from devices.sim.zvt_terminal import ZvtTerminalSimulator

WAIT_S = 3.0


def h(text: str) -> bytes:
    return bytes.fromhex(text)


class BareEcr:
    """An ECR with no protocol code of ours in it: bytes out, whole APDUs in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.apdus = zvt.ApduReader()
        self.waiting: list[zvt.Apdu] = []

    async def send(self, raw: bytes) -> None:
        self.writer.write(raw)
        await self.writer.drain()

    async def next(self) -> bytes:
        while not self.waiting:
            chunk = await asyncio.wait_for(self.reader.read(4096), WAIT_S)
            assert chunk, "the terminal hung up"
            self.waiting += self.apdus.feed(chunk)
        return self.waiting.pop(0).to_bytes()


@pytest.fixture
async def terminal() -> AsyncIterator[ZvtTerminalSimulator]:
    sim = ZvtTerminalSimulator(step_s=0.01, card_timeout_s=0.5)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
async def ecr(terminal: ZvtTerminalSimulator) -> AsyncIterator[BareEcr]:
    reader, writer = await asyncio.open_connection("127.0.0.1", terminal.port)
    try:
        yield BareEcr(reader, writer)
    finally:
        writer.close()


async def test_registration_then_an_approved_payment_byte_by_byte(terminal: ZvtTerminalSimulator, ecr: BareEcr):
    await ecr.send(h("06 00 06 000000 1E 0978"))
    assert await ecr.next() == h("80 00 00")
    assert await ecr.next() == h("06 0F 0A 19 00 29 52500038 49 0978")
    await ecr.send(h("80 00 00"))

    await ecr.send(h("06 01 0A 04 000000001250 49 0978"))
    assert await ecr.next() == h("80 00 00")
    for stage in ("04 FF 02 0A 00", "04 FF 01 01", "04 FF 01 04"):  # insert card (0 s shown), PIN, network
        assert await ecr.next() == h(stage)
        await ecr.send(h("80 00 00"))
    status = await ecr.next()
    assert status[:2] == h("04 0F") and status[3:5] == h("27 00")  # approved
    assert h("04 000000001250") in status and h("0B 000001") in status and h("87 0001") in status
    await ecr.send(h("80 00 00"))
    assert await ecr.next() == h("06 0F 00")
    await ecr.send(h("80 00 00"))
    [charge] = terminal.charges
    assert (charge.amount, charge.trace_no, charge.receipt_no) == (1250, 1, 1)

    # Repeat Receipt hands the same transaction back.
    await ecr.send(h("06 20 03 000000"))
    assert await ecr.next() == h("80 00 00")
    assert await ecr.next() == status
    await ecr.send(h("80 00 00"))
    assert await ecr.next() == h("06 0F 00")


async def test_an_ecr_abort_during_insert_card_ends_the_dialogue_with_6c(terminal: ZvtTerminalSimulator, ecr: BareEcr):
    terminal.step_s = 1.0
    await ecr.send(h("06 01 07 04 000000000500"))
    assert await ecr.next() == h("80 00 00")
    assert (await ecr.next())[:4] == h("04 FF 02 0A")
    await ecr.send(h("80 00 00") + h("06 B0 00"))  # ACK the stage, then abort, in one write
    assert await ecr.next() == h("80 00 00")  # the abort taken
    assert await ecr.next() == h("06 1E 01 6C")
    await ecr.send(h("80 00 00"))
    assert terminal.charges == [] and terminal.aborted_by_ecr == 1


async def test_a_wrong_password_or_a_busy_terminal_is_refused_with_84(terminal: ZvtTerminalSimulator, ecr: BareEcr):
    await ecr.send(h("06 31 0D 999999 04 000000000500 49 0978"))
    assert await ecr.next() == h("84 83 00")
    terminal.busy = True
    await ecr.send(h("06 01 07 04 000000000500"))
    assert await ecr.next() == h("84 9C 00")
    assert terminal.dialogues == 0
