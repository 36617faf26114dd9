"""The Pickups page against a real hub: today's and overdue orders, the search, the
counter's steps with the shopper's code, and every refusal shown next to its field."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import HubProcess

TEMPLATES = Path(__file__).parents[2] / "hub" / "web" / "templates"
RU_CATALOGUE = Path(__file__).parents[2] / "hub" / "web" / "locale" / "ru" / "LC_MESSAGES" / "messages.po"

YOGURT = {
    "sku": "PKP-YOG",
    "version": 1,
    "gtin": "4600000000053",
    "name": "Йогурт греческий 2%",
    "category": "Молочные",
}


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def order(order_id: str, customer: str, deadline: float, code: str = "7351") -> dict:
    return {"id": order_id, "version": 1, "customer_name": customer, "customer_contact": "+7 900 000-00-00",
            "code": code, "deadline": _iso(deadline), "lines": [{"sku": YOGURT["sku"], "quantity": "2", "name": YOGURT["name"]}]}  # fmt: skip


@pytest.fixture(scope="module")
def orders(shared_hub: HubProcess) -> dict[str, str]:
    """Orders from the cloud as the head office sends them; the yogurt is in stock.  The
    deadlines: one an hour late, one in half an hour, one three days ahead."""
    now = time.time()
    sent = {"PKP-LATE": ("Соколова Ирина", now - 3600), "PKP-SOON": ("Кузнецов Андрей", now + 1800),
            "PKP-LATER": ("Морозова Вера", now + 3 * 86400)}  # fmt: skip
    batch = {"products": [YOGURT], "prices": [{"sku": YOGURT["sku"], "version": 1, "amount": 8990}],
             "pickups": [order(n, customer, deadline) for n, (customer, deadline) in sent.items()]}  # fmt: skip
    applied = httpx.post(f"{shared_hub.api_url}/api/v1/sync/inbound", json=batch, headers=shared_hub.headers("cloud"))
    assert applied.status_code == 200 and applied.json()["applied"]["pickups"] == 3, applied.text
    move = {"sku": YOGURT["sku"], "kind": "receipt", "quantity": "20", "reason": "поставка"}
    booked = httpx.post(f"{shared_hub.api_url}/api/v1/stock/moves", json=move, headers=shared_hub.headers("till-1"))
    assert booked.status_code == 200, booked.text
    return {n: customer for n, (customer, _) in sent.items()}


@contextlib.contextmanager
def signed_in(hub: HubProcess, client_id: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.api_url, follow_redirects=False) as web:
        token = _csrf(web.get("/manage/login").text)
        fields = {"client_id": client_id, "secret": hub.secrets[client_id], "csrf": token}
        answer = web.post("/manage/login", data=fields)
        assert answer.status_code == 303, answer.text
        yield web


@pytest.fixture
def counter(shared_hub: HubProcess, orders: dict[str, str]) -> Iterator[httpx.Client]:
    with signed_in(shared_hub, "manager-1") as web:
        yield web


def card(page: str, order_id: str) -> str:
    """One order's card on the page."""
    found = re.search(rf'data-order="{re.escape(order_id)}".*?<!-- /order -->', page, re.S)
    assert found, f"{order_id} is not on the page"
    return found.group(0)


def state_of(hub: HubProcess, order_id: str) -> str:
    return httpx.get(f"{hub.api_url}/api/v1/pickups/{order_id}", headers=hub.headers("manager-1")).json()["state"]


def step(web: httpx.Client, order_id: str, to: str, code: str = "", **extra: str) -> httpx.Response:
    token = _csrf(web.get("/manage/pickups", params={"view": "all"}).text)
    return web.post(f"/manage/pickups/{order_id}", data={"csrf": token, "to": to, "code": code} | extra)


def test_today_shows_the_late_order_marked_overdue_and_the_one_due_soon(counter: httpx.Client) -> None:
    page = counter.get("/manage/pickups")
    assert page.status_code == 200 and "Самовывоз" in page.text
    shown = re.findall(r'class="card order( overdue)?" data-order="(PKP-[A-Z]+)"', page.text)
    assert ("overdue", "PKP-LATE") in [(o.strip(), n) for o, n in shown]
    assert ("", "PKP-SOON") in shown and "PKP-LATER" not in page.text  # three days ahead: not today's
    assert "просрочен" in page.text and "Соколова Ирина" in page.text
    waiting = counter.get("/manage/pickups", params={"view": "open"}).text
    assert "PKP-LATER" in waiting


def test_the_search_finds_an_order_by_number_or_the_shoppers_name(counter: httpx.Client) -> None:
    by_name = counter.get("/manage/pickups", params={"view": "open", "q": "кузнецов"}).text
    assert "PKP-SOON" in by_name and "PKP-LATE" not in by_name
    by_number = counter.get("/manage/pickups", params={"view": "open", "q": "LATER"}).text
    assert "PKP-LATER" in by_number and "PKP-SOON" not in by_number
    assert "Заказов нет." in counter.get("/manage/pickups", params={"q": "нет-такого"}).text


