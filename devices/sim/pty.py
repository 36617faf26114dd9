"""A serial device on a pseudo-terminal, for simulators of serial peripherals.

The hub opens the pty's slave end through a stable symlink (as it would a
``/dev/serial/by-id/...`` link); the simulator holds the master end.  ``stop()``
closes the master, which the hub sees as an unplugged device; ``start()`` again makes
a new pty and points the same link at it, which the hub sees as the device returning.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import tty
from pathlib import Path

log = logging.getLogger(__name__)

#: Largest read from the master end at once.
READ_CHUNK = 4096

#: How often the reader looks up from waiting to see whether it should stop.  A
#: thread blocked in read() would keep the pty alive after close(), so the hub would
#: never see the device unplugged.
STOP_POLL_S = 0.05


class PtyDevice:
    """Subclasses override ``received`` to answer what the hub writes."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self._master: int | None = None
        self._slave: int | None = None
        self._reader: threading.Thread | None = None
        self._stopping = threading.Event()
        self._write_lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._master is not None

    def start(self) -> None:
        master, slave = os.openpty()
        # Raw: bytes pass unchanged (no echo, no CR/LF translation), as on a real port.
        tty.setraw(slave)
        tty.setraw(master)
        self._master, self._slave = master, slave
        self._stopping.clear()
        self.link.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link.with_name(self.link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.link)
        self._reader = threading.Thread(
            target=self._read_loop, args=(master,), daemon=True, name=f"pty-{self.link.name}"
        )
        self._reader.start()

    def stop(self) -> None:
        """Unplug: the link goes away and the hub's next read or write fails."""
        master, slave = self._master, self._slave
        self.link.unlink(missing_ok=True)
        self._stopping.set()
        if self._reader is not None:
            self._reader.join(timeout=2)
        with self._write_lock:
            self._master = self._slave = None
        for fd in (slave, master):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def send(self, data: bytes) -> None:
        """Bytes from the device to the hub (a scan, a status reply)."""
        with self._write_lock:
            if self._master is None:
                raise OSError("the simulated device is unplugged")
            os.write(self._master, data)

    def received(self, data: bytes) -> None:
        """Bytes the hub wrote to the device."""

    def _read_loop(self, master: int) -> None:
        while not self._stopping.is_set():
            try:
                ready, _, _ = select.select([master], [], [], STOP_POLL_S)
                if not ready:
                    continue
                data = os.read(master, READ_CHUNK)
            except OSError:
                return  # closed: unplugged
            if not data:
                return
            try:
                self.received(data)
            except Exception:
                log.exception("simulator %s failed on %r", self.link.name, data[:40])
