"""``storehub bench rtt``: request round trips through the hub, next to the raw broker.

The bench builds a throwaway store in a temporary folder — its own Mosquitto on a free
loopback port, N bench tills with fresh secrets — and measures it twice with the same
tills doing the same thing, each in a closed loop (send, await the answer, send again):

1. **raw**: a plain paho client (``hub.bench.echo``) answers every request at once.
   This is the floor: two paho clients echoing through the same Mosquitto.
2. **hub**: the real hub, started as its own process from a config, answers through
   its request router and the ``echo`` diagnostic device actor.

Each phase warms up unmeasured, then measures.  Latency is taken per request with
``time.perf_counter`` in the till; throughput is answered requests per measured
second.  Everything started is stopped again, even on Ctrl-C.
"""

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
