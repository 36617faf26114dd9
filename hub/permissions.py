"""What each kind of client may do with each kind of device (DESIGN.md, Security).

Data, not branches: a role's forbidden (device kind, action) pairs, ``"*"`` matching
any.  A kiosk serves shoppers unattended, so it never touches money: no cash drawer,
no drawer kick through a printer, no fiscal documents, no refunds on the card
terminal; nor does it print shelf labels, which say what the shop charges.  The cloud talks to the hub's sync API, never to devices.
"""

from __future__ import annotations

from bus.payloads import DeviceError, ErrorCode

ANY = "*"

FORBIDDEN: dict[str, frozenset[tuple[str, str]]] = {
    "till": frozenset(),
    "manager": frozenset(),
    "technician": frozenset(),
    "kiosk": frozenset(
        {
            ("cash_drawer", ANY),
            ("label_printer", ANY),
            ("receipt_printer", "open_drawer"),
            ("fiscal_register", "open_shift"),
            ("fiscal_register", "fiscalize"),
            ("fiscal_register", "refund"),
            ("fiscal_register", "cancel_open_document"),
            ("fiscal_register", "x_report"),
            ("fiscal_register", "z_report"),
            ("fiscal_register", "cash_in"),
            ("fiscal_register", "cash_out"),
            ("payment_terminal", "refund"),
            ("payment_terminal", "reverse"),
            ("payment_terminal", "end_of_day"),
        }
    ),
    "cloud": frozenset({(ANY, ANY)}),
}

#: Arguments a role may not set to true on an otherwise allowed action: a kiosk may
#: print a slip, but not kick the cash drawer open while printing it.
FORBIDDEN_ARGS: dict[str, dict[tuple[str, str], frozenset[str]]] = {
    "kiosk": {("receipt_printer", "print"): frozenset({"open_drawer"})},
}

#: Hub actions only people who look after the store may use.
STAFF_ROLES = frozenset({"technician", "manager"})
HUB_STAFF_ACTIONS = frozenset({"force_release"})

#: Hub actions for the technician alone: restarting a device's actor, and the list of
#: clients with the claims each holds (the technician's console uses both).
HUB_TECHNICIAN_ACTIONS = frozenset({"restart_device", "list_clients"})


def check_device_action(role: str | None, kind: str, action: str, args: dict | None = None) -> None:
    """Raise ``forbidden`` if ``role`` may not ask a ``kind`` device for ``action``."""
    if role is None:
        raise DeviceError(ErrorCode.FORBIDDEN, "unknown client: not in this store's configuration")
    forbidden = FORBIDDEN.get(role, frozenset({(ANY, ANY)}))
    for pair in ((kind, action), (kind, ANY), (ANY, action), (ANY, ANY)):
        if pair in forbidden:
            raise DeviceError(ErrorCode.FORBIDDEN, f"a {role} may not {action} on a {kind}")
    for name in FORBIDDEN_ARGS.get(role, {}).get((kind, action), frozenset()):
        if args and args.get(name):
            raise DeviceError(ErrorCode.FORBIDDEN, f"a {role} may not {action} with {name} on a {kind}")


def check_hub_action(role: str | None, action: str) -> None:
    if role is None:
        raise DeviceError(ErrorCode.FORBIDDEN, "unknown client: not in this store's configuration")
    if action in HUB_STAFF_ACTIONS and role not in STAFF_ROLES:
        raise DeviceError(ErrorCode.FORBIDDEN, f"{action} is for technicians and managers, not a {role}")
    if action in HUB_TECHNICIAN_ACTIONS and role != "technician":
        raise DeviceError(ErrorCode.FORBIDDEN, f"{action} is for technicians, not a {role}")
    if action in HUB_STORE_ACTIONS:
        check_store_access(role, HUB_STORE_ACTIONS[action])


#: Who may use each part of the store API (REST, and the same reads on the bus's
#: ``hub`` target).  Tills sell; kiosks show products and take endless-aisle orders;
#: managers run the shop floor; technicians see everything but change no stock or
#: points, and may pause the cloud link; the cloud feeds the hub and reads its events.
STORE_ROLES: dict[str, frozenset[str]] = {
    "products": frozenset({"till", "kiosk", "manager", "technician"}),
    "stock_moves": frozenset({"till", "manager"}),
    "loyalty_read": frozenset({"till", "kiosk", "manager", "technician"}),
    "loyalty_write": frozenset({"till", "manager"}),
    "pickups": frozenset({"till", "manager", "technician"}),
    "pickup_transitions": frozenset({"till", "manager"}),
    "kiosk_orders": frozenset({"kiosk", "till", "manager"}),
    "manager_views": frozenset({"manager", "technician"}),
    "sync": frozenset({"cloud"}),
    "sync_state": frozenset({"manager", "technician"}),
    "sync_control": frozenset({"technician"}),
}


#: The store lookups on the bus's ``hub`` target, and the part of the store API each
#: belongs to: the same roles may use them through either door.
HUB_STORE_ACTIONS = {
    "product": "products",
    "search_products": "products",
    "loyalty_balance": "loyalty_read",
    "sync_state": "sync_state",
    "sync_pause": "sync_control",
    "sync_resume": "sync_control",
}


def check_store_access(role: str | None, part: str) -> None:
    """Raise ``forbidden`` if ``role`` may not use ``part`` of the store API."""
    allowed = STORE_ROLES[part]
    if role not in allowed:
        who = f"a {role}" if role else "an unknown client"
        raise DeviceError(
            ErrorCode.FORBIDDEN, f"{who} may not use {part.replace('_', ' ')}; for {', '.join(sorted(allowed))}"
        )
