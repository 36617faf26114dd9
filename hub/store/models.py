"""Tables.  Every change here comes with an Alembic migration in hub/migrations."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class Boot(SQLModel, table=True):
    """One row per hub start; its id is the boot number on ``hub/state``."""

    id: int | None = Field(default=None, primary_key=True)
    started_at: float
    version: str


class DeviceJournalRow(SQLModel, table=True):
    """A money device's request and its outcome (devices/journal.py), one per key."""

    __tablename__ = "device_journal"

    device_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    client: str
    action: str
    request: str  # JSON
    state: str = Field(index=True)
    checkpoint: str = "{}"  # JSON
    result: str | None = None  # JSON
    error: str | None = None  # JSON
    attempts: int = 1
    created_at: float
    updated_at: float


metadata = SQLModel.metadata
