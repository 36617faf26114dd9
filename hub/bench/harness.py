"""What every bench stands on: the throwaway store (``hub.throwaway``) it builds in a temporary folder (its
own Mosquitto on a free loopback port, bench tills with fresh secrets, the hub started
as its own process from a config), the raw-broker answerer for a baseline, phases that
warm up unmeasured and then measure, the tallies, percentiles and ratios of a report,
and the clean-up that stops everything started, even on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bus.broker import BrokerPlan, BrokerUser, ManagedBroker, find_mosquitto
from bus.client import RequestTimeout, StoreHubClient
from bus.passwords import hash_secret, new_secret
from hub.throwaway import Client, ExternalBus, HubDidNotStop, HubServer, ThrowawayStore, child_environment

#: The throwaway store's id; nothing outside the temporary folder ever sees it.
BENCH_STORE = "bench"

#: The device the tills ask.  The raw echoer answers any target; the hub has one
#: shared echo device, so every till's request goes through the same actor inbox.
BENCH_DEVICE = "echo-1"

#: The exclusive device tills take turns on in the contention bench.
BENCH_EXCLUSIVE_DEVICE = "echo-x"

BENCH_DEVICES = ((BENCH_DEVICE, "shared"), (BENCH_EXCLUSIVE_DEVICE, "exclusive"))

#: In the contention bench a till waits this long for its turn before counting an error.
CLAIM_WAIT_S = 30.0

#: A request unanswered this long counts as an error; far above any sane round trip,
#: short enough that a stuck phase still ends soon after its measured time.
REQUEST_TIMEOUT_S = 5.0

#: How long the bench tills may take to log in to the fresh broker.
CONNECT_TIMEOUT_S = 10.0

#: The echoer is a bare paho client: it is subscribed well within this.
ECHO_READY_TIMEOUT_S = 15.0

#: The hub runs its database migrations before it goes online; generous for a slow
#: machine under load.
HUB_READY_TIMEOUT_S = 60.0

#: SIGTERM first; the echoer or the hub still running after this is killed.
STOP_TIMEOUT_S = 10.0

#: How often start-up waits re-check that the child process is still alive.
POLL_INTERVAL_S = 0.05


def say(line: str) -> None:
    """Progress for the person watching; the report itself goes to stdout."""
    print(line, file=sys.stderr, flush=True)


# -- the throwaway store -------------------------------------------------------------


def bench_store_plan(root: Path, tills: int, staff: tuple[Client, ...] = ()) -> ThrowawayStore:
    """The store the bench builds and throws away: ``tills`` bench tills, the echo
    devices, and its hub logging in to the bench's own broker (``bench_broker``), which
    the raw phase needs before any hub runs.  A bench adds devices and clients to it
    before it enters ``hub_process``."""
    store = ThrowawayStore(
        root,
        BENCH_STORE,
        clients=[Client(f"bench-{n}", "till") for n in range(1, tills + 1)] + list(staff),
        devices=[{"id": device, "kind": "echo", "options": {"sharing": sharing}} for device, sharing in BENCH_DEVICES],
        log_level="warning",
        comment="Written by `storehub bench` for one run; thrown away after it.",
    )
    store.bus = ExternalBus(f"mqtt://127.0.0.1:{store.mqtt_port}", hub_password=new_secret())
    return store


def bench_tills(store: ThrowawayStore) -> list[Client]:
    return [client for client in store.clients if client.role == "till"]


def bench_broker(store: ThrowawayStore) -> ManagedBroker:
    """The bench's Mosquitto: the tills, the staff a bench brings and the hub may log in."""
    assert isinstance(store.bus, ExternalBus)
    plan = BrokerPlan(
        store=BENCH_STORE,
        users=tuple(BrokerUser(client.id, hash_secret(client.secret)) for client in store.clients),
        host="127.0.0.1",
        port=store.mqtt_port,
        websockets_port=None,
    )
    return ManagedBroker(plan, store.directory / "broker", hash_secret(store.bus.hub_password))


def cpu_count() -> int | None:
    """The CPUs this process may run on: its affinity where the platform has one."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# -- the two answerers ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def raw_echoer(store: ThrowawayStore) -> AsyncIterator[None]:
    """The baseline: ``hub.bench.echo`` logged in as the hub, answering every request."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.bench.echo",
        "--port",
        str(store.mqtt_port),
        "--store",
        BENCH_STORE,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=child_environment(),
        # Its own session: a Ctrl-C reaches the bench only, which then stops it in order.
        start_new_session=True,
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        assert isinstance(store.bus, ExternalBus)
        process.stdin.write(store.bus.hub_password.encode() + b"\n")
        await process.stdin.drain()
        try:
            line = await asyncio.wait_for(process.stdout.readline(), ECHO_READY_TIMEOUT_S)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            raise RuntimeError(f"the raw echoer did not start (exit code {process.returncode})")
        yield
    finally:
        await stop_process(process, "raw echoer")


