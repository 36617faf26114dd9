"""Starts one actor per configured device and keeps it running.

Each actor runs in a task that opens its transport, marks it online and serves jobs.
When the actor crashes or its device disappears, the task marks it offline (queued
jobs are answered ``device_offline``), closes it and tries again after a pause that
doubles up to a cap, so an unplugged device costs nothing while it is away.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from bus.payloads import DeviceError
from devices.actor import DeviceActor, DevicePort, DeviceSpec
from devices.registry import actor_class

log = logging.getLogger(__name__)

#: First pause before reopening a failed device, and the cap of its doubling.  The cap
#: keeps a replugged device coming back within two seconds (DESIGN: within a second
#: offline, back when it returns); one attempt a second is not spinning.
RESTART_BACKOFF_MIN_S = 0.5
RESTART_BACKOFF_MAX_S = 1.0

#: An actor that ran this long without failing starts again from the shortest pause.
STABLE_AFTER_S = 30.0

PortFactory = Callable[[DeviceSpec], DevicePort]


class DeviceSupervisor:
    def __init__(self, port_for: PortFactory) -> None:
        self._port_for = port_for
        self._actors: dict[str, DeviceActor] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.restarts: dict[str, int] = {}

    def start(self, specs: Iterable[DeviceSpec]) -> None:
        for spec in specs:
            actor = actor_class(spec.kind)(spec, self._port_for(spec))
            self._actors[spec.id] = actor
            self.restarts[spec.id] = 0
            self._tasks[spec.id] = asyncio.create_task(self._keep_running(actor), name=f"device-{spec.id}")

    def get(self, device_id: str) -> DeviceActor | None:
        return self._actors.get(device_id)

    def actors(self) -> list[DeviceActor]:
        return list(self._actors.values())

    async def _keep_running(self, actor: DeviceActor) -> None:
        backoff = RESTART_BACKOFF_MIN_S
        while True:
            started = time.monotonic()
            try:
                await actor.open()
                actor.went_online()
                await actor.serve()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = str(exc) or exc.__class__.__name__
                if actor.status != "offline" or actor.error is None or actor.error.get("message") != reason:
                    # Said once when a device goes away; the retries after it are quiet.
                    unexpected = not isinstance(exc, (DeviceError, OSError))
                    log.warning(
                        "device %s offline: %s; retrying every %.1f s or less",
                        actor.id,
                        reason,
                        RESTART_BACKOFF_MAX_S,
                        exc_info=exc if unexpected else None,
                    )
                    actor.went_offline(reason)
                else:
                    log.debug("device %s still offline: %s", actor.id, reason)
                await _close_quietly(actor)
            if time.monotonic() - started > STABLE_AFTER_S:
                backoff = RESTART_BACKOFF_MIN_S
            await asyncio.sleep(backoff)
            self.restarts[actor.id] += 1
            backoff = min(backoff * 2, RESTART_BACKOFF_MAX_S)

    async def restart(self, device_id: str, reason: str) -> None:
        """Stop one actor (its running job is cancelled and answered, it goes offline),
        close its transport and start it again at once.  Its claims stay as they were:
        a till that held the device holds it when it is back."""
        actor = self._actors[device_id]
        task = self._tasks[device_id]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        actor.went_offline(reason)
        await _close_quietly(actor)
        self.restarts[device_id] += 1
        self._tasks[device_id] = asyncio.create_task(self._keep_running(actor), name=f"device-{device_id}")

    async def stop(self) -> None:
        """Stop every actor: the running job is cancelled and answered, devices go offline."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        for actor in self._actors.values():
            actor.went_offline("the hub is shutting down", for_good=True)
            actor.publish_state()
            await _close_quietly(actor)


async def _close_quietly(actor: DeviceActor) -> None:
    try:
        await actor.close()
    except Exception:
        log.exception("closing %s failed", actor.id)
