from __future__ import annotations

from sqlmodel import Session

from hub.store.models import Boot


def record_boot(*, session: Session, started_at: float, version: str) -> int:
    """Count this start; the number only ever grows, across restarts and crashes."""
    boot = Boot(started_at=started_at, version=version)
    session.add(boot)
    session.commit()
    assert boot.id is not None
    return boot.id