@contextlib.asynccontextmanager
async def hub_process(
    store: ThrowawayStore,
    watcher: StoreHubClient,
    spawned: Callable[[HubServer], None] | None = None,
) -> AsyncIterator[HubServer]:
    """The real hub as its own process, yielded once it is online with its echo device idle.
    ``spawned`` hears of the process at once (the sync bench watches it from its first moment)."""
    say("hub: starting the hub…")
    store.write_config()
    hub = store.server
    hub.launch()
    try:
        if spawned is not None:
            spawned(hub)
        await wait_until_hub_ready(hub, watcher)
        yield hub
    finally:
        try:
            await asyncio.to_thread(hub.stop, STOP_TIMEOUT_S)
        except HubDidNotStop:
            say(f"hub: did not stop within {STOP_TIMEOUT_S:g} s; killed it")


async def wait_until_hub_ready(hub: HubServer, watcher: StoreHubClient) -> None:
    """Until ``hub/state`` says online and the echo device's retained state says idle."""
    seen: dict[str, Any] = {}
    ready = asyncio.Event()
    hub_state, device_state = watcher.topics.hub_state(), watcher.topics.device_state(BENCH_DEVICE)

    def note(topic: str, document: Any) -> None:
        seen[topic] = document
        hub_online = (seen.get(hub_state) or {}).get("state") == "online"
        device_idle = (seen.get(device_state) or {}).get("status") == "idle"
        if hub_online and device_idle:
            ready.set()

    unwatch = [watcher.watch("hub/state", note), watcher.watch(f"dev/{BENCH_DEVICE}/state", note)]
    try:
        deadline = time.monotonic() + HUB_READY_TIMEOUT_S
        while not ready.is_set():
            if hub.returncode is not None:
                raise RuntimeError(f"the hub exited with code {hub.returncode}:\n{hub.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the hub was not online within {HUB_READY_TIMEOUT_S:g} s:\n{hub.log()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), POLL_INTERVAL_S)
    finally:
        for stop in unwatch:
            stop()


async def stop_process(process: asyncio.subprocess.Process, name: str) -> None:
    """The raw echoer's stop: SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            say(f"{name}: did not stop within {STOP_TIMEOUT_S:g} s; killing it")
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


# -- the tills -----------------------------------------------------------------------


@dataclass
class PhaseTally:
    """One phase's answers; those to requests sent before ``measure_from`` are warm-up."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    last_answer_at: float = 0.0
    measure_from: float = -math.inf

    def record(self, sent: float, answered: float, *, ok: bool = True) -> None:
        """One request sent at ``sent`` and answered (or given up on) at ``answered``."""
        if sent < self.measure_from:
            return
        if ok:
            self.latencies.append(answered - sent)
        else:
            self.errors += 1
        self.last_answer_at = max(self.last_answer_at, answered)

    def latency_ms(self, percentiles: tuple[int, ...] = (50, 99), prefix: str = "") -> dict[str, float]:
        """``{prefix}p50_ms``, ``{prefix}p99_ms`` (or the percentiles asked for), then ``{prefix}max_ms``."""
        ordered = sorted(self.latencies)
        return {f"{prefix}p{p}_ms": percentile_ms(ordered, p) for p in percentiles} | {
            f"{prefix}max_ms": percentile_ms(ordered, 100)
        }


async def measure_phase(
    name: str, tills: list[StoreHubClient], *, seconds: float, warmup: float, rate: float = 0.0
) -> dict[str, Any]:
    """Every till echoes in a loop for ``warmup`` + ``seconds``; only the latter counts
    (``run_callers``)."""
    sent = [0] * len(tills)

    async def echo(index: int) -> bool:
        sent[index] += 1
        n = sent[index]
        try:
            response = await tills[index].request(BENCH_DEVICE, "echo", {"n": n}, timeout=REQUEST_TIMEOUT_S)
        except RequestTimeout:
            return False
        return response.ok and response.result == {"echo": {"n": n}}

    run = await run_callers(name, len(tills), echo, seconds=seconds, warmup=warmup, rate=rate, noun="till(s)")
    return summarize(run.tally, run.measured_s)


@dataclass
class CallerRun:
    tally: PhaseTally
    #: The measuring window as summarized: until the last answer in it arrived.
    measured_s: float
    #: From the end of the warm-up until every caller stopped.
    window_s: float


async def run_callers(
    name: str,
    count: int,
    ask: Callable[[int], Awaitable[bool]],
    *,
    seconds: float,
    warmup: float,
    rate: float = 0.0,
    noun: str = "caller(s)",
    on_measuring: Callable[[], None] | None = None,
) -> CallerRun:
    """``count`` callers each ``await ask(index)`` (True: answered right) in a loop for
    ``warmup`` + ``seconds``; only the latter counts.

    With ``rate`` 0 each caller asks again as soon as it has its answer (saturation).
    Otherwise it paces itself to ``rate`` requests a second, as a busy till would, so
    latency shows what a till sees under that load.  ``on_measuring`` runs when the
    warm-up ends.
    """
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + seconds
    tally = PhaseTally(measure_from=measure_from)

    async def caller_loop(index: int) -> None:
        await stagger(index, count, rate)
        while (sent := time.perf_counter()) < stop_at:
            ok = await ask(index)
            tally.record(sent, time.perf_counter(), ok=ok)
            await next_turn(sent, rate)

    async def announce_measuring() -> None:
        await asyncio.sleep(warmup)
        if on_measuring is not None:
            on_measuring()
        say(f"{name}: measuring {seconds:g} s…")

    pace = f" at {rate:g} requests/s each" if rate else " in a closed loop"
    say(f"{name}: warming up {warmup:g} s with {count} {noun}{pace}…")
    announcer = asyncio.create_task(announce_measuring())
    try:
        await asyncio.gather(*(caller_loop(index) for index in range(count)))
    finally:
        announcer.cancel()
    window_s = time.perf_counter() - measure_from
    # The window closes when the last answer in it arrived (at most one round trip late).
    measured_s = max(tally.last_answer_at - measure_from, seconds) if tally.last_answer_at else seconds
    return CallerRun(tally, measured_s, window_s)


async def stagger(index: int, count: int, rate: float) -> None:
    """Paced tills and scanners are not in step: spread their first requests over one interval."""
    if rate:
        await asyncio.sleep(index / (count * rate))


async def next_turn(sent: float, rate: float) -> None:
    """With ``rate``, wait until one interval after the last request was sent."""
    if rate:
        await asyncio.sleep(max(sent + 1 / rate - time.perf_counter(), 0))


def percentile_ms(ordered: list[float], p: float) -> float:
    """Nearest rank: the smallest latency at or above p percent of the sorted ones."""
    if not ordered:
        return 0.0
    return round(ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)] * 1000, 3)


