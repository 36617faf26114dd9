"""`storehub demo` as a person runs it, as processes: its ports, two side by side, and
what a killed demo leaves behind.

Every demo here runs on a port base of its own below Linux's ephemeral range (so no
connection elsewhere takes one of its ports meanwhile), never on the defaults, which
the developer's own demo may be using.
"""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from hub.cli import main
from hub.demo import PORT_SPAN, DemoPorts

#: A demo seeds its catalogue, then starts the cloud, the broker and the hub.
DEMO_START_TIMEOUT_S = 60.0

#: Its own shutdown (hub, simulators, cloud) is quicker than this.
DEMO_STOP_TIMEOUT_S = 30.0


def free_port_base() -> int:
    for _ in range(200):
        base = random.randrange(20_000, 32_000 - PORT_SPAN)
        if not DemoPorts.from_base(base).taken():
            return base
    raise AssertionError("no free run of demo ports below 32000")


def storehub(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def alive(process: psutil.Process) -> bool:
    """Running, and not a zombie waiting for a parent (or a container's init) to reap it."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class Demo:
    directory: Path
    base: int = field(default_factory=free_port_base)
    process: subprocess.Popen[bytes] | None = None

    @property
    def ports(self) -> DemoPorts:
        return DemoPorts.from_base(self.base)

    @property
    def log(self) -> Path:
        return self.directory.with_name(self.directory.name + ".log")

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "demo", "--dir", str(self.directory), "--port-base", str(self.base)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + DEMO_START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (
                f"the demo exited with {self.process.returncode}:\n{self.log.read_text()}"
            )
            try:
                if httpx.get(f"http://127.0.0.1:{self.ports.rest}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(
            f"the demo did not answer /healthz within {DEMO_START_TIMEOUT_S:g} s:\n{self.log.read_text()}"
        )

    def terminate(self) -> None:
        """Ctrl-C's sibling, once (a second one during the shutdown would cut it short)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.terminate()
        return self.process.wait(DEMO_STOP_TIMEOUT_S)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(DEMO_STOP_TIMEOUT_S)

    def children(self) -> list[psutil.Process]:
        """Whatever runs from this demo's folder: its cloud and broker, by their command lines."""
        found = []
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            if self.process and process.pid == self.process.pid:
                continue
            if any(str(self.directory) in part for part in cmdline) and alive(process):
                found.append(process)
        return found

    def clouds(self) -> list[psutil.Process]:
        return [p for p in self.children() if "cloud_link.reference.cli" in p.info["cmdline"]]

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for process in self.children():
            process.kill()


@pytest.fixture
def demos() -> Iterator[Callable[[Path], Demo]]:
    made: list[Demo] = []

    def make(directory: Path) -> Demo:
        made.append(Demo(directory))
        return made[-1]

    try:
        yield make
    finally:
        for demo in made:
            demo.cleanup()


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
    assert DemoPorts() == DemoPorts(mqtt=1884, websockets=9002, rest=8080, cloud=8090, printer=19100, terminal=21007)
    assert DemoPorts.read(tmp_path) == DemoPorts(), "a folder without ports.json is a demo on the defaults"
    assert DemoPorts.from_base(20_000) == DemoPorts(20_000, 20_001, 20_002, 20_003, 20_004, 20_005)


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
