"""Prometheus metrics of one hub, on its own registry (no module-level singletons)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from devices.actor import DeviceActor
    from hub.store.schemas import ShelfTruth

#: Request latency buckets, in seconds: a till notices anything above ~50 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "storehub_requests",
            "Requests answered, by target kind and outcome (ok or error code).",
            ["target_kind", "outcome"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "storehub_request_seconds",
            "Time from a request being routed to its response being ready (MQTT and REST).",
            ["target_kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rejected = Counter(
            "storehub_rejected_messages",
            "Messages the hub could not read as requests, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.retained_requests = Counter(
            "storehub_retained_requests",
            "Requests that came flagged retained: run once as they were sent (and their stored copy "
            "cleared), or a stored copy replayed by the broker (never run).",
            ["outcome"],
            registry=self.registry,
        )
        self.bus_connected = Gauge(
            "storehub_bus_connected", "1 while the hub is connected to the broker.", registry=self.registry
        )
        self.bus_reconnects = Counter(
            "storehub_bus_reconnects", "Times the hub re-established its broker session.", registry=self.registry
        )
        self.boot = Gauge("storehub_boot", "The hub's boot number.", registry=self.registry)
        self.claim_wait_seconds = Histogram(
            "storehub_claim_wait_seconds",
            "How long a granted claim waited for the device, by device kind.",
            ["kind"],
            buckets=(0, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "storehub_job_seconds",
            "From a job entering a device's queue to its end, by device kind.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def watch_devices(self, actors: Callable[[], Iterable[DeviceActor]]) -> None:
        """Device statuses, queue depths, claims and job counts, read from the actors at
        every scrape."""
        self.registry.register(_DeviceCollector(actors))

    def watch_shelf(self, shelf_truth: Callable[[], ShelfTruth]) -> None:
        """The stale shelf labels and the oldest one's age, read from the store at every scrape."""
        self.registry.register(_ShelfCollector(shelf_truth))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _DeviceCollector(Collector):
    def __init__(self, actors: Callable[[], Iterable[DeviceActor]]) -> None:
        self._actors = actors

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        by_status = GaugeMetricFamily("storehub_devices", "Devices by status.", labels=["status"])
        depth = GaugeMetricFamily("storehub_queue_depth", "Jobs waiting per device.", labels=["device"])
        held = GaugeMetricFamily("storehub_claim_held", "1 while a client holds the device.", labels=["device"])
        claims = CounterMetricFamily(
            "storehub_claims", "Claims granted, ended and refused per device.", labels=["device", "event"]
        )
        jobs = CounterMetricFamily("storehub_device_jobs", "Jobs per device by outcome.", labels=["device", "outcome"])
        actors = list(self._actors())
        for status in ("idle", "busy", "error", "offline"):
            by_status.add_metric([status], sum(1 for actor in actors if actor.status == status))
        for actor in actors:
            depth.add_metric([actor.id], actor.queue_depth)
            held.add_metric([actor.id], 1 if actor.claims.holder else 0)
            for event, count in actor.claims.counters.items():
                claims.add_metric([actor.id, event.removeprefix("claims_")], count)
            for outcome, count in actor.counters.items():
                jobs.add_metric([actor.id, outcome.removeprefix("jobs_")], count)
        yield from (by_status, depth, held, claims, jobs)


class _ShelfCollector(Collector):
    def __init__(self, shelf_truth: Callable[[], ShelfTruth]) -> None:
        self._shelf_truth = shelf_truth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        truth = self._shelf_truth()
        yield GaugeMetricFamily(
            "storehub_labels_stale", "Shelf labels showing a price that is no longer the price.", value=truth.count
        )
        yield GaugeMetricFamily(
            "storehub_labels_stale_oldest_age_seconds",
            "How long the longest-waiting stale shelf label has been wrong; 0 when none is.",
            value=truth.oldest_age_s or 0.0,
        )
