"""Tables.  Every change here comes with an Alembic migration in hub/migrations."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class Boot(SQLModel, table=True):
    """One row per hub start; its id is the boot number on ``hub/state``."""

    id: int | None = Field(default=None, primary_key=True)
    started_at: float
    version: str


metadata = SQLModel.metadata
