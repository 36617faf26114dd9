"""A console fed a fixed store at a frozen time, with no hub: for snapshots and colours.

The bus link is replaced (``FixedLink``) because a snapshot must not depend on what a
live hub happens to say or when; everything else is the real app.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tui.app import ConsoleApp
from tui.link import BusChanged, DeviceEventArrived, DeviceStatesChanged, HubStateChanged
from tui.settings import ConsoleSettings

#: 2026-01-15 10:00:00 UTC, the snapshots' "now".
FROZEN_NOW = 1768471200.0

FIXED_DEVICES: list[dict[str, Any]] = [
    {
        "device_id": "printer-1",
        "kind": "receipt_printer",
        "status": "busy",
        "claimed_by": "till-1",
        "lease_expires_at": FROZEN_NOW + 42,
        "queue_depth": 2,
        "capabilities": {"cut": True, "width_mm": 80},
        "counters": {"jobs": 120, "errors": 1},
    },
    {
        "device_id": "scanner-1",
        "kind": "scanner",
        "status": "idle",
        "queue_depth": 0,
        "capabilities": {"symbologies": ["ean13", "qr"]},
    },
    {
        "device_id": "drawer-1",
        "kind": "cash_drawer",
        "status": "error",
        "queue_depth": 0,
        "error": {"code": "device_unavailable", "message": "drawer not answering"},
    },
    {"device_id": "display-1", "kind": "customer_display", "status": "offline", "queue_depth": 0},
]

FIXED_EVENTS = {
    "printer-1": [
        {"type": "job_done", "data": {"request_id": "r-118"}},
        {"type": "paper_low", "data": {}},
    ]
}


class FixedLink:
    """Says, once, that the bus is up, the hub online and the store as above."""

    def __init__(self, target: ConsoleApp) -> None:
        self.target = target

    async def run(self) -> None:
        self.target.post_message(BusChanged(True))
        self.target.post_message(HubStateChanged({"state": "online"}))
        self.target.post_message(DeviceStatesChanged({doc["device_id"]: dict(doc) for doc in FIXED_DEVICES}))
        for device, events in FIXED_EVENTS.items():
            for event in events:
                self.target.post_message(DeviceEventArrived(device, event))


def frozen_console(
    environ: Mapping[str, str] | None = None, *, language: str = "ru", keys: dict[str, str] | None = None
) -> ConsoleApp:
    settings = ConsoleSettings(
        store="store-1",
        client_id="tech-1",
        secret="-",
        port=1883,
        language=language,
        keys=keys or {},
    )
    app = ConsoleApp(settings, environ=environ or {"TERM": "xterm-256color", "COLORTERM": "truecolor"})
    app.clock = lambda: FROZEN_NOW
    app.link = FixedLink(app)
    return app
