"""``storehub demo`` and ``storehub sim``: start the demo store, and drive its simulated
peripherals; and ``storehub cloud`` pointed at a demo's reference cloud by ``--dir``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import astuple
from pathlib import Path

from hub.cli_support import DEMO_DIR, demo_dir_option, load_or_explain, serve_hub
from hub.demo.ports import PORT_SPAN, DemoPorts


def add_commands(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo", help="run the hub with a demo store: its own broker, example clients and a simulated checkout"
    )
    demo_dir_option(demo, help="where the demo keeps its state")
    demo.add_argument("--print-config", action="store_true", help="write the demo config and credentials, then exit")
    demo.add_argument(
        "--port-base",
        type=_port_base,
        metavar="N",
        help=f"listen on ports N to N+{PORT_SPAN - 1} instead of the defaults "
        f"({', '.join(map(str, astuple(DemoPorts())))}), "
        "so two demos run side by side; the demo writes them to DIR/ports.json",
    )
    demo.add_argument(
        "--secret",
        metavar="CLIENT",
        help="print CLIENT's secret from the demo's credentials and exit: SECRET=$(storehub demo --secret till-1)",
    )
    demo.set_defaults(run=_demo)

    sim = commands.add_parser(
        "sim",
        help="drive the demo's simulated peripherals: `storehub sim list`, `storehub sim scanner-1 scan code=4601234567893`",
    )
    demo_dir_option(sim)
    sim.add_argument("device", help="a simulated device id, or `list`")
    sim.add_argument("action", nargs="?", help="what to do (`storehub sim list` shows what each device can)")
    sim.add_argument("args", nargs="*", metavar="KEY=VALUE", help="arguments; values are read as JSON when they parse")
    _sim_serve_options(sim)
    sim.set_defaults(run=_sim)


def add_cloud_commands(commands: argparse._SubParsersAction) -> None:
    """``storehub cloud`` comes from cloud_link, which knows nothing of the demo: each of its
    commands that talks to a cloud gets the demo's ``--dir``, as `sim` and `sync` have, and
    finds that demo's cloud and admin token by it."""
    from cloud_link.reference.cli import add_commands as add_cloud

    add_cloud(commands, admin_options=_cloud_dir_option, run=_cloud)


def _cloud_dir_option(command: argparse.ArgumentParser) -> None:
    demo_dir_option(
        command,
        help="the demo whose cloud this is, when --url and --admin-token-file are not given "
        f"(default {DEMO_DIR}; its ports.json says the port)",
    )


def _port_base(text: str) -> int:
    base = int(text) if text.isdigit() else 0
    if not 1024 <= base <= 65536 - PORT_SPAN:
        raise argparse.ArgumentTypeError(f"a port base is 1024 to {65536 - PORT_SPAN}")
    return base


def _demo(args: argparse.Namespace) -> int:
    from hub.demo.ports import ports_taken_message
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
    config = load_or_explain(config_path)
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

    return serve_hub(config, lambda: run_demo(config, args.dir, ports))


def _sim_serve_options(sim: argparse.ArgumentParser) -> None:
    from devices.sim.serve import KINDS

    serve = sim.add_argument_group(
        "storehub sim serve KIND [--pty PATH | --port N] [--labels DIR]",
        f"run one simulator ({', '.join(KINDS)}) in the foreground for another driver, until Ctrl-C",
    )
    serve.add_argument("--pty", type=Path, metavar="PATH", help="make the simulator's pty reachable at this link")
    serve.add_argument("--port", type=int, metavar="N", help="listen on 127.0.0.1:N (default: a free port)")
    serve.add_argument(
        "--labels",
        type=Path,
        metavar="DIR",
        help="a label printer: write each label's PNG here (default: a new folder in the temporary folder)",
    )


def _sim_serve(args: argparse.Namespace) -> int:
    from devices.sim.serve import ServeError, serve

    if args.action is None or args.args:
        print("storehub sim serve KIND [--pty PATH | --port N] [--labels DIR]", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(args.action, pty=args.pty, port=args.port, labels=args.labels))
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

    if getattr(args, "dir", None) is not None:
        if args.url == DEFAULT_URL:
            args.url = f"http://127.0.0.1:{DemoPorts.read(args.dir).cloud}"
        if args.admin_token_file == DEFAULT_ADMIN_TOKEN_FILE:
            args.admin_token_file = args.dir / "cloud" / "admin-token"
    return run_cloud_command(args)
