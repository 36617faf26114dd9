"""The hub's own actions: what tills, kiosks and technicians ask of the ``hub`` target
on the bus (docs/bus.md, Requests to the hub).

Each action that takes arguments reads its ``args`` with a model, in one place
(``read_args``): a bad one is ``invalid_request`` naming the field and why, as for any
bus payload.  Where REST has the same request it reads the same model (the product
search, hub/api/routes/products.py); where REST puts the argument in the path (a
product by gtin or sku, a card, a device) both doors share the field's type.  Actions
that take no arguments ignore whatever ``args`` come, as they always have.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bus.payloads import DeviceError, ErrorCode, describe_validation_error
from cloud_link.link import CloudLink
from devices.actor import DeviceActor
from devices.supervisor import DeviceSupervisor
from hub.requests import HubAction, unknown_device
from hub.store.catalogue import MAX_PRODUCT_SEARCH
from hub.store.domain import StoreDomain
from hub.store.schemas import Card, Gtin, Sku

log = logging.getLogger(__name__)

Result = dict[str, Any]


# -- what the actions read from args -------------------------------------------------


class ActionArgs(BaseModel):
    """Arguments as the bus reads them: exact JSON types, and no field the action does not know."""

    model_config = ConfigDict(extra="forbid", strict=True)


class DeviceQuery(BaseModel):
    """``list_queue`` and ``force_release``: ``{"device": id}``.  Any other field is
    ignored, and a missing device gets the refusal docs/bus.md gives word for word.  Any
    string is an id here: one the store does not have is ``unknown_target``, not a bad
    argument, as a request sent to it would be."""

    model_config = ConfigDict(extra="ignore")

    device: str

    @model_validator(mode="before")
    @classmethod
    def _named(cls, args: Any) -> Any:
        if not isinstance(args, dict) or not isinstance(args.get("device"), str):
            raise DeviceError(ErrorCode.INVALID_REQUEST, "args.device: the device id is required")
        return args


class ProductQuery(ActionArgs):
    """``product``: ``{"gtin": …}`` or ``{"sku": …}``, as GET /api/v1/products/gtin/{gtin}
    and /api/v1/products/{sku} take them in the path."""

    gtin: Gtin | None = None
    sku: Sku | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ProductQuery:
        if (self.gtin is None) == (self.sku is None):
            raise ValueError("give either gtin or sku")
        return self


class ProductSearchQuery(ActionArgs):
    """``search_products``: ``{"query": …, "limit": 20}``.  GET /api/v1/products reads the
    same search from ``?q=…&limit=…`` (its ``SearchParams``: the query string's name for
    ``query`` is its alias).  ``limit`` is an int made strict by this model's config, not
    a ``Count``: a query string's values are text, and REST must read ``limit=5``."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=False)

    query: str = Field(
        min_length=1, max_length=MAX_PRODUCT_SEARCH, alias="q", description="Part of a name, sku or gtin."
    )
    limit: int = Field(20, ge=1, le=100)


class CardQuery(ActionArgs):
    """``loyalty_balance``: ``{"card": …}``, as GET /api/v1/loyalty/cards/{card}."""

    card: Card


M = TypeVar("M", bound=BaseModel)


def read_args(model: type[M], args: dict[str, Any]) -> M:
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        raise DeviceError(ErrorCode.INVALID_REQUEST, describe_validation_error(exc)) from None


@dataclass(frozen=True)
class Action:
    """One action of the hub target: ``run`` gets the client and, if the action has an
    ``args`` model, what it read; without one it takes nothing and ignores ``args``."""

    run: Callable[..., Awaitable[Result]]
    args: type[BaseModel] | None = None

    async def __call__(self, client: str, args: dict[str, Any]) -> Result:
        if self.args is None:
            return await self.run(client)
        return await self.run(client, read_args(self.args, args))


# -- the actions ---------------------------------------------------------------------


