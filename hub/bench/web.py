"""``storehub bench web``: the managers' Labels page with thousands of stale labels,
beside ``/healthz`` in the same run.

A throwaway store as in ``hub.bench`` — its own Mosquitto, the real hub as its own
process on free loopback ports.  The head office's price change for ``--stale``
products (5,000 by default: a big store's price day) arrives through the cloud's
``POST /api/v1/sync/inbound``, leaving as many shelf labels stale.  Then ``--callers``
managers' browsers (an ``httpx.AsyncClient`` each, one keep-alive connection, signed in
through the page's own form, so with a session cookie and nothing else) ask for
``GET /manage/labels`` in a closed loop.  The baseline is ``GET /healthz`` by the same
callers just before: the HTTP stack's floor, no session, no store work.  Before
measuring, the bench checks that the page it times shows the whole queue's count.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any

import httpx

from bus.passwords import new_secret
from hub.bench.api import HTTP_TIMEOUT_S, SEED_TIMEOUT_S, CpuClock, load_average, measure_http_phase, side_by_side
from hub.bench.harness import bench_store, cpu_count, hub_process, package_version, say
from hub.store.schemas import InboundBatch
from hub.throwaway import Client, shelf_products

#: The issue's goal for the Labels page's p99 on this machine.
LABELS_P99_GOAL_MS = 50.0

DEFAULT_STALE = 5000
DEFAULT_CALLERS = 2

MANAGER = Client("bench-manager", "manager")
CLOUD = Client("bench-cloud", "cloud")

LABELS_PATH = "/manage/labels"
HEALTH_PATH = "/healthz"
SIGN_IN_PATH = "/manage/login"

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_STALE_FIGURE = re.compile(r'data-figure="stale"[^>]*>([^<]*)<')


async def signed_in_browser(base_url: str, manager: Client) -> httpx.AsyncClient:
    """A manager's browser: one keep-alive connection, signed in through the page's form."""
    browser = httpx.AsyncClient(
        base_url=base_url,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        timeout=HTTP_TIMEOUT_S,
        trust_env=False,
    )
    try:
        form = await browser.get(SIGN_IN_PATH)
        token = _CSRF.search(form.text)
        if form.status_code != 200 or token is None:
            raise RuntimeError(f"the sign-in page has no form to fill: {form.status_code} {form.text[:300]}")
        fields = {"client_id": manager.id, "secret": manager.secret, "csrf": token.group(1)}
        answer = await browser.post(SIGN_IN_PATH, data=fields)
        if answer.status_code != 303:
            raise RuntimeError(f"the hub refused the bench manager's sign-in: {answer.status_code} {answer.text[:300]}")
    except BaseException:
        await browser.aclose()
        raise
    return browser


async def make_stale(cloud: httpx.AsyncClient, count: int) -> float:
    """The head office's new prices for ``count`` products: as many stale labels; seconds taken."""
    products, prices = shelf_products(count)
    batch = InboundBatch.model_validate({"products": products, "prices": prices})
    say(f"seed: {count} products and prices through /api/v1/sync/inbound…")
    started = time.perf_counter()
    answer = await cloud.post("/api/v1/sync/inbound", json=batch.model_dump(mode="json"), timeout=SEED_TIMEOUT_S)
    if answer.status_code != 200 or answer.json()["applied"].get("prices") != count:
        raise RuntimeError(f"the hub did not apply the bench's price change: {answer.status_code} {answer.text[:500]}")
    return round(time.perf_counter() - started, 2)


async def check_page(browser: httpx.AsyncClient, stale: int) -> int:
    """The page the bench times answers 200 and counts the whole queue; its size in bytes."""
    page = await browser.get(LABELS_PATH)
    figure = _STALE_FIGURE.search(page.text)
    shown = re.sub(r"\D", "", figure.group(1)) if figure else None
    if page.status_code != 200 or shown != str(stale):
        raise RuntimeError(f"the Labels page does not show {stale} stale labels: {page.status_code}, count {shown!r}")
    return len(page.content)


async def run_web_bench(
    *, stale: int = DEFAULT_STALE, callers: int = DEFAULT_CALLERS, seconds: float = 5.0, warmup: float = 1.0
) -> dict[str, Any]:
    """The real hub with ``stale`` stale labels; ``callers`` managers on the Labels page,
    then the same on ``/healthz``: the dict ``hub.bench.cli.web_table`` formats."""
    if stale < 1 or callers < 1 or seconds <= 0 or warmup < 0:
        raise ValueError("need at least one stale label and one caller, a positive measured time and a warm-up")
    load_before = load_average()
    cloud = Client(CLOUD.id, CLOUD.role, new_secret())
    async with bench_store(1, (MANAGER, cloud)) as (store, [till]):
        base_url = f"http://127.0.0.1:{store.api_port}"
        async with hub_process(store, till) as hub, contextlib.AsyncExitStack() as clients:
            head_office = await clients.enter_async_context(
                httpx.AsyncClient(base_url=base_url, headers=store.headers(cloud.id), trust_env=False)
            )
            seed_s = await make_stale(head_office, stale)
            pool = []
            for _ in range(callers):
                pool.append(await signed_in_browser(base_url, MANAGER))
                clients.push_async_callback(pool[-1].aclose)
            page_bytes = await check_page(pool[0], stale)
            cpu = CpuClock(hub.pid)
            health = await measure_http_phase(
                "healthz", pool, lambda _: HEALTH_PATH, seconds=seconds, warmup=warmup, cpu=cpu
            )
            labels = await measure_http_phase(
                "labels page", pool, lambda _: LABELS_PATH, seconds=seconds, warmup=warmup, cpu=cpu
            )
    return {
        "stale": stale,
        "callers": callers,
        "seconds": seconds,
        "warmup": warmup,
        "seed_s": seed_s,
        "page_bytes": page_bytes,
        "cpus": cpu_count(),
        "load_average": {"before": load_before, "after": load_average()},
        "storehub": package_version("storehub"),
        "healthz": health,
        "labels": labels,
        "ratio": side_by_side(labels, health),
        "goal": {
            "labels_p99_ms": labels["p99_ms"],
            "labels_p99_goal_ms": LABELS_P99_GOAL_MS,
            "met": labels["p99_ms"] <= LABELS_P99_GOAL_MS and labels["errors"] == 0,
        },
    }
