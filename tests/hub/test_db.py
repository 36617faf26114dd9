"""The database survives crashes and concurrent writers: WAL, FULL sync, immediate locks."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import Session

from hub import db
from hub.db import create_store_engine, migrate
from hub.store.boots import record_boot
from hub.store.models import metadata


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


def migrate_to(engine, revision: str) -> None:
    """The schema as an older hub left it."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_sales_booked_before_the_storage_was_recorded_are_still_booked_once(tmp_path: Path):
    """Migration 0006: the old sales get the storage "" and so do the fiscal journal's old
    results, so the start-up sweep finds them booked; a new storage's receipt with an old
    number is a new sale."""
    from decimal import Decimal

    from devices.fiscal_register import ClosedReceipt
    from hub.store.sales import record_receipt, unbooked_journal_receipts

    engine = create_store_engine(tmp_path / "store.db")
    migrate_to(engine, "0005")
    # A fiscal journal result as the register actor wrote it before it named the storage.
    result = {
        "operation": "sale", "total": 100, "lines": [{"name": "x", "quantity": "1", "price": 100, "total": 100}],
        "payments": [{"type": "cash", "amount": 100}],
    }  # fmt: skip
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO sale (device_id, document_number, operation, fiscal_sign, total, client, idempotency_key,"
                " seq, recorded_at) VALUES ('fiscal-1', 3, 'sale', 1, 100, 'till-1', 'k-3', 1, 0)"
            )
        )
        for key, number in (("k-3", 3), ("k-4", 4)):  # 4 closed, the hub died before it was booked
            connection.execute(
                text(
                    "INSERT INTO device_journal (device_id, key, client, action, request, state, checkpoint, result,"
                    " attempts, created_at, updated_at)"
                    " VALUES ('fiscal-1', :key, 'till-1', 'fiscalize', '{}', 'done', '{}', :result, 1, 0, 0)"
                ),
                {"key": key, "result": json.dumps(result | {"document_number": number})},
            )
    migrate(engine)

    with Session(engine) as session:
        assert session.execute(text("SELECT device_id, fn_serial, document_number FROM sale")).all() == [
            ("fiscal-1", "", 3)
        ]
        found = unbooked_journal_receipts(session=session)
        assert [(device, r.fn_serial, r.document_number) for device, r in found] == [("fiscal-1", "", 4)]
        [(_, old)] = found
        assert record_receipt(session=session, device_id="fiscal-1", receipt=old, accrual_percent=Decimal(5), now=1)
        assert (
            record_receipt(session=session, device_id="fiscal-1", receipt=old, accrual_percent=Decimal(5), now=1)
            is None
        )
        replaced = ClosedReceipt.model_validate(
            old.model_dump() | {"fn_serial": "9960440300000002", "document_number": 3}
        )
        assert record_receipt(
            session=session, device_id="fiscal-1", receipt=replaced, accrual_percent=Decimal(5), now=1
        )
        session.commit()
        assert unbooked_journal_receipts(session=session) == []
        assert session.execute(text("SELECT fn_serial, document_number FROM sale ORDER BY rowid")).all() == [
            ("", 3),
            ("", 4),
            ("9960440300000002", 3),
        ]
    engine.dispose()


def test_the_migrations_build_the_tables_the_models_describe(tmp_path: Path):
    engine = create_store_engine(tmp_path / "store.db")
    migrate(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    engine.dispose()
