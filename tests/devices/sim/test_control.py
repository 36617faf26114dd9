"""`storehub sim` reaches the demo's simulators over a Unix socket, one JSON line each way."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devices.sim.control import SimulatorDesk, send_command


async def test_commands_reach_the_right_device_and_mistakes_are_explained(tmp_path: Path):
    scanned: list[str] = []
    desk = SimulatorDesk(tmp_path / "sim.sock")
    desk.register("scanner-1", "scanner", {"scan": lambda args: scanned.append(args["code"]) or {"sent": args["code"]}})
    await desk.start()
    try:

        def ask(command):
            return asyncio.to_thread(send_command, desk.socket_path, command)

        listing = await ask({"do": "list"})
        assert listing == {"ok": True, "result": {"scanner-1": {"kind": "scanner", "can": ["scan"]}}}
        done = await ask({"device": "scanner-1", "do": "scan", "args": {"code": "4601234567893"}})
        assert done == {"ok": True, "result": {"sent": "4601234567893"}} and scanned == ["4601234567893"]
        for bad, says in (
            ({"device": "printer-9", "do": "scan"}, "no simulated device"),
            ({"device": "scanner-1", "do": "fly"}, "cannot 'fly'"),
            ({"device": "scanner-1", "do": "scan", "args": {}}, "scanner-1 scan"),
            ({"device": "scanner-1", "do": "scan", "args": [1]}, "args must be an object"),
        ):
            answer = await ask(bad)
            assert answer["ok"] is False and says in answer["error"], answer
    finally:
        await desk.stop()


def test_the_cli_says_when_no_demo_is_running(tmp_path: Path):
    with pytest.raises(ConnectionError, match="no demo is running"):
        send_command(tmp_path / "sim.sock", {"do": "list"})
