"""The hub target's arguments (hub/actions.py): read in one place, strictly on the bus,
and the product search read from REST's query string with the same model."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from bus.payloads import DeviceError, ErrorCode
from hub.actions import Action, CardQuery, DeviceQuery, ProductQuery, ProductSearchQuery, read_args
from hub.api.routes.products import SearchParams


def refusal(model: type[BaseModel], args: dict[str, Any]) -> str:
    with pytest.raises(DeviceError) as refused:
        read_args(model, args)
    assert refused.value.code == ErrorCode.INVALID_REQUEST
    return refused.value.message


def test_the_bus_reads_a_search_by_its_names_and_exact_json_types():
    search = read_args(ProductSearchQuery, {"query": "молоко"})
    assert (search.query, search.limit) == ("молоко", 20)
    assert refusal(ProductSearchQuery, {"q": "молоко"}) == "query: Field required; q: Extra inputs are not permitted"
    assert refusal(ProductSearchQuery, {"query": "молоко", "limit": "5"}) == "limit: Input should be a valid integer"
    assert refusal(ProductSearchQuery, {"query": "молоко", "limit": True}) == "limit: Input should be a valid integer"
    assert refusal(ProductSearchQuery, {"query": ""}).startswith("query: String should have at least 1 character")


def test_rest_reads_the_same_search_from_text_and_ignores_what_it_does_not_take():
    search = SearchParams.model_validate({"q": "молоко", "limit": "5", "page": "2"})
    assert (search.query, search.limit) == ("молоко", 5)
    for wrong in ({"q": "молоко", "limit": "101"}, {"query": "молоко"}, {"q": ""}):
        with pytest.raises(ValidationError):
            SearchParams.model_validate(wrong)


def test_a_device_query_gives_the_documented_refusal_and_ignores_other_fields():
    assert refusal(DeviceQuery, {}) == "args.device: the device id is required"
    assert refusal(DeviceQuery, {"device": 7}) == "args.device: the device id is required"
    assert read_args(DeviceQuery, {"device": "echo-1", "verbose": True}).device == "echo-1"


def test_the_store_lookups_refuse_what_they_do_not_know():
    assert refusal(ProductQuery, {"gtin": "4600682000013", "sku": "MLK-001"}).endswith("give either gtin or sku")
    assert "check digit" in refusal(ProductQuery, {"gtin": "4600682000014"})
    assert refusal(CardQuery, {"card": "7700123456789", "pin": "1234"}) == "pin: Extra inputs are not permitted"


async def test_an_action_without_arguments_ignores_whatever_args_come():
    async def ping(client: str) -> dict[str, Any]:
        return {"pong": True, "from": client}

    assert await Action(ping)("till-1", {"anything": ["at", "all"]}) == {"pong": True, "from": "till-1"}
