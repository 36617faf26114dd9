"""What a route is given: the caller, its right to the part of the store it asks for,
and the parts of the hub it works with.

Each is an ``Annotated`` alias over the ``ApiServices`` the hub's start-up hands to
``create_api`` (kept on ``app.state``), so a route's signature says what it uses:
``client: Shopper, store: Store``.  Every dependency is ``async``: a sync one would cost
each call a trip through the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bus.passwords import verify_secret
from bus.payloads import ErrorCode
from cloud_link.link import CloudLink
from devices.supervisor import DeviceSupervisor
from hub.config import ClientConfig, StoreHubConfig
from hub.job_events import JobEvents
from hub.metrics import HubMetrics
from hub.permissions import check_store_access
from hub.requests import RequestRouter
from hub.store.domain import StoreDomain
from hub.store.errors import StoreError


@dataclass(frozen=True)
class ApiServices:
    """What the REST API works with, from the hub's start-up.  ``version`` and ``ready``
    are the hub's own (hub.health): the API knows nothing of the hub that serves it."""

    config: StoreHubConfig
    version: str
    ready: Callable[[], tuple[bool, str]]
    router: RequestRouter
    devices: DeviceSupervisor
    metrics: HubMetrics
    store: StoreDomain
    link: CloudLink
    job_events: JobEvents


def _services(request: Request) -> ApiServices:
    return request.app.state.services


async def _config(request: Request) -> StoreHubConfig:
    return _services(request).config


async def _ready(request: Request) -> Callable[[], tuple[bool, str]]:
    return _services(request).ready


async def _router(request: Request) -> RequestRouter:
    return _services(request).router


async def _devices(request: Request) -> DeviceSupervisor:
    return _services(request).devices


async def _metrics(request: Request) -> HubMetrics:
    return _services(request).metrics


async def _store(request: Request) -> StoreDomain:
    return _services(request).store


async def _link(request: Request) -> CloudLink:
    return _services(request).link


async def _job_events(request: Request) -> JobEvents:
    return _services(request).job_events


Config = Annotated[StoreHubConfig, Depends(_config)]
Readiness = Annotated[Callable[[], tuple[bool, str]], Depends(_ready)]
Router = Annotated[RequestRouter, Depends(_router)]
Devices = Annotated[DeviceSupervisor, Depends(_devices)]
Metrics = Annotated[HubMetrics, Depends(_metrics)]
Store = Annotated[StoreDomain, Depends(_store)]
Link = Annotated[CloudLink, Depends(_link)]
JobEventsDep = Annotated[JobEvents, Depends(_job_events)]


# -- who calls -------------------------------------------------------------------------

bearer = HTTPBearer(auto_error=False, description="<client-id>:<secret>")


async def authenticated_client(
    config: Config, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> ClientConfig:
    """The configured client whose ``<client-id>:<secret>`` the bearer token is, the same
    id and secret it uses on MQTT; 401 otherwise."""
    unknown_caller = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a bearer token <client-id>:<secret> of a configured client is required",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None:
        raise unknown_caller
    client_id, _, secret = credentials.credentials.partition(":")
    client = client_with_secret(config, client_id, secret)
    if client is None:
        raise unknown_caller
    return client


def client_with_secret(config: StoreHubConfig, client_id: str, secret: str) -> ClientConfig | None:
    """The configured client with this id, if ``secret`` is its secret (REST's bearer
    token and the managers' page's sign-in check it the same way)."""
    client = config.client(client_id)
    if client is None or not secret or not verify_secret(secret, client.secret_hash):
        return None
    return client


Caller = Annotated[ClientConfig, Depends(authenticated_client)]


# -- may it use this part of the store (hub.permissions.STORE_ROLES) -------------------


def _allowed_to_use(part: str) -> Callable[..., object]:
    async def allowed(client: Caller) -> ClientConfig:
        check_store_access(client.role, part)
        return client

    return allowed


Shopper = Annotated[ClientConfig, Depends(_allowed_to_use("products"))]
Stocker = Annotated[ClientConfig, Depends(_allowed_to_use("stock_moves"))]
LoyaltyReader = Annotated[ClientConfig, Depends(_allowed_to_use("loyalty_read"))]
LoyaltyWriter = Annotated[ClientConfig, Depends(_allowed_to_use("loyalty_write"))]
PickupReader = Annotated[ClientConfig, Depends(_allowed_to_use("pickups"))]
PickupWriter = Annotated[ClientConfig, Depends(_allowed_to_use("pickup_transitions"))]
Orderer = Annotated[ClientConfig, Depends(_allowed_to_use("kiosk_orders"))]
Manager = Annotated[ClientConfig, Depends(_allowed_to_use("manager_views"))]
SyncWatcher = Annotated[ClientConfig, Depends(_allowed_to_use("sync_state"))]
SyncController = Annotated[ClientConfig, Depends(_allowed_to_use("sync_control"))]
Cloud = Annotated[ClientConfig, Depends(_allowed_to_use("sync"))]


async def _pulling_cloud(client: Cloud, link: Link) -> ClientConfig:
    """The cloud, when this store lets itself be pulled now."""
    why_not = link.allows_pull()
    if why_not is not None:
        code = ErrorCode.BUSY if link.paused else ErrorCode.FORBIDDEN
        raise StoreError(code, why_not)
    return client


Puller = Annotated[ClientConfig, Depends(_pulling_cloud)]
