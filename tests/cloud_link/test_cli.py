"""``storehub cloud …`` end to end: a real ``cloud serve`` subprocess, driven by the CLI as a
person would, and a one-line answer whenever something is wrong."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from hub.store.schemas import PriceIn
from hub.throwaway import free_loopback_ports
from tests.cloud_link.support import ADMIN_TOKEN, STORE, TOKENS, batch_body, event, write_config
from tests.conftest import CloudProcess

REPO = Path(__file__).resolve().parents[2]


def storehub(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """``storehub cloud …`` as its own process, with nothing of the test's environment but PATH and HOME."""
    base = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    return subprocess.run(
        [sys.executable, "-m", "cloud_link.reference.cli", "cloud", *args],
        capture_output=True, text=True, env=base | (env or {}), cwd=cwd, timeout=30,
    )  # fmt: skip


def admin(cloud: CloudProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """An admin command, as a person types it against this cloud."""
    return storehub(*args, "--url", cloud.url, "--admin-token", ADMIN_TOKEN)


def as_store(cloud: CloudProcess) -> httpx.Client:
    return httpx.Client(base_url=cloud.url, headers={"Authorization": f"Bearer {TOKENS[STORE]}"}, timeout=5)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudProcess]:
    served = CloudProcess(tmp_path_factory.mktemp("cloud"), admin_token=ADMIN_TOKEN, store_tokens=dict(TOKENS))
    served.start()
    try:
        yield served
    finally:
        served.stop()


def inbound(cloud: CloudProcess, after: int) -> dict:
    with as_store(cloud) as http:
        return http.get(f"/v1/stores/{STORE}/inbound", params={"after": after}).json()


def test_token_prints_a_new_token_and_its_sha256():
    text = storehub("token")
    assert text.returncode == 0
    token, digest = re.fullmatch(r"token   (\S+)\nsha256  ([0-9a-f]{64})\n", text.stdout).groups()
    assert hashlib.sha256(token.encode()).hexdigest() == digest
    again = json.loads(storehub("token", "--json").stdout)
    assert again["token"] != token and hashlib.sha256(again["token"].encode()).hexdigest() == again["sha256"]


def test_status_shows_a_row_per_store_as_the_page_does(cloud: CloudProcess):
    with as_store(cloud) as http:
        events = [event(seq) for seq in (1, 2, 3, 6)]
        http.post(f"/v1/stores/{STORE}/events", content=orjson.dumps(batch_body(events, head=8)),
                  headers={"Idempotency-Key": "1-6"})  # fmt: skip
    table = admin(cloud, "status")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:7] == ["store", "events", "contiguous", "high-water", "head", "lag", "gaps"]
    mine = next(row for row in rows if row.startswith(STORE)).split()
    assert mine[1:7] == ["4", "3", "6", "8", "5", "4-5"]
    assert any(row.startswith("other-store") for row in rows)

    as_json = json.loads(admin(cloud, "status", "--json").stdout)
    row = next(s for s in as_json["stores"] if s["store_id"] == STORE)
    assert (row["contiguous_seq"], row["gaps"], row["lag"]) == (3, [[4, 5]], 5)


def test_publish_price_reaches_the_store_with_a_version(cloud: CloudProcess):
    cursor = inbound(cloud, 0)["cursor"]
    done = admin(cloud, "publish-price", "--store", STORE, "--sku", "MLK-001", "--amount", "9990",
                       "--effective-at", "2026-11-25T09:00:00+03:00")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        rf"published 1 price for {STORE}: MLK-001 at 9990 from 2026-11-25T09:00:00\+03:00 \(cursor \d+\)\n", done.stdout
    )
    (price,) = inbound(cloud, cursor)["prices"]
    assert price["sku"] == "MLK-001" and price["amount"] == 9990
    assert price["effective_at"] == "2026-11-25T09:00:00+03:00"
    assert price["version"] >= int(time.time() * 1000) - 60_000


def test_publish_price_marks_a_promotion_for_the_shelf_label(cloud: CloudProcess):
    cursor = inbound(cloud, 0)["cursor"]
    done = admin(cloud, "publish-price", "--store", STORE, "--sku", "TEA-017", "--amount", "12990", "--promotion")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"published 1 promotion price for {STORE}: TEA-017 at 12990 (cursor ")
    (price,) = inbound(cloud, cursor)["prices"]
    assert (price["sku"], price["amount"], price["promotion"]) == ("TEA-017", 12990, True)
    assert PriceIn.model_validate(price).promotion is True, "the store reads it as the cloud published it"


def test_publish_pickup_makes_an_order_the_store_can_take(cloud: CloudProcess):
    cursor = inbound(cloud, 0)["cursor"]
    done = admin(cloud, "publish-pickup", "--store", STORE, "--customer", "Анна Петрова", "--code", "4821",
                       "--line", "MLK-001:2", "--line", "CHS-004:0.450", "--contact", "+7 900 000-00-00")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "published 1 pickup" in done.stdout and "Анна Петрова" in done.stdout
    (pickup,) = inbound(cloud, cursor)["pickups"]
    assert re.fullmatch(r"C-\d{8}-[0-9A-F]{4}", pickup["id"])
    assert pickup["lines"] == [{"sku": "MLK-001", "quantity": "2"}, {"sku": "CHS-004", "quantity": "0.450"}]
    assert (pickup["customer_name"], pickup["code"], pickup["customer_contact"]) == (
        "Анна Петрова",
        "4821",
        "+7 900 000-00-00",
    )
    deadline = dt.datetime.fromisoformat(pickup["deadline"])
    assert dt.timedelta(hours=47) < deadline - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=48)
    assert isinstance(pickup["version"], int)
    assert set(pickup) == {"id", "version", "customer_name", "customer_contact", "code", "deadline", "lines"}


