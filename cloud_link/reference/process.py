"""The reference cloud as a process of its own, for the demo and the sync bench:
started from a config file, waited for until it answers, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import httpx

#: `storehub cloud serve` gets this long to answer /healthz before the caller gives up.
START_TIMEOUT_S = 15.0

#: After SIGTERM, how long the cloud may take to finish its answers and close its database.
STOP_TIMEOUT_S = 10.0


class CloudServer:
    def __init__(self, config: Path, url: str, log: Path) -> None:
        self.config = config
        self.url = url
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cloud_link.reference.cli", "cloud", "serve", "--config", str(self.config),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
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
