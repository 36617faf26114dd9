"""Mosquitto's configuration for a store, and a supervised Mosquitto child process.

The ACL implements DESIGN.md's identity-by-topic rule: a client writes and reads only
under its own ``client/{username}/``, reads ``hub/#`` and ``dev/+/state``; technicians
read the whole store; the hub's own user may do anything in the store's tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bus.topics import ROOT, VERSION

log = logging.getLogger(__name__)

#: The MQTT username the hub itself logs in with.  Reserved: no client may take it.
HUB_USERNAME = "hub"

#: The broker refuses packets above this.  It is well above the hub's own request
#: limit so that an oversized request still reaches the hub and gets a structured
#: ``invalid_request`` back instead of a silent disconnect.
BROKER_MAX_PACKET_BYTES = 4 * 1024 * 1024

#: How long start-up waits for a fresh Mosquitto to accept connections.
BROKER_START_TIMEOUT_S = 10.0

#: A crashed broker is restarted after this pause, doubling up to the cap.
RESTART_BACKOFF_MIN_S = 0.2
RESTART_BACKOFF_MAX_S = 10.0


@dataclass(frozen=True, slots=True)
class BrokerUser:
    username: str
    password_hash: str
    reads_everything: bool = False


@dataclass(frozen=True, slots=True)
class BrokerPlan:
    """Everything needed to write a store's Mosquitto files."""

    store: str
    users: tuple[BrokerUser, ...]
    host: str = "127.0.0.1"
    port: int = 1883
    websockets_port: int | None = 9001
    #: Mosquitto 2.0 binds its WebSockets listener to an interface, not an address;
    #: None means every interface.
    websockets_interface: str | None = "lo"


def render_acl(plan: BrokerPlan) -> str:
    store = f"{ROOT}/{VERSION}/{plan.store}"
    lines = [
        f"# StoreHub ACL for store {plan.store}. Written by the hub; edits are overwritten.",
        "# Identity comes from the topic: every client owns client/<its username>/ only.",
        f"pattern readwrite {store}/client/%u/#",
        f"pattern read {store}/hub/#",
        f"pattern read {store}/dev/+/state",
        "",
        "# The hub itself.",
        f"user {HUB_USERNAME}",
        f"topic readwrite {store}/#",
    ]
    for user in plan.users:
        if user.reads_everything:
            lines += ["", "# A technician sees the whole store.", f"user {user.username}", f"topic read {store}/#"]
    return "\n".join(lines) + "\n"


def render_passwords(plan: BrokerPlan, hub_password_hash: str) -> str:
    entries = [f"{HUB_USERNAME}:{hub_password_hash}"]
    entries += [f"{user.username}:{user.password_hash}" for user in plan.users]
    return "\n".join(entries) + "\n"


