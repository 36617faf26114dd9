"""How replication stands, for people: the retained ``sync/state`` document, its
warning and alarm levels, and the same numbers as Prometheus metrics.

A backlog is normal while the WAN is down; what must never happen is that nobody
notices it growing until the disk is full.  So the three things that grow with an
outage — undelivered events, the age of the oldest, the database's size — each have
a warning and an alarm level, and the document says which one was crossed and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field

from cloud_link.config import CloudConfig, Thresholds
from cloud_link.outbox import OutboxStats

Level = Literal["ok", "warning", "alarm"]
LEVELS: tuple[Level, ...] = ("ok", "warning", "alarm")


@dataclass
class LinkStatus:
    """What the link itself knows (the outbox knows the rest); changed only on the hub's loop."""

    paused: bool = False
    #: None until the first call to the cloud has been answered or has failed.
    cloud_reachable: bool | None = None
    last_contact_at: float | None = None
    last_push_at: float | None = None
    last_inbound_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    #: The cloud's own view, from its last answer.
    cloud_seq: int | None = None
    counters: dict[str, int] = field(
        default_factory=lambda: {
            "pushed_events": 0,
            "failures": 0,
        }
    )

    def reached(self, now: float) -> None:
        self.cloud_reachable = True
        self.last_contact_at = now

    def failed(self, message: str, now: float, *, cloud: bool) -> None:
        if cloud:
            self.cloud_reachable = False
        self.last_error = message
        self.last_error_at = now
        self.counters["failures"] += 1


class Problem(BaseModel):
    what: Literal["backlog", "age", "storage", "storage_full", "cloud"]
    level: Level
    message: str


class SyncState(BaseModel):
    """The ``sync/state`` document (retained)."""

    store_id: str
    mode: Literal["push", "pull", "both"]
    paused: bool = Field(description="A technician paused the link (a WAN outage drill): nothing goes out.")
    level: Level = Field(description="The worst of the problems: ok, warning or alarm.")
    problems: list[Problem]
    cloud_reachable: bool | None = Field(
        description="Whether the last call to the cloud was answered; None: not tried."
    )
    last_contact_at: float | None
    last_push_at: float | None
    last_inbound_at: float | None
    last_error: str | None
    last_seq: int = Field(description="The newest event in the outbox.")
    delivered_seq: int = Field(description="Every event up to this one is in the cloud.")
    backlog: int = Field(description="Events not yet in the cloud.")
    oldest_undelivered_age_s: float | None = Field(description="How long the oldest of them has waited.")
    bytes_used: int = Field(description="What the database takes on the disk: its pages in use, WAL and shm.")
    bytes_allowed: int = Field(description="What it may take: that, and what it may still grow by (cap, disk).")
    storage_full: bool = Field(
        description="Too full for a sale: a write was refused, or only the upkeep reserve is left."
    )
    inbound_cursor: int
    pushed_events: int
    failures: int
    ts: float

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def same_news(self, other: SyncState | None) -> bool:
        """Whether ``other`` says the same things a person would act on (not just newer numbers)."""
        if other is None:
            return False
        keys = ("level", "paused", "cloud_reachable", "storage_full", "mode")
        return all(getattr(self, k) == getattr(other, k) for k in keys) and _kinds(self) == _kinds(other)


def _kinds(state: SyncState) -> set[tuple[str, str]]:
    """Which problems, at which level: their messages carry counts that change all the time."""
    return {(problem.what, problem.level) for problem in state.problems}


def assess(stats: OutboxStats, status: LinkStatus, config: CloudConfig, now: float) -> list[Problem]:
    limits: Thresholds = config.thresholds
    problems: list[Problem] = []

    def check(what: str, value: float, warning: float, alarm: float, message: str) -> None:
        if value >= alarm:
            problems.append(Problem(what=what, level="alarm", message=message))  # type: ignore[arg-type]
        elif value >= warning:
            problems.append(Problem(what=what, level="warning", message=message))  # type: ignore[arg-type]

    check(
        "backlog",
        stats.backlog,
        limits.backlog_warning,
        limits.backlog_alarm,
        f"{stats.backlog} events wait for the cloud",
    )
    if stats.oldest_undelivered_at is not None:
        age = now - stats.oldest_undelivered_at
        check(
            "age",
            age,
            limits.age_warning_s,
            limits.age_alarm_s,
            f"the oldest undelivered event is {_duration(age)} old",
        )
    if stats.bytes_allowed > 0:
        percent = 100 * stats.bytes_used / stats.bytes_allowed
        check(
            "storage",
            percent,
            limits.storage_warning_percent,
            limits.storage_alarm_percent,
            f"the database uses {percent:.0f}% of the {stats.bytes_allowed // 2**20} MiB it may use",
        )
    if stats.storage_full:
        problems.append(
            Problem(
                what="storage_full",
                level="alarm",
                message="the database cannot grow: sales and stock writes are refused until space is freed",
            )
        )
    if status.cloud_reachable is False and not status.paused:
        problems.append(
            Problem(what="cloud", level="warning", message=f"the cloud does not answer: {status.last_error}")
        )
    return problems


def worst(problems: list[Problem]) -> Level:
    return max((p.level for p in problems), key=LEVELS.index, default="ok")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class SyncMetrics(Collector):
    """The last ``sync/state``, read at every scrape, plus the push latency histogram."""

    def __init__(self, registry: CollectorRegistry, latest: Callable[[], SyncState | None]) -> None:
        self._latest = latest
        self.push_seconds = Histogram(
            "storehub_sync_push_seconds",
            "One pushed batch: from sending to the cloud's answer.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        registry.register(self)

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        state = self._latest()
        if state is None:
            return
        gauges = {
            "storehub_sync_backlog_events": ("Events not yet in the cloud.", state.backlog),
            "storehub_sync_oldest_undelivered_seconds": (
                "Age of the oldest event not yet in the cloud (0 when none).",
                state.oldest_undelivered_age_s or 0,
            ),
            "storehub_sync_database_bytes": (
                "What the store database takes: pages in use, WAL, shm.",
                state.bytes_used,
            ),
            "storehub_sync_database_allowed_bytes": ("What the database may grow to.", state.bytes_allowed),
            "storehub_sync_storage_full": ("1 while the database cannot grow.", int(state.storage_full)),
            "storehub_sync_cloud_reachable": ("1 while the cloud answers.", int(bool(state.cloud_reachable))),
            "storehub_sync_paused": ("1 while a technician has paused the link.", int(state.paused)),
            "storehub_sync_level": ("0 ok, 1 warning, 2 alarm.", LEVELS.index(state.level)),
            "storehub_sync_delivered_seq": ("Every event up to this seq is in the cloud.", state.delivered_seq),
            "storehub_sync_last_seq": ("The newest event's seq.", state.last_seq),
        }
        for name, (text, value) in gauges.items():
            yield GaugeMetricFamily(name, text, value=value)
        yield CounterMetricFamily(
            "storehub_sync_pushed_events", "Events pushed to the cloud.", value=state.pushed_events
        )
        yield CounterMetricFamily("storehub_sync_failures", "Calls to the cloud that failed.", value=state.failures)
