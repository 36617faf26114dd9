"""At most once per device and idempotency key; a till's retry gets the first answer.

A till that lost its connection mid-request retries with the same key.  If the first
attempt is still running, the retry waits for it; if it finished, the retry gets its
outcome again; nothing runs twice.  The same key with other arguments is a
``conflict``.  Only outcomes of work done are kept: success, or a final error from
the device.  An answer that invites a retry (busy, offline, timeout…) or says the
work never started (refused, forbidden…) is forgotten, so the retry is free to run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bus.payloads import ErrorCode, Response

#: Keys are remembered this long: longer than any till's retry window.
KEY_LIFETIME_S = 24 * 3600.0

#: Keys remembered at most, oldest forgotten first.  A busy store makes a few thousand
#: keyed requests a day; this bounds memory whatever a misbehaving till does.
KEY_LIMIT = 100_000

#: Answers that mean the device never did the work (besides every retryable one).
NOT_EXECUTED = frozenset(
    {
        ErrorCode.INVALID_REQUEST,
        ErrorCode.UNKNOWN_TARGET,
        ErrorCode.UNKNOWN_ACTION,
        ErrorCode.FORBIDDEN,
        ErrorCode.NOT_CLAIMED,
        ErrorCode.CLAIMED_BY_OTHER,
        ErrorCode.BUSY,
        ErrorCode.TIMEOUT,
        ErrorCode.CANCELLED,
    }
)


def fingerprint(client: str, action: str, args: dict[str, Any]) -> str:
    """What makes two requests "the same": who asked, for what, with which arguments.

    The client is part of it so a till can never be handed another till's answer.
    """
    canonical = json.dumps(
        {"client": client, "action": action, "args": args}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Entry:
    fingerprint: str
    answer: asyncio.Future[Response]
    created: float


class IdempotencyKeys:
    def __init__(self, *, lifetime_s: float = KEY_LIFETIME_S, limit: int = KEY_LIMIT) -> None:
        self.lifetime_s = lifetime_s
        self.limit = limit
        self._entries: OrderedDict[tuple[str, str], Entry] = OrderedDict()

    async def run(
        self,
        device: str,
        key: str,
        request_id: str | None,
        print_: str,
        execute: Callable[[], Awaitable[Response]],
    ) -> Response:
        self._forget_old()
        entry = self._entries.get((device, key))
        if entry is not None:
            if entry.fingerprint != print_:
                return Response.failure(
                    request_id,
                    ErrorCode.CONFLICT,
                    f"idempotency key {key!r} was used on {device} for a different request",
                )
            first = await asyncio.shield(entry.answer)
            return first.model_copy(update={"request_id": request_id})
        entry = Entry(print_, asyncio.get_running_loop().create_future(), time.monotonic())
        self._entries[(device, key)] = entry
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        try:
            response = await execute()
        except BaseException:
            self._entries.pop((device, key), None)
            entry.answer.cancel()
            raise
        entry.answer.set_result(response)
        if not _work_done(response):
            self._entries.pop((device, key), None)
        return response

    def _forget_old(self) -> None:
        horizon = time.monotonic() - self.lifetime_s
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if oldest.created >= horizon:
                break
            self._entries.popitem(last=False)


def _work_done(response: Response) -> bool:
    error = response.error
    return error is None or not (error.retryable or error.code in NOT_EXECUTED)
