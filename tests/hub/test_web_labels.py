"""The Labels page's list against a real hub fed by the reference cloud: a search in the
name or SKU, a category, pages of 100 over the whole queue, and a form filled in wrong
told next to its field rather than with an error page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from devices.sim.zpl_printer import ZplPrinterSimulator
from tests.conftest import CloudProcess, HubProcess, until
from tests.stale_shelf import SHEET_PRINTER, SHELF, sheet_barcodes, sign_in, stale_shelf, zebra_with_stale_labels


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


async def _run_answered(web: httpx.Client, run: str) -> str:
    """The run's fragment, polled as the page's htmx does, once it shows the printer's answer."""
    fragment = ""

    def answered() -> bool:
        nonlocal fragment
        fragment = web.get(run, headers={"HX-Request": "true"}).text
        return "hx-trigger" not in fragment

    await until(answered, 60, "the print run's answer")
    return fragment


async def test_three_labels_print_on_the_zebra_and_all_on_an_a4_sheet(tmp_path: Path, cloud: CloudProcess) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with zebra_with_stale_labels(tmp_path, cloud, zebra, 5, SHEET_PRINTER) as (hub, products):
        with httpx.Client(base_url=hub.api_url) as web:
            token = sign_in(hub, web)
            # These products have no category: the filter still has one way to ask for all.
            categories = re.search(r'<select id="category".*?</select>', web.get("/manage/labels").text, re.S)
            assert categories and categories.group(0).count('value=""') == 1, categories
            three = ["B-00000", "B-00002", "B-00004"]
            refused = web.post("/manage/labels/print", data={"printer": "labels-1", "sku": three})
            assert refused.status_code == 403 and zebra.labels == [], "a post without its CSRF token prints nothing"

            started = web.post("/manage/labels/print", data={"csrf": token, "printer": "labels-1", "sku": three})
            assert started.status_code == 303
            fragment = await _run_answered(web, started.headers["location"])
            assert re.findall(r'data-printed="([^"]+)"', fragment) == three
            assert len(zebra.labels) == 3
            assert sorted(_rows(web.get("/manage/labels").text)) == ["B-00001", "B-00003"]

            journal = web.get("/manage/labels/journal").text
            assert sorted(re.findall(r'data-journal="([^"]+)"', journal)) == three
            reprint = {"csrf": token, "reprint": "B-00002", "printer": "labels-1", "template": "shelf-58x40"}
            fragment = await _run_answered(web, web.post("/manage/labels/print", data=reprint).headers["location"])
            assert re.findall(r'data-printed="([^"]+)"', fragment) == ["B-00002"] and len(zebra.labels) == 4

            data = {"csrf": token, "printer": "sheets-1", "all": "1", "q": "№3"}
            fragment = await _run_answered(web, web.post("/manage/labels/print", data=data).headers["location"])
            assert re.findall(r'data-printed="([^"]+)"', fragment) == ["B-00003"], "all found: the search's only"
            sheet = re.search(r'href="(/manage/labels/sheets/[^"]+)"', fragment)
            assert sheet, fragment
            pdf = web.get(sheet.group(1))
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
            assert sheet_barcodes(pdf.content) == [products[3]["gtin"]]

            assert web.get("/manage/labels/sheets/..%2Fhub.toml").status_code == 404
            assert (
                web.post("/manage/labels/print", data={"csrf": token, "printer": "nope", "all": "1"}).status_code == 422
            )


async def test_a_run_stopped_by_paper_out_tells_which_labels_did_not_print(tmp_path: Path, cloud: CloudProcess) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with zebra_with_stale_labels(tmp_path, cloud, zebra, 2) as (hub, _):
        zebra.paper_out_after(1)
        with httpx.Client(base_url=hub.api_url) as web:
            token = sign_in(hub, web)
            started = web.post("/manage/labels/print", data={"csrf": token, "printer": "labels-1", "sku": ["B-00000"]})
            assert started.status_code == 303
            fragment = await _run_answered(web, started.headers["location"])
            assert 'data-run="stopped"' in fragment, fragment
            assert re.findall(r'data-not-printed="([^"]+)"', fragment) == ["B-00000"]
            assert _progress(fragment) == (0, 1), "none of the one printed"
            # In the manager's language, what to do; the printer's own words folded below.
            assert "в принтере кончились этикетки; вставьте новый рулон" in fragment, fragment
            assert "Что сказал принтер" in fragment and "out of labels" in fragment
            page = web.get(started.headers["location"])
            assert page.status_code == 200 and 'data-run="stopped"' in page.text
            assert sorted(_rows(web.get("/manage/labels").text)) == ["B-00000", "B-00001"], "both still stale"


def _progress(fragment: str) -> tuple[int, int] | None:
    """The run's progress bar: labels printed, of how many; None before anything was sent."""
    bar = re.search(r'<progress[^>]*\bvalue="(\d+)"[^>]*\bmax="(\d+)"', fragment)
    return (int(bar.group(1)), int(bar.group(2))) if bar else None


async def test_a_slow_zebra_shows_how_many_labels_have_printed_while_it_prints(
    tmp_path: Path, cloud: CloudProcess
) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with zebra_with_stale_labels(tmp_path, cloud, zebra, 3) as (hub, _):
        zebra.labels_per_s = 1  # the desk's `speed`: the three tags wait in its buffer, one comes out a second
        with httpx.Client(base_url=hub.api_url) as web:
            token = sign_in(hub, web)
            three = ["B-00000", "B-00001", "B-00002"]
            started = web.post("/manage/labels/print", data={"csrf": token, "printer": "labels-1", "sku": three})
            run = started.headers["location"]
            fragment = ""

            def partly_printed() -> bool:
                nonlocal fragment
                fragment = web.get(run, headers={"HX-Request": "true"}).text
                bar = _progress(fragment)
                return bar is not None and 0 < bar[0] < 3

            await until(partly_printed, 60, "a run part printed")
            printed, _ = _progress(fragment) or (0, 0)
            assert "hx-trigger" in fragment, "still polled: the run has not answered"
            assert f"labels-1: напечатано {printed} из 3, отправлено 3" in fragment, fragment
            assert 'aria-label="Напечатано ценников"' in fragment
            assert printed <= len(zebra.labels), "never more than came out of the printer"

            fragment = await _run_answered(web, run)
            assert _progress(fragment) == (3, 3) and 'data-run="printed"' in fragment
            assert re.findall(r'data-printed="([^"]+)"', fragment) == three and len(zebra.labels) == 3


def test_every_reason_a_run_stops_for_is_told_in_russian() -> None:
    from devices.label_printer import PROBLEM_WORDS
    from hub.web.catalogue import Catalogue
    from hub.web.labels_print import OFFLINE_WORDS, STOPPED_WORDS

    russian = Catalogue.load().messages["ru"]
    said = [*PROBLEM_WORDS.values(), *STOPPED_WORDS.values(), OFFLINE_WORDS]
    assert [words for words in said if not russian.get(words)] == []
