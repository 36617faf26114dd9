"""The device journal: how money devices remember, across crashes, what they were asked.

A fiscal receipt or a card payment must happen once per idempotency key, whenever the
hub dies.  The actor writes the request here before it touches the device, notes its
progress (checkpoints) while it works, and writes the outcome after.  After a restart
it reads back what was left unfinished and asks the device what really happened.

devices/ never touches SQL: the hub hands each actor a journal through its port
(``DevicePort.journal``); the hub's store layer keeps it in SQLite with
``synchronous=FULL``, so a line written here survives a power cut.  Every call blocks
on the disk: actors make them through ``DeviceActor.blocking``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bus.payloads import DeviceError, ErrorCode


class JournalState(StrEnum):
    #: Written before the device is touched; the outcome is not known yet.
    STARTED = "started"
    #: The device did the work; ``result`` is the answer every retry gets.
    DONE = "done"
    #: The device refused or failed for good; ``error`` is the answer every retry gets.
    FAILED = "failed"
    #: Nothing happened on the device (reconciled after a crash, or refused before it
    #: started): a retry with the same key is free to run again.
    VOID = "void"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    device_id: str
    key: str
    client: str
    action: str
    #: The request's arguments as JSON data: a retry must ask for the same thing.
    request: dict[str, Any]
    state: JournalState
    #: What the actor noted on the way (the register's document number before it
    #: started and the fiscal storage that number is in, the step reached…): what
    #: reconciliation reads after a crash.
    checkpoint: dict[str, Any]
    result: dict[str, Any] | None
    #: ``{"code", "message", "details"}`` of a final failure.
    error: dict[str, Any] | None
    #: How many times the request was started (a void entry started again counts up).
    attempts: int
    created_at: float
    updated_at: float

    def same_request(self, client: str, action: str, request: dict[str, Any]) -> bool:
        """Whether a retry asks for exactly what the first attempt asked."""
        return (self.client, self.action, self.request) == (client, action, request)

    def answer(self) -> dict[str, Any]:
        """What a finished request answered, the same every time: its result, or its
        final error raised again."""
        if self.state is JournalState.DONE:
            assert self.result is not None
            return self.result
        error = self.error or {}
        raise DeviceError(
            ErrorCode(error.get("code", ErrorCode.DEVICE_ERROR)),
            error.get("message", "failed"),
            error.get("details"),
            retryable=False,
        )


def error_record(error: DeviceError) -> dict[str, Any]:
    """A final error as the journal keeps it (``JournalEntry.error``)."""
    return {"code": error.code.value, "message": error.message, "details": error.details}


class DeviceJournal(Protocol):
    def begin(
        self, device_id: str, key: str, *, client: str, action: str, request: dict[str, Any]
    ) -> tuple[JournalEntry, bool]:
        """Record a request before the device is touched.

        Returns the entry and whether it was started now.  A new key, or a void one,
        starts (again); otherwise the existing entry comes back unchanged and the actor
        answers from it (or refuses a different request under the same key).
        """
        ...

    def checkpoint(self, device_id: str, key: str, **progress: Any) -> None:
        """Merge ``progress`` into the entry's checkpoint, durably."""
        ...

    def finish(self, device_id: str, key: str, result: dict[str, Any]) -> None: ...

    def fail(self, device_id: str, key: str, error: dict[str, Any]) -> None: ...

    def void(self, device_id: str, key: str, reason: str) -> None: ...

    def get(self, device_id: str, key: str) -> JournalEntry | None: ...

    def unfinished(self, device_id: str) -> list[JournalEntry]:
        """Entries still ``started``, oldest first: what reconciliation must settle."""
        ...
