"""Which actor class drives each device kind named in the config.

Classes are named, not imported, here: a kind's driver libraries (evdev, escpos,
pyserial) load only when a store actually has such a device.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devices.actor import DeviceActor

DEVICE_KINDS: dict[str, str] = {
    "echo": "devices.echo:EchoDevice",
    "scanner": "devices.scanner:Scanner",
    "receipt_printer": "devices.receipt_printer:ReceiptPrinter",
    "cash_drawer": "devices.cash_drawer:CashDrawer",
    "customer_display": "devices.customer_display:CustomerDisplay",
    "fiscal_register": "devices.fiscal_register:FiscalRegister",
    "payment_terminal": "devices.payment_terminal:PaymentTerminal",
    "label_printer": "devices.label_printer:LabelPrinter",
}


@functools.cache
def actor_class(kind: str) -> type[DeviceActor]:
    module, _, name = DEVICE_KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)
