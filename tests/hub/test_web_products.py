"""The Products page against a real hub holding the demo store (its catalogue, stock,
other stores' stock and six stale shelf labels, seeded as `storehub demo` seeds it):
found by name in either case, by SKU and by a scanned GTIN, each product's price, unit
price, stock here and elsewhere and label state as REST gives them, and every bad input
told next to the search field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.labels.wording import rubles
from hub.config import load_config
from hub.demo.catalogue import OUT_OF_STOCK
from hub.demo.store import seed_demo_store
from tests.conftest import HubProcess
from tests.hub.test_web_pickups import signed_in

#: Products on a page of the list.
PAGE_SIZE = 20
#: A sold-out product here that the sister stores hold.
SOLD_OUT = OUT_OF_STOCK[0]


@pytest.fixture(scope="module")
def demo_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub whose database the demo's own seed filled before it started."""
    directory = tmp_path_factory.mktemp("products") / "hub"
    directory.mkdir()
    hub = HubProcess(directory)
    seed_demo_store(load_config(hub.write_config()))
    hub.start()
    try:
        yield hub
    finally:
        hub.cleanup()


@pytest.fixture
def manager(demo_shop: HubProcess) -> Iterator[httpx.Client]:
    with signed_in(demo_shop, "manager-1") as web:
        yield web


def rest(hub: HubProcess, path: str, **params: str) -> dict:
    answer = httpx.get(f"{hub.api_url}/api/v1{path}", params=params, headers=hub.headers("manager-1"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def found(page: str) -> list[str]:
    """The SKUs of the products on the page, in order."""
    return re.findall(r'class="card product(?: stale)?" data-sku="([^"]+)"', page)


def card(page: str, sku: str) -> str:
    shown = re.search(rf'<li class="card product[^"]*" data-sku="{re.escape(sku)}".*?<!-- /product -->', page, re.S)
    assert shown, f"{sku} is not on the page"
    return shown.group(0)


def fact(shown: str, name: str) -> str:
    """A card's fact (price, here, label…) as text, tags stripped."""
    value = re.search(rf'data-fact="{name}">(.*?)</(?:dd|div)>', shown, re.S)
    assert value, f"{name} not in {shown}"
    return re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", value.group(1))).strip()  # no-break spaces kept


def sku_of(hub: HubProcess, name: str) -> str:
    (product,) = [p for p in rest(hub, "/products", q=name)["products"] if p["name"] == name]
    return product["sku"]


def test_a_name_finds_its_products_in_either_case_as_the_till_finds_them(
    manager: httpx.Client, demo_shop: HubProcess
) -> None:
    lower = manager.get("/manage/products", params={"q": "молоко"})
    upper = manager.get("/manage/products", params={"q": "МОЛОКО"})
    assert lower.status_code == upper.status_code == 200
    skus = found(lower.text)
    till = [p["sku"] for p in rest(demo_shop, "/products", q="молоко", limit="100")["products"]]
    assert skus and skus == found(upper.text) == till[:PAGE_SIZE]
    assert "Найдено по запросу «молоко»" in lower.text


def test_a_sku_finds_its_product_and_a_wildcard_is_only_a_character(manager: httpx.Client) -> None:
    assert found(manager.get("/manage/products", params={"q": "mlk-001"}).text) == ["MLK-001"]
    percent = manager.get("/manage/products", params={"q": "%"}).text
    names = re.findall(r'<h2><a href="/manage/products/[^"]+">([^<]+)</a>', percent)
    assert names and all("%" in name for name in names)
    assert "По запросу «_» ничего не найдено." in manager.get("/manage/products", params={"q": "_"}).text


def test_a_scanned_gtin_opens_its_product(manager: httpx.Client, demo_shop: HubProcess) -> None:
    sku = sku_of(demo_shop, SOLD_OUT)
    gtin = rest(demo_shop, f"/products/{sku}")["gtin"]
    scanned = manager.get("/manage/products", params={"q": f" {gtin} "})
    assert scanned.status_code == 303 and scanned.headers["location"] == f"/manage/products/{sku}"
    opened = manager.get(scanned.headers["location"])
    assert opened.status_code == 200 and found(opened.text) == [sku]
    assert 'id="q" name="q" type="search" value=""' in opened.text  # ready for the next scan
    unknown = manager.get("/manage/products", params={"q": "4600000000008"})  # a right check digit, no product
    assert unknown.status_code == 200 and "По запросу «4600000000008» ничего не найдено." in unknown.text


def test_a_product_shows_its_price_unit_price_and_stock_as_rest_gives_them(
    manager: httpx.Client, demo_shop: HubProcess
) -> None:
    sku = sku_of(demo_shop, SOLD_OUT)
    product = rest(demo_shop, f"/products/{sku}")
    shown = card(manager.get(f"/manage/products/{sku}").text, sku)
    assert fact(shown, "price") == rubles(product["price"]["amount"])
    assert re.fullmatch(
        r"\d{1,3}(\u202f\d{3})*,\d\d\u00a0₽", fact(shown, "price")
    )  # "2 287,90 ₽" as the shop writes it
    if product["unit_price"]:
        per = {"kg": "за 1 кг", "l": "за 1 л", "100g": "за 100 г", "100ml": "за 100 мл"}
        assert (
            fact(shown, "unit-price")
            == f"{rubles(product['unit_price']['amount'])} {per[product['unit_price']['per']]}"
        )
    assert fact(shown, "here") == "0 шт. на складе 0, в резерве 0" and 'class="none"' in shown
    elsewhere = fact(shown, "elsewhere")
    assert product["elsewhere"] and any(other["available"] != "0.000" for other in product["elsewhere"])
    for other in product["elsewhere"]:
        count = other["available"].split(".")[0]
        assert re.search(rf"{other['store_name']}: {count} шт\. на \d\d\.\d\d \d\d:\d\d", elsewhere), elsewhere


def test_a_stale_label_is_shown_with_the_way_to_print_it(manager: httpx.Client, demo_shop: HubProcess) -> None:
    stale = [label["sku"] for label in rest(demo_shop, "/labels")["labels"]]
    assert len(stale) == 6
    shown = card(manager.get(f"/manage/products/{stale[0]}").text, stale[0])
    assert 'class="card product stale"' in shown and fact(shown, "label") == "устарел Напечатать →"
    assert f'href="/manage/labels?q={stale[0]}"' in shown
    assert stale[0] in manager.get(f"/manage/labels?q={stale[0]}").text
    (right, *_) = [sku for sku in found(manager.get("/manage/products").text) if sku not in stale]
    fresh = card(manager.get(f"/manage/products/{right}").text, right)
    assert fact(fresh, "label") == "цена верна" and "/manage/labels" not in fresh and " stale" not in fresh


def test_an_empty_search_lists_every_product_by_name_a_page_at_a_time(
    manager: httpx.Client, demo_shop: HubProcess
) -> None:
    first = manager.get("/manage/products")
    assert first.status_code == 200 and "Все товары по названию · страница 1" in first.text
    skus = found(first.text)
    assert len(skus) == PAGE_SIZE and 'rel="next" href="/manage/products?q=&amp;page=2"' in first.text
    second = found(manager.get("/manage/products", params={"page": "2"}).text)
    assert len(second) == PAGE_SIZE and not set(skus) & set(second)
    past = manager.get("/manage/products", params={"page": "999"})
    assert past.status_code == 200 and not found(past.text) and "Список кончается раньше этой страницы." in past.text


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"q": "я" * 65}, "q", "Слишком длинный поиск: не больше 64 знаков."),
        ({"page": "abc"}, "page", "Номер страницы — целое число от 1 до 10000."),
        ({"page": "0"}, "page", "Номер страницы — целое число от 1 до 10000."),
        ({"q": "молоко", "page": "10001"}, "page", "Номер страницы — целое число от 1 до 10000."),
    ],
)
def test_bad_input_is_told_next_to_the_search_and_the_list_still_shows(
    manager: httpx.Client, params: dict[str, str], field: str, message: str
) -> None:
    answer = manager.get("/manage/products", params=params)
    assert answer.status_code == 422
    assert f'<span id="{field}-problem" class="problem" role="alert">{message}</span>' in answer.text
    assert 'aria-invalid="true"' in answer.text and len(found(answer.text)) == PAGE_SIZE


