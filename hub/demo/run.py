"""The demo running: one demo a folder (a lock the kernel lets go of however it dies),
what a killed one left behind, and the reference cloud, the simulated peripherals and
the hub started in that order and stopped in reverse.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from hub.config import StoreHubConfig
from hub.demo.peripherals import DemoPeripherals
from hub.demo.ports import DemoPorts

#: Held (flock) by the running demo of a folder; the kernel lets go when the demo dies,
#: however it dies, so whoever gets it knows what runs from that folder is left over.
LOCK_FILE = "demo.lock"

#: The reference cloud's pid, beside its config, for the next demo to check.
CLOUD_PID_FILE = "cloud.pid"


class DemoRunning(Exception):
    pass


def hold_demo_folder(directory: Path) -> IO[str]:
    """Claim ``directory`` for this demo until the process ends (keep the returned file
    open); raises ``DemoRunning`` when a live demo holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = open(directory / LOCK_FILE, "a+")  # not inherited: children never hold it
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise DemoRunning(f"a demo (pid {holder}) is already running in {directory}; stop it, or give --dir") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def stop_leftovers(directory: Path) -> None:
    """What a demo in ``directory`` that was killed (SIGKILL, a closed terminal) left
    running, stopped before the ports are checked (call it holding the folder): its
    broker, which outlives the hub on purpose to deliver the hub's Last Will, and a
    reference cloud the kernel did not stop with it."""
    from bus.broker import stop_stale_broker
    from cloud_link.reference.process import stop_leftover_cloud

    stop_stale_broker(directory / "state" / "broker")
    stop_leftover_cloud(directory / "cloud" / CLOUD_PID_FILE, directory / "cloud" / "cloud.toml")


async def run_demo(config: StoreHubConfig, directory: Path, ports: DemoPorts) -> None:
    from cloud_link.reference.process import CloudServer
    from hub.app import run_hub

    peripherals = DemoPeripherals(directory.resolve(), ports)
    folder = directory.resolve() / "cloud"
    cloud = CloudServer(
        folder / "cloud.toml", f"http://127.0.0.1:{ports.cloud}", folder / "cloud.log", pid_file=folder / CLOUD_PID_FILE
    )
    await cloud.async_start()
    try:
        await peripherals.start()
        try:
            await run_hub(config)
        finally:
            await peripherals.stop()
    finally:
        await cloud.async_stop()
