"""What the command groups of `storehub` share: the options several of them take
(``--config``, ``--json``, the demo's ``--dir``, a hub's ``--api`` and ``--token``), the
hub's logging, a config loaded or its problems explained, and a hub served until it stops.

Kept apart from ``hub.cli`` (the dispatcher, which imports every group) so that a
group never imports the dispatcher.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from hub.config import DEFAULT_CONFIG_PATH, ConfigError, StoreHubConfig, load_config

log = logging.getLogger("storehub")

#: Where ``storehub demo`` keeps its state, and where the commands that talk to it look.
DEMO_DIR = Path(".storehub-demo")


def config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG_PATH, help=f"config file (default {DEFAULT_CONFIG_PATH})"
    )


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")


def demo_dir_option(parser: argparse.ArgumentParser, help: str = f"the demo's folder (default {DEMO_DIR})") -> None:
    parser.add_argument("--dir", type=Path, default=DEMO_DIR, help=help)


def hub_access_options(parser: argparse.ArgumentParser, *, who: str, client: str, given_only: bool = False) -> None:
    """``--api`` and ``--token`` for a command that talks to a hub over REST; without
    them, the demo's in ``--dir`` and its ``client``.  ``given_only``: set only when given
    (a sub-command whose group takes them too keeps the group's)."""
    unset = {"default": argparse.SUPPRESS} if given_only else {}
    parser.add_argument("--api", help="the hub's REST address (default: the demo's, from --dir)", **unset)
    parser.add_argument(
        "--token",
        help=f"{who} ID:SECRET (default: env STOREHUB_TOKEN, else the demo's {client})",
        **(unset or {"default": os.environ.get("STOREHUB_TOKEN")}),
    )


def hub_access(args: argparse.Namespace, *, who: str, client: str) -> tuple[str, str] | None:
    """The hub's REST address and the bearer token from ``--api``/``--token``, the rest
    from the demo in ``--dir``; None (having said why on stderr) when neither gives both."""
    from hub.demo.store import demo_api_access

    api, token = args.api, args.token
    if api is None or token is None:
        demo = demo_api_access(args.dir, client=client)
        if demo is None:
            print(f"no demo in {args.dir}: give --api and --token ({who} ID:SECRET)", file=sys.stderr)
            return None
        api, token = api or demo[0], token or demo[1]
    return api.rstrip("/"), token


def load_or_explain(path: Path) -> StoreHubConfig | None:
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


def serve_hub(config: StoreHubConfig, main: Callable[[], Coroutine[Any, Any, None]] | None = None) -> int:
    """The hub of ``config`` (or ``main``, which runs it with more around it) until it stops."""
    from hub.app import run_hub

    setup_logging(config.log_level)
    try:
        asyncio.run(main() if main else run_hub(config))
    except Exception as exc:  # a start-up failure: say what, not a traceback
        log.error("the hub could not start: %s", exc, exc_info=config.log_level == "debug")
        return 1
    return 0
