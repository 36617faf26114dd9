"""Loyalty: a card's balance, points added and points spent, offline too (docs/store.md,
Loyalty)."""

from typing import Annotated

from fastapi import APIRouter, Path

from hub.api.deps import LoyaltyReader, LoyaltyWriter, Store
from hub.api.refusals import STORE_REFUSALS, JsonRoute
from hub.store.schemas import AccrualCreate, Card, LoyaltyMovePublic, LoyaltyPublic, RedemptionCreate

router = APIRouter(prefix="/api/v1", tags=["loyalty"], responses=STORE_REFUSALS, route_class=JsonRoute)


@router.get("/loyalty/cards/{card}", summary="A card's balance and what it may spend now.")
async def loyalty_balance(card: Annotated[Card, Path()], client: LoyaltyReader, store: Store) -> LoyaltyPublic:
    return store.balance(card)


@router.post("/loyalty/cards/{card}/accruals", summary="Add points (always allowed).")
async def accrue(
    card: Annotated[Card, Path()], body: AccrualCreate, client: LoyaltyWriter, store: Store
) -> LoyaltyMovePublic:
    return LoyaltyMovePublic.model_validate(await store.accrue(card, body, client.id))


@router.post(
    "/loyalty/cards/{card}/redemptions",
    summary="Spend points, up to the synced balance minus what this store spent since.",
)
async def redeem(
    card: Annotated[Card, Path()], body: RedemptionCreate, client: LoyaltyWriter, store: Store
) -> LoyaltyMovePublic:
    return LoyaltyMovePublic.model_validate(await store.redeem(card, body, client.id))
