"""Brokers other than the hub's own: an external one, WebSockets for browser tills, none at all."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from bus.broker import accepts_connections, find_mosquitto
from bus.client import StoreHubClient
from bus.mqtt import BrokerAddress
from hub.throwaway import ExternalBus, free_loopback_ports
from tests.conftest import STORE, Connect, HubProcess


async def test_hub_on_an_external_broker_built_from_broker_files(tmp_path: Path, connect: Connect):
    hub = HubProcess(tmp_path)
    hub.write_config(bus=ExternalBus(url=f"mqtt://127.0.0.1:{hub.mqtt_port}", hub_password="hub-s3cret"))

    broker_dir = tmp_path / "etc-mosquitto"
    written = subprocess.run(
        [sys.executable, "-m", "hub.cli", "broker-files", "--config", str(hub.config_path), "--out", str(broker_dir)],
        capture_output=True,
        text=True,
    )
    assert written.returncode == 0, written.stderr
    conf = (broker_dir / "mosquitto.conf").read_text()
    assert f"listener {hub.mqtt_port} 127.0.0.1" in conf and "user root" not in conf
    # The test runs as root and its files sit in a private temporary folder; a system
    # broker would read them through the `mosquitto` group instead (see the command's hint).
    (broker_dir / "mosquitto.conf").write_text(conf + "user root\n")

    broker = subprocess.Popen(
        [find_mosquitto(), "-c", str(broker_dir / "mosquitto.conf")], stderr=subprocess.PIPE, cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + 5
        while not accepts_connections("127.0.0.1", hub.mqtt_port):
            assert time.monotonic() < deadline and broker.poll() is None, broker.stderr.read() if broker.stderr else ""
            time.sleep(0.02)
        hub.start()
        till = await connect(hub, "till-1")
        response = await till.request("echo-1", "echo", {"via": "external broker"})
        assert response.ok and response.result == {"echo": {"via": "external broker"}}
        assert hub.stop() == 0
    finally:
        hub.stop()
        broker.terminate()
        broker.wait(5)


async def test_a_browser_till_talks_over_websockets(shared_hub: HubProcess):
    till = StoreHubClient(
        store=STORE,
        client_id="till-1",
        secret=shared_hub.secrets["till-1"],
        address=BrokerAddress("127.0.0.1", shared_hub.websockets_port, transport="websockets"),
    )
    await till.connect(timeout=5)
    try:
        response = await till.request("echo-1", "echo", {"from": "browser"})
        assert response.ok and response.result == {"echo": {"from": "browser"}}
    finally:
        await till.close()


def test_without_its_broker_the_hub_stays_up_serves_rest_and_says_why_it_is_not_ready(tmp_path: Path):
    hub = HubProcess(tmp_path)
    [closed] = free_loopback_ports(1)
    hub.write_config(bus=ExternalBus(url=f"mqtt://127.0.0.1:{closed}", hub_password="x"))
    hub.launch()
    try:
        deadline = time.monotonic() + 30
        while True:
            assert hub.process.poll() is None, hub.log()
            try:
                if httpx.get(hub.api_url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API never came up without the broker:\n" + hub.log()
            time.sleep(0.1)
        ready = httpx.get(hub.api_url + "/readyz")
        assert ready.status_code == 503 and ready.json()["reason"] == "not connected to the broker"
        answer = httpx.post(
            hub.api_url + "/api/v1/devices/echo-1/requests",
            headers={"Authorization": f"Bearer till-1:{hub.secrets['till-1']}"},
            json={"action": "echo", "args": {"wan": "down"}, "request_id": "r1"},
        )
        assert answer.status_code == 200 and answer.json()["result"] == {"echo": {"wan": "down"}}
        assert "cannot reach the broker" in hub.log()
    finally:
        assert hub.stop() == 0
    assert "Traceback" not in hub.log()
