"""storehub: run the hub, try it in demo mode, check a config, benchmark it.

The first line is also `storehub --help`'s description, so it stays plain text.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from hub.config import DEFAULT_CONFIG_PATH, ConfigError, StoreHubConfig, load_config

log = logging.getLogger("storehub")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="storehub", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the hub from a config file")
    _config_option(run)

    demo = commands.add_parser(
        "demo", help="run the hub with a demo store: its own broker, example clients and a simulated checkout"
    )
    demo.add_argument("--dir", type=Path, default=Path(".storehub-demo"), help="where the demo keeps its state")
    demo.add_argument("--print-config", action="store_true", help="write the demo config and credentials, then exit")
    demo.add_argument(
        "--port-base",
        type=_port_base,
        metavar="N",
        help="listen on ports N to N+5 instead of the defaults (1884, 9002, 8080, 8090, 19100, 21007), "
        "so two demos run side by side; the demo writes them to DIR/ports.json",
    )
    demo.add_argument(
        "--secret",
        metavar="CLIENT",
        help="print CLIENT's secret from the demo's credentials and exit: SECRET=$(storehub demo --secret till-1)",
    )

    sim = commands.add_parser(
        "sim",
        help="drive the demo's simulated peripherals: `storehub sim list`, `storehub sim scanner-1 scan code=4601234567893`",
    )
    sim.add_argument(
        "--dir", type=Path, default=Path(".storehub-demo"), help="the demo's folder (default .storehub-demo)"
    )
    sim.add_argument("device", help="a simulated device id, or `list`")
    sim.add_argument("action", nargs="?", help="what to do (`storehub sim list` shows what each device can)")
    sim.add_argument("args", nargs="*", metavar="KEY=VALUE", help="arguments; values are read as JSON when they parse")
    _sim_serve_options(sim)

    sync = commands.add_parser(
        "sync",
        help="the cloud link: `storehub sync state`, `pause` (a WAN outage drill: the store keeps selling), `resume`",
    )
    sync.add_argument("what", choices=("state", "pause", "resume"), help="what to do")
    sync.add_argument("--api", help="the hub's REST address (default: the demo's, from --dir)")
    sync.add_argument(
        "--token",
        default=os.environ.get("STOREHUB_TOKEN"),
        help="a technician's ID:SECRET (default: env STOREHUB_TOKEN, else the demo's tech-1)",
    )
    sync.add_argument(
        "--dir", type=Path, default=Path(".storehub-demo"), help="the demo's folder (default .storehub-demo)"
    )
    _json_option(sync)

    from cloud_link.reference.cli import add_cloud_parser

    add_cloud_parser(commands, admin_options=_demo_dir_option)

    devices_cmd = commands.add_parser("devices", help="look at the box's hardware")
    device_commands = devices_cmd.add_subparsers(dest="devices", required=True, metavar="WHAT")
    scan_inputs = device_commands.add_parser(
        "scan-inputs", help="list input devices that could be keyboard-wedge scanners, with config to paste"
    )
    scan_inputs.add_argument("--json", action="store_true", help="print JSON instead of text")

    check = commands.add_parser("check-config", help="validate a config file and name every bad field")
    _config_option(check)

    hash_cmd = commands.add_parser("hash-secret", help="hash a client secret for the config (reads stdin or asks)")
    hash_cmd.add_argument("--generate", action="store_true", help="make up a new secret and print both")

    broker = commands.add_parser("broker-files", help="write Mosquitto's conf, password file and ACL for a store")
    _config_option(broker)
    broker.add_argument("--out", type=Path, required=True, help="folder to write them into")

    bench = commands.add_parser("bench", help="measure the hub (see `storehub bench rtt --help`)")
    benches = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    rtt = benches.add_parser("rtt", help="request/response round trips through the hub vs. the raw broker")
    rtt.add_argument("--clients", type=int, default=1, help="concurrent clients (default 1)")
    _bench_options(rtt, rate="requests per second per client")
    _json_option(rtt)
    contention = benches.add_parser(
        "contention", help="N tills taking turns on one exclusive device while N queue jobs on one shared device"
    )
    contention.add_argument("--tills", type=int, default=10, help="tills on each device (default 10)")
    _bench_options(contention)
    _json_option(contention)
    scan = benches.add_parser(
        "scan", help="scan-to-till latency (one scanner, then N at once), then receipt throughput to a network printer"
    )
    scan.add_argument("--scanners", type=int, default=20, help="scanners, each claimed by its own till (default 20)")
    _bench_options(scan, rate="scans per second per scanner")
    _json_option(scan)

    fiscal = benches.add_parser(
        "fiscal",
        help="receipts per minute through the hub to the fiscal register at its line speed, beside the wire floor",
    )
    _bench_options(fiscal, seconds=10.0, phases=False)
    fiscal.add_argument("--lines", type=int, default=10, help="lines per receipt (default 10)")
    fiscal.add_argument("--baudrate", type=int, default=115200, help="the register's line speed (default 115200)")
    _json_option(fiscal)

    api = benches.add_parser(
        "api",
        help="product lookups through the store API beside /healthz, and the outbox's append rate (single vs batched)",
    )
    api.add_argument("--callers", type=int, default=50, help="concurrent callers, one connection each (default 50)")
    api.add_argument(
        "--rate",
        type=float,
        default=4.0,
        help="lookups per second per caller in the paced phases; 0 = closed loop only (default 4)",
    )
    _bench_options(api)
    api.add_argument(
        "--outbox-dir",
        type=Path,
        default=None,
        help="where the outbox's throwaway SQLite file goes (default: the temp folder)",
    )
    _json_option(api)

    sync_bench = benches.add_parser(
        "sync", help="drain rate of an outage's backlog to the reference cloud, and the hub's memory meanwhile"
    )
    sync_bench.add_argument("--events", type=int, default=100_000, help="the backlog (default 100000)")
    sync_bench.add_argument(
        "--small", type=int, default=10_000, help="the smaller backlog RSS is compared with (default 10000)"
    )
    sync_bench.add_argument("--batch", type=int, default=1000, help="events per pushed batch (default 1000)")
    _json_option(sync_bench)

    args = parser.parse_args(argv)
    handler = {
        "run": _run,
        "demo": _demo,
        "check-config": _check_config,
        "sim": _sim,
        "devices": _devices,
        "hash-secret": _hash_secret,
        "broker-files": _broker_files,
        "bench": _bench,
        "sync": _sync,
        "cloud": _cloud,
    }[args.command]
    try:
        return handler(args)
    except BrokenPipeError:
        # `storehub … | head`: the reader has what it wanted.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _port_base(text: str) -> int:
    from hub.demo.ports import PORT_SPAN

    base = int(text) if text.isdigit() else 0
    if not 1024 <= base <= 65536 - PORT_SPAN:
        raise argparse.ArgumentTypeError(f"a port base is 1024 to {65536 - PORT_SPAN}")
    return base


def _demo_dir_option(command: argparse.ArgumentParser) -> None:
    """`storehub cloud` comes from cloud_link, which knows nothing of the demo: each of its
    commands that talks to a cloud gets the demo's ``--dir``, as `sim` and `sync` have."""
    command.add_argument(
        "--dir",
        type=Path,
        default=Path(".storehub-demo"),
        help="the demo whose cloud this is, when --url and --admin-token-file are not given "
        "(default .storehub-demo; its ports.json says the port)",
    )


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG_PATH, help=f"config file (default {DEFAULT_CONFIG_PATH})"
    )


