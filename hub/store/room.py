"""How much the store's database may still grow: within its size cap
(``database_max_mb``) and on the disk it lives on, counting everything it really takes
there — its pages, its WAL and its shm.

A sale is started only with room to book it.  Its fiscal journal line, then the
sale's stock moves, loyalty and event: if the database filled up half-way, the
receipt would be printed and the store could not record it.  So a money device asks
``DatabaseRoom.enough_for_a_sale`` before it touches the register or the terminal,
and a till hears ``storage_full`` instead.

And the last of the room is kept for the writes that make room: recording what the
cloud confirmed (the delivery mark) and pruning it.  Ordinary writes stop
``UPKEEP_RESERVE_BYTES`` short of full (``enough_for_writes``); without that reserve a
full disk could never record a delivery, so it could never prune, so it stayed full.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine

#: The room a sale needs, with margin: its rows are a few kilobytes, but each may split
#: a B-tree page or two, and other writes may land between the check and the booking.
SALE_RESERVE_BYTES = 256 * 1024

#: The room ordinary writes leave for the delivery mark and pruning.  A mark is a page
#: or two of WAL; an urgent prune of ``cloud_link.link.URGENT_PRUNE_CHUNK`` events
#: rewrites (zeroes: SQLite's secure_delete) a few dozen pages, and the writer
#: checkpoints the WAL after it, so one chunk's WAL at a time is what must fit.
UPKEEP_RESERVE_BYTES = 256 * 1024

#: Below this much free disk the writer gives the WAL back (checkpoint and truncate)
#: after every delivery mark and prune: a prune's WAL would otherwise take about as
#: much disk as the prune freed in the file, and sales would wait for the next refusal.
TIGHT_DISK_BYTES = 1024 * 1024

#: Room beyond any batch's needs (512 writes take a megabyte or two): with this much
#: surely left the writer does not query the database's pages before a batch.
PLENTY_BYTES = 32 * 1024 * 1024

#: The disk space below which the writer checkpoints the WAL before it writes: a write
#: into free pages inside the file still needs disk for its WAL frames until then.
WAL_HEADROOM_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Room:
    #: What the database takes on the disk: its pages in use (free pages inside the
    #: file not counted), its WAL and its shm.
    used: int
    #: What it may still grow by: within its cap (which counts pages, as SQLite's
    #: ``max_page_count`` does), and on the disk.
    left: int
    #: The WAL's size now (what a checkpoint would give back).
    wal: int = 0
    #: The disk's free space, what the WAL's next frames take.
    disk_free: int = 0

    @property
    def allowed(self) -> int:
        """What the database may take: what it takes and what it may still grow by."""
        return self.used + self.left


class DatabaseRoom:
    def __init__(self, engine: Engine, path: Path, max_bytes: int | None) -> None:
        self._engine = engine
        self._path = path
        self._max_bytes = max_bytes

    def measure(self, connection: Connection | None = None) -> Room:
        """``connection``: one already open on the database (the writer's), else one of
        the engine's."""
        if connection is None:
            with self._engine.connect() as own:
                return self.measure(own)
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
        page_size = connection.exec_driver_sql("PRAGMA page_size").scalar_one()
        free = connection.exec_driver_sql("PRAGMA freelist_count").scalar_one()
        database, wal, shm = (_size(self._path.with_name(self._path.name + tail)) for tail in ("", "-wal", "-shm"))
        disk = os.statvfs(self._path.parent)
        disk_free = disk.f_bavail * disk.f_frsize
        in_use = (pages - free) * page_size
        # On the disk: its free space and the file's free pages, less the pages still
        # only in the WAL (page_count counts them): the file grows by those at the next
        # checkpoint, so until then they take the disk twice, as frame and as page.
        left = disk_free + free * page_size - (pages * page_size - database)
        if self._max_bytes is not None:
            left = min(left, self._max_bytes - in_use)
        return Room(used=in_use + wal + shm, left=max(0, left), wal=wal, disk_free=disk_free)

    def surely_plenty(self) -> bool:
        """Without a query (file sizes and statvfs only): room to spare for any batch.
        Pages in use are at most the file and its WAL; the pages still only in the WAL
        at most the WAL."""
        database, wal = (_size(self._path.with_name(self._path.name + tail)) for tail in ("", "-wal"))
        disk = os.statvfs(self._path.parent)
        left = disk.f_bavail * disk.f_frsize - wal
        if self._max_bytes is not None:
            left = min(left, self._max_bytes - database - wal)
        return left >= PLENTY_BYTES

    def enough_for_writes(self, room: Room | None = None) -> bool:
        """Room for an ordinary write beyond what the delivery mark and pruning keep."""
        return (room or self.measure()).left >= UPKEEP_RESERVE_BYTES

    def enough_for_a_sale(self, room: Room | None = None) -> bool:
        return (room or self.measure()).left >= UPKEEP_RESERVE_BYTES + SALE_RESERVE_BYTES


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
