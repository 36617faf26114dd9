"""How the hub stands: the status a technician reads (the ``hub`` target's ``status``)
and whether it is ready to serve (``/readyz``, for the shop's monitoring).

Built by the hub's start-up once the bus and the devices are; it reads them live.
"""

from __future__ import annotations

from typing import Any

from bus.broker import ManagedBroker
from bus.mqtt import BusConnection
from devices.supervisor import DeviceSupervisor


class HubHealth:
    def __init__(
        self,
        *,
        store_id: str,
        boot: int,
        version: str,
        started_at: float,
        bus: BusConnection,
        broker: ManagedBroker | None,
        devices: DeviceSupervisor,
    ) -> None:
        self._store_id = store_id
        self._boot = boot
        self._version = version
        self._started_at = started_at
        self._bus = bus
        #: None when the broker is the shop's own (external mode).
        self._broker = broker
        self._devices = devices

    def status(self) -> dict[str, Any]:
        return {
            "store_id": self._store_id,
            "boot": self._boot,
            "version": self._version,
            "started_at": self._started_at,
            "bus_connected": self._bus.connected,
            "broker": None
            if self._broker is None
            else {"managed": True, "running": self._broker.running, "restarts": self._broker.restarts},
            "devices": len(self._devices.actors()),
        }

    def ready(self) -> tuple[bool, str]:
        if not self._bus.connected:
            return False, "not connected to the broker"
        if self._broker is not None and not self._broker.running:
            return False, "the managed broker is not running"
        return True, "ready"
