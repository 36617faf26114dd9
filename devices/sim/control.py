"""The simulator desk: how a person drives the demo's simulated peripherals.

The demo runs its simulators in its own process; ``storehub sim …`` reaches them over a
Unix socket in the demo folder, one JSON object per line each way:

    {"device": "scanner-1", "do": "scan", "args": {"code": "4601234567893"}}
    {"ok": true, "result": {...}}      or      {"ok": false, "error": "…"}

Each simulated device registers the things it can be told to do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: A command line longer than this is refused (commands are a few hundred bytes).
MAX_COMMAND_BYTES = 64 * 1024

#: How long the CLI waits for the demo to answer.
ANSWER_TIMEOUT_S = 10.0

Handler = Callable[[dict[str, Any]], Any]


class SimulatorDesk:
    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self._devices: dict[str, dict[str, Handler]] = {}
        self._server: asyncio.AbstractServer | None = None

    def register(self, device: str, kind: str, handlers: dict[str, Handler]) -> None:
        description = {"kind": kind, "can": sorted(handlers)}
        self._devices[device] = {"describe": lambda args: description, **handlers}

    async def start(self) -> None:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.socket_path), limit=MAX_COMMAND_BYTES)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.socket_path.unlink(missing_ok=True)

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        if command.get("do") == "list":
            return {"ok": True, "result": {d: h["describe"]({}) for d, h in sorted(self._devices.items())}}
        device, action = command.get("device"), command.get("do")
        handlers = self._devices.get(device) if isinstance(device, str) else None
        if handlers is None:
            return {"ok": False, "error": f"no simulated device {device!r}; try `storehub sim list`"}
        # A person types `replace-storage` as readily as `replace_storage`: the same action.
        handler = handlers.get(action.replace("-", "_")) if isinstance(action, str) else None
        if handler is None:
            return {"ok": False, "error": f"{device} cannot {action!r}; it can: {', '.join(sorted(handlers))}"}
        args = command.get("args") or {}
        if not isinstance(args, dict):
            return {"ok": False, "error": "args must be an object"}
        try:
            return {"ok": True, "result": handler(args)}
        except (KeyError, TypeError, ValueError, OSError) as exc:
            return {"ok": False, "error": f"{device} {action}: {exc}"}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    command = json.loads(line)
                    answer = (
                        self.handle(command) if isinstance(command, dict) else {"ok": False, "error": "not an object"}
                    )
                except ValueError as exc:
                    answer = {"ok": False, "error": f"not JSON: {exc}"}
                writer.write(json.dumps(answer, default=str).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()


def send_command(socket_path: Path, command: dict[str, Any]) -> dict[str, Any]:
    """What the CLI does: one command, one answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(ANSWER_TIMEOUT_S)
        try:
            sock.connect(str(socket_path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise ConnectionError(
                f"no demo is running with simulators at {socket_path} (start it with `make run`)"
            ) from None
        sock.sendall(json.dumps(command).encode() + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return json.loads(answer)
