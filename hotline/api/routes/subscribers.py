"""Subscribers: the 360° view, money, products, status, passwords, usage, bills and history."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hotline.api.deps import ActorDep, HotlineDep, KeyDep
from hotline.bss.port import OrderResult
from hotline.domain.billing import MAX_RECHARGE_FEN, MAX_USAGE_PER_RECORD

router = APIRouter(prefix="/subscribers", tags=["subscribers"])

Msisdn = Annotated[str, Field(description="11-digit China Mobile number; +86, spaces and dashes are accepted")]


class OrderOut(BaseModel):
    order_id: int
    kind: str
    status: str
    amount_fen: int
    result: dict[str, Any]
    replayed: bool = Field(description="True when this idempotency key was already used: nothing ran again")

    @classmethod
    def of(cls, r: OrderResult) -> "OrderOut":
        return cls(order_id=r.order_id, kind=r.kind, status=r.status, amount_fen=r.amount_fen,
                   result=r.result, replayed=r.replayed)


class RechargeIn(BaseModel):
    amount_fen: int = Field(strict=True, gt=0, le=MAX_RECHARGE_FEN, description="Amount in fen (¥1 = 100)")


class ProductIn(BaseModel):
    product: str = Field(min_length=1, max_length=64, examples=["pack.data_1g_month"])


class PlanIn(BaseModel):
    plan: str = Field(min_length=1, max_length=64, examples=["plan.smart_5g_58"])


class StatusIn(BaseModel):
    action: Literal["suspend", "resume", "report_lost", "unreport_lost", "close"]


class RedeemIn(BaseModel):
    reward: str = Field("balance", description="'balance' or the code of a one-off pack")
    points: int = Field(0, strict=True, ge=0, description="Points to turn into balance (multiple of 100)")


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=32)


class PasswordChangeIn(BaseModel):
    old: str = Field(min_length=1, max_length=32)
    new: str = Field(min_length=1, max_length=32)


class PasswordResetIn(BaseModel):
    id_number: str = Field(min_length=15, max_length=18)
    new: str | None = Field(None, max_length=32, description="Omit to have a random one generated")


class UsageIn(BaseModel):
    kind: Literal["call", "sms", "data"]
    quantity: int = Field(strict=True, gt=0, le=max(MAX_USAGE_PER_RECORD.values()),
                          description="seconds (call, ≤ 86400), messages (sms, ≤ 100) or KB (data, ≤ 100 GB); "
                                      "the bound of each kind is checked by the back end")
    other_party: str = Field("", max_length=20)
    direction: Literal["out", "in"] = "out"


@router.get("/{msisdn}", summary="The subscriber's 360° view (personal data masked)")
async def profile(msisdn: Msisdn, hl: HotlineDep, actor: ActorDep, unmask: bool = False,
                  reason: Annotated[str, Query(max_length=200)] = "") -> dict[str, Any]:
    return await hl.bss.profile(msisdn, actor, unmask=unmask, reason=reason)


@router.post("/{msisdn}/recharges", summary="Recharge (充值)")
async def recharge(msisdn: Msisdn, body: RechargeIn, hl: HotlineDep, actor: ActorDep, key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.recharge(msisdn, body.amount_fen, key=key, actor=actor))


@router.post("/{msisdn}/subscriptions", summary="Order a pack, value-added service or feature (开通)")
async def subscribe(msisdn: Msisdn, body: ProductIn, hl: HotlineDep, actor: ActorDep, key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.subscribe(msisdn, body.product, key=key, actor=actor))


@router.post("/{msisdn}/subscriptions/{product}/cancel", summary="Cancel a subscription (退订)")
async def unsubscribe(msisdn: Msisdn, product: str, hl: HotlineDep, actor: ActorDep, key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.unsubscribe(msisdn, product, key=key, actor=actor))


@router.post("/{msisdn}/plan", summary="Change plan, effective next cycle (套餐变更)")
async def change_plan(msisdn: Msisdn, body: PlanIn, hl: HotlineDep, actor: ActorDep, key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.change_plan(msisdn, body.plan, key=key, actor=actor))


@router.post("/{msisdn}/status", summary="Suspend, resume, report lost, unreport, close")
async def change_status(msisdn: Msisdn, body: StatusIn, hl: HotlineDep, actor: ActorDep,
                        key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.change_status(msisdn, body.action, key=key, actor=actor))


@router.post("/{msisdn}/points/redemptions", summary="Redeem points (积分兑换)")
async def redeem(msisdn: Msisdn, body: RedeemIn, hl: HotlineDep, actor: ActorDep, key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.redeem_points(msisdn, body.reward, body.points, key=key, actor=actor))


@router.post("/{msisdn}/password/verify", summary="Check the service password (3 wrong a day lock)")
async def verify_password(msisdn: Msisdn, body: PasswordIn, hl: HotlineDep, actor: ActorDep) -> dict[str, bool]:
    await hl.bss.verify_password(msisdn, body.password, actor=actor)
    return {"ok": True}


@router.post("/{msisdn}/password/change", summary="Change the service password")
async def change_password(msisdn: Msisdn, body: PasswordChangeIn, hl: HotlineDep,
                          actor: ActorDep) -> dict[str, bool]:
    await hl.bss.change_password(msisdn, body.old, body.new, actor=actor)
    return {"ok": True}


@router.post("/{msisdn}/password/reset", summary="Reset the service password after an ID check")
async def reset_password(msisdn: Msisdn, body: PasswordResetIn, hl: HotlineDep,
                         actor: ActorDep) -> dict[str, Any]:
    new = await hl.bss.reset_password(msisdn, body.id_number, body.new, actor=actor)
    # A generated password goes to the subscriber by SMS in production; the API returns it once.
    return {"ok": True, "new_password": new if body.new is None else None}


@router.post("/{msisdn}/usage", summary="Rate one call, message or data session (from the network)")
async def record_usage(msisdn: Msisdn, body: UsageIn, hl: HotlineDep) -> dict[str, Any]:
    return await hl.bss.record_usage(msisdn, body.kind, body.quantity, other_party=body.other_party,
                                     direction=body.direction)


@router.get("/{msisdn}/bills", summary="Monthly bills with line items")
async def bills(msisdn: Msisdn, hl: HotlineDep, actor: ActorDep) -> list[dict[str, Any]]:
    return await hl.bss.bills(msisdn, actor)


@router.get("/{msisdn}/records", summary="Itemised records (详单) of a cycle")
async def records(msisdn: Msisdn, hl: HotlineDep, actor: ActorDep,
                  cycle: Annotated[int | None, Query(ge=200001, le=209912)] = None,
                  kind: Literal["call", "sms", "data"] | None = None) -> list[dict[str, Any]]:
    return await hl.bss.usage_records(msisdn, cycle, kind, actor)


@router.get("/{msisdn}/orders", summary="Orders, newest first")
async def orders(msisdn: Msisdn, hl: HotlineDep, actor: ActorDep,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    return await hl.bss.orders(msisdn, actor, limit)


@router.get("/{msisdn}/audit", summary="Who did what to this subscriber, newest first")
async def audit(msisdn: Msisdn, hl: HotlineDep,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    return await hl.bss.audit_trail(msisdn, limit)
