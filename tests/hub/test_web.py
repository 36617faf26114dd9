"""The managers' page against a real hub: its frame (assets from the hub, the language
catalogue), signing in with a client's secret, the session cookie, CSRF and the
rate limit on wrong secrets."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CloudProcess, HubProcess, start_hub, until


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


@pytest.fixture
def web(shared_hub: HubProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_hub.api_url, follow_redirects=False) as client:
        yield client


def _sign_in(web: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    token = _csrf(web.get("/manage/login").text)
    return web.post("/manage/login", data={"client_id": client_id, "secret": secret, "csrf": token})


def test_the_page_speaks_russian_first_and_english_on_request(web: httpx.Client) -> None:
    page = web.get("/manage/login")
    assert page.status_code == 200
    assert "Вход" in page.text and 'lang="ru"' in page.text
    switched = web.get("/manage/language/en", params={"back": "/manage/login"})
    assert switched.status_code == 303 and switched.headers["location"] == "/manage/login"
    english = web.get("/manage/login")
    assert 'lang="en"' in english.text and "Sign in" in english.text and "Вход" not in english.text


def test_the_language_link_never_leads_off_the_hub(web: httpx.Client) -> None:
    answer = web.get("/manage/language/en", params={"back": "https://elsewhere.example/"})
    assert answer.headers["location"] == "/manage/labels"


def test_a_mistyped_address_is_told_on_a_page_and_the_api_keeps_its_json(
    web: httpx.Client, shared_hub: HubProcess
) -> None:
    assert _sign_in(web, "manager-1", shared_hub.secrets["manager-1"]).status_code == 303
    for path, status, says in (
        ("/manage/nothing-here", 404, "Такой страницы здесь нет."),
        ("/manage/static/nothing.css", 404, "Такой страницы здесь нет."),
        ("/manage/labels/sheets/" + "x" * 300, 422, "В адресе есть часть, которую страница не может прочитать."),
    ):
        answer = web.get(path)
        assert answer.status_code == status and answer.headers["content-type"].startswith("text/html"), path
        assert says in answer.text and 'action="/manage/logout"' in answer.text, answer.text
    assert web.put("/manage/day").status_code == 405
    api = web.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found", api.text


def test_every_asset_comes_from_the_hub(web: httpx.Client) -> None:
    page = web.get("/manage/login").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") for s in sources), sources
    htmx = web.get("/manage/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text
    assert web.get("/manage/static/storehub.css").status_code == 200


def test_a_manager_signs_in_and_out(web: httpx.Client, shared_hub: HubProcess) -> None:
    assert web.get("/manage/labels").headers["location"] == "/manage/login"
    answer = _sign_in(web, "manager-1", shared_hub.secrets["manager-1"])
    assert answer.status_code == 303 and answer.headers["location"] == "/manage/labels"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=" in cookie
    labels = web.get("/manage/labels")
    assert labels.status_code == 200 and "manager-1" in labels.text
    token = _csrf(labels.text)
    assert web.post("/manage/logout", data={}).status_code == 403  # no CSRF token
    assert web.post("/manage/logout", data={"csrf": token}).status_code == 303
    assert web.get("/manage/labels").status_code == 303  # signed out on the hub, not only in the browser


@pytest.mark.parametrize("client_id", ["till-1", "kiosk-1", "cloud"])
def test_tills_kiosks_and_the_cloud_are_refused(web: httpx.Client, shared_hub: HubProcess, client_id: str) -> None:
    answer = _sign_in(web, client_id, shared_hub.secrets[client_id])
    assert answer.status_code == 403 and "storehub_session" not in answer.headers.get("set-cookie", "")


def test_a_sign_in_without_its_form_token_is_refused(web: httpx.Client, shared_hub: HubProcess) -> None:
    answer = web.post("/manage/login", data={"client_id": "tech-1", "secret": shared_hub.secrets["tech-1"]})
    assert answer.status_code == 403


def test_wrong_secrets_are_rate_limited(hub: HubProcess) -> None:
    # its own hub: the blocked address would shut the other tests out
    with httpx.Client(base_url=hub.api_url) as web:
        _wrong_secrets_are_rate_limited(web, hub)


def _wrong_secrets_are_rate_limited(web: httpx.Client, shared_hub: HubProcess) -> None:
    codes = [_sign_in(web, "tech-1", "wrong").status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # even the right secret waits now: a guesser learns nothing from the sixth try
    assert _sign_in(web, "tech-1", shared_hub.secrets["tech-1"]).status_code == 429


def test_the_api_docs_page_loads_nothing_from_outside(web: httpx.Client) -> None:
    page = web.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert sources and not [s for s in sources if "//" in s], sources
    for source in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
        assert web.get(source).status_code == 200, source


def test_the_labels_page_shows_the_stale_count_the_store_has(web: httpx.Client, shared_hub: HubProcess) -> None:
    assert _sign_in(web, "manager-1", shared_hub.secrets["manager-1"]).status_code == 303
    queue = httpx.get(f"{shared_hub.api_url}/api/v1/labels", headers=shared_hub.headers("manager-1")).json()
    page = web.get("/manage/labels")
    assert page.status_code == 200
    assert f'data-figure="stale">{queue["count"]}<' in page.text
    assert "ценников устарело" in page.text
    for label in queue["labels"][:100]:
        assert label["name"] in page.text


CHEESE = {"sku": "CHS-200", "version": 1, "gtin": "4600000000046", "name": "Сыр российский 200 г",
          "unit_price_basis": "kg", "net_content": "0.200", "category": "Сыры"}  # fmt: skip


async def test_a_price_from_the_cloud_puts_its_label_on_the_page(tmp_path: Path, cloud: CloudProcess) -> None:
    await asyncio.to_thread(cloud.start)
    hub = await asyncio.to_thread(start_hub, tmp_path / "hub", cloud=cloud.hub_section(mode="push"))
    try:
        with httpx.Client(base_url=hub.api_url) as web:
            assert _sign_in(web, "manager-1", hub.secrets["manager-1"]).status_code == 303
            assert 'data-figure="stale">0<' in web.get("/manage/labels").text
            cloud.publish(products=[CHEESE], prices=[{"sku": "CHS-200", "version": 1, "amount": 25990}])
            await until(lambda: 'data-figure="stale">1<' in web.get("/manage/labels").text, 15, "the stale label")
            page = web.get("/manage/labels").text
            assert "Сыр российский 200 г" in page and "259,90" in page
    finally:
        await asyncio.to_thread(hub.cleanup)
