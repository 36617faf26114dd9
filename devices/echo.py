"""The diagnostic device: an actor with no hardware behind it.

``echo`` exists so technicians, tests and ``storehub bench`` can exercise the bus,
arbitration and the actor runtime on a hub with no peripherals attached.  It answers
at once.  Its options say whether it behaves as a shared or an exclusive device and
whether technicians may crash it on purpose to watch the supervisor at work.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bus.payloads import Count, DeviceError, ErrorCode, Flag, Sharing
from devices.actor import DeviceActor, DeviceGone, DevicePort, DeviceSpec, Job, action
from devices.queue import Priority


class EchoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sharing: Sharing = Field("shared", description="Behave as a shared (queued) or an exclusive (claimed) device.")
    allow_crash: bool = Field(False, description="Let the `crash` action kill the actor, to try supervision.")


class EchoArgs(BaseModel):
    model_config = ConfigDict(extra="allow")


class SleepArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ms: Count = Field(ge=0, le=60_000, description="How long the job holds the device.")


class BatchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: Count = Field(ge=1, le=10_000, description="How many items the batch has (labels, say).")
    item_ms: Count = Field(0, ge=0, le=10_000, description="How long each item holds the device.")


class FailArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = "the diagnostic device was asked to fail"
    offline: Flag = Field(False, description="Fail as if unplugged: the device goes offline and comes back.")


class EchoDevice(DeviceActor):
    kind = "echo"
    Options = EchoOptions

    def __init__(self, spec: DeviceSpec, port: DevicePort) -> None:
        super().__init__(spec, port)
        self.sharing = self.options.sharing
        self.capabilities = {"diagnostic": True}

    @action("echo", EchoArgs, priority=Priority.INTERACTIVE)
    async def echo(self, job: Job) -> dict[str, Any]:
        return {"echo": job.args.model_dump()}

    @action("batch", BatchArgs, priority=Priority.BULK)
    async def batch(self, job: Job) -> dict[str, Any]:
        """A multi-item bulk job, like a label run: better jobs go between two items."""
        args: BatchArgs = job.args
        for done in range(1, args.items + 1):
            await asyncio.sleep(args.item_ms / 1000)
            self.progress(job, done, args.items)
            if done < args.items:
                await self.between_items()
        return {"items": args.items}

    @action("sleep", SleepArgs)
    async def sleep(self, job: Job) -> dict[str, Any]:
        # Blocking on purpose: shows that a slow device never stalls the hub.
        await self.blocking(time.sleep, job.args.ms / 1000)
        return {"slept_ms": job.args.ms}

    @action("fail", FailArgs)
    async def fail(self, job: Job) -> dict[str, Any]:
        if job.args.offline:
            raise DeviceGone(job.args.message)
        raise DeviceError(ErrorCode.DEVICE_ERROR, job.args.message)

    @action("crash")
    async def crash(self, job: Job) -> dict[str, Any]:
        if not self.options.allow_crash:
            raise DeviceError(ErrorCode.FORBIDDEN, f"{self.id} does not allow `crash` (options.allow_crash)")
        raise RuntimeError("crash requested by a technician")

    @action("status", needs_claim=False)
    async def status_(self, job: Job) -> dict[str, Any]:
        return {"status": self.status, "counters": dict(self.counters)}
