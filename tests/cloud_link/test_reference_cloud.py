"""The reference cloud over real HTTP: each event held once, gaps shown until filled, conflicts
kept first-come, tokens per store, bad bodies refused by field, inbound publications with
cursors and long polls, faults on demand, and a ledger that survives a restart."""

from __future__ import annotations

import asyncio
import gzip
import time
from pathlib import Path

import httpx
import orjson
import pytest

from cloud_link.contract import MAX_BATCH_EVENTS
from cloud_link.reference.schemas import MAX_BODY_BYTES
from tests.cloud_link.support import (
    ADMIN_TOKEN,
    OTHER,
    STORE,
    TOKENS,
    RunningCloud,
    batch_body,
    event,
    push,
    running_cloud,
    sha256,
)
from tests.offline_pages import assert_served_whole_by


async def held(admin: httpx.AsyncClient, store_id: str = STORE) -> list[dict]:
    answer = await admin.get(f"/v1/admin/stores/{store_id}/events", params={"after": 0, "limit": 10_000})
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


async def summary(admin: httpx.AsyncClient, store_id: str = STORE) -> dict:
    stores = (await admin.get("/v1/admin/stores")).json()["stores"]
    return next(s for s in stores if s["store_id"] == store_id)


# -- events ----------------------------------------------------------------------------


async def test_a_batch_sent_twice_is_held_once_and_the_retry_counted(store, admin):
    events = [event(seq) for seq in range(1, 6)]
    first = await push(store, batch_body(events, head=9))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "contiguous_seq": 5, "high_water_seq": 5, "accepted": 5, "duplicates": 0, "conflicts": 0, "gaps": [],
    }  # fmt: skip

    again = await push(store, batch_body(events, head=9))
    assert again.json() | {"gaps": None} == {
        "contiguous_seq": 5, "high_water_seq": 5, "accepted": 0, "duplicates": 5, "conflicts": 0, "gaps": None,
    }  # fmt: skip
    assert await held(admin) == events  # exactly as sent, in seq order, once
    row = await summary(admin)
    assert (row["events"], row["batches"], row["retries"], row["duplicates"]) == (5, 1, 1, 5)
    assert (row["head_seq"], row["lag"]) == (9, 4)
    assert row["last_batch_at"] is not None


async def test_out_of_order_batches_show_the_gap_until_it_is_filled(store, admin):
    events = [event(seq) for seq in range(1, 13)]
    await push(store, batch_body(events[0:3]))
    ahead = (await push(store, batch_body(events[6:9]))).json()
    assert (ahead["contiguous_seq"], ahead["high_water_seq"], ahead["gaps"]) == (3, 9, [[4, 6]])
    further = (await push(store, batch_body(events[10:12]))).json()
    assert (further["contiguous_seq"], further["gaps"]) == (3, [[4, 6], [10, 10]])

    position = (await store.get(f"/v1/stores/{STORE}/position")).json()
    assert position == {"store_id": STORE, "contiguous_seq": 3, "high_water_seq": 12, "gaps": [[4, 6], [10, 10]]}

    filled = (await push(store, batch_body(events[3:6]))).json()
    assert (filled["contiguous_seq"], filled["gaps"]) == (9, [[10, 10]])
    done = (await push(store, batch_body(events[9:10]))).json()
    assert (done["contiguous_seq"], done["high_water_seq"], done["gaps"]) == (12, 12, [])
    assert [e["seq"] for e in await held(admin)] == list(range(1, 13))


async def test_a_seq_held_under_another_event_id_is_a_conflict_and_the_first_is_kept(store, admin):
    originals = [event(1), event(2)]
    await push(store, batch_body(originals))
    impostor = event(2, total=999)
    answer = (await push(store, batch_body([impostor, event(3)]))).json()
    assert (answer["accepted"], answer["duplicates"], answer["conflicts"], answer["contiguous_seq"]) == (1, 0, 1, 3)
    assert (await held(admin))[1] == originals[1]
    assert (await summary(admin))["conflicts"] == 1


