"""Faults on demand: a cloud that is slow, fails, lies, or commits a batch and never answers.

Tests and the demo set them through ``/v1/admin/faults`` (``storehub cloud fault``).  They
touch only store-facing requests that passed authentication, and every one that fires
logs a line, so a demo's audience can see why the store is retrying.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request

from cloud_link.reference.schemas import FaultChange, FaultSettings

log = logging.getLogger("storehub.cloud")

#: How often a hung answer looks whether its client has gone away.
HANG_POLL_S = 0.2

#: What a lying cloud answers: the start of a receipt, cut off, under a JSON content type.
GARBAGE = b'{"contiguous_seq": '


class InjectedFault(Exception):
    """Answer this instead of doing the work."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"injected fault: {status}")
        self.status = status
        self.body = body


class Faults:
    def __init__(self) -> None:
        self.settings = FaultSettings()

    def change(self, change: FaultChange) -> FaultSettings:
        self.settings = self.settings.model_copy(update=change.model_dump(exclude_none=True))
        log.info("faults now: %s", self.settings.model_dump())
        return self.settings

    def clear(self) -> FaultSettings:
        self.settings = FaultSettings()
        log.info("faults cleared")
        return self.settings

    def _take(self, name: str) -> bool:
        left = getattr(self.settings, name)
        if left > 0:
            self.settings = self.settings.model_copy(update={name: left - 1})
        return left > 0

    async def before_answer(self, what: str) -> None:
        """Delay, fail or lie about a store-facing request, as set."""
        if self.settings.delay_s > 0:
            log.warning("fault: %s waits %.1f s", what, self.settings.delay_s)
            await asyncio.sleep(self.settings.delay_s)
        if self._take("fail_next"):
            log.warning("fault: %s answers 500 (%d more to fail)", what, self.settings.fail_next)
            raise InjectedFault(500, b'{"error": {"code": "injected_fault", "message": "the cloud was told to fail"}}')
        if self._take("garbage_next"):
            log.warning("fault: %s answers garbage (%d more)", what, self.settings.garbage_next)
            raise InjectedFault(200, GARBAGE)

    async def hang_after_commit(self, request: Request, what: str) -> bool:
        """After a batch committed: if set, never answer; return once the client has gone away."""
        if not self._take("hang_after_commit_next"):
            return False
        log.warning("fault: %s committed and will not be answered", what)
        while not await request.is_disconnected():
            await asyncio.sleep(HANG_POLL_S)
        log.info("fault: the client of %s went away without an answer", what)
        return True