def _bench_options(
    parser: argparse.ArgumentParser, *, seconds: float = 5.0, phases: bool = True, rate: str | None = None
) -> None:
    """``--seconds``; for a bench in phases ``--warmup`` too; with ``rate`` (what is paced) ``--rate``."""
    per_phase = " per phase" if phases else ""
    parser.add_argument(
        "--seconds", type=float, default=seconds, help=f"measured time{per_phase} (default {seconds:g})"
    )
    if phases:
        parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured time before each phase (default 1)")
    if rate:
        parser.add_argument("--rate", type=float, default=0.0, help=f"{rate}; 0 (default) = as fast as answered")


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")


def _load_or_explain(path: Path) -> StoreHubConfig | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{exc.path}: invalid configuration", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def setup_logging(level: str) -> None:
    # force: the demo's seeding (Alembic) may have set up the root logger already.
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr, force=True
    )
    # Migrations announce every step at INFO; a technician needs only problems.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # The cloud link's HTTP client logs every request and socket event at DEBUG/INFO;
    # the link logs what matters itself.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    quiet_escpos_chatter()


#: What python-escpos says on the root logger (``logging.info``, not a logger of its
#: own) at every connection to a network printer: twice a receipt, and the idle checks.
ESCPOS_CHATTER = frozenset({"Network printer enabled", "Closing Network connection to printer %s"})


