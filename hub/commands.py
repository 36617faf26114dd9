"""The box's own commands: run the hub from its config, look at or pause its cloud link
(`storehub sync`), find a scanner among its inputs, check a config, hash a client
secret, and write the files of a broker the hub does not run itself.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from hub.cli_support import (
    config_option,
    demo_dir_option,
    hub_access,
    hub_access_options,
    json_option,
    load_or_explain,
    serve_hub,
)


def add_commands(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="run the hub from a config file")
    config_option(run)
    run.set_defaults(run=_run)

    sync = commands.add_parser(
        "sync",
        help="the cloud link: `storehub sync state`, `pause` (a WAN outage drill: the store keeps selling), `resume`",
    )
    sync.add_argument("what", choices=("state", "pause", "resume"), help="what to do")
    hub_access_options(sync, who="a technician's", client="tech-1")
    demo_dir_option(sync)
    json_option(sync)
    sync.set_defaults(run=_sync)

    devices_cmd = commands.add_parser("devices", help="look at the box's hardware")
    device_commands = devices_cmd.add_subparsers(dest="devices", required=True, metavar="WHAT")
    scan_inputs = device_commands.add_parser(
        "scan-inputs", help="list input devices that could be keyboard-wedge scanners, with config to paste"
    )
    scan_inputs.add_argument("--json", action="store_true", help="print JSON instead of text")
    devices_cmd.set_defaults(run=_devices)

    check = commands.add_parser("check-config", help="validate a config file and name every bad field")
    config_option(check)
    check.set_defaults(run=_check_config)

    hash_cmd = commands.add_parser("hash-secret", help="hash a client secret for the config (reads stdin or asks)")
    hash_cmd.add_argument("--generate", action="store_true", help="make up a new secret and print both")
    hash_cmd.set_defaults(run=_hash_secret)

    tui = commands.add_parser("tui", help="the technician's console over the bus (finds the demo by default)")
    tui.add_argument("--hub", help="the broker's HOST or HOST:PORT (default: the demo's, from --dir)")
    tui.add_argument("--client", default="tech-1", help="the technician's client id (default tech-1)")
    tui.add_argument("--store", help="the store id (default: the demo's)")
    tui.add_argument(
        "--secret-file",
        type=Path,
        help="read the secret from this file (else env STOREHUB_SECRET, the demo's, or a prompt)",
    )
    tui.add_argument("--readonly", action="store_true", help="look only: every action is refused")
    tui.add_argument("--lang", choices=("ru", "en"), default="ru", help="the console's language (default ru)")
    tui.add_argument("--keys", type=Path, help="a keys file (default ~/.config/storehub/tui.toml)")
    demo_dir_option(tui)
    tui.set_defaults(run=_tui)

    broker = commands.add_parser("broker-files", help="write Mosquitto's conf, password file and ACL for a store")
    config_option(broker)
    broker.add_argument("--out", type=Path, required=True, help="folder to write them into")
    broker.set_defaults(run=_broker_files)


def _run(args: argparse.Namespace) -> int:
    config = load_or_explain(args.config)
    return 2 if config is None else serve_hub(config)


def _sync(args: argparse.Namespace) -> int:
    import httpx

    access = hub_access(args, who="a technician's", client="tech-1")
    if access is None:
        return 2
    api, token = access
    method = "GET" if args.what == "state" else "POST"
    try:
        answer = httpx.request(method, f"{api}/api/v1/sync/{args.what}", headers={"Authorization": f"Bearer {token}"})
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


def _tui(args: argparse.Namespace) -> int:
    from hub.demo.ports import DemoPorts
    from hub.demo.store import DEMO_STORE, demo_secret
    from tui.run import run_console
    from tui.settings import ConsoleSettings, load_keys, resolve_secret

    host, _, port = (args.hub or "").partition(":")
    demo_port = DemoPorts.read(args.dir).mqtt
    given = None if args.secret_file or os.environ.get("STOREHUB_SECRET") else demo_secret(args.dir, args.client)
    secret = resolve_secret(given, args.secret_file)
    keys, keys_problem = load_keys(args.keys)
    if keys_problem:
        print(keys_problem, file=sys.stderr)
    settings = ConsoleSettings(
        store=args.store or DEMO_STORE,
        client_id=args.client,
        secret=secret or "",
        host=host or "127.0.0.1",
        port=int(port) if port else demo_port,
        readonly=args.readonly,
        language=args.lang,
        keys=keys,
        keys_problem=keys_problem,
    )
    return run_console(settings)


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
    config = load_or_explain(args.config)
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

    config = load_or_explain(args.config)
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
