"""The reference cloud as a process of its own, for the demo, the sync bench and the
tests: started from a config file, waited for until it answers, stopped with SIGTERM.

``CloudServer`` is the one process manager for it.  Its methods block (the tests call
them as they are); the demo and the bench, on an event loop, await ``async_start`` and
``async_stop``, which start the process on the loop's own thread and wait in a worker.

Its starter owns it: on Linux the cloud gets SIGTERM when the process (strictly, the
thread) that started it dies, even by SIGKILL, so no cloud outlives a killed demo and
holds its port.  With a ``pid_file`` a leftover the kernel could not stop (a cloud of a
StoreHub without this, another system) is found at the next start and stopped, if its
command line says it is the cloud of the same config.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bus.broker import stop_leftover

log = logging.getLogger(__name__)

#: `storehub cloud serve` gets this long to answer /healthz before the caller gives up.
START_TIMEOUT_S = 15.0

#: After SIGTERM, how long the cloud may take to finish its answers and close its database.
STOP_TIMEOUT_S = 10.0

#: How often the start-up wait asks /healthz again (and looks whether the cloud exited).
POLL_INTERVAL_S = 0.05

#: A leftover cloud that ignores SIGTERM this long is killed.
LEFTOVER_STOP_TIMEOUT_S = 5.0

#: From <linux/prctl.h>: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


class CloudServer:
    """``python -m cloud_link.reference.cli cloud serve --config …`` (what `storehub cloud
    serve` runs), its output appended to ``log``.  ``verify`` is how the health check
    trusts an HTTPS cloud (an ``ssl.SSLContext`` with the cloud's authority)."""

    def __init__(
        self, config: Path, url: str, log: Path, *, pid_file: Path | None = None, verify: ssl.SSLContext | bool = True
    ) -> None:
        self.config = config
        self.url = url
        self.log = log
        self.pid_file = pid_file
        self.verify = verify
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "cloud_link.reference.cli", "cloud", "serve", "--config", str(self.config)]

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Stop a leftover of the same config, start the cloud and wait until it answers."""
        self.stop_leftover()
        self.launch()
        self.wait_until_up()

    async def async_start(self) -> None:
        await asyncio.to_thread(self.stop_leftover)
        self.launch()  # on this thread, which lives as long as the loop: see the docstring
        await asyncio.to_thread(self.wait_until_up)

    def stop_leftover(self) -> None:
        if self.pid_file is not None:
            stop_leftover_cloud(self.pid_file, self.config)

    def launch(self) -> None:
        """Start the process and return at once."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_dies_with_parent(),
            )  # fmt: skip
        if self.pid_file is not None:
            self.pid_file.write_text(f"{self.process.pid}\n")

    def wait_until_up(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until /healthz answers 200; a cloud that exits first, or never answers (then
        stopped), raises RuntimeError."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(verify=self.verify, trust_env=False) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the reference cloud exited with {self.process.returncode}; see {self.log}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                        return
                time.sleep(POLL_INTERVAL_S)
        self.stop()
        raise RuntimeError(f"the reference cloud did not answer within {timeout:g} s; see {self.log}")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, and SIGKILL if it is still running after ``timeout``."""
        if self.running:
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.pid_file is not None and self.process is not None and _pid_in(self.pid_file) == self.process.pid:
            self.pid_file.unlink(missing_ok=True)

    async def async_stop(self) -> None:
        await asyncio.to_thread(self.stop)

    def kill(self) -> None:
        """SIGKILL, as a power cut would end it."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _dies_with_parent() -> Callable[[], None] | None:
    """What the child runs between fork and exec so the kernel stops it with its parent (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    # Looked up before the fork: the child only calls it.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def in_the_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the line above: nobody would stop it
            os._exit(1)

    return in_the_child


def _pid_in(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def stop_leftover_cloud(pid_file: Path, config: Path, timeout: float = LEFTOVER_STOP_TIMEOUT_S) -> bool:
    """Stop the cloud ``pid_file`` names if its command line says it serves ``config``
    (else the pid is another program's by now), as the hub does with the broker a
    crashed hub left.  Returns True if there was one."""
    stopped = stop_leftover(
        pid_file,
        mentions=("cloud_link.reference.cli", str(config)),
        what="the reference cloud",
        timeout=timeout,
    )
    pid_file.unlink(missing_ok=True)
    return stopped
