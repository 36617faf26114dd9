"""`storehub demo` as a person runs it, as processes: its ports, two side by side, and
what a killed demo leaves behind.

Every demo here runs on a port base of its own below Linux's ephemeral range (so no
connection elsewhere takes one of its ports meanwhile), never on the defaults, which
the developer's own demo may be using.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from hub.cli import main
from hub.demo.ports import PORT_SPAN, DemoPorts
from tests.demo_support import DEMO_STOP_TIMEOUT_S, Demo, alive, free_port_base, storehub


def until_gone(demo: Demo, timeout: float = 10.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := demo.children()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_two_demos_run_side_by_side_and_the_clients_follow_their_ports(tmp_path: Path, demos, capsys):
    first, second = demos(tmp_path / "one"), demos(tmp_path / "two")
    while second.base in range(first.base - PORT_SPAN + 1, first.base + PORT_SPAN):
        second.base = free_port_base()
    first.start()
    second.start()
    first.wait_ready()
    second.wait_ready()
    for demo in (first, second):
        assert DemoPorts.read(demo.directory) == demo.ports
        # In-process, as the command line runs them (a Python start each would double the test's time).
        assert main(["sync", "state", "--dir", str(demo.directory)]) == 0
        assert "store demo-store" in capsys.readouterr().out
        assert main(["cloud", "status", "--dir", str(demo.directory)]) == 0
        assert "demo-store" in capsys.readouterr().out
    # A third demo in the first one's folder would take over its broker and cloud: refused.
    again = storehub("demo", "--dir", str(first.directory), "--port-base", str(free_port_base()))
    assert again.returncode == 1 and f"is already running in {first.directory}" in again.stderr, again.stderr
    assert len(first.clouds()) == 1 and httpx.get(f"http://127.0.0.1:{first.ports.rest}/healthz").status_code == 200
    first.terminate()  # both at once, then wait for both
    second.terminate()
    assert (first.process.wait(DEMO_STOP_TIMEOUT_S), second.process.wait(DEMO_STOP_TIMEOUT_S)) == (0, 0)  # type: ignore[union-attr]
    assert until_gone(first) == [] and until_gone(second) == []


def test_a_taken_port_stops_the_demo_before_it_starts_anything(tmp_path: Path):
    base = free_port_base()
    rest = DemoPorts.from_base(base).rest
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", rest))
        squatter.listen()
        started = time.monotonic()
        refused = storehub("demo", "--dir", str(tmp_path / "demo"), "--port-base", str(base))
        took = time.monotonic() - started
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"the REST port {rest} is taken (by another demo?)" in refused.stderr
    assert "--port-base" in refused.stderr
    assert refused.stderr.count("is taken") == 1, refused.stderr
    assert not (tmp_path / "demo" / "state").exists(), "nothing should have been started or seeded"
    assert took < 10, f"failing took {took:.1f} s"


def test_the_default_ports_stay_the_readmes(tmp_path: Path):
    assert DemoPorts() == DemoPorts(
        mqtt=1884, websockets=9002, rest=8080, cloud=8090, printer=19100, terminal=21007,
        zpl_printer=19101, tspl_printer=19102,
    )  # fmt: skip
    assert DemoPorts.read(tmp_path) == DemoPorts(), "a folder without ports.json is a demo on the defaults"
    assert DemoPorts.from_base(20_000) == DemoPorts(*range(20_000, 20_008))
    assert PORT_SPAN == 8


def test_a_killed_demo_is_replaced_by_a_fresh_one_and_leaves_nothing_running(tmp_path: Path, demos):
    demo = demos(tmp_path / "store")
    demo.start()
    demo.wait_ready()
    [first_cloud] = demo.clouds()
    demo.kill()  # SIGKILL: no shutdown of its own runs

    demo.start()
    demo.wait_ready()
    [cloud] = demo.clouds()
    assert cloud.pid != first_cloud.pid and not alive(first_cloud), "the killed demo's cloud is still the one serving"
    assert main(["cloud", "status", "--dir", str(demo.directory)]) == 0
    assert demo.stop() == 0
    assert until_gone(demo) == [], "the demo left these running"


def test_a_leftover_cloud_named_in_its_pid_file_is_replaced(tmp_path: Path, demos):
    """One the kernel could not stop with its demo (started by an older StoreHub, say)."""
    demo = demos(tmp_path / "store")
    assert (
        storehub("demo", "--dir", str(demo.directory), "--port-base", str(demo.base), "--print-config").returncode == 0
    )
    cloud = demo.directory / "cloud"
    with open(tmp_path / "leftover.log", "ab") as log:
        leftover = subprocess.Popen(
            [sys.executable, "-m", "cloud_link.reference.cli", "cloud", "serve", "--config", str(cloud / "cloud.toml")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        (cloud / "cloud.pid").write_text(f"{leftover.pid}\n")
        demo.start()
        demo.wait_ready()
        assert leftover.wait(10) is not None, "the leftover cloud was not stopped"
        [fresh] = demo.clouds()
        assert fresh.pid != leftover.pid
        assert (cloud / "cloud.pid").read_text().strip() == str(fresh.pid)
        assert demo.stop() == 0
        assert not (cloud / "cloud.pid").exists()
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()
