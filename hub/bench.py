"""``storehub bench rtt``: request round trips through the hub, next to the raw broker.

The bench builds a throwaway store in a temporary folder — its own Mosquitto on a free
loopback port, N bench tills with fresh secrets — and measures it twice with the same
tills doing the same thing, each in a closed loop (send, await the answer, send again):

1. **raw**: a plain paho client (``hub.bench_echo``) answers every request at once.
   This is the floor: two paho clients echoing through the same Mosquitto.
2. **hub**: the real hub, started as its own process from a config, answers through
   its request router and the ``echo`` diagnostic device actor.

Each phase warms up unmeasured, then measures.  Latency is taken per request with
``time.perf_counter`` in the till; throughput is answered requests per measured
second.  Everything started is stopped again, even on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import signal
import socket
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
from bus.mqtt import BrokerAddress
from bus.passwords import hash_secret, new_secret
from devices.gtin import gtin_check_digit
from devices.sim.escpos_printer import EscposPrinterSimulator
from devices.sim.scanner import SerialScannerSimulator

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

#: SIGTERM first; a process still running after this is killed.
STOP_TIMEOUT_S = 10.0

#: How often start-up waits re-check that the child process is still alive.
POLL_INTERVAL_S = 0.05


def say(line: str) -> None:
    """Progress for the person watching; the report itself goes to stdout."""
    print(line, file=sys.stderr, flush=True)


# -- the throwaway store -------------------------------------------------------------


@dataclass
class BenchStore:
    """Ports, logins and files of the store the bench builds and throws away."""

    root: Path
    mqtt_port: int
    api_port: int
    hub_password: str
    till_secrets: dict[str, str]
    till_hashes: dict[str, str] = field(default_factory=dict)
    #: More [[devices]] for the hub's config (the scan bench's scanners).
    extra_devices: str = ""
    #: Clients besides the tills, REST only: id -> (role, secret hash) (the api bench's cloud).
    other_clients: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: More sections for the hub's config, before the clients (the sync bench's [cloud]).
    extra_sections: str = ""

    @classmethod
    def create(cls, root: Path, tills: int) -> BenchStore:
        secrets = {f"bench-{n}": new_secret() for n in range(1, tills + 1)}
        mqtt_port, api_port = free_loopback_ports(2)
        store = cls(root, mqtt_port, api_port, new_secret(), secrets)
        store.till_hashes = {till: hash_secret(secret) for till, secret in secrets.items()}
        return store

    @property
    def address(self) -> BrokerAddress:
        return BrokerAddress("127.0.0.1", self.mqtt_port)

    def broker(self) -> ManagedBroker:
        plan = BrokerPlan(
            store=BENCH_STORE,
            users=tuple(BrokerUser(till, hashed) for till, hashed in self.till_hashes.items()),
            host="127.0.0.1",
            port=self.mqtt_port,
            websockets_port=None,
        )
        return ManagedBroker(plan, self.root / "broker", hash_secret(self.hub_password))

    def write_hub_config(self) -> Path:
        """The hub's config: the bench's broker as an external one, the tills, the echo devices."""
        quote = json.dumps  # a JSON string is a valid TOML basic string
        lines = [
            "# Written by `storehub bench rtt` for one run; thrown away after it.",
            f"store_id = {quote(BENCH_STORE)}",
            f"state_dir = {quote(str(self.root / 'hub-state'))}",
            'log_level = "warning"',
            "",
            "[bus]",
            'mode = "external"',
            f"url = {quote(f'mqtt://127.0.0.1:{self.mqtt_port}')}",
            f"hub_password = {quote(self.hub_password)}",
            "",
            "[api]",
            'host = "127.0.0.1"',
            f"port = {self.api_port}",
            self.extra_sections,
        ]
        clients = {till: ("till", hashed) for till, hashed in self.till_hashes.items()} | self.other_clients
        for client, (role, hashed) in clients.items():
            lines += [
                "",
                "[[clients]]",
                f"id = {quote(client)}",
                f"role = {quote(role)}",
                f"secret_hash = {quote(hashed)}",
            ]
        for device, sharing in BENCH_DEVICES:
            lines += [
                "",
                "[[devices]]",
                f"id = {quote(device)}",
                'kind = "echo"',
                f"options = {{ sharing = {quote(sharing)} }}",
            ]
        path = self.root / "storehub.toml"
        path.write_text("\n".join(lines) + "\n" + self.extra_devices)
        path.chmod(0o600)
        return path


def free_loopback_ports(count: int) -> list[int]:
    """Ports the kernel says are free on 127.0.0.1 (all held open at once, so distinct)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def cpu_count() -> int | None:
    """The CPUs this process may run on: its affinity where the platform has one."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def child_environment() -> dict[str, str]:
    """This environment without STOREHUB_* overrides, which would bend the bench's config."""
    return {k: v for k, v in os.environ.items() if not k.startswith("STOREHUB_")}


