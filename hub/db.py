"""The hub's SQLite database: one engine factory, migrations applied at start-up.

Connections are set up by ``cloud_link.sqlite`` (WAL, a busy timeout, ``BEGIN
IMMEDIATE`` for writers), with foreign keys on and ``synchronous=FULL``: the outbox and
the fiscal journal must survive a power cut the instant they commit.

Readers (product lookups, the pull feed) use an engine of their own made with
``readonly=True``: deferred transactions on ``query_only`` connections, so a till's
lookup reads a consistent snapshot beside the writer instead of queueing for its lock.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine

from cloud_link.sqlite import sqlite_engine

log = logging.getLogger(__name__)

#: How long a writer waits for another writer's lock before giving up.
BUSY_TIMEOUT_MS = 5_000


def create_store_engine(path: Path, *, readonly: bool = False, max_bytes: int | None = None) -> Engine:
    """``max_bytes`` caps the database's size: past it writes fail as on a full disk
    (``storage_full``), and the box keeps the room it needs for the rest."""
    return sqlite_engine(
        path,
        readonly=readonly,
        synchronous="FULL",
        busy_timeout_ms=BUSY_TIMEOUT_MS,
        foreign_keys=True,
        max_bytes=max_bytes,
        # SQLite's own lower() folds ASCII only; product search needs Cyrillic too.
        functions={"py_lower": _lower},
    )


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def migrate(engine: Engine) -> None:
    """Bring the schema up to date (Alembic, ``hub/migrations``)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def checkpoint(engine: Engine) -> bool:
    """Write the WAL's pages into the database file and truncate the WAL to nothing.

    SQLite's own checkpoints (every 1000 pages) leave the WAL at its largest, and on a
    small disk never come at all: the WAL then holds the disk.  Truncating gives that
    space back, and the free pages a prune made become reusable in the file.  False
    when a reader kept it from finishing (it tries again next time) or it failed."""
    raw = engine.raw_connection()
    try:
        # The DBAPI connection is in autocommit (no BEGIN): a checkpoint needs no transaction open.
        busy, _frames, _copied = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0
    except sqlite3.Error as exc:
        log.warning("checkpointing the WAL failed: %s", exc)
        return False
    finally:
        raw.close()
