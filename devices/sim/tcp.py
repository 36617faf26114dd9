"""A network peripheral on a loopback port, for simulators of network devices.

The hub reaches it at ``host:port`` as it would a printer or a card terminal on the
shop's LAN.  ``stop()`` closes the listening socket and every connection; ``offline``
keeps the port open but drops every connection and closes new ones as they come (a
device that is powered but unreachable).  Subclasses serve one connection in
``serve_connection`` and say how to cut theirs in ``drop_connections``.
"""

from __future__ import annotations

import asyncio

#: How long ``stop()`` waits for the connections' tasks to wind down.
STOP_TIMEOUT_S = 2.0


class TcpDevice:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        #: 0 picks a free port at the first start; later starts reuse it.
        self.port = port
        self._offline = False
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> str:
        """What the hub config's ``port`` says for this device."""
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Unplugged: the listening socket and every connection close."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        self.drop_connections()
        await server.wait_closed()
        # Each connection's task ends once its socket is closed; wait for them so none
        # is left to be cancelled with the loop.
        tasks = list(self._tasks)
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
            for task in stuck:
                task.cancel()

    @property
    def offline(self) -> bool:
        return self._offline

    @offline.setter
    def offline(self, value: bool) -> None:
        """Offline: connections are cut now and new ones closed as they come."""
        self._offline = value
        if value:
            self.drop_connections()

    def drop_connections(self) -> None:
        """Close every open connection (abruptly, as a pulled cable would)."""

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Talk to one connected client until it or the device hangs up."""
        raise NotImplementedError

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._offline or self._server is None:
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.serve_connection(reader, writer)
        finally:
            self._tasks.discard(task)
