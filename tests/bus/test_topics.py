"""Topics are parsed by whole segments into typed values, never by suffix."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.topics import (
    ClientEventTopic,
    ClientStateTopic,
    DeviceEventTopic,
    DeviceStateTopic,
    HubDevicesTopic,
    HubStateTopic,
    RequestTopic,
    ResponseTopic,
    SyncStateTopic,
    TopicTree,
)

TREE = TopicTree("store-1")
ids = st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,62}\Z")


@given(
    st.one_of(
        st.just(HubStateTopic()),
        st.just(HubDevicesTopic()),
        st.just(SyncStateTopic()),
        st.builds(DeviceStateTopic, ids),
        st.builds(DeviceEventTopic, ids),
        st.builds(ClientStateTopic, ids),
        st.builds(RequestTopic, ids, ids),
        st.builds(ResponseTopic, ids),
        st.builds(ClientEventTopic, ids),
    )
)
def test_every_topic_survives_a_round_trip(topic):
    assert TREE.parse(TREE.build(topic)) == topic


@pytest.mark.parametrize(
    "topic",
    [
        "storehub/v1/store-2/hub/state",  # another store
        "storehub/v2/store-1/hub/state",  # another version
        "storehub/v1/store-1/client/till-1/req/hub/state",  # a suffix that looks like hub/state
        "storehub/v1/store-1/client/till-1/req",
        "storehub/v1/store-1/client/Till-1/req/echo-1",  # bad id
        "storehub/v1/store-1/dev/echo-1/state/extra",
        "storehub/v1/store-1/client/till-1/req/-bad",
        "",
    ],
)
def test_foreign_and_malformed_topics_are_not_parsed(topic: str):
    assert TREE.parse(topic) is None


def test_the_sender_is_known_even_when_the_rest_is_bad():
    assert TREE.sender_of("storehub/v1/store-1/client/till-1/req/NOT_AN_ID") == "till-1"
    assert TREE.sender_of("storehub/v1/store-1/hub/state") is None
    assert TREE.sender_of("storehub/v1/store-9/client/till-1/req/x") is None


def test_owned_by_confines_a_response_topic_to_the_senders_subtree():
    assert TREE.owned_by("storehub/v1/store-1/client/till-1/res", "till-1")
    assert TREE.owned_by("storehub/v1/store-1/client/till-1/res/pos-app", "till-1")
    assert not TREE.owned_by("storehub/v1/store-1/client/till-10/res", "till-1")
    assert not TREE.owned_by("storehub/v1/store-1/client/till-2/res", "till-1")
    assert not TREE.owned_by("storehub/v1/store-1/client/till-1/#", "till-1")


def test_store_ids_are_checked():
    with pytest.raises(ValueError, match="store id"):
        TopicTree("Store One")
