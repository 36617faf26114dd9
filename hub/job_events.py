"""A job's events heard inside the hub: what a device tells the client whose job it runs
(``progress``, ``output_complete``) goes on the bus to ``client/{id}/event`` for a till,
and here, in the same process, to a part of the hub that sent the request itself (the
Labels page following its print run) without a trip through the broker.

The hub's start-up makes one ``JobEvents`` and gives it to every device's port
(``BusDevicePort.send_to_client`` hands each event over) and to the web.  A listener is
keyed by the requesting client and its request id; ``listen`` returns the way to stop,
which the listener calls when its request is answered, so nothing outlives its job.
Everything here runs on the hub's event loop, as the actors do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bus.payloads import Event

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]


class JobEvents:
    def __init__(self) -> None:
        #: (client, request id) -> who hears that job's events.
        self._listeners: dict[tuple[str, str], Listener] = {}

    def listen(self, client: str, request_id: str, heard: Listener) -> Callable[[], None]:
        """``heard`` gets every event a device sends ``client`` about ``request_id``
        until the returned function is called."""
        key = (client, request_id)
        self._listeners[key] = heard

        def stop() -> None:
            self._listeners.pop(key, None)

        return stop

    def sent_to_client(self, client: str, event: Event) -> None:
        """A device sent ``client`` this event: its job's listener hears it, if it has one."""
        request_id = event.data.get("request_id")
        if not isinstance(request_id, str):
            return
        heard = self._listeners.get((client, request_id))
        if heard is None:
            return
        try:
            heard(event)
        except Exception:  # a listener's fault must not stop the device that told it
            log.exception("%s's listener for %s failed on a %s event", client, request_id, event.type)

    @property
    def listening(self) -> int:
        """How many jobs are listened to now."""
        return len(self._listeners)