def render_conf(plan: BrokerPlan, workdir: Path, *, managed: bool = True) -> str:
    """The broker's conf; ``managed=False`` leaves process settings to the system's Mosquitto."""
    lines = [
        "# Mosquitto for StoreHub. Written by the hub; edits are overwritten.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {workdir / 'passwd'}",
        f"acl_file {workdir / 'acl'}",
        "persistence true",
        f"max_packet_size {BROKER_MAX_PACKET_BYTES}",
        # Without it a request/response pair waits on Nagle's algorithm: ~40 ms a hop.
        "set_tcp_nodelay true",
    ]
    if managed:
        lines += [
            f"persistence_location {workdir / 'data'}/",
            f"pid_file {workdir / 'mosquitto.pid'}",
            f"log_dest file {workdir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
    if managed and os.geteuid() == 0:
        # Started as root, Mosquitto drops to the `mosquitto` user, which cannot read
        # files in a private state folder.  Production runs the hub as its own user.
        lines.append("user root")
    lines += ["", f"listener {plan.port} {plan.host}", "protocol mqtt"]
    if plan.websockets_port:
        bind = f" {plan.websockets_interface}" if plan.websockets_interface else ""
        lines += ["", "# For browser tills.", f"listener {plan.websockets_port}{bind}", "protocol websockets"]
    return "\n".join(lines) + "\n"


def write_broker_files(plan: BrokerPlan, workdir: Path, hub_password_hash: str, *, managed: bool = True) -> Path:
    """Write conf, password file and ACL into ``workdir``; returns the conf path.

    For a system Mosquitto (``managed=False``) the files are readable by its group, so
    ``chgrp mosquitto`` lets the broker read them after it drops root.
    """
    mode = 0o600 if managed else 0o640
    workdir.mkdir(parents=True, exist_ok=True)
    if managed:
        (workdir / "data").mkdir(exist_ok=True)
    _write_file(workdir / "passwd", render_passwords(plan, hub_password_hash), mode)
    _write_file(workdir / "acl", render_acl(plan), mode)
    conf = workdir / "mosquitto.conf"
    _write_file(conf, render_conf(plan, workdir, managed=managed), mode)
    return conf


def _write_file(path: Path, text: str, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def find_mosquitto() -> str | None:
    """Debian installs the broker in /usr/sbin, which is not on a normal user's PATH."""
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )


def accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class BrokerUnavailable(Exception):
    pass


def stop_stale_broker(workdir: Path, timeout: float = 5.0) -> bool:
    """Stop a broker a previous hub left running (it outlives a crashed hub on purpose).

    The broker runs in its own session so that when the hub dies it is still there to
    deliver the hub's Last Will.  The next start replaces it.  Returns True if one was
    found.
    """
    return stop_leftover(
        workdir / "mosquitto.pid", mentions=("mosquitto", str(workdir)), what="the broker", timeout=timeout
    )


def stop_leftover(pid_file: Path, *, mentions: tuple[str, ...], what: str, timeout: float = 5.0) -> bool:
    """Stop the process ``pid_file`` names, a leftover of a run that was killed, if its
    command line mentions each of ``mentions`` (else the pid is another program's by
    now): SIGTERM, then SIGKILL after ``timeout``.  Returns True if there was one."""
    try:
        process = psutil.Process(int(pid_file.read_text().strip()))
        ours = _running(process) and all(any(word in part for part in process.cmdline()) for word in mentions)
    except (OSError, ValueError, psutil.Error):
        return False
    if not ours:
        return False
    log.warning("stopping %s (pid %s) that a killed run left running", what, process.pid)
    with contextlib.suppress(psutil.NoSuchProcess):
        process.terminate()
        deadline = time.monotonic() + timeout
        while _running(process) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _running(process):
            process.kill()
    return True


def _running(process: psutil.Process) -> bool:
    """Running, and not a zombie: a leftover's parent is gone, and where nobody reaps
    orphans (a container's init) it stays a zombie that no waiting ends."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class ManagedBroker:
    """A Mosquitto child process the hub owns: started, watched, restarted, stopped."""

    def __init__(self, plan: BrokerPlan, workdir: Path, hub_password_hash: str) -> None:
        self.plan = plan
        self.workdir = workdir
        self.hub_password_hash = hub_password_hash
        self._process: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        executable = find_mosquitto()
        if executable is None:
            raise BrokerUnavailable(
                "Mosquitto is not installed: `apt-get install mosquitto` (make run does it for you)"
            )
        self._executable = executable
        await asyncio.to_thread(stop_stale_broker, self.workdir)
        self.conf = write_broker_files(self.plan, self.workdir, self.hub_password_hash)
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name="broker-watcher")

    async def _spawn(self) -> None:
        if accepts_connections(self.plan.host, self.plan.port):
            raise BrokerUnavailable(f"port {self.plan.host}:{self.plan.port} is already taken by another program")
        self._process = await asyncio.create_subprocess_exec(
            self._executable,
            "-c",
            str(self.conf),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            # Its own session: a Ctrl-C meant for the hub does not reach it, and it
            # outlives a crashed hub long enough to publish the hub's Last Will.
            start_new_session=True,
        )
        deadline = time.monotonic() + BROKER_START_TIMEOUT_S
        while not accepts_connections(self.plan.host, self.plan.port):
            if self._process.returncode is not None or time.monotonic() > deadline:
                stderr = b""
                if self._process.returncode is not None and self._process.stderr:
                    stderr = await self._process.stderr.read()
                raise BrokerUnavailable(
                    f"Mosquitto did not start on {self.plan.host}:{self.plan.port}: "
                    f"{stderr.decode(errors='replace').strip() or self.log_tail()}"
                )
            await asyncio.sleep(0.02)
        log.info("broker pid %s listening on %s:%s", self._process.pid, self.plan.host, self.plan.port)

    async def _watch(self) -> None:
        backoff = RESTART_BACKOFF_MIN_S
        while not self._stopping:
            assert self._process is not None
            code = await self._process.wait()
            if self._stopping:
                return
            log.error("broker exited with code %s; restarting in %.1f s", code, backoff)
            await asyncio.sleep(backoff)
            try:
                await self._spawn()
                self.restarts += 1
                backoff = RESTART_BACKOFF_MIN_S
            except BrokerUnavailable as exc:
                log.error("broker restart failed: %s", exc)
                backoff = min(backoff * 2, RESTART_BACKOFF_MAX_S)

    async def stop(self) -> None:
        self._stopping = True
        if self._watcher:
            self._watcher.cancel()
        if self.running:
            assert self._process is not None
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()

    def log_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join((self.workdir / "mosquitto.log").read_text().splitlines()[-lines:])
        except OSError:
            return ""