async def test_events_are_held_per_store(cloud: RunningCloud, store, admin):
    async with cloud.client(TOKENS[OTHER]) as other:
        await push(other, batch_body([event(1, store_id=OTHER)], store_id=OTHER), store_id=OTHER)
    await push(store, batch_body([event(seq) for seq in (1, 2)]))
    assert [e["store_id"] for e in await held(admin, OTHER)] == [OTHER]
    assert [e["seq"] for e in await held(admin)] == [1, 2]


async def test_a_big_backlog_batch_is_taken_whole(store, admin):
    events = [event(seq) for seq in range(1, MAX_BATCH_EVENTS + 1)]
    answer = await push(store, batch_body(events))
    assert answer.json()["contiguous_seq"] == MAX_BATCH_EVENTS
    assert len(await held(admin)) == MAX_BATCH_EVENTS


# -- who may ---------------------------------------------------------------------------


async def test_each_store_has_its_own_token_and_the_admin_hers(cloud: RunningCloud):
    async def status(token: str | None, path: str) -> tuple[int, str]:
        async with cloud.client(token) as http:
            answer = await http.get(path)
            return answer.status_code, answer.json()["error"]["code"]

    mine = f"/v1/stores/{STORE}/position"
    assert await status(None, mine) == (401, "unauthorized")
    assert await status("not-a-token", mine) == (401, "unauthorized")
    assert await status(ADMIN_TOKEN, mine) == (401, "unauthorized")
    assert await status(TOKENS[OTHER], mine) == (403, "forbidden")
    assert await status(TOKENS[STORE], "/v1/stores/nowhere/position") == (404, "unknown_store")
    assert await status(None, "/v1/stores/nowhere/position") == (401, "unauthorized")  # no hint to strangers
    assert await status(TOKENS[STORE], "/v1/admin/stores") == (403, "forbidden")
    assert await status(None, "/v1/admin/stores") == (401, "unauthorized")

    async with cloud.client(TOKENS[OTHER]) as other:
        refused = await push(other, batch_body([event(1)]))
    assert refused.status_code == 403
    async with cloud.client(ADMIN_TOKEN) as admin:
        assert await held(admin) == []


# -- what is refused -------------------------------------------------------------------


#: Ways a batch can be wrong, each with the field the refusal must name.
BAD_BATCHES = [
    (lambda b: b.update(store_id=OTHER), "store_id"),
    (lambda b: b["events"][1].update(store_id=OTHER), "events.1.store_id"),
    (lambda b: b["events"][0].update(seq=9), "events.0.seq"),
    (lambda b: b.update(first_seq=3, last_seq=2), "first_seq"),
    (lambda b: b.update(head_seq=1), "head_seq"),
    (lambda b: b["events"][0].pop("type"), "events.0.type"),
    (lambda b: b["events"][1].update(event_id="17"), "events.1.event_id"),
    (lambda b: b["events"][0].update(occurred_at="yesterday"), "events.0.occurred_at"),
    (lambda b: b["events"][0].update(data=[1, 2]), "events.0.data"),
    (lambda b: b["events"][0].update(till="till-1"), "events.0.till"),
    (lambda b: b.update(events=[]), "events"),
]


async def test_a_bad_batch_is_refused_naming_the_field_and_nothing_is_held(store, admin, subtests):
    for spoil, field in BAD_BATCHES:
        with subtests.test(field=field):
            body = batch_body([event(1), event(2)])
            spoil(body)
            answer = await push(store, body, key=f"{body['first_seq']}-{body['last_seq']}")
            assert answer.status_code == 400, answer.text
            assert answer.json()["error"]["code"] == "invalid_request"
            assert answer.json()["error"]["field"] == field
    assert await held(admin) == []


async def test_the_idempotency_key_must_name_the_batch_range(store):
    body = batch_body([event(1), event(2)])
    for key in (None, "1-3", "pull:1-2"):
        answer = await push(store, body, key=key or "")
        assert answer.status_code == 400, key
        assert answer.json()["error"]["field"] == "Idempotency-Key"


async def test_a_body_that_is_not_a_batch_is_a_400_not_a_crash(store, subtests):
    for content in (b"not json", b"[1, 2]", b'{"store_id": "demo-store"', b"", b'"\\ud800"', b"[" * 5000):
        with subtests.test(content=content[:30]):
            answer = await push(store, content, key="1-1")
            assert answer.status_code == 400
            assert answer.json()["error"]["code"] == "invalid_request"


