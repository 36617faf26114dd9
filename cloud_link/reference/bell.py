"""Wakes a store's inbound long polls the moment something is published for it."""

from __future__ import annotations

import asyncio


class InboundBell:
    """One event per store, rung and replaced on each publication.

    A poller takes ``next_ring`` before it reads, so a publication between its read and
    its wait still wakes it.  Used from the event loop only.
    """

    def __init__(self) -> None:
        self._rings: dict[str, asyncio.Event] = {}
        self._closed = asyncio.Event()

    def next_ring(self, store_id: str) -> asyncio.Event:
        if self._closed.is_set():
            return self._closed
        return self._rings.setdefault(store_id, asyncio.Event())

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """At shutdown: every long poll answers now, instead of holding the server open."""
        self._closed.set()
        for ring in self._rings.values():
            ring.set()
        self._rings.clear()

    def ring(self, store_id: str) -> None:
        if ring := self._rings.pop(store_id, None):
            ring.set()
