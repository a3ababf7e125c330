"""Online payment over HTTP: start a payment (API key), the provider's notification (its own signature),
the reference provider's pay page, and top-up cards redeemed by API clients.

``POST /api/v1/payments/notify`` takes no API key: its credential is the provider's signature over the
body (HMAC-SHA256 for the reference provider). The pay page ``/pay/{ref}`` belongs to the reference
provider only and answers loopback clients only: it stands in for a provider's checkout on a developer's
machine and is not a way to pay on a server reachable from elsewhere.
"""

from __future__ import annotations

import html
import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from hotline.api.deps import HotlineDep, KeyDep, Writer, actor_of
from hotline.bootstrap import Hotline
from hotline.domain.billing import MAX_RECHARGE_FEN
from hotline.domain.errors import DomainError, NotFound
from hotline.domain.msisdn import mask_msisdn
from hotline.domain.products import yuan
from hotline.services.payments import Payments, ReferenceProvider

router = APIRouter(tags=["payments"])        # API clients: an API key with the write scope
notify = APIRouter(tags=["payments"])        # the provider: its signature
pay_page = APIRouter(tags=["payments"], include_in_schema=False)   # the reference provider's checkout

Msisdn = Annotated[str, Field(max_length=20, description="11-digit China Mobile number")]


class PaymentIn(BaseModel):
    msisdn: Msisdn
    amount_fen: int = Field(gt=0, le=MAX_RECHARGE_FEN, description="What the customer will pay, in fen")


class PayLinkOut(BaseModel):
    ref: str
    url: str
    amount_fen: int
    expires_at: str


class CardIn(BaseModel):
    msisdn: Msisdn
    serial: str = Field(max_length=32, description="The 17-digit serial printed on the card")
    pin: str = Field(max_length=32, description="The 18-digit PIN under the scratch panel")


class LocalOnly(DomainError):
    code = "local_only"
    status = 403


def _payments(hl: Hotline) -> Payments:
    if hl.services.payments is None:
        raise NotFound("在线缴费未启用。", "Online payment is not enabled.")
    return hl.services.payments


@router.post("/payments", status_code=201, summary="Start an online payment: a pay link (nothing is credited yet)",
             response_model=PayLinkOut)
async def start(body: PaymentIn, hl: HotlineDep, cred: Writer) -> dict[str, Any]:
    link = await _payments(hl).start(body.msisdn, body.amount_fen, actor=actor_of(cred))
    return {"ref": link.ref, "url": link.url, "amount_fen": link.amount_fen, "expires_at": link.expires_at.isoformat()}


@router.post("/cards/redeem", summary="Top up with a card (充值卡): credits its face value once")
async def redeem(body: CardIn, hl: HotlineDep, cred: Writer, key: KeyDep) -> dict[str, Any]:
    r = await hl.bss.redeem_card(body.msisdn, body.serial, body.pin, key=key, actor=actor_of(cred))
    return {"order_id": r.order_id, "kind": r.kind, "status": r.status, "amount_fen": r.amount_fen,
            "result": r.result, "replayed": r.replayed}


@notify.post("/payments/notify", summary="The payment provider's notification (signed; no API key)")
async def notification(request: Request, hl: HotlineDep) -> dict[str, Any]:
    body = await request.body()
    return await _payments(hl).notify(body, dict(request.headers))


# ---------------------------------------------------------------------------- the reference provider's page
def _reference(request: Request, hl: Hotline) -> tuple[Payments, ReferenceProvider]:
    payments = _payments(hl)
    provider = payments.provider
    if not isinstance(provider, ReferenceProvider):
        raise NotFound("支付页面由支付机构提供。", "The pay page is the payment provider's.")
    host = request.client.host if request.client else ""
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = host in ("localhost", "testclient")
    if not local:
        raise LocalOnly("演示支付页面只对本机开放。", "The demo pay page answers this machine only.")
    return payments, provider


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 28rem; margin: 3rem auto">
<h1>{title}</h1>
<p>演示支付机构 · reference payment provider</p>
<p>号码 Number: <b>{number}</b><br>金额 Amount: <b>¥{amount}</b><br>状态 Status: <b>{status}</b></p>
{form}
<p><small>这是 hotline 内置的演示支付页面，点击即视为付款成功；正式环境由真实支付机构提供。<br>
This is hotline's built-in demo checkout: clicking counts as a successful payment.</small></p>
</body></html>"""


@pay_page.get("/pay/{ref}", response_class=HTMLResponse)
async def page(ref: str, request: Request, hl: HotlineDep) -> HTMLResponse:
    payments, _ = _reference(request, hl)
    p = await payments.get(ref)
    form = (f'<form method="post" action="/pay/{html.escape(ref)}"><button type="submit">确认支付 Pay '
            f'¥{yuan(p["amount_fen"])}</button></form>' if p["open"] else "")
    return HTMLResponse(_PAGE.format(title="在线缴费 Pay online", number=html.escape(mask_msisdn(p["msisdn"])),
                                     amount=yuan(p["amount_fen"]), status=html.escape(p["status"]), form=form),
                        headers={"Cache-Control": "no-store"})


@pay_page.post("/pay/{ref}", response_class=HTMLResponse)
async def pay(ref: str, request: Request, hl: HotlineDep) -> HTMLResponse:
    """The customer pays: the provider notifies hotline, exactly as a real provider's server would."""
    payments, provider = _reference(request, hl)
    p = await payments.get(ref)
    if not p["open"] and p["status"] != "paid":
        raise NotFound("这笔缴费已关闭，请重新发起。", "This payment is closed; start a new one.")
    body, headers = provider.notification(ref, p["amount_fen"])
    result = await payments.notify(body, headers)
    return HTMLResponse(_PAGE.format(title="支付成功 Paid", number=html.escape(mask_msisdn(p["msisdn"])),
                                     amount=yuan(p["amount_fen"]), status=html.escape(result["status"]), form=""),
                        headers={"Cache-Control": "no-store"})
