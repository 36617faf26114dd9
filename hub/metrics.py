"""Prometheus metrics of one hub, on its own registry (no module-level singletons)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
        self.bus_connected = Gauge(
            "storehub_bus_connected", "1 while the hub is connected to the broker.", registry=self.registry
        )
        self.bus_reconnects = Counter(
            "storehub_bus_reconnects", "Times the hub re-established its broker session.", registry=self.registry
        )
        self.devices = Gauge(
            "storehub_devices", "Devices by status.", ["status"], registry=self.registry
        )
        self.boot = Gauge("storehub_boot", "The hub's boot number.", registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