def test_an_unknown_product_is_said_so(manager: httpx.Client) -> None:
    for sku in ("NOPE-404", quote("bad sku;", safe="")):
        answer = manager.get(f"/manage/products/{sku}")
        assert answer.status_code == 404 and "В этом магазине нет товара с артикулом" in answer.text


def test_a_technician_may_look_and_a_visitor_signs_in_first(demo_shop: HubProcess) -> None:
    with signed_in(demo_shop, "tech-1") as web:
        assert found(web.get("/manage/products", params={"q": "MLK-001"}).text) == ["MLK-001"]
    with httpx.Client(base_url=demo_shop.api_url, follow_redirects=False) as visitor:
        for path in ("/manage/products", "/manage/products/MLK-001"):
            assert visitor.get(path).headers["location"] == "/manage/login"
        htmx = visitor.get("/manage/products", headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/manage/login"


def test_the_page_speaks_english_on_request(manager: httpx.Client, demo_shop: HubProcess) -> None:
    manager.get("/manage/language/en", params={"back": "/manage/products"})
    shown = card(manager.get("/manage/products/MLK-001").text, "MLK-001")  # the demo changed its price
    assert "In other stores" in shown and fact(shown, "label") == "stale Print it →"
    assert re.fullmatch(r"\d+ pcs on hand \d+, reserved \d+", fact(shown, "here")), fact(shown, "here")
    assert fact(shown, "price") == rubles(
        rest(demo_shop, "/products/MLK-001")["price"]["amount"]
    )  # money as in Russian


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(max_size=100), page=st.text(max_size=12), sku=st.text(min_size=1, max_size=80))
def test_no_form_input_makes_the_page_fail(manager: httpx.Client, q: str, page: str, sku: str) -> None:
    listed = manager.get("/manage/products", params={"q": q, "page": page})
    assert listed.status_code < 500, listed.text
    opened = manager.get(f"/manage/products/{quote(sku, safe='')}")
    assert opened.status_code < 500, opened.text
