"""The loopback ports the demo listens on: the README's defaults, or a run of eight from
``--port-base N``; ``<dir>/ports.json`` tells the other commands which; and whether
another program holds one already.
"""

from __future__ import annotations

import errno
import json
import socket
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class DemoPorts:
    """Every loopback port the demo listens on.  The defaults are the README's; with
    ``--port-base N`` each is N plus its field's place in this list (0 to 7)."""

    mqtt: int = 1884
    websockets: int = 9002
    rest: int = 8080
    #: The reference cloud the demo store replicates to.
    cloud: int = 8090
    #: The simulated network receipt printer (a real one listens on 9100).
    printer: int = 19100
    #: The simulated card terminal (a real one listens on 20007).
    terminal: int = 21007
    #: The simulated Zebra label printer, ZPL II (a real one listens on 9100).
    zpl_printer: int = 19101
    #: The simulated TSC label printer, TSPL (a real one listens on 9100).
    tspl_printer: int = 19102

    @classmethod
    def from_base(cls, base: int) -> DemoPorts:
        return cls(*(base + offset for offset in range(len(fields(cls)))))

    @classmethod
    def read(cls, directory: Path) -> DemoPorts:
        """The ports of the demo in ``directory`` (the defaults when it never wrote them)."""
        try:
            return cls(**json.loads((directory / PORTS_FILE).read_text()))
        except (OSError, ValueError, TypeError):
            return cls()

    def write(self, directory: Path) -> None:
        (directory / PORTS_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    def taken(self) -> list[tuple[str, int]]:
        """The ports some other program listens on, as (what, number)."""
        return [(PORT_NAMES[name], number) for name, number in asdict(self).items() if _taken(number)]


#: What ``storehub demo`` writes beside its config: the ports it listens on, by name.
PORTS_FILE = "ports.json"

#: ``--port-base N`` uses N to N + PORT_SPAN - 1.
PORT_SPAN = len(fields(DemoPorts))

#: How a person calls each port in a message.
PORT_NAMES = {
    "mqtt": "the MQTT port",
    "websockets": "the MQTT over WebSockets port",
    "rest": "the REST port",
    "cloud": "the reference cloud's port",
    "printer": "the simulated receipt printer's port",
    "terminal": "the simulated card terminal's port",
    "zpl_printer": "the simulated ZPL label printer's port",
    "tspl_printer": "the simulated TSPL label printer's port",
}


def _taken(port: int) -> bool:
    with socket.socket() as probe:
        # As the servers themselves bind: a port held only by closing connections is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def ports_taken_message(taken: list[tuple[str, int]]) -> str:
    """``the REST port 8080 is taken (by another demo?); …``, one line a port."""
    lines = [f"{what} {number} is taken (by another demo?)" for what, number in taken]
    return "\n".join(lines) + f"; choose --port-base N (the demo then uses N to N+{PORT_SPAN - 1})"
