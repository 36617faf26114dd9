"""What the command groups of `storehub` share: the options several of them take
(``--config``, ``--json``, the demo's ``--dir``), the hub's logging, a config loaded or
its problems explained, and a hub served until it stops.

Kept apart from ``hub.cli`` (the dispatcher, which imports every group) so that a
group never imports the dispatcher.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
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