def _demote_escpos_chatter(record: logging.LogRecord) -> bool:
    """python-escpos's per-connection lines count as DEBUG; every other record passes as it is."""
    if record.name != "root" or record.msg not in ESCPOS_CHATTER or record.levelno != logging.INFO:
        return True
    record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return logging.getLogger().isEnabledFor(logging.DEBUG)


def quiet_escpos_chatter() -> None:
    """On the root logger itself, because python-escpos logs there: its handlers
    (and pytest's) never see the chatter above DEBUG.  Idempotent."""
    root = logging.getLogger()
    if _demote_escpos_chatter not in root.filters:
        root.addFilter(_demote_escpos_chatter)


def _serve(config: StoreHubConfig, main: Callable[[], Coroutine[Any, Any, None]] | None = None) -> int:
    from hub.app import run_hub

    setup_logging(config.log_level)
    try:
        asyncio.run(main() if main else run_hub(config))
    except Exception as exc:  # a start-up failure: say what, not a traceback
        log.error("the hub could not start: %s", exc, exc_info=config.log_level == "debug")
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    config = _load_or_explain(args.config)
    return 2 if config is None else _serve(config)


def _demo(args: argparse.Namespace) -> int:
    from hub.demo.ports import PORT_SPAN, DemoPorts, ports_taken_message
    from hub.demo.run import DemoRunning, hold_demo_folder, stop_leftovers
    from hub.demo.store import demo_secret, prepare_demo

    if args.secret:
        secret = demo_secret(args.dir, args.secret)
        if secret is None:
            print(f"no client {args.secret!r} in a demo at {args.dir}: start it with `make run` first", file=sys.stderr)
            return 2
        print(secret)
        return 0
    ports = DemoPorts() if args.port_base is None else DemoPorts.from_base(args.port_base)
    try:
        # Also for --print-config: a running demo's config and ports.json stay as it wrote them.
        _held = hold_demo_folder(args.dir.resolve())  # the lock lasts as long as this call
    except DemoRunning as exc:
        print(f"storehub demo: {exc}", file=sys.stderr)
        return 1
    if not args.print_config:
        # Before anything starts or is rewritten: a port in use fails now, by name,
        # not halfway through the start-up with a bind error.
        stop_leftovers(args.dir.resolve())
        taken = ports.taken()
        if taken:
            print(f"storehub demo: {ports_taken_message(taken)}", file=sys.stderr)
            return 1
    config_path, credentials = prepare_demo(args.dir, ports)
    config = _load_or_explain(config_path)
    if config is None:
        return 2
    print(credentials.banner(config), flush=True)
    if args.port_base is not None:
        print(
            f"Ports {args.port_base}-{args.port_base + PORT_SPAN - 1}, written to {args.dir / 'ports.json'}: "
            f"give `storehub sim`, `storehub sync` and `storehub cloud …` --dir {args.dir}",
            flush=True,
        )
    if args.print_config:
        return 0
    from hub.demo.run import run_demo
    from hub.demo.store import seed_demo_store

    print(seed_demo_store(config), flush=True)

    return _serve(config, lambda: run_demo(config, args.dir, ports))


def _sim_serve_options(sim: argparse.ArgumentParser) -> None:
    from devices.sim.serve import KINDS

    serve = sim.add_argument_group(
        "storehub sim serve KIND [--pty PATH | --port N]",
        f"run one simulator ({', '.join(KINDS)}) in the foreground for another driver, until Ctrl-C",
    )
    serve.add_argument("--pty", type=Path, metavar="PATH", help="make the simulator's pty reachable at this link")
    serve.add_argument("--port", type=int, metavar="N", help="listen on 127.0.0.1:N (default: a free port)")


