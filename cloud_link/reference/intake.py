"""Turning the bytes of a pushed batch or a pulled feed page into events the ledger can hold.

Push and pull share this, so an event is checked the same way whichever way it came.
The document kept is the event as received (re-serialized compactly by orjson), not the
model's dump, so fields keep the store's spelling.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from cloud_link.contract import MAX_BATCH_EVENTS, Event, EventBatch, Feed
from cloud_link.reference.errors import InvalidRequest, PayloadTooLarge, invalid


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    seq: int
    event_id: str
    document: str


def parse_json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not JSON: {exc}") from None


def read_batch(body: bytes, *, store_id: str, idempotency_key: str | None) -> tuple[EventBatch, list[ReceivedEvent]]:
    """A pushed batch, checked against its path store and its ``Idempotency-Key``."""
    raw = parse_json(body)
    if isinstance(raw, dict) and isinstance(raw.get("events"), list) and len(raw["events"]) > MAX_BATCH_EVENTS:
        raise PayloadTooLarge(f"a batch holds at most {MAX_BATCH_EVENTS} events, not {len(raw['events'])}")
    try:
        batch = EventBatch.model_validate(raw)
    except ValidationError as exc:
        raise invalid(exc) from None
    if batch.store_id != store_id:
        raise InvalidRequest(f"store_id {batch.store_id} is not the store in the path ({store_id})", field="store_id")
    if batch.first_seq > batch.last_seq:
        raise InvalidRequest(f"first_seq {batch.first_seq} is after last_seq {batch.last_seq}", field="first_seq")
    if batch.head_seq < batch.last_seq:
        raise InvalidRequest(f"head_seq {batch.head_seq} is below last_seq {batch.last_seq}", field="head_seq")
    expected_key = f"{batch.first_seq}-{batch.last_seq}"
    if idempotency_key != expected_key:
        raise InvalidRequest(
            f"Idempotency-Key must be {expected_key} for this batch, not {idempotency_key!r}", field="Idempotency-Key"
        )
    check_events(batch.events, store_id=store_id, first_seq=batch.first_seq, last_seq=batch.last_seq)
    return batch, received(raw["events"], batch.events)


def read_feed(body: bytes, *, store_id: str) -> tuple[Feed, list[ReceivedEvent]]:
    """A page of the hub's ``sync/events`` feed."""
    raw = parse_json(body)
    try:
        feed = Feed.model_validate(raw)
    except ValidationError as exc:
        raise invalid(exc) from None
    if feed.events:
        seqs = [event.seq for event in feed.events]
        check_events(feed.events, store_id=store_id, first_seq=min(seqs), last_seq=max(seqs))
    return feed, received(raw["events"], feed.events)


def check_events(events: list[Event], *, store_id: str, first_seq: int, last_seq: int) -> None:
    for index, event in enumerate(events):
        if event.store_id != store_id:
            raise InvalidRequest(
                f"events.{index}.store_id: {event.store_id} is not {store_id}", field=f"events.{index}.store_id"
            )
        if not first_seq <= event.seq <= last_seq:
            raise InvalidRequest(
                f"events.{index}.seq: {event.seq} is outside {first_seq}..{last_seq}", field=f"events.{index}.seq"
            )


def received(documents: list[dict], events: list[Event]) -> list[ReceivedEvent]:
    return [
        ReceivedEvent(seq=event.seq, event_id=event.event_id.lower(), document=orjson.dumps(document).decode())
        for document, event in zip(documents, events, strict=True)
    ]