# -- the two answerers ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def raw_echoer(store: BenchStore) -> AsyncIterator[None]:
    """The baseline: ``hub.bench_echo`` logged in as the hub, answering every request."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.bench_echo",
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
        process.stdin.write(store.hub_password.encode() + b"\n")
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
    store: BenchStore,
    watcher: StoreHubClient,
    spawned: Callable[[asyncio.subprocess.Process], None] | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The real hub as its own process, yielded once it is online with its echo device idle.
    ``spawned`` hears of the process at once (the sync bench watches it from its first moment)."""
    say("hub: starting the hub…")
    config = store.write_hub_config()
    log_path = store.root / "hub.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub.cli",
            "run",
            "--config",
            str(config),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            env=child_environment(),
            start_new_session=True,
        )
    try:
        if spawned is not None:
            spawned(process)
        await wait_until_hub_ready(process, watcher, log_path)
        yield process
    finally:
        await stop_process(process, "hub")


async def wait_until_hub_ready(process: asyncio.subprocess.Process, watcher: StoreHubClient, log_path: Path) -> None:
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
            if process.returncode is not None:
                raise RuntimeError(f"the hub exited with code {process.returncode}:\n{tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the hub was not online within {HUB_READY_TIMEOUT_S:g} s:\n{tail(log_path)}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), POLL_INTERVAL_S)
    finally:
        for stop in unwatch:
            stop()


async def stop_process(process: asyncio.subprocess.Process, name: str) -> None:
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


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


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
async def connected_tills(store: BenchStore) -> AsyncIterator[list[StoreHubClient]]:
    tills = [
        StoreHubClient(store=BENCH_STORE, client_id=till, secret=secret, address=store.address)
        for till, secret in store.till_secrets.items()
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
async def bench_store(tills: int) -> AsyncIterator[tuple[BenchStore, list[StoreHubClient]]]:
    """A throwaway store with its Mosquitto running and ``tills`` bench tills logged in.

    The hub is not started: a bench adds its devices to ``store.extra_devices`` and
    starts their simulators, then enters ``hub_process``.  Everything started here is
    stopped and the folder removed on the way out, on Ctrl-C and SIGTERM too.
    """
    if find_mosquitto() is None:
        raise RuntimeError("Mosquitto is not installed: `apt-get install mosquitto`")
    with stopped_by_sigterm(), tempfile.TemporaryDirectory(prefix="storehub-bench-") as folder:
        # Run as root, the broker files say `user root` (bus.broker), so Mosquitto can
        # read them inside this private folder.
        store = BenchStore.create(Path(folder), tills)
        broker = store.broker()
        say(f"broker: starting Mosquitto on 127.0.0.1:{store.mqtt_port}…")
        try:
            await broker.start()
            async with connected_tills(store) as connected:
                yield store, connected
        finally:
            await broker.stop()


# -- the bench -----------------------------------------------------------------------


async def run_rtt_bench(*, clients: int, seconds: float, warmup: float, rate: float = 0.0) -> dict[str, Any]:
    """Measure both phases in one run; the dict ``hub.cli.report_table`` formats."""
    if clients < 1 or seconds <= 0 or warmup < 0 or rate < 0:
        raise ValueError("need at least one client, a positive measured time, a warm-up and a rate of 0 or more")
    async with bench_store(clients) as (store, tills):
        async with raw_echoer(store):
            raw = await measure_phase("raw", tills, seconds=seconds, warmup=warmup, rate=rate)
        async with hub_process(store, tills[0]):
            hub = await measure_phase("hub", tills, seconds=seconds, warmup=warmup, rate=rate)
    return {
        "clients": clients,
        "rate": rate,
        "seconds": seconds,
        "warmup": warmup,
        "cpus": cpu_count(),
        "python": platform.python_version(),
        "mosquitto": mosquitto_version(),
        "paho_mqtt": package_version("paho-mqtt"),
        "storehub": package_version("storehub"),
        "raw": raw,
        "hub": hub,
        "ratio": {
            "throughput": ratio(hub["throughput"], raw["throughput"]),
            "p50": ratio(hub["p50_ms"], raw["p50_ms"]),
            "p99": ratio(hub["p99_ms"], raw["p99_ms"]),
        },
    }


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


# -- contention ------------------------------------------------------------------------


async def measure_claim_cycles(
    name: str, tills: list[StoreHubClient], *, seconds: float, warmup: float
) -> dict[str, Any]:
    """Each till in turn: claim the exclusive device (waiting its turn), use it once, release.

    Claim latency runs from sending the claim to holding the device: the queue of tills
    ahead included, which is what a till at the checkout waits.
    """
    measure_from = time.perf_counter() + warmup
    stop_at = measure_from + seconds
    tally = PhaseTally(measure_from=measure_from)

    async def take_turns(till: StoreHubClient) -> None:
        while (asked := time.perf_counter()) < stop_at:
            try:
                claim = await till.request(
                    BENCH_EXCLUSIVE_DEVICE, "claim", {"lease_s": 10, "wait_s": CLAIM_WAIT_S}, timeout=CLAIM_WAIT_S + 5
                )
                granted = time.perf_counter()
                used = claim.ok and (await till.request(BENCH_EXCLUSIVE_DEVICE, "echo", {})).ok
                released = claim.ok and (await till.request(BENCH_EXCLUSIVE_DEVICE, "release")).ok
                ok = claim.ok and used and released
            except RequestTimeout:
                ok, granted = False, time.perf_counter()
            tally.record(asked, granted, ok=ok)

    say(f"{name}: {len(tills)} till(s) taking turns on {BENCH_EXCLUSIVE_DEVICE}…")
    await asyncio.gather(*(take_turns(till) for till in tills))
    return {
        "cycles": len(tally.latencies),
        "cycles_per_s": round(len(tally.latencies) / seconds, 1),
        **tally.latency_ms(prefix="claim_"),
        "errors": tally.errors,
    }


async def run_contention_bench(*, tills: int, seconds: float, warmup: float) -> dict[str, Any]:
    """Uncontended first, then N tills taking turns on one exclusive device while N
    others queue jobs on one shared device, all against one hub in one run."""
    if tills < 1 or seconds <= 0 or warmup < 0:
        raise ValueError("need at least one till, a positive measured time and a warm-up of 0 s or more")
    async with bench_store(2 * tills + 1) as (store, everyone):
        solo, claimers, queuers = everyone[0], everyone[1 : tills + 1], everyone[tills + 1 :]
        async with hub_process(store, solo):
            alone = await measure_phase("uncontended jobs", [solo], seconds=seconds, warmup=warmup)
            alone_claims = await measure_claim_cycles("uncontended claims", [solo], seconds=seconds, warmup=warmup)
            claims, jobs = await asyncio.gather(
                measure_claim_cycles("contended claims", claimers, seconds=seconds, warmup=warmup),
                measure_phase("contended jobs", queuers, seconds=seconds, warmup=warmup),
            )
    return {
        "tills": tills,
        "seconds": seconds,
        "warmup": warmup,
        "cpus": cpu_count(),
        "storehub": package_version("storehub"),
        "uncontended": {"jobs": alone, "claims": alone_claims},
        "contended": {"jobs": jobs, "claims": claims},
        "ratio": {
            "claim_p50": ratio(claims["claim_p50_ms"], alone_claims["claim_p50_ms"]),
            "jobs_throughput": ratio(jobs["throughput"], alone["throughput"]),
        },
    }


# -- scans ------------------------------------------------------------------------------

#: In-store GTIN-13s (prefix 2) numbered from here, so every scan of a run is distinct.
SCAN_CODE_BASE = 200_000_000_000

#: A scan not at its till within this long counts as an error.
SCAN_TIMEOUT_S = 5.0


def scan_code(number: int) -> str:
    body = f"{SCAN_CODE_BASE + number:012d}"
    return body + str(gtin_check_digit(body))


class ScanInbox:
    """A till's scans, matched to the code it is waiting for.  Subscribed once, up
    front: a subscription made just before a scan could miss it."""

    def __init__(self, till: StoreHubClient) -> None:
        self.till = till
        self.waiting: dict[str, asyncio.Future[float]] = {}
        till.on_event(self._arrived)

    def _arrived(self, event: Any) -> None:
        future = self.waiting.get(event.data.get("code", "")) if event.type == "scan" else None
        if future is not None and not future.done():
            future.set_result(time.perf_counter())


async def measure_scans(
    name: str,
    pairs: list[tuple[ScanInbox, SerialScannerSimulator]],
    *,
    seconds: float,
    warmup: float,
    rate: float = 0.0,
) -> dict[str, Any]:
    """Each scanner scans, waits until its till has the code, scans again.

    Latency runs from the simulator writing the code on its serial line to the till
    receiving the ``scan`` event: the hub's serial read, decoding and the bus included.
    """
    numbers = iter(range(10**9))
    measure_from = time.perf_counter() + warmup
    stop_at = measure_from + seconds
    tally = PhaseTally(measure_from=measure_from)

    async def scan_loop(inbox: ScanInbox, scanner: SerialScannerSimulator, index: int) -> None:
        await stagger(index, len(pairs), rate)
        while (sent := time.perf_counter()) < stop_at:
            code = scan_code(next(numbers))
            arrival = inbox.waiting[code] = asyncio.get_running_loop().create_future()
            scanner.scan(code)
            try:
                received = await asyncio.wait_for(arrival, SCAN_TIMEOUT_S)
                ok = True
            except TimeoutError:
                received, ok = time.perf_counter(), False
            inbox.waiting.pop(code, None)
            tally.record(sent, received, ok=ok)
            await next_turn(sent, rate)

    pace = f" at {rate:g} scans/s each" if rate else ""
    say(f"{name}: {len(pairs)} scanner(s) scanning{pace} for {warmup:g} s warm-up + {seconds:g} s…")
    await asyncio.gather(*(scan_loop(inbox, scanner, i) for i, (inbox, scanner) in enumerate(pairs)))
    return {
        "scans": len(tally.latencies),
        "scans_per_s": round(len(tally.latencies) / seconds, 1),
        **tally.latency_ms((50, 90, 99)),
        "errors": tally.errors,
    }


#: The receipt the print phase sends: a short sale, as most are.
BENCH_RECEIPT = [
    {"type": "text", "text": "Магазин у дома", "bold": True, "align": "center"},
    {"type": "kv", "key": "Молоко 1л", "value": "89.90"},
    {"type": "kv", "key": "Хлеб", "value": "45.00"},
    {"type": "line"},
    {"type": "kv", "key": "ИТОГО", "value": "134.90"},
    {"type": "barcode", "code": "4601234567893"},
    {"type": "cut"},
]


async def measure_prints(tills: list[StoreHubClient], *, seconds: float) -> dict[str, Any]:
    """Tills printing receipts on one printer as fast as it takes them."""
    tally = PhaseTally()
    stop_at = time.perf_counter() + seconds

    async def print_loop(till: StoreHubClient) -> None:
        while (sent := time.perf_counter()) < stop_at:
            response = await till.request("printer-1", "print", {"blocks": BENCH_RECEIPT}, timeout=REQUEST_TIMEOUT_S)
            tally.record(sent, time.perf_counter(), ok=response.ok)

    say(f"printing: {len(tills)} till(s) printing receipts for {seconds:g} s…")
    await asyncio.gather(*(print_loop(till) for till in tills))
    return {
        "receipts": len(tally.latencies),
        "receipts_per_s": round(len(tally.latencies) / seconds, 1),
        **tally.latency_ms(),
        "errors": tally.errors,
    }


async def run_scan_bench(*, scanners: int, seconds: float, warmup: float, rate: float = 0.0) -> dict[str, Any]:
    """One scanner alone, then every scanner at once, each claimed by its own till;
    then the tills printing receipts on one simulated network printer."""
    if scanners < 1 or seconds <= 0 or warmup < 0 or rate < 0:
        raise ValueError("need at least one scanner, a positive measured time and a warm-up of 0 s or more")
    async with bench_store(scanners) as (store, tills):
        simulators = [SerialScannerSimulator(store.root / "dev" / f"scanner-{n}") for n in range(1, scanners + 1)]
        printer = EscposPrinterSimulator()
        await printer.start()
        try:
            for simulator in simulators:
                simulator.start()
            store.extra_devices = (
                "".join(
                    f'\n[[devices]]\nid = "scanner-{n}"\nkind = "scanner"\ndriver = "serial"\nport = "{sim.link}"\n'
                    for n, sim in enumerate(simulators, start=1)
                )
                + f'\n[[devices]]\nid = "printer-1"\nkind = "receipt_printer"\ndriver = "network"\nport = "{printer.address}"\n'
            )
            async with hub_process(store, tills[0]):
                pairs = [(ScanInbox(till), sim) for till, sim in zip(tills, simulators, strict=True)]
                for n, till in enumerate(tills, start=1):
                    claim = await till.request(f"scanner-{n}", "claim", {"lease_s": 600})
                    if not claim.ok:
                        raise RuntimeError(f"bench till could not claim scanner-{n}: {claim.error}")
                await wait_until_online(tills[0], [f"scanner-{n}" for n in range(1, scanners + 1)])
                alone = await measure_scans("one scanner", pairs[:1], seconds=seconds, warmup=warmup, rate=rate)
                together = await measure_scans(f"{scanners} scanners", pairs, seconds=seconds, warmup=warmup, rate=rate)
                await wait_until_online(tills[0], ["printer-1"])
                prints = await measure_prints(tills, seconds=seconds)
                rendered = len(printer.receipts)
                if rendered < prints["receipts"]:
                    raise RuntimeError(f"the printer rendered {rendered} receipts of {prints['receipts']} answered")
        finally:
            await printer.stop()
            for simulator in simulators:
                if simulator.running:
                    simulator.stop()
    return {
        "scanners": scanners,
        "rate": rate,
        "seconds": seconds,
        "warmup": warmup,
        "cpus": cpu_count(),
        "storehub": package_version("storehub"),
        "alone": alone,
        "together": together,
        "prints": prints,
        "ratio": {"p50": ratio(together["p50_ms"], alone["p50_ms"]), "p99": ratio(together["p99_ms"], alone["p99_ms"])},
    }


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