def _sim_serve(args: argparse.Namespace) -> int:
    from devices.sim.serve import ServeError, serve

    if args.action is None or args.args:
        print("storehub sim serve KIND [--pty PATH | --port N]", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(args.action, pty=args.pty, port=args.port))
    except ServeError as exc:
        print(f"storehub sim serve: {exc}", file=sys.stderr)
        return 2
    return 0


def _sim(args: argparse.Namespace) -> int:
    from devices.sim.control import send_command

    if args.device == "serve":
        return _sim_serve(args)
    if args.device == "list":
        command: dict = {"do": "list"}
    elif args.action is None:
        print("say what to do: storehub sim DEVICE ACTION [KEY=VALUE ...] (storehub sim list)", file=sys.stderr)
        return 2
    else:
        values = {}
        for pair in args.args:
            key, sep, raw = pair.partition("=")
            if not sep:
                print(f"{pair!r}: arguments are KEY=VALUE", file=sys.stderr)
                return 2
            try:
                values[key] = json.loads(raw)
            except ValueError:
                values[key] = raw
        command = {"device": args.device, "do": args.action, "args": values}
    try:
        answer = send_command(args.dir.resolve() / "sim.sock", command)
    except (ConnectionError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    if not answer.get("ok"):
        print(answer.get("error"), file=sys.stderr)
        return 1
    result = answer.get("result")
    print(result if isinstance(result, str) else json.dumps(result, indent=2, ensure_ascii=False))
    return 0


def _cloud(args: argparse.Namespace) -> int:
    from cloud_link.reference.cli import DEFAULT_ADMIN_TOKEN_FILE, DEFAULT_URL, run_cloud_command
    from hub.demo.ports import DemoPorts

    if getattr(args, "dir", None) is not None:
        if args.url == DEFAULT_URL:
            args.url = f"http://127.0.0.1:{DemoPorts.read(args.dir).cloud}"
        if args.admin_token_file == DEFAULT_ADMIN_TOKEN_FILE:
            args.admin_token_file = args.dir / "cloud" / "admin-token"
    return run_cloud_command(args)


def _sync(args: argparse.Namespace) -> int:
    import httpx

    from hub.demo.store import demo_api_access

    api, token = args.api, args.token
    if api is None or token is None:
        demo = demo_api_access(args.dir, client="tech-1")
        if demo is None:
            print(f"no demo in {args.dir}: give --api and --token (a technician's ID:SECRET)", file=sys.stderr)
            return 2
        api, token = api or demo[0], token or demo[1]
    method = "GET" if args.what == "state" else "POST"
    try:
        answer = httpx.request(
            method, f"{api.rstrip('/')}/api/v1/sync/{args.what}", headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as exc:
        print(f"the hub at {api} does not answer: {exc}", file=sys.stderr)
        return 1
    if answer.status_code != 200:
        print(f"the hub refused ({answer.status_code}): {answer.text[:300]}", file=sys.stderr)
        return 1
    state = answer.json()
    print(json.dumps(state, indent=2) if args.json else sync_summary(state))
    return 0


def sync_summary(state: dict) -> str:
    """``sync/state`` as a technician reads it."""
    age = state["oldest_undelivered_age_s"]
    reachable = {True: "yes", False: "no", None: "not tried yet"}[state["cloud_reachable"]]
    lines = [
        f"store {state['store_id']}, mode {state['mode']}"
        + (", PAUSED (nothing goes to the cloud)" if state["paused"] else ""),
        f"level: {state['level']}",
        *(f"  {p['level']}: {p['message']}" for p in state["problems"]),
        f"events: {state['last_seq']} written, {state['delivered_seq']} delivered, {state['backlog']} waiting"
        + (f" (the oldest for {age:.0f} s)" if age is not None else ""),
        f"database: {state['bytes_used'] / 2**20:.1f} MiB of {state['bytes_allowed'] / 2**20:.0f} MiB allowed"
        + (" — FULL" if state["storage_full"] else ""),
        f"cloud reachable: {reachable}" + (f" (last error: {state['last_error']})" if state["last_error"] else ""),
    ]
    return "\n".join(lines)


def _devices(args: argparse.Namespace) -> int:
    from devices.scanner import list_candidate_inputs

    candidates = list_candidate_inputs()
    if args.json:
        print(json.dumps(candidates, indent=2, default=str))
        return 0
    if not candidates:
        print("no input devices found (is the scanner plugged in, and may this user read /dev/input?)")
        return 0
    for device in candidates:
        verdict = "looks like a scanner" if device.get("looks_like_scanner") else "probably not a scanner"
        print(f"{device.get('path')}  {device.get('name', '?')}  usb {device.get('usb_id', '?')}  — {verdict}")
        if device.get("why"):
            print(f"    {device['why']}")
        if device.get("error"):
            print(f"    {device['error']}")
        if device.get("suggested"):
            print(f"    config: {json.dumps(device['suggested'])}")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    config = _load_or_explain(args.config)
    if config is None:
        return 2
    print(
        f"{args.config}: ok — store {config.store_id}, {len(config.clients)} clients, "
        f"{len(config.devices)} devices, broker {config.bus.mode}"
    )
    return 0


def _hash_secret(args: argparse.Namespace) -> int:
    from bus.passwords import hash_secret, new_secret

    if args.generate:
        secret = new_secret()
        print(f"secret:      {secret}\nsecret_hash: {hash_secret(secret)}")
        return 0
    secret = sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass("secret: ")
    if not secret:
        print("no secret given", file=sys.stderr)
        return 2
    print(hash_secret(secret))
    return 0


def _broker_files(args: argparse.Namespace) -> int:
    from bus.broker import write_broker_files
    from bus.passwords import hash_secret
    from hub.app import broker_plan

    config = _load_or_explain(args.config)
    if config is None:
        return 2
    hub_password = config.bus.hub_password.get_secret_value() if config.bus.hub_password else None
    if hub_password is None:
        print("bus.hub_password is needed: the broker must know the hub's own login", file=sys.stderr)
        return 2
    conf = write_broker_files(broker_plan(config), args.out, hash_secret(hub_password), managed=False)
    print(f"wrote {conf}, {args.out / 'passwd'} and {args.out / 'acl'}")
    print(f"let the broker read them: chgrp mosquitto {args.out}/*; then include {conf} in its configuration")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from hub.bench import run_contention_bench, run_rtt_bench, run_scan_bench

    setup_logging("warning")
    if args.bench == "rtt":
        bench = run_rtt_bench(clients=args.clients, seconds=args.seconds, warmup=args.warmup, rate=args.rate)
        table = report_table
    elif args.bench == "scan":
        bench = run_scan_bench(scanners=args.scanners, seconds=args.seconds, warmup=args.warmup, rate=args.rate)
        table = scan_table
    elif args.bench == "fiscal":
        from hub.bench_fiscal import fiscal_table, run_fiscal_bench

        bench = run_fiscal_bench(seconds=args.seconds, lines=args.lines, baudrate=args.baudrate)
        table = fiscal_table
    elif args.bench == "api":
        from hub.bench_api import run_api_bench

        bench = run_api_bench(
            callers=args.callers, rate=args.rate, seconds=args.seconds, warmup=args.warmup, outbox_dir=args.outbox_dir
        )
        table = api_table
    elif args.bench == "sync":
        from hub.bench_sync import run_sync_bench, sync_table

        bench = run_sync_bench(events=args.events, small=args.small, batch=args.batch)
        table = sync_table
    else:
        bench = run_contention_bench(tills=args.tills, seconds=args.seconds, warmup=args.warmup)
        table = contention_table
    try:
        report = asyncio.run(bench)
    except KeyboardInterrupt:
        print("bench interrupted; everything it started has been stopped", file=sys.stderr)
        return 130
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


def scan_table(report: dict) -> str:
    lines = [
        f"storehub bench scan: scan to till, {report['scanners']} scanner(s)"
        + (f" at {report['rate']:g} scans/s each" if report.get("rate") else ", as fast as answered")
        + f", {report['seconds']:g} s per phase, {report['cpus']} CPU(s)",
        f"{'phase':<16}{'scans':>8}{'per s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}",
    ]
    for label, key in (("one scanner", "alone"), (f"{report['scanners']} scanners", "together")):
        p = report[key]
        lines.append(
            f"{label:<16}{p['scans']:>8}{p['scans_per_s']:>9.0f}{p['p50_ms']:>9.2f}{p['p90_ms']:>9.2f}"
            f"{p['p99_ms']:>9.2f}{p['max_ms']:>9.2f}{p['errors']:>8}"
        )
    r = report["ratio"]
    lines.append(f"together/alone: p50 {r['p50']:.2f}x, p99 {r['p99']:.2f}x")
    p = report["prints"]
    lines.append(
        f"receipts to the network printer: {p['receipts']} in {report['seconds']:g} s = {p['receipts_per_s']:.0f}/s, "
        f"p50 {p['p50_ms']:.2f} ms, p99 {p['p99_ms']:.2f} ms, {p['errors']} errors"
    )
    return "\n".join(lines)


def contention_table(report: dict) -> str:
    lines = [
        f"storehub bench contention: {report['tills']} till(s) on one exclusive and {report['tills']} on one "
        f"shared device, {report['seconds']:g} s per phase, {report['cpus']} CPU(s)",
        f"{'':<26}{'count':>8}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}",
    ]
    for label, part in (("uncontended", report["uncontended"]), ("contended", report["contended"])):
        j, c = part["jobs"], part["claims"]
        lines.append(
            f"{label + ' jobs (shared)':<26}{j['requests']:>8}{j['throughput']:>9.0f}{j['p50_ms']:>9.2f}"
            f"{j['p99_ms']:>9.2f}{j['max_ms']:>9.2f}{j['errors']:>8}"
        )
        lines.append(
            f"{label + ' claim grant':<26}{c['cycles']:>8}{c['cycles_per_s']:>9.0f}{c['claim_p50_ms']:>9.2f}"
            f"{c['claim_p99_ms']:>9.2f}{c['claim_max_ms']:>9.2f}{c['errors']:>8}"
        )
    r = report["ratio"]
    lines.append(f"contended/uncontended: claim p50 {r['claim_p50']:.1f}x, shared jobs/s {r['jobs_throughput']:.2f}x")
    return "\n".join(lines)


def api_table(report: dict) -> str:
    lookup, outbox, goals = report["lookup"], report["outbox"], report["goals"]
    phase_row = "{:<22}{:>9}{:>8.0f}{:>8.2f}{:>8.2f}{:>8.2f}{:>8.2f}{:>7}{:>7}{:>6}{:>8}"

    def number(value: float | None, places: int = 2) -> str:
        return "?" if value is None else f"{value:.{places}f}"

    lines = [
        f"storehub bench api: {report['callers']} caller(s), one keep-alive connection each, "
        f"{report['seconds']:g} s per phase after {report['warmup']:g} s warm-up",
        f"{report['cpus']} CPU(s) shared by the hub and the load generator; machine load average "
        f"{report['load_average']['before']} before, {report['load_average']['after']} after",
        f"lookup: GET /api/v1/products/gtin/{{gtin}}, random of {lookup['gtins']} GTINs "
        f"({lookup['products']} products, {lookup['stocked']} stocked, seeded in {lookup['seed_s']:g} s); "
        "baseline: GET /healthz",
        "bench/hub: CPUs each process kept busy; hub ms: the hub's CPU time per answered request",
        f"{'phase':<22}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'errors':>7}{'bench':>7}{'hub':>6}{'hub ms':>8}",
    ]
    for kind in ("paced", "closed"):
        if kind not in lookup:
            continue
        label = f"{report['rate']:g}/s each" if kind == "paced" else "closed loop"
        for name in ("healthz", "lookup"):
            p = lookup[kind][name]
            lines.append(
                phase_row.format(
                    f"{label} {name}", p["requests"], p["throughput"], p["p50_ms"], p["p90_ms"], p["p99_ms"],
                    p["max_ms"], p["errors"], number(p.get("bench_cpu")), number(p.get("hub_cpu")),
                    number(p.get("hub_cpu_ms")),
                )
            )  # fmt: skip
        r = lookup[kind]["ratio"]
        lines.append(f"  lookup/healthz: req/s {r['throughput']:.2f}x, p50 {r['p50']:.2f}x, p99 {r['p99']:.2f}x")
    d = report["domain_lookup"]
    lines.append(
        f"domain call alone (StoreDomain.product in-process, 1 thread): {d['throughput']:.0f}/s, "
        f"p50 {d['p50_ms']:.3f} ms, p99 {d['p99_ms']:.3f} ms, max {d['max_ms']:.2f} ms, {d['cpu_ms']:.3f} ms CPU each"
    )
    lines += [
        "",
        f"outbox: SQLite {outbox['journal_mode']}, synchronous={outbox['synchronous']}, {outbox['filesystem']} at "
        f"{outbox['directory']}, {outbox['event_bytes']}-byte sale.completed events, {outbox['seconds']:g} s per phase",
        f"{'phase':<30}{'events':>9}{'events/s':>10}{'commits':>9}{'ev/commit':>10}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'  gapless':<9}",
    ]
    for label, key in (
        ("single-event commits", "single"),
        (f"batched, 1 event/write x{outbox['batched']['in_flight']}", "batched"),
        (f"batched, {outbox['bulk']['events_per_write']} events/write x{outbox['bulk']['in_flight']}", "bulk"),
    ):
        p = outbox[key]
        lines.append(
            f"{label:<30}{p['events']:>9}{p['events_per_s']:>10}{p['commits']:>9}{p['events_per_commit']:>10.1f}"
            f"{p['write_p50_ms']:>8.2f}{p['write_p99_ms']:>8.2f}  {'yes' if p['gapless'] else 'NO: GAPS'}"
        )
    r = outbox["ratio"]
    lines.append(
        f"  batched/single: {r['batched']:.1f}x (1 event/write), {r['bulk']:.1f}x ({outbox['bulk']['events_per_write']} "
        f"events/write); write ms: submit to commit; seqs checked gapless (count == last_seq, 1..last) after each phase"
    )
    verdict = {True: "met", False: "NOT met"}
    paced = "paced" in lookup
    lines += [
        "",
        f"lookup p99 {goals['lookup_p99_ms']:.2f} ms "
        + (f"at {report['callers']} x {report['rate']:g}/s" if paced else "in a closed loop")
        + f" (goal <= {goals['lookup_p99_goal_ms']:g} ms): {verdict[goals['lookup_met']]}",
        f"batched outbox {goals['batched_events_per_s']:,} events/s, 1 event/write "
        f"(goal >= {goals['outbox_goal_events_per_s']:,}): {verdict[goals['batched_met']]}",
        f"batched outbox {goals['bulk_events_per_s']:,} events/s, {outbox['bulk']['events_per_write']} events/write "
        f"(goal >= {goals['outbox_goal_events_per_s']:,}): {verdict[goals['bulk_met']]}",
    ]
    return "\n".join(lines)


def report_table(report: dict) -> str:
    lines = [
        f"storehub bench rtt: {report['clients']} client(s)"
        + (f" at {report['rate']:g} req/s each" if report.get("rate") else ", as fast as answered")
        + f", {report['seconds']:g} s per phase, {report['cpus']} CPU(s)",
        f"{'phase':<8}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}",
    ]
    for name in ("raw", "hub"):
        p = report[name]
        lines.append(
            f"{name:<8}{p['requests']:>10}{p['throughput']:>10.0f}{p['p50_ms']:>9.2f}{p['p90_ms']:>9.2f}"
            f"{p['p99_ms']:>9.2f}{p['max_ms']:>9.2f}{p['errors']:>8}"
        )
    r = report["ratio"]
    lines.append(f"hub/raw: throughput {r['throughput']:.2f}x, p50 {r['p50']:.2f}x, p99 {r['p99']:.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