async def test_a_gzip_bomb_stops_at_the_cap_with_413(store, admin):
    bomb = gzip.compress(b" " * (MAX_BODY_BYTES + 1024), compresslevel=9)
    assert len(bomb) < 100_000  # small on the wire, 16 MiB unpacked
    answer = await push(store, bomb, key="1-1", encoding=None)
    assert answer.status_code == 400  # not gzip-labelled: just not JSON
    answer = await store.post(
        f"/v1/stores/{STORE}/events", content=bomb, headers={"Content-Encoding": "gzip", "Idempotency-Key": "1-1"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


async def test_an_oversized_plain_body_and_a_batch_past_5000_events_are_413(store):
    answer = await push(store, b"[" + b" " * MAX_BODY_BYTES + b"]", key="1-1", encoding=None)
    assert answer.status_code == 413
    events = [event(seq) for seq in range(1, MAX_BATCH_EVENTS + 2)]
    answer = await push(store, batch_body(events))
    assert answer.status_code == 413
    assert "5000" in answer.json()["error"]["message"]


async def test_a_truncated_gzip_body_is_a_400(store):
    packed = gzip.compress(orjson.dumps(batch_body([event(1)])))
    answer = await store.post(
        f"/v1/stores/{STORE}/events",
        content=packed[:-12],
        headers={"Content-Encoding": "gzip", "Idempotency-Key": "1-1"},
    )
    assert answer.status_code == 400


async def test_an_encoding_other_than_gzip_is_refused_with_415(store, subtests):
    for encoding in ("br", "deflate", "gzip, br"):
        with subtests.test(encoding=encoding):
            answer = await push(store, batch_body([event(1)]), encoding=encoding)
            assert answer.status_code == 415
            assert answer.json()["error"]["code"] == "unsupported_encoding"


async def test_a_plain_json_batch_is_taken_too(store):
    answer = await push(store, batch_body([event(1)]), encoding=None)
    assert answer.status_code == 200
    assert answer.json()["contiguous_seq"] == 1


# -- inbound ---------------------------------------------------------------------------


async def publish(admin: httpx.AsyncClient, body: dict, store_id: str = STORE) -> dict:
    answer = await admin.post(f"/v1/admin/stores/{store_id}/inbound", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def inbound(store: httpx.AsyncClient, **params) -> dict:
    answer = await store.get(f"/v1/stores/{STORE}/inbound", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_published_items_come_after_a_cursor_in_order_and_untouched(store, admin):
    pickup = {"id": "C-1", "version": 3, "customer_name": "Анна Петрова", "code": "4821",
              "deadline": "2026-11-26T10:00:00Z", "lines": [{"sku": "MLK-001", "quantity": "2"}]}  # fmt: skip
    first = await publish(
        admin,
        {
            "prices": [
                {"sku": "MLK-001", "version": 7, "amount": 9990},
                {"sku": "TEA-017", "version": 2, "amount": 350},
            ],
            "pickups": [pickup],
            "loyalty": [{"card": "7707334769500", "balance": 1250, "store_seq": 4, "as_of": "2026-11-24T10:00:00Z"}],
            "stock_elsewhere": [
                {"store_id": OTHER, "sku": "MLK-001", "available": "4", "as_of": "2026-11-24T10:00:00Z"}
            ],
        },
    )
    assert first == {"published": 5, "cursor": first["cursor"]}
    everything = await inbound(store, after=0)
    assert everything["cursor"] == first["cursor"]
    assert [p["sku"] for p in everything["prices"]] == ["MLK-001", "TEA-017"]
    assert everything["pickups"] == [pickup]
    assert everything["loyalty"][0]["balance"] == 1250 and "version" not in everything["loyalty"][0]
    assert everything["stock_elsewhere"][0]["store_id"] == OTHER
    assert everything["products"] == []

    nothing = await inbound(store, after=everything["cursor"])
    assert nothing == {"cursor": everything["cursor"], "products": [], "prices": [], "pickups": [], "loyalty": [],
                       "stock_elsewhere": []}  # fmt: skip

    two = await inbound(store, after=0, limit=2)
    assert [p["sku"] for p in two["prices"]] == ["MLK-001", "TEA-017"] and two["pickups"] == []
    rest = await inbound(store, after=two["cursor"])
    assert rest["cursor"] == first["cursor"] and rest["pickups"] == [pickup] and rest["prices"] == []


async def test_a_price_without_a_version_gets_one_newer_than_the_last(store, admin):
    before_ms = int(time.time() * 1000)
    await publish(
        admin, {"prices": [{"sku": "MLK-001", "amount": 9990}], "products": [{"sku": "MLK-001", "name": "Молоко"}]}
    )
    await publish(admin, {"prices": [{"sku": "MLK-001", "amount": 9890}, {"sku": "MLK-001", "amount": 9790}]})
    await publish(admin, {"prices": [{"sku": "MLK-001", "version": 5, "amount": 1}], "pickups": [{"id": "C-2"}]})
    page = await inbound(store, after=0)
    versions = [p["version"] for p in page["prices"]]
    assert versions[0] >= before_ms
    assert versions[0] < versions[1] < versions[2]
    assert versions[3] == 5  # given: passed through untouched
    assert page["products"][0]["version"] >= before_ms
    assert page["pickups"][0]["version"] >= before_ms
    assert [p["amount"] for p in page["prices"]] == [9990, 9890, 9790, 1]


async def test_a_long_poll_answers_as_soon_as_something_is_published(store, admin):
    cursor = (await publish(admin, {"prices": [{"sku": "A-1", "version": 1, "amount": 1}]}))["cursor"]
    started = time.monotonic()
    waiting = asyncio.create_task(inbound(store, after=cursor, wait_s=10))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await publish(admin, {"prices": [{"sku": "B-2", "version": 1, "amount": 2}]}, store_id=OTHER)
    await asyncio.sleep(0.2)
    assert not waiting.done(), "another store's publication woke this store's poll"
    await publish(admin, {"prices": [{"sku": "C-3", "version": 1, "amount": 3}]})
    page = await asyncio.wait_for(waiting, 2)
    assert [p["sku"] for p in page["prices"]] == ["C-3"]
    assert time.monotonic() - started < 2

    started = time.monotonic()
    idle = await inbound(store, after=page["cursor"], wait_s=0.5)
    assert idle["cursor"] == page["cursor"] and idle["prices"] == []
    assert 0.45 <= time.monotonic() - started < 2


async def test_published_items_must_be_objects_of_known_kinds(admin, subtests):
    for body, field in [
        ({"prices": [1]}, "prices.0"),
        ({"prizes": []}, "prizes"),
        ({"prices": {"sku": "A"}}, "prices"),
    ]:
        with subtests.test(field=field):
            answer = await admin.post(f"/v1/admin/stores/{STORE}/inbound", json=body)
            assert answer.status_code == 400
            assert answer.json()["error"]["field"] == field


async def test_publishing_for_an_unknown_store_is_a_404(admin):
    answer = await admin.post("/v1/admin/stores/nowhere/inbound", json={"prices": []})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown_store"


async def test_inbound_parameters_out_of_bounds_are_a_400(store, subtests):
    for params in ({"limit": 0}, {"limit": 5001}, {"wait_s": 31}, {"after": -1}, {"after": "x"}, {"after": 2**63}):
        with subtests.test(params=params):
            answer = await store.get(f"/v1/stores/{STORE}/inbound", params=params)
            assert answer.status_code == 400
            assert answer.json()["error"]["field"] == next(iter(params))


# -- faults ----------------------------------------------------------------------------


async def test_fail_next_answers_500_without_holding_anything(store, admin):
    settings = (await admin.post("/v1/admin/faults", json={"fail_next": 2})).json()
    assert settings["fail_next"] == 2
    body = batch_body([event(1)])
    assert (await push(store, body)).status_code == 500
    assert (await admin.get("/v1/admin/faults")).json()["fail_next"] == 1
    assert (await store.get(f"/v1/stores/{STORE}/position")).status_code == 500
    assert await held(admin) == []
    assert (await push(store, body)).json()["accepted"] == 1


async def test_garbage_next_answers_200_with_a_body_that_is_not_json(store, admin):
    await admin.post("/v1/admin/faults", json={"garbage_next": 1})
    answer = await store.get(f"/v1/stores/{STORE}/position")
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()
    assert (await store.get(f"/v1/stores/{STORE}/position")).json()["contiguous_seq"] == 0


async def test_delay_holds_every_store_answer_and_clearing_ends_it(store, admin):
    await admin.post("/v1/admin/faults", json={"delay_s": 0.5})
    started = time.monotonic()
    assert (await store.get(f"/v1/stores/{STORE}/position")).status_code == 200
    assert time.monotonic() - started >= 0.5
    started = time.monotonic()
    assert (await admin.get("/v1/admin/stores")).status_code == 200  # the admin is never delayed
    assert time.monotonic() - started < 0.5
    cleared = (await admin.delete("/v1/admin/faults")).json()
    assert cleared == {"delay_s": 0.0, "fail_next": 0, "garbage_next": 0, "hang_after_commit_next": 0}
    started = time.monotonic()
    await store.get(f"/v1/stores/{STORE}/position")
    assert time.monotonic() - started < 0.4


async def test_a_batch_that_hangs_after_commit_is_held_though_no_answer_came(cloud, store, admin):
    await admin.post("/v1/admin/faults", json={"hang_after_commit_next": 1})
    body = batch_body([event(seq) for seq in range(1, 4)])
    async with cloud.client(TOKENS[STORE]) as impatient:
        impatient.timeout = httpx.Timeout(1.0)
        with pytest.raises(httpx.ReadTimeout):
            await push(impatient, body)
    position = (await store.get(f"/v1/stores/{STORE}/position")).json()
    assert position["contiguous_seq"] == 3
    retry = (await push(store, body)).json()  # the store, never told, sends it again
    assert (retry["accepted"], retry["duplicates"]) == (0, 3)


async def test_faults_refuse_bad_settings(admin):
    answer = await admin.post("/v1/admin/faults", json={"fail_next": -1})
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "fail_next"
    answer = await admin.post("/v1/admin/faults", json={"explode": True})
    assert answer.status_code == 400


# -- for people, and after a restart ---------------------------------------------------


async def test_the_page_shows_counts_per_store_and_no_secrets(cloud, store):
    await push(store, batch_body([event(1), event(2), event(5)], head=7), key="1-5")
    async with cloud.client(None) as anyone:
        page = await anyone.get("/")
        assert (await anyone.get("/healthz")).json() == {"ok": True}
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<meta http-equiv="refresh" content="2">' in page.text
    row = page.text.split(f"<td>{STORE}</td>", 1)[1].split("</tr>", 1)[0]
    cells = [cell.removeprefix("<td>") for cell in row.split("</td>") if cell]
    assert cells[:7] == ["3", "2", "5", "7", "5", "3-4", "0"]  # events, contiguous, high-water, head, lag, gaps, dups
    assert f"<td>{OTHER}</td>" in page.text
    for secret in (*TOKENS.values(), ADMIN_TOKEN, sha256(ADMIN_TOKEN), *map(sha256, TOKENS.values())):
        assert secret not in page.text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_clouds_api_pages_load_nothing_from_the_internet(cloud, page: str):
    urls = await asyncio.to_thread(assert_served_whole_by, cloud.url, page)
    assert any(url.endswith(".js") for url in urls), urls


async def test_the_ledger_survives_a_restart(tmp_path: Path):
    events = [event(seq) for seq in (1, 2, 3, 5)]
    async with running_cloud(tmp_path / "cloud") as cloud, cloud.client(TOKENS[STORE]) as store:
        await push(store, batch_body(events[:3]))
        await push(store, batch_body(events[3:]))
        async with cloud.client(ADMIN_TOKEN) as admin:
            await publish(admin, {"prices": [{"sku": "MLK-001", "amount": 9990}]})
    async with running_cloud(tmp_path / "cloud") as cloud, cloud.client(TOKENS[STORE]) as store:
        position = (await store.get(f"/v1/stores/{STORE}/position")).json()
        assert (position["contiguous_seq"], position["high_water_seq"], position["gaps"]) == (3, 5, [[4, 4]])
        assert [p["amount"] for p in (await inbound(store, after=0))["prices"]] == [9990]
        assert (await push(store, batch_body(events[:3]))).json()["duplicates"] == 3
