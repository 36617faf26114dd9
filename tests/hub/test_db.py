"""The database survives crashes and concurrent writers: WAL, FULL sync, immediate locks."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from hub.db import create_store_engine, migrate
from hub.store.boots import record_boot


def test_connections_use_wal_full_sync_foreign_keys_and_a_busy_timeout(tmp_path: Path):
    engine = create_store_engine(tmp_path / "store.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


def test_a_writer_takes_the_write_lock_when_its_transaction_begins(tmp_path: Path):
    """BEGIN IMMEDIATE: a second writer waits at BEGIN, not half-way through its work."""
    path = tmp_path / "store.db"
    engine = create_store_engine(path)
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(text("SELECT 1"))  # a read only, yet the write lock is held
        other = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            raise AssertionError("a second writer got the lock while the first held it")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
        finally:
            other.close()
    engine.dispose()


def test_migrations_are_idempotent_and_the_boot_number_only_grows(tmp_path: Path):
    path = tmp_path / "store.db"
    boots = []
    for _ in range(3):  # three hub starts
        engine = create_store_engine(path)
        migrate(engine)
        with Session(engine) as session:
            boots.append(record_boot(session=session, started_at=1.0, version="test"))
        engine.dispose()
    assert boots == [1, 2, 3]


def test_concurrent_writers_all_commit(tmp_path: Path):
    engine = create_store_engine(tmp_path / "store.db")
    migrate(engine)
    numbers: list[int] = []

    def start_hub() -> None:
        with Session(engine) as session:
            numbers.append(record_boot(session=session, started_at=0.0, version="test"))

    threads = [threading.Thread(target=start_hub) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(1, 9))
    engine.dispose()
