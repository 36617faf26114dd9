"""What ``sync/state`` says, and when it is news: the thresholds a technician relies on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cloud_link.config import CloudConfig, Thresholds
from cloud_link.outbox import OutboxStats
from cloud_link.state import LinkStatus, SyncState, assess, worst

NOW = 1_800_000_000.0
CONFIG = CloudConfig(thresholds=Thresholds(backlog_warning=100, backlog_alarm=1000, age_warning_s=60, age_alarm_s=600))


def stats(*, backlog: int = 0, age_s: float | None = None, used: int = 10, allowed: int = 1000, full: bool = False):
    return OutboxStats(
        last_seq=500 + backlog,
        delivered_seq=500,
        oldest_undelivered_at=None if age_s is None else NOW - age_s,
        bytes_used=used,
        bytes_allowed=allowed,
        storage_full=full,
        inbound_cursor=0,
    )


def levels(outbox: OutboxStats, status: LinkStatus | None = None) -> dict[str, str]:
    return {p.what: p.level for p in assess(outbox, status or LinkStatus(), CONFIG, NOW)}


def test_each_threshold_warns_then_alarms() -> None:
    assert levels(stats(backlog=99, age_s=59)) == {}
    assert levels(stats(backlog=100, age_s=60)) == {"backlog": "warning", "age": "warning"}
    assert levels(stats(backlog=1000, age_s=600)) == {"backlog": "alarm", "age": "alarm"}
    assert levels(stats(used=800)) == {"storage": "warning"}
    assert levels(stats(used=950)) == {"storage": "alarm"}
    assert levels(stats(full=True)) == {"storage_full": "alarm"}
    assert worst(assess(stats(backlog=100, full=True), LinkStatus(), CONFIG, NOW)) == "alarm"
    assert worst([]) == "ok"


def test_an_unanswering_cloud_is_a_warning_unless_a_technician_paused_the_link() -> None:
    status = LinkStatus()
    status.failed("push: connection refused", NOW, cloud=True)
    assert levels(stats(), status) == {"cloud": "warning"}
    status.paused = True
    assert levels(stats(), status) == {}


def state(outbox: OutboxStats, **changes: object) -> SyncState:
    problems = assess(outbox, LinkStatus(), CONFIG, NOW)
    fields: dict[str, object] = {
        "store_id": "demo-store", "mode": "push", "paused": False, "level": worst(problems), "problems": problems,
        "cloud_reachable": True, "last_contact_at": None, "last_push_at": None, "last_inbound_at": None,
        "last_error": None, "last_seq": outbox.last_seq, "delivered_seq": outbox.delivered_seq,
        "backlog": outbox.backlog, "oldest_undelivered_age_s": None, "bytes_used": outbox.bytes_used,
        "bytes_allowed": outbox.bytes_allowed, "storage_full": outbox.storage_full, "inbound_cursor": 0,
        "pushed_events": 0, "failures": 0, "ts": NOW,
    }  # fmt: skip
    return SyncState.model_validate(fields | changes)


def test_news_is_what_a_person_would_act_on_not_every_new_count() -> None:
    growing = state(stats(backlog=150))
    assert growing.same_news(state(stats(backlog=170))), "a backlog growing within its warning is no news"
    assert not growing.same_news(state(stats(backlog=1500))), "the alarm is news"
    assert not growing.same_news(state(stats(backlog=150), paused=True))
    assert not growing.same_news(None)


def test_config_refuses_what_would_not_work() -> None:
    with pytest.raises(ValidationError, match="needs cloud.url and cloud.token"):
        CloudConfig(mode="push")
    with pytest.raises(ValidationError, match="must be https://"):
        CloudConfig(mode="push", url="http://cloud.example.com", token="t")
    with pytest.raises(ValidationError, match="backlog_warning"):
        Thresholds(backlog_warning=10, backlog_alarm=5)
    assert CloudConfig(mode="push", url="http://127.0.0.1:8090/", token="t").url == "http://127.0.0.1:8090"