def test_a_manager_sets_an_order_aside_and_hands_it_over_only_with_the_shoppers_code(
    counter: httpx.Client, shared_hub: HubProcess
) -> None:
    assert "Йогурт греческий 2% × 2" in card(counter.get("/manage/pickups").text, "PKP-SOON")
    ready = step(counter, "PKP-SOON", "ready")
    assert ready.status_code == 303 and "done=PKP-SOON:ready" in ready.headers["location"]
    assert "Заказ PKP-SOON: собран." in counter.get(ready.headers["location"]).text
    assert state_of(shared_hub, "PKP-SOON") == "ready"

    wrong = step(counter, "PKP-SOON", "collected", code="0000")
    assert wrong.status_code == 403
    shown = card(wrong.text, "PKP-SOON")
    assert 'id="code-PKP-SOON">Неверный код выдачи' in shown and 'aria-invalid="true"' in shown
    assert state_of(shared_hub, "PKP-SOON") == "ready"

    collected = step(counter, "PKP-SOON", "collected", code="7351")
    assert collected.status_code == 303 and state_of(shared_hub, "PKP-SOON") == "collected"
    again = step(counter, "PKP-SOON", "returned")
    assert again.status_code == 409 and "Этот шаг для заказа сейчас невозможен" in again.text


def test_a_step_without_the_pages_form_token_is_refused(counter: httpx.Client, shared_hub: HubProcess) -> None:
    answer = counter.post("/manage/pickups/PKP-LATER", data={"to": "ready"})
    assert answer.status_code == 403 and state_of(shared_hub, "PKP-LATER") == "arrived"
    # The refusal keeps the page's header: the sections and the way to sign out.
    assert 'aria-current="page"' in answer.text and 'action="/manage/logout"' in answer.text


def test_a_technician_sees_the_orders_but_takes_no_steps(shared_hub: HubProcess, orders: dict[str, str]) -> None:
    with signed_in(shared_hub, "tech-1") as web:
        page = web.get("/manage/pickups")
        assert page.status_code == 200 and "PKP-LATE" in page.text and "/manage/pickups/PKP-LATE" not in page.text
        answer = web.post("/manage/pickups/PKP-LATER", data={"csrf": _csrf(page.text), "to": "ready"})
        assert answer.status_code == 403 and "только менеджеры" in answer.text
    assert state_of(shared_hub, "PKP-LATER") == "arrived"


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"to": "collected", "code": ""}, 422, "Введите код выдачи покупателя"),
        ({"to": "collected", "code": "73 51;"}, 422, "Введите код выдачи покупателя"),
        ({"to": "teleported"}, 422, "Выберите один из предложенных шагов."),
        ({"to": "cancelled"}, 422, "Выберите один из предложенных шагов."),
    ],
)
def test_each_bad_step_is_refused_with_a_message_next_to_its_field(
    counter: httpx.Client, shared_hub: HubProcess, data: dict[str, str], status: int, message: str
) -> None:
    answer = step(counter, "PKP-LATER", **data)
    assert answer.status_code == status and message in answer.text
    assert state_of(shared_hub, "PKP-LATER") == "arrived"


def test_an_unknown_order_and_bad_filters_are_told_not_crashed(counter: httpx.Client) -> None:
    unknown = step(counter, "PKP-NOPE", "ready")
    assert unknown.status_code == 409 and "В этом магазине нет такого заказа." in unknown.text
    odd = step(counter, "PKP%20NOPE;", "ready")
    assert odd.status_code == 404 and "В этом магазине нет такого заказа." in odd.text
    view = counter.get("/manage/pickups", params={"view": "yesterday"})
    assert view.status_code == 422 and "Выберите один из предложенных списков." in view.text
    long = counter.get("/manage/pickups", params={"q": "я" * 65})
    assert long.status_code == 422 and "Поиск — не длиннее 64 символов." in long.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    order_id=st.text(min_size=1, max_size=80),
    to=st.text(max_size=40),
    code=st.text(max_size=80),
    view=st.text(max_size=20),
    q=st.text(max_size=100),
)
def test_no_form_input_makes_the_page_fail(
    counter: httpx.Client, order_id: str, to: str, code: str, view: str, q: str
) -> None:
    token = _csrf(counter.get("/manage/pickups").text)
    posted = counter.post(
        f"/manage/pickups/{quote(order_id, safe='')}",
        data={"csrf": token, "to": to, "code": code, "view": view, "q": q},
    )
    assert posted.status_code < 500, posted.text
    listed = counter.get("/manage/pickups", params={"view": view, "q": q})
    assert listed.status_code < 500, listed.text


def test_every_text_the_templates_show_has_its_russian() -> None:
    translated = set(re.findall(r'^msgid "(.+)"\nmsgstr "(?!")', RU_CATALOGUE.read_text(), re.M))
    shown = {
        m for template in TEMPLATES.glob("*.html") for m in re.findall(r'_\("([^"]+)"\s*[,)]', template.read_text())
    }
    assert shown and shown - translated == set()
