"""``storehub bench contention``: tills taking turns on one exclusive device while others queue on a shared one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bus.client import RequestTimeout, StoreHubClient
from hub.bench.harness import (
    BENCH_EXCLUSIVE_DEVICE,
    CLAIM_WAIT_S,
    PhaseTally,
    bench_store,
    cpu_count,
    hub_process,
    measure_phase,
    package_version,
    ratio,
    say,
)


async def measure_claim_cycles(
    name: str, tills: list[StoreHubClient], *, seconds: float, warmup: float
) -> dict[str, Any]:
    """Each till in turn: claim the exclusive device (waiting its turn), use it once, release.

    Claim latency runs from sending the claim to holding the device: the queue of tills
    ahead included, which is what a till at the checkout waits.
    """
    measure_from = time.perf_counter() + warmup
    stop_at = measure_from + seconds
    tally = PhaseTally(measure_from=measure_from)

    async def take_turns(till: StoreHubClient) -> None:
        while (asked := time.perf_counter()) < stop_at:
            try:
                claim = await till.request(
                    BENCH_EXCLUSIVE_DEVICE, "claim", {"lease_s": 10, "wait_s": CLAIM_WAIT_S}, timeout=CLAIM_WAIT_S + 5
                )
                granted = time.perf_counter()
                used = claim.ok and (await till.request(BENCH_EXCLUSIVE_DEVICE, "echo", {})).ok
                released = claim.ok and (await till.request(BENCH_EXCLUSIVE_DEVICE, "release")).ok
                ok = claim.ok and used and released
            except RequestTimeout:
                ok, granted = False, time.perf_counter()
            tally.record(asked, granted, ok=ok)

    say(f"{name}: {len(tills)} till(s) taking turns on {BENCH_EXCLUSIVE_DEVICE}…")
    await asyncio.gather(*(take_turns(till) for till in tills))
    return {
        "cycles": len(tally.latencies),
        "cycles_per_s": round(len(tally.latencies) / seconds, 1),
        **tally.latency_ms(prefix="claim_"),
        "errors": tally.errors,
    }


async def run_contention_bench(*, tills: int, seconds: float, warmup: float) -> dict[str, Any]:
    """Uncontended first, then N tills taking turns on one exclusive device while N
    others queue jobs on one shared device, all against one hub in one run."""
    if tills < 1 or seconds <= 0 or warmup < 0:
        raise ValueError("need at least one till, a positive measured time and a warm-up of 0 s or more")
    async with bench_store(2 * tills + 1) as (store, everyone):
        solo, claimers, queuers = everyone[0], everyone[1 : tills + 1], everyone[tills + 1 :]
        async with hub_process(store, solo):
            alone = await measure_phase("uncontended jobs", [solo], seconds=seconds, warmup=warmup)
            alone_claims = await measure_claim_cycles("uncontended claims", [solo], seconds=seconds, warmup=warmup)
            claims, jobs = await asyncio.gather(
                measure_claim_cycles("contended claims", claimers, seconds=seconds, warmup=warmup),
                measure_phase("contended jobs", queuers, seconds=seconds, warmup=warmup),
            )
    return {
        "tills": tills,
        "seconds": seconds,
        "warmup": warmup,
        "cpus": cpu_count(),
        "storehub": package_version("storehub"),
        "uncontended": {"jobs": alone, "claims": alone_claims},
        "contended": {"jobs": jobs, "claims": claims},
        "ratio": {
            "claim_p50": ratio(claims["claim_p50_ms"], alone_claims["claim_p50_ms"]),
            "jobs_throughput": ratio(jobs["throughput"], alone["throughput"]),
        },
    }
