"""Who holds a device, until when, and who waits for it (after UnifiedPOS, with leases).

A claim is a lease: it ends when it expires, when its holder releases it, when a
technician or manager overrides it, or at once when the holder's till goes offline.
Nothing else can end it, and nothing can leave it held: that is how a device never
stays "stuck in use" by a till that crashed.  A claim that cannot be granted waits,
first come first served, up to its ``wait_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bus.payloads import DeviceError, ErrorCode, Flag, Seconds

log = logging.getLogger(__name__)

#: A lease unless the till asks otherwise: long enough for a sale, short enough that a
#: till that vanished without a Last Will frees the device soon.
DEFAULT_LEASE_S = 30.0

#: The longest lease a till may ask for (a whole shift), and the longest wait.
MAX_LEASE_S = 12 * 3600.0
MAX_WAIT_S = 300.0

#: Roles that may take a claim over from its holder.
OVERRIDE_ROLES = frozenset({"technician", "manager"})


class ClaimArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lease_s: Seconds = Field(DEFAULT_LEASE_S, gt=0, le=MAX_LEASE_S, description="How long the claim lasts unrenewed.")
    wait_s: Seconds = Field(0.0, ge=0, le=MAX_WAIT_S, description="How long to wait if another till holds it.")
    override: Flag = Field(False, description="Take it from its holder (technicians and managers only).")


class RenewArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lease_s: Seconds | None = Field(
        None, gt=0, le=MAX_LEASE_S, description="A new lease length; default: the current one."
    )


@dataclass
class Waiter:
    client: str
    lease_s: float
    future: asyncio.Future[dict[str, Any]]
    since: float


ClaimTold = Callable[[str, str, dict[str, Any]], None]  # (client, event type, data)


class ClaimBook:
    def __init__(
        self,
        device_id: str,
        *,
        assigned_to: str | None,
        changed: Callable[[], None],
        tell: ClaimTold,
        waited: Callable[[float], None] = lambda seconds: None,
    ) -> None:
        self.device_id = device_id
        self.assigned_to = assigned_to
        self.holder: str | None = None
        self.expires_at: float | None = None  # wall clock, for the state document
        self.lease_s = DEFAULT_LEASE_S
        self.waiters: deque[Waiter] = deque()
        self.counters = {"claims_granted": 0, "claims_ended": 0, "claims_refused": 0}
        self._changed = changed
        self._tell = tell
        self._waited = waited
        self._timer: asyncio.TimerHandle | None = None

    # -- what tills ask ------------------------------------------------------------

    async def claim(self, client: str, role: str | None, args: ClaimArgs) -> dict[str, Any]:
        if (
            self.assigned_to is not None
            and client != self.assigned_to
            and not (args.override and role in OVERRIDE_ROLES)
        ):
            self.counters["claims_refused"] += 1
            raise DeviceError(ErrorCode.FORBIDDEN, f"{self.device_id} is assigned to {self.assigned_to}")
        if self.holder in (None, client):
            return self._grant(client, args.lease_s, waited_s=0.0)
        if args.override:
            if role not in OVERRIDE_ROLES:
                self.counters["claims_refused"] += 1
                raise DeviceError(ErrorCode.FORBIDDEN, "only a technician or a manager may override a claim")
            previous = self.holder
            log.warning("%s: %s (%s) took the claim over from %s", self.device_id, client, role, previous)
            # Straight to the overrider: the tills waiting stay in line behind it.
            self._end("overridden", by=client, grant_next=False)
            return self._grant(client, args.lease_s, waited_s=0.0, took_over_from=previous)
        if args.wait_s <= 0:
            self.counters["claims_refused"] += 1
            raise self._held_error()
        waiter = Waiter(client, args.lease_s, asyncio.get_running_loop().create_future(), time.monotonic())
        self.waiters.append(waiter)
        self._changed()
        try:
            return await asyncio.wait_for(asyncio.shield(waiter.future), args.wait_s)
        except TimeoutError:
            if waiter.future.done():  # granted in the same instant
                return waiter.future.result()
            self.counters["claims_refused"] += 1
            raise self._held_error(waited_s=args.wait_s) from None
        finally:
            if waiter in self.waiters:  # timed out, or the requester itself was cancelled
                self.waiters.remove(waiter)
                self._changed()

    def renew(self, client: str, lease_s: float | None = None) -> dict[str, Any]:
        if self.holder != client:
            raise self._not_holder(client)
        self._start_lease(lease_s or self.lease_s)
        return self.describe()

    def touch(self, client: str) -> None:
        """Any action by the holder renews its lease."""
        if self.holder == client:
            self._start_lease(self.lease_s, quiet=True)

    def release(self, client: str) -> dict[str, Any]:
        if self.holder != client:
            raise self._not_holder(client)
        self._end("released", tell_holder=False)
        return {"device_id": self.device_id, "released": True}

    # -- what the hub does ---------------------------------------------------------

    def client_left(self, client: str) -> None:
        """The till went offline (its Last Will, or it left): its claim and its waits end."""
        for waiter in [w for w in self.waiters if w.client == client]:
            self.waiters.remove(waiter)
            _answer(waiter, DeviceError(ErrorCode.CLAIMED_BY_OTHER, f"{client} went offline while waiting"))
        if self.holder == client:
            log.info("%s: released, %s went offline", self.device_id, client)
            self._end("client_offline")
        else:
            self._changed()

    def force_release(self, by: str) -> bool:
        if self.holder is None:
            return False
        log.warning("%s: %s force-released the claim of %s", self.device_id, by, self.holder)
        self._end("force_released", by=by)
        return True

    def close(self, reason: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for waiter in self.waiters:
            _answer(waiter, DeviceError(ErrorCode.DEVICE_OFFLINE, f"{self.device_id} {reason}"))
        self.waiters.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "holder": self.holder,
            "lease_s": self.lease_s if self.holder else None,
            "lease_expires_at": self.expires_at,
            "waiting": [w.client for w in self.waiters],
        }

    # -- inside --------------------------------------------------------------------

    def _grant(
        self, client: str, lease_s: float, *, waited_s: float, took_over_from: str | None = None
    ) -> dict[str, Any]:
        new = self.holder != client
        self.holder = client
        self._start_lease(lease_s)
        if new:
            self.counters["claims_granted"] += 1
            self._waited(waited_s)
        result = self.describe() | {"waited_ms": round(waited_s * 1000, 1)}
        if took_over_from:
            result["took_over_from"] = took_over_from
        return result

    def _start_lease(self, lease_s: float, *, quiet: bool = False) -> None:
        self.lease_s = lease_s
        self.expires_at = round(time.time() + lease_s, 3)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(lease_s, self._expired)
        if not quiet:
            self._changed()

    def _expired(self) -> None:
        self._timer = None
        log.info("%s: the lease of %s expired", self.device_id, self.holder)
        self._end("expired")

    def _end(self, reason: str, *, by: str | None = None, tell_holder: bool = True, grant_next: bool = True) -> None:
        holder = self.holder
        if holder is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.holder = None
        self.expires_at = None
        self.counters["claims_ended"] += 1
        if tell_holder:
            data: dict[str, Any] = {"device_id": self.device_id, "reason": reason}
            if by:
                data["by"] = by
            self._tell(holder, "claim_lost", data)
        if grant_next:
            self._grant_next()
        self._changed()

    def _grant_next(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if waiter.future.done():
                continue
            waited = time.monotonic() - waiter.since
            waiter.future.set_result(self._grant(waiter.client, waiter.lease_s, waited_s=waited))
            return

    def _held_error(self, waited_s: float = 0.0) -> DeviceError:
        waited = f" (waited {waited_s:g} s)" if waited_s else ""
        return DeviceError(
            ErrorCode.CLAIMED_BY_OTHER,
            f"{self.device_id} is held by {self.holder}{waited}",
            {"holder": self.holder, "lease_expires_at": self.expires_at},
        )

    def _not_holder(self, client: str) -> DeviceError:
        if self.holder is None:
            return DeviceError(ErrorCode.NOT_CLAIMED, f"{self.device_id} is not claimed by {client}")
        return DeviceError(ErrorCode.NOT_CLAIMED, f"{self.device_id} is held by {self.holder}, not {client}")


def _answer(waiter: Waiter, error: DeviceError) -> None:
    if not waiter.future.done():
        waiter.future.set_exception(error)
        # The waiting claim() may already have given up; never warn about it.
        waiter.future.exception()
