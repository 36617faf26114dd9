"""The store's calls to its cloud (docs/cloud.md has the contract, ``cloud_link.contract``
its models), over one keep-alive HTTPS connection with the store's bearer token.

Every answer is read into a typed model; anything else — a refused connection, a
timeout, a 5xx, a body that is not what the contract says — is ``CloudTrouble``, which
the link answers by backing off and trying again.  Nothing here decides what is
delivered: the caller marks events delivered only up to what the cloud said it holds.
"""

from __future__ import annotations

import gzip
import ssl
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import BaseModel, ValidationError

from cloud_link.contract import BatchReceipt, InboundPage, Position
from cloud_link.outbox import EncodedBatch

#: gzip level for pushed batches: event JSON shrinks about 8x at level 1 already, and
#: the box's CPU is shared with the checkout; higher levels buy a few percent for 3x the time.
GZIP_LEVEL = 1

#: Added to the long poll's wait, so a cloud that holds the call the agreed time is not
#: taken for a dead one.
LONG_POLL_GRACE_S = 10.0

#: How much of a refusal's body goes into the log and sync/state.
ERROR_BODY_CHARS = 300


A = TypeVar("A", bound=BaseModel)


class CloudTrouble(Exception):
    """The call did not give an answer the store can use; try again later."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class CloudClient:
    def __init__(
        self,
        *,
        base_url: str,
        store_id: str,
        token: str,
        timeout_s: float,
        ca_file: Path | None = None,
        user_agent: str = "storehub",
    ) -> None:
        self.store_id = store_id
        self._timeout_s = timeout_s
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self._http = httpx.AsyncClient(
            base_url=f"{base_url}/v1/stores/{store_id}",
            headers={"Authorization": f"Bearer {token}", "User-Agent": user_agent},
            timeout=timeout_s,
            verify=verify,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def position(self) -> Position:
        """Where the cloud is: the highest seq up to which it holds every event."""
        return await self._call(Position, "GET", "/position")

    async def push(self, batch: EncodedBatch) -> BatchReceipt:
        body = orjson.dumps(
            {
                "store_id": self.store_id,
                "first_seq": batch.first_seq,
                "last_seq": batch.last_seq,
                "head_seq": batch.head_seq,
                # Already JSON: embedded as it is, not decoded and encoded again.
                "events": orjson.Fragment(batch.events_json),
            }
        )
        return await self._call(
            BatchReceipt,
            "POST",
            "/events",
            content=gzip.compress(body, compresslevel=GZIP_LEVEL),
            headers={
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                # The seq range names the batch: a retry after a lost answer is the same batch.
                "Idempotency-Key": f"{batch.first_seq}-{batch.last_seq}",
            },
        )

    async def inbound(self, *, after: int, limit: int, wait_s: float) -> InboundPage:
        return await self._call(
            InboundPage,
            "GET",
            "/inbound",
            params={"after": after, "limit": limit, "wait_s": wait_s},
            timeout=self._timeout_s + wait_s + LONG_POLL_GRACE_S,
        )

    async def _call(self, model: type[A], method: str, path: str, **request: Any) -> A:
        try:
            response = await self._http.request(method, path, **request)
        except httpx.TimeoutException:
            raise CloudTrouble(f"{method} {path}: no answer within the timeout") from None
        except httpx.HTTPError as exc:
            raise CloudTrouble(f"{method} {path}: {type(exc).__name__}: {exc or 'connection failed'}") from None
        if response.status_code != 200:
            raise CloudTrouble(
                f"{method} {path}: HTTP {response.status_code}: {response.text[:ERROR_BODY_CHARS]}",
                status=response.status_code,
            )
        try:
            return model.model_validate(orjson.loads(response.content))
        except (orjson.JSONDecodeError, ValidationError) as exc:
            raise CloudTrouble(
                f"{method} {path}: the answer is not what the contract says: "
                f"{str(exc).splitlines()[0][:ERROR_BODY_CHARS]}",
                status=response.status_code,
            ) from None
