"""The reference cloud as a process of its own, for the demo and the sync bench:
started from a config file, waited for until it answers, stopped with SIGTERM.

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


#: A leftover cloud that ignores SIGTERM this long is killed.
LEFTOVER_STOP_TIMEOUT_S = 5.0

#: From <linux/prctl.h>: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


class CloudServer:
    def __init__(self, config: Path, url: str, log: Path, *, pid_file: Path | None = None) -> None:
        self.config = config
        self.url = url
        self.log = log
        self.pid_file = pid_file
        self.process: asyncio.subprocess.Process | None = None

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "cloud_link.reference.cli", "cloud", "serve", "--config", str(self.config)]

    async def start(self) -> None:
        if self.pid_file is not None:
            await asyncio.to_thread(stop_leftover_cloud, self.pid_file, self.config)
        with open(self.log, "ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
                preexec_fn=_dies_with_parent(),
            )  # fmt: skip
        if self.pid_file is not None:
            self.pid_file.write_text(f"{self.process.pid}\n")
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(f"the reference cloud exited with {self.process.returncode}; see {self.log}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.url}/healthz", timeout=0.5)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        await self.stop()
        raise RuntimeError(f"the reference cloud did not answer within {START_TIMEOUT_S:g} s; see {self.log}")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self.pid_file is not None and self.process is not None and _pid_in(self.pid_file) == self.process.pid:
            self.pid_file.unlink(missing_ok=True)


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
