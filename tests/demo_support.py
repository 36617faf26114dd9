"""A demo store run as a person runs it: `storehub demo` as its own process, on a port
base of its own below Linux's ephemeral range (so no connection elsewhere takes one of
its ports meanwhile), never on the defaults, which the developer's own demo may be using.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from hub.demo.ports import PORT_SPAN, DemoPorts

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
