"""The Labels page's list against a real hub fed by the reference cloud: a search in the
name or SKU, a category, pages of 100 over the whole queue, and a form filled in wrong
told next to its field rather than with an error page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CloudProcess, HubProcess
from tests.stale_shelf import SHELF, stale_shelf


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-sku="([^"]+)"', page)


@pytest.fixture
async def shop(tmp_path: Path, cloud: CloudProcess) -> AsyncIterator[tuple[HubProcess, httpx.Client]]:
    async with stale_shelf(tmp_path, cloud) as hub_and_page:
        yield hub_and_page


async def test_the_list_is_searched_filtered_and_paged(shop: tuple[HubProcess, httpx.Client]) -> None:
    hub, web = shop
    pages = [web.get("/manage/labels", params={"page": n}) for n in (1, 2, 3)]
    assert [page.status_code for page in pages] == [200] * 3
    rows = [_rows(page.text) for page in pages]
    assert [len(r) for r in rows] == [100, 100, 50]
    assert len({sku for r in rows for sku in r}) == SHELF, "every label on exactly one page"
    assert "страница 3 из 3" in pages[2].text and 'rel="next"' not in pages[2].text and 'rel="prev"' in pages[2].text

    found = web.get("/manage/labels", params={"q": "№17"})
    assert set(_rows(found.text)) == {"B-00017", *(f"B-0017{n}" for n in range(10))}
    assert "Найдено: 11" in found.text
    assert _rows(web.get("/manage/labels", params={"q": "b-0024"}).text) == [f"B-0024{n}" for n in range(10)]

    tea = web.get("/manage/labels", params={"category": "Чай", "page": "2"})
    assert len(_rows(tea.text)) == 0 and "страница 2 из 1" in tea.text
    tea = web.get("/manage/labels", params={"category": "Чай"})
    assert len(_rows(tea.text)) == 50 and '<option value="Чай" selected>' in tea.text
    rest = httpx.get(
        f"{hub.api_url}/api/v1/labels", params={"category": "Чай", "limit": 10, "offset": 45},
        headers=hub.headers("manager-1"),
    ).json()  # fmt: skip
    assert (rest["count"], rest["matching"], len(rest["labels"])) == (SHELF, 50, 5)


WRONG = [
    ({"page": "0"}, "page", "целое число от 1 до 10000"),
    ({"page": "два"}, "page", "целое число от 1 до 10000"),
    ({"page": "99999999999999999999"}, "page", "целое число от 1 до 10000"),
    ({"q": "х" * 65}, "q", "не больше 64 знаков"),
    ({"category": "Нет такой"}, "category", "нет устаревших ценников"),
]


async def test_a_form_filled_in_wrong_is_told_next_to_its_field(shop: tuple[HubProcess, httpx.Client]) -> None:
    hub, web = shop
    for params, field, told in WRONG:  # one hub for all: each case only reads
        page = web.get("/manage/labels", params=params)
        assert page.status_code == 422, params
        assert re.search(rf'id="{field}-problem" class="problem" role="alert">[^<]*{told}', page.text), params
        assert 'aria-invalid="true"' in page.text and len(_rows(page.text)) == 100, "the list stays, unfiltered"
    api = httpx.get(f"{hub.api_url}/api/v1/labels", params={"search": "х" * 65}, headers=hub.headers("manager-1"))
    assert api.status_code == 400 and api.json()["error"]["code"] == "invalid_request"
