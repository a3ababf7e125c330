"""Subscribers: the 360° view, money, products, status, passwords, usage, bills and history.

Every route needs an API key (``Authorization: Bearer …``) with a scope: ``read`` for a subscriber's data,
``write`` for orders and changes, ``billing`` for recharges and usage rating, ``admin`` for unmasked
personal data and password resets. The actor in orders and the audit log is the key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hotline.api.deps import Admin, Biller, HotlineDep, KeyDep, Reader, Writer, actor_of, need
from hotline.bss.port import OrderResult
from hotline.domain.billing import MAX_RECHARGE_FEN, MAX_USAGE_PER_RECORD
from hotline.domain.msisdn import normalize_msisdn

router = APIRouter(prefix="/subscribers", tags=["subscribers"])

# The service password's reset, told to the subscriber's phone (the password only when generated).
RESET_SMS = ("【中国移动】您的服务密码已重置，新密码为{password}，请尽快发送“BGMM#原密码#新密码#新密码”到10086修改。"
             "如非本人操作，请拨打10086。")
CHANGED_SMS = "【中国移动】您的服务密码已重置。如非本人操作，请立即拨打10086。"

Msisdn = Annotated[str, Field(description="11-digit China Mobile number; +86, spaces and dashes are accepted")]


class OrderOut(BaseModel):
    order_id: int
    kind: str
    status: str
    amount_fen: int
    result: dict[str, Any]
    replayed: bool = Field(description="True when this idempotency key was already used: nothing ran again")

    @classmethod
    def of(cls, r: OrderResult) -> OrderOut:
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
async def profile(msisdn: Msisdn, hl: HotlineDep, cred: Reader, unmask: bool = False,
                  reason: Annotated[str, Query(max_length=200)] = "") -> dict[str, Any]:
    if unmask:
        need(cred, "admin")   # the name and ID number in clear: admin keys only (and audited)
    return await hl.bss.profile(msisdn, actor_of(cred), unmask=unmask, reason=reason)


@router.post("/{msisdn}/recharges", summary="Recharge (充值)")
async def recharge(msisdn: Msisdn, body: RechargeIn, hl: HotlineDep, cred: Biller, key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.recharge(msisdn, body.amount_fen, key=key, actor=actor_of(cred)))


@router.post("/{msisdn}/subscriptions", summary="Order a pack, value-added service or feature (开通)")
async def subscribe(msisdn: Msisdn, body: ProductIn, hl: HotlineDep, cred: Writer, key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.subscribe(msisdn, body.product, key=key, actor=actor_of(cred)))


@router.post("/{msisdn}/subscriptions/{product}/cancel", summary="Cancel a subscription (退订)")
async def unsubscribe(msisdn: Msisdn, product: str, hl: HotlineDep, cred: Writer, key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.unsubscribe(msisdn, product, key=key, actor=actor_of(cred)))


@router.post("/{msisdn}/plan", summary="Change plan, effective next cycle (套餐变更)")
async def change_plan(msisdn: Msisdn, body: PlanIn, hl: HotlineDep, cred: Writer, key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.change_plan(msisdn, body.plan, key=key, actor=actor_of(cred)))


@router.post("/{msisdn}/status", summary="Suspend, resume, report lost, unreport, close")
async def change_status(msisdn: Msisdn, body: StatusIn, hl: HotlineDep, cred: Writer,
                        key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.change_status(msisdn, body.action, key=key, actor=actor_of(cred)))


@router.post("/{msisdn}/points/redemptions", summary="Redeem points (积分兑换)")
async def redeem(msisdn: Msisdn, body: RedeemIn, hl: HotlineDep, cred: Writer, key: KeyDep) -> OrderOut:
    return OrderOut.of(await hl.bss.redeem_points(msisdn, body.reward, body.points, key=key,
                                                  actor=actor_of(cred)))


@router.post("/{msisdn}/password/verify", summary="Check the service password (3 wrong a day lock)")
async def verify_password(msisdn: Msisdn, body: PasswordIn, hl: HotlineDep, cred: Writer) -> dict[str, bool]:
    await hl.bss.verify_password(msisdn, body.password, actor=actor_of(cred))
    return {"ok": True}


@router.post("/{msisdn}/password/change", summary="Change the service password")
async def change_password(msisdn: Msisdn, body: PasswordChangeIn, hl: HotlineDep,
                          cred: Writer) -> dict[str, bool]:
    await hl.bss.change_password(msisdn, body.old, body.new, actor=actor_of(cred))
    return {"ok": True}


@router.post("/{msisdn}/password/reset", summary="Reset the service password after an ID check (by SMS)")
async def reset_password(msisdn: Msisdn, body: PasswordResetIn, hl: HotlineDep, cred: Admin) -> dict[str, Any]:
    """The new password goes to the subscriber's phone by SMS, never into the response: whoever holds
    the key learns nothing that opens the account."""
    new = await hl.bss.reset_password(msisdn, body.id_number, body.new, actor=actor_of(cred))
    number = normalize_msisdn(msisdn)
    if body.new is None:
        text = RESET_SMS.format(password=new)
    else:
        text = CHANGED_SMS
    await hl.outbox.send(number, text, purpose="notice", secret=body.new is None)
    return {"ok": True, "sent_by_sms": True}


@router.post("/{msisdn}/usage", summary="Rate one call, message or data session (from the network)")
async def record_usage(msisdn: Msisdn, body: UsageIn, hl: HotlineDep, cred: Biller) -> dict[str, Any]:
    return await hl.bss.record_usage(msisdn, body.kind, body.quantity, other_party=body.other_party,
                                     direction=body.direction)


@router.get("/{msisdn}/bills", summary="Monthly bills with line items")
async def bills(msisdn: Msisdn, hl: HotlineDep, cred: Reader) -> list[dict[str, Any]]:
    return await hl.bss.bills(msisdn, actor_of(cred))


@router.get("/{msisdn}/records", summary="Itemised records (详单) of a cycle")
async def records(msisdn: Msisdn, hl: HotlineDep, cred: Reader,
                  cycle: Annotated[int | None, Query(ge=200001, le=209912)] = None,
                  kind: Literal["call", "sms", "data"] | None = None) -> list[dict[str, Any]]:
    return await hl.bss.usage_records(msisdn, cycle, kind, actor_of(cred))


@router.get("/{msisdn}/orders", summary="Orders, newest first")
async def orders(msisdn: Msisdn, hl: HotlineDep, cred: Reader,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    return await hl.bss.orders(msisdn, actor_of(cred), limit)


@router.get("/{msisdn}/audit", summary="Who did what to this subscriber, newest first (the read is audited)")
async def audit(msisdn: Msisdn, hl: HotlineDep, cred: Reader,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    return await hl.bss.audit_trail(msisdn, limit, actor=actor_of(cred))
