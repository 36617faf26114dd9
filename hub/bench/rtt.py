"""``storehub bench rtt``: request round trips through the hub, next to the raw broker (the harness's docstring tells how)."""

from __future__ import annotations

import platform
from typing import Any

from hub.bench.harness import (
    bench_store,
    cpu_count,
    hub_process,
    measure_phase,
    mosquitto_version,
    package_version,
    ratio,
    raw_echoer,
)

# -- the bench -----------------------------------------------------------------------


async def run_rtt_bench(*, clients: int, seconds: float, warmup: float, rate: float = 0.0) -> dict[str, Any]:
    """Measure both phases in one run; the dict ``hub.bench.cli.report_table`` formats."""
    if clients < 1 or seconds <= 0 or warmup < 0 or rate < 0:
        raise ValueError("need at least one client, a positive measured time, a warm-up and a rate of 0 or more")
    async with bench_store(clients) as (store, tills):
        async with raw_echoer(store):
            raw = await measure_phase("raw", tills, seconds=seconds, warmup=warmup, rate=rate)
        async with hub_process(store, tills[0]):
            hub = await measure_phase("hub", tills, seconds=seconds, warmup=warmup, rate=rate)
    return {
        "clients": clients,
        "rate": rate,
        "seconds": seconds,
        "warmup": warmup,
        "cpus": cpu_count(),
        "python": platform.python_version(),
        "mosquitto": mosquitto_version(),
        "paho_mqtt": package_version("paho-mqtt"),
        "storehub": package_version("storehub"),
        "raw": raw,
        "hub": hub,
        "ratio": {
            "throughput": ratio(hub["throughput"], raw["throughput"]),
            "p50": ratio(hub["p50_ms"], raw["p50_ms"]),
            "p99": ratio(hub["p99_ms"], raw["p99_ms"]),
        },
    }
