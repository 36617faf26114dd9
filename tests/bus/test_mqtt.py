"""The bus connection's subscription options, against a real Mosquitto: what a stored
(retained) copy looks like, and how to be spared one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bus.mqtt import BusConnection, Message
from bus.topics import TopicTree
from tests.conftest import STORE, HubProcess, until

TOPICS = TopicTree(STORE)

#: How long a test waits for a message that must not come.
QUIET_S = 0.3

Open = Callable[[str, str], Awaitable[BusConnection]]


@pytest.fixture
async def open_bus(shared_hub: HubProcess) -> AsyncIterator[Open]:
    """``await open_bus("tech-1", "tech-1-a")``: a raw connection as that client."""
    opened: list[BusConnection] = []

    async def _open(username: str, client_id: str) -> BusConnection:
        bus = BusConnection(
            address=shared_hub.address,
            client_id=client_id,
            username=username,
            password=shared_hub.secrets[username],
        )
        await bus.connect(timeout=5)
        opened.append(bus)
        return bus

    yield _open
    for bus in opened:
        await bus.close()


async def test_a_stored_copy_is_marked_replayed_and_never_sent_when_asked_not_to(open_bus: Open):
    till = await open_bus("till-1", "till-1-notes")
    topic = f"{TOPICS.prefix}/client/till-1/note"
    info = till.publish(topic, b"stored", retain=True)
    await asyncio.to_thread(info.wait_for_publish, 2)
    try:
        plain, spared = await open_bus("tech-1", "tech-1-plain"), await open_bus("tech-1", "tech-1-spared")
        by_plain: list[Message] = []
        by_spared: list[Message] = []
        plain.subscribe(topic, by_plain.append)
        spared.subscribe(topic, by_spared.append, stored="never", retain_as_published=True)
        await until(lambda: by_plain, 5, "the stored copy")
        assert (by_plain[0].payload, by_plain[0].retain, by_plain[0].replayed) == (b"stored", True, True)
        await asyncio.sleep(QUIET_S)
        assert by_spared == [], "the broker sent its stored copy although asked not to"

        # Published retained now: a plain subscription loses the flag, the other keeps it.
        till.publish(topic, b"live", retain=True)
        await until(lambda: len(by_plain) == 2 and by_spared, 5, "the live message")
        assert (by_plain[1].retain, by_plain[1].replayed) == (False, False)
        assert (by_spared[0].payload, by_spared[0].retain, by_spared[0].replayed) == (b"live", True, False)
    finally:
        till.publish(topic, b"", retain=True)  # clear what this test stored


async def test_no_local_leaves_out_what_the_connection_publishes_itself(open_bus: Open):
    till, tech = await open_bus("till-1", "till-1-self"), await open_bus("tech-1", "tech-1-watch")
    topic = f"{TOPICS.prefix}/client/till-1/chatter"
    own: list[Message] = []
    seen: list[Message] = []
    till.subscribe(topic, own.append, no_local=True)
    tech.subscribe(topic, seen.append)
    await asyncio.sleep(0.1)  # both subscriptions reach the broker
    till.publish(topic, b"hello")
    await until(lambda: seen, 5, "the technician's copy")
    await asyncio.sleep(QUIET_S)
    assert own == []


async def test_one_pattern_keeps_one_set_of_options(open_bus: Open):
    tech = await open_bus("tech-1", "tech-1-options")
    topic = f"{TOPICS.prefix}/dev/+/state"
    tech.subscribe(topic, lambda m: None)
    with pytest.raises(ValueError, match="other options"):
        tech.subscribe(topic, lambda m: None, stored="never")
