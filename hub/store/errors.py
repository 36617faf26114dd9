"""The store domain's refusals: a bus error with the field it is about."""

from __future__ import annotations

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
