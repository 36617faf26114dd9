"""How StoreHub opens a SQLite file: one engine factory for the store's database and the reference cloud's.

It lives in ``cloud_link`` because both ends of the replication keep their ledger this
way and this is the one package both may import: the hub (its store database, which
carries the outbox) imports everything, and the reference cloud imports nothing of
``hub/``.  What differs between the two ends (how hard a commit is synced, how long a
writer waits, the hub's size cap and SQL functions) is passed in, never decided here.

Every connection runs in WAL mode with a busy timeout, and a writer's transactions
begin with ``BEGIN IMMEDIATE``: the write lock up front, instead of failing half-way
with "database is locked".  A reader's engine (``readonly=True``) runs deferred
transactions on ``query_only`` connections, so it reads a consistent snapshot beside
the writer instead of queueing for its lock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


def sqlite_engine(
    path: Path,
    *,
    readonly: bool,
    synchronous: Synchronous,
    busy_timeout_ms: int,
    foreign_keys: bool = False,
    max_bytes: int | None = None,
    functions: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Engine:
    """An engine on ``path`` (its folder made if missing).

    ``max_bytes`` caps the database's size: past it writes fail as on a full disk.
    ``functions`` are one-argument, deterministic SQL functions every connection gets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let the "begin" listener below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA query_only={'ON' if readonly else 'OFF'}")
        if max_bytes is not None:
            # SQLite counts the cap in pages.
            page_size = cursor.execute("PRAGMA page_size").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count={max(1, max_bytes // page_size)}")
        cursor.close()
        for name, function in (functions or {}).items():
            dbapi_connection.create_function(name, 1, function, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine
