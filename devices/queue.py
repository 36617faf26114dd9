"""A device's job queue: priority classes, first come first served within each.

A customer waiting at the till comes first (interactive: receipts, payments), then
ordinary work (normal), then batches nobody is standing in front of (bulk: label
runs).  The queue is bounded so a flood of jobs is refused (``busy``) instead of
piling up; a job's owner may cancel it while it waits.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devices.actor import Job


class Priority(IntEnum):
    INTERACTIVE = 0
    NORMAL = 1
    BULK = 2


class QueueFull(Exception):
    pass


class JobQueue:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lanes: dict[Priority, deque[Job]] = {priority: deque() for priority in Priority}
        self._arrived: asyncio.Event = asyncio.Event()

    def __len__(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    def __iter__(self) -> Iterator[Job]:
        """Waiting jobs in the order they will run."""
        for priority in Priority:
            yield from self._lanes[priority]

    def put(self, job: Job) -> None:
        if len(self) >= self.limit:
            raise QueueFull
        self._lanes[job.priority].append(job)
        self._arrived.set()

    def pop(self, *, better_than: Priority | None = None) -> Job | None:
        """The next job to run (only of a higher class than ``better_than`` if given)."""
        for priority in Priority:
            if better_than is not None and priority >= better_than:
                return None
            lane = self._lanes[priority]
            while lane:
                job = lane.popleft()
                if not job.future.done():  # its requester may have given up already
                    return job
        return None

    async def get(self) -> Job:
        while True:
            job = self.pop()
            if job is not None:
                return job
            self._arrived.clear()
            await self._arrived.wait()

    def cancel(self, client: str, request_id: str) -> Job | None:
        """Take a waiting job out, if ``client`` queued it."""
        for lane in self._lanes.values():
            for job in lane:
                if job.client == client and job.request_id == request_id:
                    lane.remove(job)
                    return job
        return None

    def discard(self, job: Job) -> bool:
        lane = self._lanes[job.priority]
        if job in lane:
            lane.remove(job)
            return True
        return False

    def drain(self, *, keep: Callable[[Job], bool] = lambda job: False) -> list[Job]:
        """Take every waiting job out, except those ``keep`` says stay."""
        taken = [job for job in self if not keep(job)]
        for job in taken:
            self._lanes[job.priority].remove(job)
        return taken
