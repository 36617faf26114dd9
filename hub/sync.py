"""The outbox as the cloud link sees it (``cloud_link.outbox.StoreOutbox``), made of
the store domain: its reader for batches and numbers, its writer for delivery marks,
inbound pages and pruning.
"""

from __future__ import annotations

import logging
from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session

from cloud_link.outbox import EncodedBatch, OutboxStats
from hub.store import outbox
from hub.store.domain import StoreDomain, apply_inbound
from hub.store.room import DatabaseRoom
from hub.store.schemas import Ignored, InboundBatch

log = logging.getLogger(__name__)

#: Each inbound kind (``cloud_link.contract.INBOUND_KINDS``) and the store's model its
#: items are read into, as ``InboundBatch`` says: one item at a time, so one bad item is
#: reported alone.
ITEM_SHAPES: dict[str, TypeAdapter[Any]] = {
    kind: TypeAdapter(get_args(field.annotation)[0]) for kind, field in InboundBatch.model_fields.items()
}


class HubOutbox:
    def __init__(self, domain: StoreDomain, room: DatabaseRoom) -> None:
        self.store_id = domain.store_id
        self._domain = domain
        self._room = room
        #: The writer's commit count when the pusher last read: a commit since then means news.
        self._commits_seen = -1

    def read_batch(self, *, after: int, limit: int) -> EncodedBatch | None:
        self._commits_seen = self._domain.writer.commits

        def read(session: Session) -> EncodedBatch | None:
            seqs, encoded = outbox.encoded_events_after(
                session=session, after=after, limit=limit, store_id=self.store_id
            )
            if not seqs:
                return None
            head = outbox.outbox_position(session=session).last_seq
            return EncodedBatch(
                first_seq=seqs[0], last_seq=seqs[-1], count=len(seqs), events_json=encoded, head_seq=head
            )

        return self._domain.read(read)

    def stats(self) -> OutboxStats:
        def read(session: Session) -> OutboxStats:
            position = outbox.outbox_position(session=session)
            room = self._room.measure()
            return OutboxStats(
                last_seq=position.last_seq,
                delivered_seq=position.acked_seq,
                oldest_undelivered_at=outbox.oldest_undelivered(session=session, acked_seq=position.acked_seq),
                bytes_used=room.used,
                bytes_allowed=room.allowed,
                # Either a write was refused for want of space, or a sale would now be.
                storage_full=self._domain.writer.storage_full or not self._room.enough_for_a_sale(room),
                inbound_cursor=position.inbound_cursor,
            )

        return self._domain.read(read)

    async def mark_delivered(self, upto_seq: int) -> int:
        now = self._domain.clock()

        def work(session: Session) -> int:
            return outbox.acknowledge(session=session, upto_seq=upto_seq, now=now)[0]

        # Upkeep: a full database must still record what the cloud holds, or it can never prune.
        return await self._domain.writer.run(work, upkeep=True)

    async def wait_for_events(self, timeout: float) -> None:
        if self._domain.writer.commits == self._commits_seen:
            await self._domain.wait_for_commit(timeout)

    def commits(self) -> int:
        return self._domain.writer.commits

    async def wait_for_commit(self, timeout: float, *, since: int) -> None:
        # No wake-up is lost between the check and the wait: the writer's notice runs on
        # this loop, after the wait has begun.
        if self._domain.writer.commits == since:
            await self._domain.wait_for_commit(timeout)

    async def apply_inbound(self, page: dict[str, Any], cursor: int) -> dict[str, Any]:
        batch, refused = inbound_batch(page)
        now = self._domain.clock()

        def work(session: Session) -> dict[str, Any]:
            report = apply_inbound(session=session, batch=batch, now=now)
            outbox.set_inbound_cursor(session=session, cursor=cursor)
            report.ignored.extend(refused)
            return report.model_dump(mode="json")

        return await self._domain.writer.run(work)

    async def prune_delivered(self, *, occurred_before: float, limit: int) -> int:
        return await self._domain.writer.run(
            lambda session: outbox.prune_delivered(session=session, occurred_before=occurred_before, limit=limit),
            upkeep=True,
        )


def inbound_batch(page: dict[str, Any]) -> tuple[InboundBatch, list[Ignored]]:
    """The items of a page the store can read; each one it cannot is reported and
    logged, so one bad item never holds up the rest of the feed."""
    kept: dict[str, list[Any]] = {}
    refused: list[Ignored] = []
    for kind, items in page.items():
        adapter = ITEM_SHAPES.get(kind)
        if adapter is None:
            if items:
                log.warning("the cloud sent %d inbound items of unknown kind %r; ignored", len(items), kind)
            continue
        kept[kind] = []
        for item in items:
            try:
                kept[kind].append(adapter.validate_python(item))
            except ValidationError as exc:
                ident = (
                    str(item.get("id") or item.get("sku") or item.get("card") or "?") if isinstance(item, dict) else "?"
                )
                reason = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors()[:3])
                log.warning("inbound %s %s from the cloud is not readable, ignored: %s", kind, ident, reason)
                refused.append(Ignored(kind=kind, id=ident[:64], reason=f"invalid: {reason}"[:300]))
    return InboundBatch(**kept), refused
