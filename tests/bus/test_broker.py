"""The broker the hub writes keeps every till to its own topics (DESIGN.md, Security)."""

from __future__ import annotations

import asyncio
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from bus.broker import BrokerPlan, BrokerUser, render_acl, render_conf
from bus.mqtt import BusConnection, BusError
from bus.passwords import hash_secret
from bus.topics import TopicTree
from tests.conftest import STORE, Connect, HubProcess

TOPICS = TopicTree(STORE)


async def test_anonymous_connections_are_refused(shared_hub: HubProcess):
    anonymous = BusConnection(address=shared_hub.address, client_id="nobody", username=None, password=None)
    with pytest.raises(BusError, match="refused"):
        await anonymous.connect(timeout=5)


async def test_a_wrong_secret_is_refused(shared_hub: HubProcess, connect: Connect):
    with pytest.raises(BusError, match="refused"):
        await connect(shared_hub, "till-1", secret="guess")


def test_a_till_cannot_publish_under_another_tills_topics(shared_hub: HubProcess):
    """Mosquitto answers the forged publish with 'not authorized' in its PUBACK."""
    acked = threading.Event()
    reasons: list = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="forger", protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set("till-1", shared_hub.secrets["till-1"])
    client.on_publish = lambda c, u, mid, reason, props: (reasons.append(reason), acked.set())
    client.connect("127.0.0.1", shared_hub.mqtt_port)
    client.loop_start()
    try:
        client.publish(TOPICS.request("till-2", "echo-1"), b'{"action":"echo","request_id":"forged"}', qos=1)
        assert acked.wait(5)
        assert [str(r) for r in reasons] == ["Not authorized"]
        own = threading.Event()
        client.on_publish = lambda c, u, mid, reason, props: (reasons.append(reason), own.set())
        client.publish(TOPICS.client_state("till-1"), b'{"state":"online"}', qos=1, retain=True)
        assert own.wait(5)
        assert not reasons[-1].is_failure, reasons[-1]  # accepted (maybe "no matching subscribers")
    finally:
        client.disconnect()
        client.loop_stop()


async def test_a_till_cannot_read_another_tills_topics_but_a_technician_can(shared_hub: HubProcess, connect: Connect):
    snoop = await connect(shared_hub, "till-1")
    owner = await connect(shared_hub, "till-2")
    tech = await connect(shared_hub, "tech-1")
    snooped: list[str] = []
    seen_by_tech: list[str] = []
    snoop.bus.subscribe(f"{TOPICS.prefix}/client/till-2/#", lambda m: snooped.append(m.topic))
    snoop.bus.subscribe(
        f"{TOPICS.prefix}/client/#", lambda m: snooped.append(m.topic) if "/till-2/" in m.topic else None
    )
    tech.bus.subscribe(f"{TOPICS.prefix}/client/till-2/#", lambda m: seen_by_tech.append(m.topic))
    await asyncio.sleep(0.2)  # let the subscriptions settle

    response = await owner.request("echo-1", "echo", {"card": "loyalty-123"})
    assert response.ok
    await asyncio.sleep(0.3)
    assert snooped == []
    assert TOPICS.request("till-2", "echo-1") in seen_by_tech
    assert TOPICS.response("till-2") in seen_by_tech


def test_the_acl_names_the_store_and_gives_technicians_read_everywhere():
    plan = BrokerPlan(
        store="store-7",
        users=(BrokerUser("till-1", hash_secret("a")), BrokerUser("tech-1", hash_secret("b"), reads_everything=True)),
    )
    acl = render_acl(plan).splitlines()
    assert "pattern readwrite storehub/v1/store-7/client/%u/#" in acl
    assert "pattern read storehub/v1/store-7/dev/+/state" in acl
    assert "user tech-1" in acl and "topic read storehub/v1/store-7/#" in acl
    assert "user till-1" not in acl


def test_the_broker_sends_small_packets_at_once_and_keeps_websockets_on_loopback(tmp_path):
    plan = BrokerPlan(store="store-7", users=(), host="127.0.0.1", port=1883, websockets_port=9001)
    conf = render_conf(plan, tmp_path).splitlines()
    assert "set_tcp_nodelay true" in conf
    assert "listener 1883 127.0.0.1" in conf
    # Mosquitto 2.0 ignores an address on a WebSockets listener; it takes an interface.
    assert "listener 9001 lo" in conf


def test_websockets_can_be_turned_off_and_bound_to_a_lan_interface(tmp_path):
    from hub.app import broker_plan
    from hub.config import StoreHubConfig

    off = StoreHubConfig(store_id="s", bus={"websockets_port": 0})
    assert broker_plan(off).websockets_port is None
    assert "protocol websockets" not in render_conf(broker_plan(off), tmp_path)
    lan = StoreHubConfig(store_id="s", bus={"host": "0.0.0.0", "websockets_interface": "eth0"})
    assert "listener 9001 eth0" in render_conf(broker_plan(lan), tmp_path).splitlines()
    everywhere = StoreHubConfig(store_id="s", bus={"host": "0.0.0.0"})
    assert "listener 9001" in render_conf(broker_plan(everywhere), tmp_path).splitlines()
