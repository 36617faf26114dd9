"""A store domain on a real SQLite file: the writer and reader engines the hub makes,
migrated, and a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hub.db import create_store_engine, migrate
from hub.store.domain import StoreDomain
from tests.hub.store.support import ACCRUAL_PERCENT, STORE_ID, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    path = tmp_path / "store.db"
    writer = create_store_engine(path)
    migrate(writer)
    reader = create_store_engine(path, readonly=True)
    yield writer, reader
    reader.dispose()
    writer.dispose()


@pytest.fixture
async def domain(engines: tuple[Engine, Engine], clock: Clock) -> AsyncIterator[StoreDomain]:
    writer, reader = engines
    store = StoreDomain(
        store_id=STORE_ID, writer_engine=writer, reader_engine=reader, accrual_percent=ACCRUAL_PERCENT, clock=clock
    )
    await store.start()
    yield store
    await store.stop()