class HubActions:
    """The ``hub`` target's actions, over the parts they read: the devices, the store,
    the cloud link, and the hub's status (``hub.health``)."""

    def __init__(
        self,
        *,
        boot: int,
        status: Callable[[], Result],
        devices: DeviceSupervisor,
        store: StoreDomain,
        link: CloudLink,
        roles: Mapping[str, str] | None = None,
    ) -> None:
        self._boot = boot
        self._status = status
        self._devices = devices
        self._store = store
        self._link = link
        self._roles = dict(roles or {})

    def by_name(self) -> dict[str, HubAction]:
        """The request router's table of them."""
        return {
            "ping": Action(self.ping),
            "status": Action(self.status),
            "list_devices": Action(self.list_devices),
            "list_claims": Action(self.list_claims),
            "list_queue": Action(self.list_queue, DeviceQuery),
            "force_release": Action(self.force_release, DeviceQuery),
            "restart_device": Action(self.restart_device, DeviceQuery),
            "list_clients": Action(self.list_clients),
            "product": Action(self.product, ProductQuery),
            "search_products": Action(self.search_products, ProductSearchQuery),
            "loyalty_balance": Action(self.loyalty_balance, CardQuery),
            "sync_state": Action(self.sync_state),
            "sync_pause": Action(self.sync_pause),
            "sync_resume": Action(self.sync_resume),
        }

    async def ping(self, client: str) -> Result:
        return {"pong": True, "boot": self._boot}

    async def status(self, client: str) -> Result:
        return self._status()

    async def list_devices(self, client: str) -> Result:
        return {"devices": [a.state_document().model_dump() for a in self._devices.actors()]}

    async def list_claims(self, client: str) -> Result:
        return {"claims": [a.claims.describe() for a in self._devices.actors() if a.claims.holder or a.claims.waiters]}

    async def list_queue(self, client: str, query: DeviceQuery) -> Result:
        actor = self._device(query.device)
        now = time.monotonic()
        return {
            "device_id": actor.id,
            "running": actor.running_job,
            "queue": [
                {
                    "client": job.client,
                    "action": job.action,
                    "request_id": job.request_id,
                    "priority": job.priority.name.lower(),
                    "waiting_ms": round((now - job.queued_at) * 1000),
                    "deadline_in_ms": None if job.deadline is None else round((job.deadline - now) * 1000),
                }
                for job in actor.queue
            ],
        }

    async def force_release(self, client: str, query: DeviceQuery) -> Result:
        actor = self._device(query.device)
        previous = actor.claims.holder
        return {"device_id": actor.id, "released": actor.claims.force_release(by=client), "holder_was": previous}

    async def restart_device(self, client: str, query: DeviceQuery) -> Result:
        """The technician's restart: the actor stops, goes offline and starts again."""
        actor = self._device(query.device)
        log.warning("%s: %s restarted the device actor", actor.id, client)
        await self._devices.restart(actor.id, f"restarted by {client}")
        return {"device_id": actor.id, "restarted": True, "restarts": self._devices.restarts[actor.id]}

    async def list_clients(self, client: str) -> Result:
        """Every client of the store's configuration with its role and the claims it holds
        or waits for (whether it is online is its retained ``client/{id}/state``)."""
        holds: dict[str, list[str]] = {}
        waits: dict[str, list[str]] = {}
        for actor in self._devices.actors():
            if actor.claims.holder:
                holds.setdefault(actor.claims.holder, []).append(actor.id)
            for waiter in actor.claims.waiters:
                waits.setdefault(waiter.client, []).append(actor.id)
        return {
            "clients": [
                {"client_id": c, "role": role, "holds": holds.get(c, []), "waits_for": waits.get(c, [])}
                for c, role in sorted(self._roles.items())
            ]
        }

    async def product(self, client: str, query: ProductQuery) -> Result:
        """The checkout's lookup, as GET /api/v1/products/…"""
        return self._store.product(sku=query.sku, gtin=query.gtin).model_dump(mode="json")

    async def search_products(self, client: str, query: ProductSearchQuery) -> Result:
        return self._store.search(query.query, query.limit).model_dump(mode="json")

    async def loyalty_balance(self, client: str, query: CardQuery) -> Result:
        return self._store.balance(query.card).model_dump(mode="json")

    async def sync_state(self, client: str) -> Result:
        return (await self._link.refresh()).model_dump(mode="json")

    async def sync_pause(self, client: str) -> Result:
        return (await self._link.pause(by=client)).model_dump(mode="json")

    async def sync_resume(self, client: str) -> Result:
        return (await self._link.resume(by=client)).model_dump(mode="json")

    def _device(self, device_id: str) -> DeviceActor:
        actor = self._devices.get(device_id)
        if actor is None:
            raise unknown_device(device_id)
        return actor
