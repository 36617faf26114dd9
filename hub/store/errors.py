"""The store domain's refusals: a bus error with the field it is about."""

from __future__ import annotations

import sqlite3
from typing import Any

from bus.payloads import DeviceError, ErrorCode


class StoreError(DeviceError):
    """``code`` and ``message`` as on the bus; ``field`` names the input at fault."""

    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None, **details: Any) -> None:
        if field is not None:
            details = {"field": field} | details
        super().__init__(code, message, details or None)


def not_found(what: str, value: str, *, field: str) -> StoreError:
    return StoreError(ErrorCode.NOT_FOUND, f"this store has no {what} {value!r}", field=field)


STORAGE_FULL_MESSAGE = (
    "the store's database cannot grow (disk full, or its size cap): nothing was written; a technician must make room"
)


def is_storage_full(exc: BaseException) -> bool:
    """Whether SQLite refused for want of space (SQLITE_FULL), however deeply wrapped."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlite3.Error) and getattr(seen, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


def storage_full() -> StoreError:
    return StoreError(ErrorCode.STORAGE_FULL, STORAGE_FULL_MESSAGE)
