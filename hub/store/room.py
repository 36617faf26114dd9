"""How much the store's database may still grow: within its size cap
(``database_max_mb``, SQLite's ``max_page_count``) and on the disk it lives on.

A sale is started only with room to book it.  Its fiscal journal line, then the
sale's stock moves, loyalty and event: if the database filled up half-way, the
receipt would be printed and the store could not record it.  So a money device asks
``DatabaseRoom.enough_for_a_sale`` before it touches the register or the terminal,
and a till hears ``storage_full`` instead.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

#: The room a sale needs, with margin: its rows are a few kilobytes, but each may split
#: a B-tree page or two, and other writes may land between the check and the booking.
SALE_RESERVE_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Room:
    #: Bytes the database's pages hold (free pages inside the file not counted).
    used: int
    #: What the database may grow to: its cap, or its size plus the disk's free space.
    allowed: int

    @property
    def left(self) -> int:
        return max(0, self.allowed - self.used)


class DatabaseRoom:
    def __init__(self, engine: Engine, path: Path, max_bytes: int | None) -> None:
        self._engine = engine
        self._path = path
        self._max_bytes = max_bytes

    def measure(self) -> Room:
        with self._engine.connect() as connection:
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
            page_size = connection.exec_driver_sql("PRAGMA page_size").scalar_one()
            free = connection.exec_driver_sql("PRAGMA freelist_count").scalar_one()
        used = (pages - free) * page_size
        on_disk = pages * page_size + shutil.disk_usage(self._path.parent).free
        allowed = on_disk if self._max_bytes is None else min(self._max_bytes, on_disk)
        return Room(used=used, allowed=allowed)

    def enough_for_a_sale(self) -> bool:
        return self.measure().left >= SALE_RESERVE_BYTES
