"""Which actor class drives each device kind named in the config."""

from __future__ import annotations

from devices.actor import DeviceActor
from devices.echo import EchoDevice

DEVICE_KINDS: dict[str, type[DeviceActor]] = {
    EchoDevice.kind: EchoDevice,
}