def summarize(tally: PhaseTally, measured_s: float) -> dict[str, Any]:
    return {
        "requests": len(tally.latencies),
        "throughput": round(len(tally.latencies) / measured_s, 1),
        **tally.latency_ms((50, 90, 99)),
        "errors": tally.errors,
        "measured_s": round(measured_s, 3),
    }


def ratio(hub: float, raw: float) -> float:
    return round(hub / raw, 3) if raw else 0.0


@contextlib.asynccontextmanager
async def connected_tills(store: ThrowawayStore) -> AsyncIterator[list[StoreHubClient]]:
    tills = [
        StoreHubClient(store=BENCH_STORE, client_id=till.id, secret=till.secret, address=store.address)
        for till in bench_tills(store)
    ]
    connected: list[StoreHubClient] = []
    try:
        for till in tills:
            await till.connect(CONNECT_TIMEOUT_S)
            connected.append(till)
        yield tills
    finally:
        await asyncio.gather(*(till.close() for till in connected), return_exceptions=True)


@contextlib.asynccontextmanager
async def bench_store(
    tills: int, staff: tuple[Client, ...] = ()
) -> AsyncIterator[tuple[ThrowawayStore, list[StoreHubClient]]]:
    """A throwaway store with its Mosquitto running and ``tills`` bench tills logged in;
    ``staff`` (a manager, say) may log in too, and the bench connects them itself.

    The hub is not started: a bench adds its devices to ``store.devices`` and starts
    their simulators, then enters ``hub_process``.  Everything started here is
    stopped and the folder removed on the way out, on Ctrl-C and SIGTERM too.
    """
    if find_mosquitto() is None:
        raise RuntimeError("Mosquitto is not installed: `apt-get install mosquitto`")
    with stopped_by_sigterm(), tempfile.TemporaryDirectory(prefix="storehub-bench-") as folder:
        # Run as root, the broker files say `user root` (bus.broker), so Mosquitto can
        # read them inside this private folder.
        store = bench_store_plan(Path(folder), tills, staff)
        broker = bench_broker(store)
        say(f"broker: starting Mosquitto on 127.0.0.1:{store.mqtt_port}…")
        try:
            await broker.start()
            async with connected_tills(store) as connected:
                yield store, connected
        finally:
            await broker.stop()


@contextlib.contextmanager
def stopped_by_sigterm() -> Iterator[None]:
    """Let SIGTERM (a CI timeout, ``kill``) end the bench through its clean-up, as Ctrl-C does.

    The broker, echoer and hub run in their own sessions so that a Ctrl-C reaches only
    the bench; without this a plain ``kill`` of the bench would leave them running.
    Only installed where nobody else handles SIGTERM (not under a host that does).
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        say("bench: terminated; stopping everything it started…")
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        yield
    except asyncio.CancelledError:
        if terminated:
            raise SystemExit(128 + signal.SIGTERM) from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def mosquitto_version() -> str:
    executable = find_mosquitto()
    if executable is None:
        return "unknown"
    # `mosquitto -h` prints "mosquitto version 2.0.11" first (and exits non-zero).
    result = subprocess.run([executable, "-h"], capture_output=True, text=True, check=False)
    first = (result.stdout or result.stderr).splitlines()[:1]
    return first[0].removeprefix("mosquitto version ").strip() if first else "unknown"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


async def wait_until_online(till: StoreHubClient, devices: list[str], timeout: float = HUB_READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    for device in devices:
        while True:
            status = await till.request(device, "status")
            if status.ok:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{device} did not come online: {status.error}")
            await asyncio.sleep(POLL_INTERVAL_S)
