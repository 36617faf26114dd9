"""Keyed writes: a till's retry of a store write gets the first answer, not a second write.

The key, what was asked and the answer are stored in the same transaction as the
write itself, so "done" and "remembered as done" can never disagree after a crash.
The same key with a different request is a ``conflict``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from bus.payloads import ErrorCode
from hub.store.errors import StoreError
from hub.store.models import StoreRequest
from hub.store.outbox import dump


def fingerprint(operation: str, request: BaseModel | dict[str, Any]) -> str:
    body = request.model_dump(mode="json", exclude={"idempotency_key"}) if isinstance(request, BaseModel) else request
    return hashlib.sha256(dump({"operation": operation, "request": body}).encode()).hexdigest()


def once(
    *,
    session: Session,
    client: str,
    key: str | None,
    operation: str,
    request: BaseModel | dict[str, Any],
    work: Callable[[], BaseModel],
    now: float | None = None,
) -> dict[str, Any]:
    """Run ``work`` unless ``client`` already did this ``key``; returns the answer as JSON data."""
    if key is None:
        return work().model_dump(mode="json")
    digest = fingerprint(operation, request)
    row = session.get(StoreRequest, (client, key))
    if row is not None:
        if row.operation != operation or row.fingerprint != digest:
            raise StoreError(
                ErrorCode.CONFLICT,
                f"idempotency key {key!r} was used for another request ({row.operation})",
                field="idempotency_key",
            )
        return json.loads(row.answer)
    answer = work().model_dump(mode="json")
    session.add(
        StoreRequest(
            client=client, key=key, operation=operation, fingerprint=digest, answer=dump(answer),
            created_at=time.time() if now is None else now,
        )
    )  # fmt: skip
    return answer
