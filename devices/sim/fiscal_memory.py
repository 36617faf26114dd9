"""The simulated register's non-volatile memory: one SQLite file in its state folder.

A real register keeps its document numbering, its shift and the fiscal storage's
documents through a power cut, and a restart of the program driving it changes none of
that.  The simulator keeps the same on disk, so a demo that was killed and started again
(or a test's second simulator on the same folder) goes on where the register stopped
instead of starting again from document 1 as a fresh register.

SQLite in WAL mode with ``synchronous=FULL``: what one command changed is one
transaction, on disk before the register answers the command, so a process killed at
any moment leaves the register as it was before or after that command, never between.

Two tables: ``register`` holds one row, the register's counters, shift and open document
as JSON (small, rewritten whole at each command); ``fiscal_document`` holds the fiscal
storage's documents, one row each, added as they are signed, so a long-used register
does not rewrite its whole archive at every receipt.  Documents are kept by storage
number: after a storage replacement the old storage's rows stay in the file (as the old
ФН stays in the technician's drawer) but the register answers from the new one only.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

#: The file in the simulator's state folder.
MEMORY_FILE = "fiscal-memory.sqlite3"

#: A fiscal document as a row: storage, number, type, issued (ISO), fiscal sign,
#: operation, total, shift.
DocumentRow = tuple[str, int, int, str, int, int | None, int | None, int | None]

SCHEMA = """
CREATE TABLE IF NOT EXISTS register (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fiscal_document (
    storage TEXT NOT NULL,
    number INTEGER NOT NULL,
    type INTEGER NOT NULL,
    issued TEXT NOT NULL,
    fiscal_sign INTEGER NOT NULL,
    operation INTEGER,
    total INTEGER,
    shift INTEGER,
    PRIMARY KEY (storage, number)
);
"""


class FiscalMemory:
    """The register's memory file.  Not thread-safe by itself: the register calls it
    under its own lock."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / MEMORY_FILE
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # The register has answered only once its memory is on disk: FULL, not NORMAL.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def load(self) -> tuple[dict[str, Any], list[DocumentRow]] | None:
        """The register's state and its current storage's documents, or None for a
        register that has never run (a fresh one)."""
        row = self._db.execute("SELECT state FROM register WHERE id = 1").fetchone()
        if row is None:
            return None
        state = json.loads(row[0])
        documents = self._db.execute(
            "SELECT storage, number, type, issued, fiscal_sign, operation, total, shift"
            " FROM fiscal_document WHERE storage = ? ORDER BY number",
            (state["storage_number"],),
        ).fetchall()
        return state, documents

    def save(self, state: dict[str, Any], documents: Iterable[DocumentRow] = ()) -> None:
        """The state and the documents signed since the last save, in one transaction."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO register (id, state) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state",
                (json.dumps(state, ensure_ascii=False),),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO fiscal_document"
                " (storage, number, type, issued, fiscal_sign, operation, total, shift)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                list(documents),
            )

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