def test_publish_sends_a_file_as_it_is(cloud: CloudProcess, tmp_path: Path):
    cursor = inbound(cloud, 0)["cursor"]
    body = {"products": [{"sku": "TEA-017", "version": 4, "name": "Чай", "measure": "piece"}],
            "loyalty": [{"card": "7707334769500", "balance": 1250, "store_seq": 9, "as_of": "2026-11-24T10:00:00Z"}]}  # fmt: skip
    (tmp_path / "batch.json").write_text(json.dumps(body, ensure_ascii=False))
    done = admin(cloud, "publish", "--store", STORE, "--file", str(tmp_path / "batch.json"))
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rf"published 2 items for {STORE} \(1 products, 1 loyalty\) \(cursor \d+\)\n", done.stdout)
    page = inbound(cloud, cursor)
    assert (page["products"], page["loyalty"]) == (body["products"], body["loyalty"])

    (tmp_path / "bad.json").write_text('{"prices": [1]}')
    bad = admin(cloud, "publish", "--store", STORE, "--file", str(tmp_path / "bad.json"))
    assert bad.returncode == 1 and "prices.0" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_fault_sets_shows_and_clears_what_the_store_meets(cloud: CloudProcess):
    done = admin(cloud, "fault", "--fail", "1", "--delay", "0.2")
    assert done.stdout == "faults: delay 0.2 s, fail next 1, garbage next 0, hang after commit next 0\n"
    with as_store(cloud) as http:
        started = time.monotonic()
        assert http.get(f"/v1/stores/{STORE}/position").status_code == 500
        assert time.monotonic() - started >= 0.2
        assert http.get(f"/v1/stores/{STORE}/position").status_code == 200
    assert "fail next 0" in admin(cloud, "fault").stdout
    assert admin(cloud, "fault", "--clear", "--garbage", "2").stdout.startswith(
        "faults: delay 0 s, fail next 0, garbage next 2"
    )
    assert (
        admin(cloud, "fault", "--clear").stdout
        == "faults: delay 0 s, fail next 0, garbage next 0, hang after commit next 0\n"
    )
    assert "fault: GET /v1/stores/demo-store/position answers 500" in cloud.log()


def test_admin_commands_say_in_one_line_what_is_wrong(cloud: CloudProcess, tmp_path: Path):
    closed = f"http://127.0.0.1:{free_loopback_ports(1)[0]}"
    cases = [
        (storehub("status", "--url", closed, "--admin-token", ADMIN_TOKEN), "cannot reach the cloud at"),
        (storehub("status", "--url", cloud.url, "--admin-token", "wrong"), "401 unauthorized"),
        (storehub("status", "--url", cloud.url, "--admin-token", TOKENS[STORE]), "403 forbidden"),
        (storehub("status", "--url", cloud.url, cwd=tmp_path), "no admin token"),
        (admin(cloud, "publish-price", "--store", "nowhere", "--sku", "A", "--amount", "1"), "404 unknown_store"),
        (admin(cloud, "publish", "--store", STORE, "--file", str(tmp_path / "missing.json")), "cannot read"),
    ]
    for result, expected in cases:
        assert result.returncode == 1, result
        assert expected in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
    typo = admin(cloud, "publish-pickup", "--store", STORE, "--customer", "A", "--code", "12", "--line", "MLK-001:2")
    assert typo.returncode == 2 and "4-16 letters or digits" in typo.stderr


def test_the_admin_token_comes_from_the_environment_or_the_demo_file(cloud: CloudProcess, tmp_path: Path):
    from_env = storehub("status", "--url", cloud.url, env={"STOREHUB_CLOUD_ADMIN_TOKEN": ADMIN_TOKEN}, cwd=tmp_path)
    assert from_env.returncode == 0, from_env.stderr
    token_file = tmp_path / ".storehub-demo" / "cloud" / "admin-token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text(ADMIN_TOKEN + "\n")
    from_file = storehub("status", "--url", cloud.url, cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    assert [row.split()[0] for row in from_file.stdout.splitlines()] == ["store", "demo-store", "other-store"]


def test_serve_logs_each_store_and_stops_cleanly_on_sigterm(tmp_path: Path):
    """Even with a store's long poll open: it is answered at once, not cut after a grace period."""
    served = CloudProcess(tmp_path, store_tokens=dict(TOKENS))
    served.start()
    assert served.process is not None
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        polling = pool.submit(
            lambda: as_store(served).get(f"/v1/stores/{STORE}/inbound", params={"wait_s": 30}, timeout=40)
        )
        time.sleep(0.5)  # the poll is waiting in the cloud
        stopped_at = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        answer = polling.result(timeout=10)
        assert served.process.wait(10) == 0
    assert time.monotonic() - stopped_at < 2.5
    assert answer.status_code == 200 and answer.json()["cursor"] == 0
    log = served.log()
    assert f"store {STORE}: pushes" in log
    assert "reference cloud stopped" in log and "Traceback" not in log


def test_serve_names_every_bad_field_of_a_config(tmp_path: Path):
    config = write_config(tmp_path, port=free_loopback_ports(1)[0])
    config.write_text(config.read_text().replace('\ntoken_sha256 = "', '\ntoken_sha256 = "x', 1) + "colour = 'blue'\n")
    result = storehub("serve", "--config", str(config))
    assert result.returncode == 2
    assert "stores.0.token_sha256: must be a SHA-256 hex digest" in result.stderr
    assert "stores.1.colour: Extra inputs are not permitted" in result.stderr
