"""One small function per kind of business. The catalogue names which one each business runs.

Handlers call the back end through the BSS port and return the fields their reply templates use.
Amounts are formatted here (yuan text from integer fen) because templates only substitute.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from hotline.care.tickets import MAX_SUMMARY as MAX_TICKET_SUMMARY
from hotline.care.tickets import Ticket
from hotline.domain.billing import BILL_CATEGORIES, cycle_label_zh, cycle_of
from hotline.domain.errors import InvalidInput, NotEligible
from hotline.domain.geo import find_city
from hotline.domain.msisdn import mask_msisdn
from hotline.domain.products import Product, yuan
from hotline.services.base import MissingSlot, Outcome, Request, handler
from hotline.services.payments import PAY_TTL

DATA = Path(__file__).with_name("data")
PORTAL = "https://www.10086.cn"


def _load(name: str) -> dict[str, Any]:
    with open(DATA / name, "rb") as fh:
        return tomllib.load(fh)


def _size(mb: int, en: bool = False) -> str:
    if mb >= 1024 and mb % 1024 == 0:
        return f"{mb // 1024}GB"
    if mb >= 1024:
        return f"{mb / 1024:.2f}GB"
    return f"{mb}MB"


def _cycle(cycle: int, en: bool) -> str:
    return f"{cycle // 100}-{cycle % 100:02d}" if en else cycle_label_zh(cycle)


def _name(p: Product | dict, en: bool) -> str:
    if isinstance(p, dict):
        return p["name_en"] if en else p["name_zh"]
    return p.name_en if en else p.name_zh


def _now_text(svc, en: bool) -> str:
    now = svc.clock.now()
    return f"{now:%Y-%m-%d %H:%M}" if en else f"{now.month}月{now.day}日{now.hour}时{now.minute:02d}分"


# ---------------------------------------------------------------------------------------- queries
@handler("query.balance")
async def query_balance(svc, req: Request) -> Outcome:
    a = await svc.bss.account(req.msisdn)
    data = {"balance": yuan(a["balance_fen"]), "available": yuan(a["available_fen"]),
            "credit": yuan(a["credit_limit_fen"]), "as_of": _now_text(svc, req.en),
            "status": a["status"]["name_en" if req.en else "name_zh"]}
    return Outcome(data, ("postpaid",) if a["credit_limit_fen"] else ("ok",))


@handler("query.charges")
async def query_charges(svc, req: Request) -> Outcome:
    a = await svc.bss.account(req.msisdn)
    return Outcome({"month": _cycle(a["cycle"], req.en), "charges": yuan(a["charges_this_cycle_fen"]),
                    "plan": _name(a["plan"], req.en), "plan_fee": yuan(a["plan"]["fee_fen"]),
                    "balance": yuan(a["balance_fen"]), "as_of": _now_text(svc, req.en)})


def _usage(a: dict, bucket: str) -> tuple[int, int, int]:
    u = a["usage"][bucket]
    return u["used"], u["included"], max(u["included"] - u["used"], 0)


@handler("query.data")
async def query_data(svc, req: Request) -> Outcome:
    a = await svc.bss.account(req.msisdn)
    used, included, left = _usage(a, "data_mb")
    packs = [s for s in a["subscriptions"] if s["kind"] == "data_pack"]
    pack_text = "、".join(_name(p, req.en) for p in packs) or ("none" if req.en else "无")
    over = max(used - included, 0)
    return Outcome({"included": _size(included), "used": _size(used), "left": _size(left),
                    "over": _size(over), "packs": pack_text, "as_of": _now_text(svc, req.en)},
                   ("over",) if over else ("ok",))


@handler("query.voice")
async def query_voice(svc, req: Request) -> Outcome:
    a = await svc.bss.account(req.msisdn)
    used, included, left = _usage(a, "voice_min")
    return Outcome({"included": included, "used": used, "left": left, "over": max(used - included, 0),
                    "as_of": _now_text(svc, req.en)})


@handler("query.sms")
async def query_sms(svc, req: Request) -> Outcome:
    a = await svc.bss.account(req.msisdn)
    used, included, left = _usage(a, "sms")
    return Outcome({"included": included, "used": used, "left": left, "as_of": _now_text(svc, req.en)})


@handler("query.plan")
async def query_plan(svc, req: Request) -> Outcome:
    a = await svc.bss.account(req.msisdn)
    plan = svc.products.get(a["plan"]["code"])
    included = [svc.products.get(c) for c in plan.includes]
    data = {"plan": _name(plan, req.en), "fee": yuan(plan.fee_fen), "voice": plan.voice_min,
            "data": _size(plan.data_mb), "sms": plan.sms,
            "includes": "、".join(_name(p, req.en) for p in included) or ("none" if req.en else "无")}
    if a["next_plan"]:
        data["next_plan"] = _name(a["next_plan"], req.en)
        return Outcome(data, ("ok", "changing"))
    return Outcome(data)


@handler("query.bill")
async def query_bill(svc, req: Request) -> Outcome:
    bills = await svc.bss.bills(req.msisdn, req.actor)
    if not bills:
        return Outcome({}, ("none",))
    wanted = req.params.get("month")
    bill = next((b for b in bills if b["cycle"] == wanted), None) if wanted else bills[0]
    if bill is None:
        assert wanted is not None   # only a wanted month can be missing
        return Outcome({"month": _cycle(wanted, req.en)}, ("no_bill",))
    sums: dict[str, int] = {}
    for item in bill["items"]:
        sums[item["category"]] = sums.get(item["category"], 0) + item["amount_fen"]
    lines = [f"{(cat.replace('_', ' ') if req.en else BILL_CATEGORIES.get(cat, cat))}: {yuan(v)}"
             if req.en else f"{BILL_CATEGORIES.get(cat, cat)}{yuan(v)}元" for cat, v in sums.items()]
    return Outcome({"month": _cycle(bill["cycle"], req.en), "total": yuan(bill["total_fen"]),
                    "items": ("; " if req.en else "；").join(lines) or ("none" if req.en else "无")})


_KIND_NAMES = {"call": ("通话", "calls"), "sms": ("短信", "SMS"), "data": ("上网", "data")}


@handler("query.itemized")
async def query_itemized(svc, req: Request) -> Outcome:
    kind = req.params.get("kind", "call")
    cycle = req.params.get("month")
    records = await svc.bss.usage_records(req.msisdn, cycle, kind, req.actor)
    month = _cycle(cycle or cycle_of(svc.clock.today()), req.en)
    kind_name = _KIND_NAMES[kind][1 if req.en else 0]
    if not records:
        return Outcome({"month": month, "kind": kind_name}, ("none",))
    lines = []
    for r in records[-10:]:  # the latest ten; the full list is on the web portal
        at = dt.datetime.fromisoformat(r["started_at"])
        party = mask_msisdn(r["other_party"]) if r["other_party"] else ""
        if kind == "call":
            m, s = divmod(r["duration_s"], 60)
            outgoing = r["direction"] == "out"
            way = ("out" if outgoing else "in") if req.en else ("主叫" if outgoing else "被叫")
            lines.append(f"{at:%m-%d %H:%M} {way} {party} {m}'{s:02d}\" {yuan(r['fee_fen'])}")
        elif kind == "sms":
            outgoing = r["direction"] == "out"
            way = ("sent" if outgoing else "recv") if req.en else ("发" if outgoing else "收")
            lines.append(f"{at:%m-%d %H:%M} {way} {party} {yuan(r['fee_fen'])}")
        else:
            lines.append(f"{at:%m-%d %H:%M} {_size(max(r['volume_kb'] // 1024, 1))} {yuan(r['fee_fen'])}")
    total = sum(r["fee_fen"] for r in records)
    return Outcome({"month": month, "kind": kind_name, "count": len(records), "shown": len(lines),
                    "lines": "\n".join(lines), "total": yuan(total)})


@handler("query.points")
async def query_points(svc, req: Request) -> Outcome:
    a = await svc.bss.account(req.msisdn)
    return Outcome({"points": a["points"], "worth": yuan(a["points"] - a["points"] % 100)})


def _serial_lines(subs: list[dict], start: int, en: bool, in_plan: bool) -> list[str]:
    out = []
    for i, s in enumerate(subs, start):
        if in_plan:
            fee = "in plan" if en else "套餐内"
        elif s["billing"] == "one_off":
            fee = f"¥{yuan(s['fee_fen'])} once" if en else f"{yuan(s['fee_fen'])}元/次"
        else:
            fee = f"¥{yuan(s['fee_fen'])}/month" if en else f"{yuan(s['fee_fen'])}元/月"
        provider = "" if en else f"（{s['provider']}）"
        out.append(f"{i}.{_name(s, en)}{provider} {fee}")
    return out


@handler("query.subscriptions")
async def query_subscriptions(svc, req: Request) -> Outcome:
    """0000: services outside the plan, then those inside it; serial numbers run across both."""
    a = await svc.bss.account(req.msisdn)
    cycle = a["cycle"]
    current = [s for s in a["subscriptions"] if s["kind"] != "plan" and s["start_cycle"] <= cycle
               and (s["end_cycle"] is None or s["end_cycle"] >= cycle)]
    outside = [s for s in current if not s["in_plan"]]
    inside = [s for s in current if s["in_plan"]]
    lines_out = _serial_lines(outside, 1, req.en, False)
    lines_in = _serial_lines(inside, len(outside) + 1, req.en, True)
    serials = {str(i): s["code"] for i, s in enumerate(outside + inside, 1)}
    none = "none" if req.en else "无"
    return Outcome({"outside": "\n".join(lines_out) or none, "inside": "\n".join(lines_in) or none,
                    "outside_count": len(outside), "inside_count": len(inside), "serials": serials,
                    "cancellable": {str(i): s["code"] for i, s in enumerate(outside, 1)
                                    if s["billing"] == "monthly"}},
                   ("outside", "inside"))


@handler("query.star_level")
async def query_star_level(svc, req: Request) -> Outcome:
    a = await svc.bss.account(req.msisdn)
    star = a["star_level"]
    return Outcome({"star": star["name_en" if req.en else "name_zh"]}, ("vip",) if star["vip"] else ("ok",))


@handler("query.account")
async def query_account(svc, req: Request) -> Outcome:
    a = await svc.bss.account(req.msisdn)
    k = "name_en" if req.en else "name_zh"
    return Outcome({"msisdn": a["msisdn"], "province": a["province"][k], "city": a["city"],
                    "brand": a["brand"][k], "join_date": a["join_date"], "status": a["status"][k],
                    "payment": (a["payment_type"] if req.en else
                                {"prepaid": "预付费", "postpaid": "后付费"}.get(a["payment_type"], a["payment_type"]))})


@handler("query.orders")
async def query_orders(svc, req: Request) -> Outcome:
    rows = await svc.bss.orders(req.msisdn, req.actor, limit=5)
    if not rows:
        return Outcome({}, ("none",))
    lines = []
    for o in rows:
        what = o["product"] or o["kind"]
        if o["product"] and o["product"] in svc.products.by_code:
            what = _name(svc.products.get(o["product"]), req.en)
        status = o["status"] if req.en else {"completed": "成功", "failed": "未成功"}.get(o["status"], o["status"])
        lines.append(f"{o['created_at'][:10]} {what} {status}")
    return Outcome({"lines": "\n".join(lines)})


# ---------------------------------------------------------------------------------------- orders
def _effective(cycle: int, current: int, en: bool) -> str:
    if cycle <= current:
        return "now" if en else "立即生效"
    return f"from {cycle // 100}-{cycle % 100:02d}-01" if en else f"{cycle // 100}年{cycle % 100}月1日起生效"


@handler("product.subscribe")
async def product_subscribe(svc, req: Request) -> Outcome:
    p = svc.products.get(req.params["product"])
    result = await svc.bss.subscribe(req.msisdn, p.code, key=req.key, actor=req.actor)
    r = result.result
    current = cycle_of(svc.clock.today())
    return Outcome({"product": _name(p, req.en), "fee": p.fee_text_en if req.en else p.fee_text_zh,
                    "effective": _effective(r.get("effective_cycle", current), current, req.en),
                    "balance": yuan(r.get("balance_fen", 0)), "order_id": result.order_id}, changed=True)


@handler("product.cancel")
async def product_cancel(svc, req: Request) -> Outcome:
    p = svc.products.get(req.params["product"])
    result = await svc.bss.unsubscribe(req.msisdn, p.code, key=req.key, actor=req.actor)
    until = result.result.get("valid_until_cycle", 0)
    current = cycle_of(svc.clock.today())
    part = "ok" if until < current else "month_end"
    return Outcome({"product": _name(p, req.en), "order_id": result.order_id}, (part,), changed=True)


@handler("plan.change")
async def plan_change(svc, req: Request) -> Outcome:
    p = svc.products.get(req.params["plan"])
    result = await svc.bss.change_plan(req.msisdn, p.code, key=req.key, actor=req.actor)
    current = cycle_of(svc.clock.today())
    return Outcome({"plan": _name(p, req.en), "fee": yuan(p.fee_fen),
                    "effective": _effective(result.result["effective_cycle"], current, req.en),
                    "order_id": result.order_id}, changed=True)


@handler("feature.set")
async def feature_set(svc, req: Request) -> Outcome:
    """Turn a network feature on or off (the ``action`` slot), e.g. roaming or call forwarding."""
    p = svc.products.get(req.params["product"])
    if req.params["action"] == "on":
        result = await svc.bss.subscribe(req.msisdn, p.code, key=req.key, actor=req.actor)
        part = "on"
    else:
        result = await svc.bss.unsubscribe(req.msisdn, p.code, key=req.key, actor=req.actor)
        part = "off"
    return Outcome({"feature": _name(p, req.en), "fee": p.fee_text_en if req.en else p.fee_text_zh,
                    "target": req.params.get("target", ""), "order_id": result.order_id}, (part,), changed=True)


@handler("points.redeem")
async def points_redeem(svc, req: Request) -> Outcome:
    reward = req.params["reward"]
    if reward == "balance":
        points = req.params.get("points", 1000)
        result = await svc.bss.redeem_points(req.msisdn, "balance", points, key=req.key, actor=req.actor)
        what = f"¥{yuan(points)} credit" if req.en else f"话费{yuan(points)}元"
    else:
        result = await svc.bss.redeem_points(req.msisdn, reward, 0, key=req.key, actor=req.actor)
        what = _name(svc.products.get(reward), req.en)
    r = result.result
    return Outcome({"what": what, "used": r["points_used"], "points": r["points"],
                    "balance": yuan(r["balance_fen"])}, changed=True)


# Money comes in only against a payment: an online payment the provider confirms, or a top-up card.
AGENT_CHANNELS = ("desk", "agent")


@handler("payment.recharge")
async def payment_recharge(svc, req: Request) -> Outcome:
    """在线缴费: a pay link; the balance is credited when the provider's signed notification arrives."""
    if req.channel in AGENT_CHANNELS:
        raise NotEligible("人工客服不能代客充值。请引导客户使用充值卡或在线缴费；需要补偿时请办理调账。",
                          "Agents cannot recharge. Guide the customer to a top-up card or online payment; "
                          "use an adjustment for a goodwill credit.")
    if svc.payments is None:
        raise NotEligible("在线缴费暂不可用，请使用充值卡充值。", "Online payment is not available; use a top-up card.")
    link = await svc.payments.start(req.msisdn, req.params["amount"], actor=req.actor)
    return Outcome({"amount": yuan(link.amount_fen), "url": link.url, "ref": link.ref,
                    "minutes": int(PAY_TTL.total_seconds() // 60)}, changed=True)


@handler("payment.card")
async def payment_card(svc, req: Request) -> Outcome:
    """充值卡充值: the card's face value, once; a wrong PIN counts toward the day's lock."""
    result = await svc.bss.redeem_card(req.msisdn, req.params["serial"], req.params["pin"], key=req.key,
                                       actor=req.actor)
    r = result.result
    return Outcome({"amount": yuan(r["face_value_fen"]), "balance": yuan(r["balance_fen"]),
                    "order_id": result.order_id}, changed=True)


@handler("status.change")
async def status_change(svc, req: Request) -> Outcome:
    result = await svc.bss.change_status(req.msisdn, req.params["action"], key=req.key, actor=req.actor)
    r = result.result
    status = {"active": ("正常", "active"), "suspended_voluntary": ("停机保号", "suspended (number kept)"),
              "suspended_arrears": ("欠费停机", "suspended for arrears"), "lost": ("挂失", "reported lost"),
              "closed": ("销户", "closed")}[r["status"]][1 if req.en else 0]
    return Outcome({"status": status}, ("arrears",) if r["status"] == "suspended_arrears" else ("ok",),
                   changed=True)


# ---------------------------------------------------------------------------------------- password
@handler("password.change")
async def password_change(svc, req: Request) -> Outcome:
    if req.params["new"] != req.params["again"]:
        raise InvalidInput("两次输入的新密码不一致，密码未修改。", "The two new passwords differ; nothing was changed.")
    await svc.bss.change_password(req.msisdn, req.params["old"], req.params["new"], actor=req.actor)
    return Outcome({}, changed=True)


@handler("password.reset")
async def password_reset(svc, req: Request) -> Outcome:
    new = await svc.bss.reset_password(req.msisdn, req.params["id_number"], actor=req.actor)
    return Outcome({"password": new}, changed=True, sensitive=True)


# ---------------------------------------------------------------------------------------- account services
@handler("marketing.set")
async def marketing_set(svc, req: Request) -> Outcome:
    opt_out = req.params["action"] == "off"
    changed = await svc.bss.set_marketing_opt_out(req.msisdn, opt_out, actor=req.actor)
    part = ("off" if opt_out else "on") if changed else ("already_off" if opt_out else "already_on")
    return Outcome({}, (part,), changed=changed)


@handler("invoice.electronic")
async def invoice_electronic(svc, req: Request) -> Outcome:
    bills = await svc.bss.bills(req.msisdn, req.actor)
    wanted = req.params.get("month")
    bill = next((b for b in bills if b["cycle"] == wanted), None) if wanted else (bills[0] if bills else None)
    if bill is None:
        month = _cycle(wanted, req.en) if wanted else ""
        return Outcome({"month": month}, ("none",))
    filed = await svc.records.file("invoice", req.business.code, req.msisdn, req.channel,
                                   {"cycle": bill["cycle"], "amount_fen": bill["total_fen"]},
                                   key=f"invoice:{req.msisdn}:{bill['cycle']}")
    return Outcome({"month": _cycle(bill["cycle"], req.en), "amount": yuan(bill["total_fen"]),
                    "reference": filed.reference, "portal": PORTAL}, changed=not filed.replayed)


PORTABILITY_MIN_DAYS = 120


async def _portability_blockers(svc, req: Request) -> list[str]:
    await svc.bss.verify_identity(req.msisdn, req.params["name"], req.params["id_number"], actor=req.actor)
    a = await svc.bss.account(req.msisdn)
    reasons = []
    if a["status"]["code"] != "active":
        reasons.append(f"number is {a['status']['name_en']}" if req.en else f"号码状态为{a['status']['name_zh']}")
    if a["available_fen"] < 0 or a["balance_fen"] < 0:
        reasons.append("arrears unpaid" if req.en else "存在欠费")
    days = (svc.clock.today() - dt.date.fromisoformat(a["join_date"])).days
    if days < PORTABILITY_MIN_DAYS:
        reasons.append(f"in network {days} days (< {PORTABILITY_MIN_DAYS})" if req.en
                       else f"入网{days}天，未满{PORTABILITY_MIN_DAYS}天")
    return reasons


@handler("portability.check")
async def portability_check(svc, req: Request) -> Outcome:
    reasons = await _portability_blockers(svc, req)
    if reasons:
        return Outcome({"reasons": ("; " if req.en else "；").join(reasons)}, ("no",))
    return Outcome({}, ("yes",))


@handler("portability.auth_code")
async def portability_auth_code(svc, req: Request) -> Outcome:
    reasons = await _portability_blockers(svc, req)
    if reasons:
        return Outcome({"reasons": ("; " if req.en else "；").join(reasons)}, ("no",))
    valid_until = svc.clock.today() + dt.timedelta(days=90)
    day = svc.clock.today().isoformat()
    code = f"{secrets.randbelow(10**6):06d}"
    filed = await svc.records.file("portability_code", req.business.code, req.msisdn, req.channel,
                                   {"code": svc.sealer.seal(code), "valid_until": valid_until.isoformat()},
                                   key=f"portability:{req.msisdn}:{day}")  # one code a day, asked again → same
    kept = svc.sealer.open(filed.detail["code"])   # kept sealed: the code authorises moving the number away
    if kept is None:
        raise InvalidInput("授权码暂时无法查询，请稍后再试或前往营业厅办理。",
                           "The code cannot be shown now; please try later or visit a store.")
    return Outcome({"code": kept, "valid_until": filed.detail["valid_until"]}, ("yes",),
                   changed=not filed.replayed, sensitive=True)


# ---------------------------------------------------------------------------------------- care and reports
TICKETS = {  # business → (the ticket store's category, promised follow-up hours)
    "care.complaint": ("complaint", 24), "care.suggestion": ("suggestion", 72), "care.praise": ("praise", 72),
    "care.network_fault": ("fault", 48), "care.billing_dispute": ("billing_dispute", 24),
    "broadband.fault": ("fault", 24), "broadband.order": ("order", 48),
}


@handler("ticket.create")
async def ticket_create(svc, req: Request) -> Outcome:
    """File the customer's words in the one ticket store (care), which every channel and the desk read."""
    code = req.business.code
    category, hours = next((v for k, v in TICKETS.items() if code == k or code.startswith(k + ".")),
                           ("complaint", 24))
    words = " ".join(str(req.params.get("content") or "").split())
    extra = "\n".join(f"{k}: {v}" for k, v in req.params.items() if k != "content" and v not in (None, ""))
    summary = words if len(words) >= 2 else (req.business.name_en if req.en else req.business.name_zh)
    if len(summary) > MAX_TICKET_SUMMARY:
        summary = summary[:MAX_TICKET_SUMMARY - 1] + "…"
    ticket = await svc.tickets.open(category=category, summary=summary, msisdn=req.msisdn,
                                    detail="\n".join(x for x in (words, extra) if x), channel=req.channel,
                                    business=code, created_by=str(req.actor), key=f"svc:{req.key}"[:160])
    return Outcome({"reference": ticket.reference, "hours": hours}, changed=not ticket.replayed)


@handler("ticket.status")
async def ticket_status(svc, req: Request) -> Outcome:
    """The customer's recent tickets, whichever channel (or agent) filed them."""
    found = await svc.tickets.of(req.msisdn, limit=5)
    if not found:
        return Outcome({}, ("none",))
    lang = "en" if req.en else "zh"

    def what(t: Ticket) -> str:
        if t.business and t.business in svc.catalog:
            b = svc.catalog.get(t.business)
            return b.name_en if req.en else b.name_zh
        return t.category_text(lang)
    lines = [f"{t.reference} {what(t)} {t.status_text(lang)}" for t in found]
    return Outcome({"lines": "\n".join(lines)})


@handler("report.spam")
async def report_spam(svc, req: Request) -> Outcome:
    number = req.params.get("number", "")
    detail = {"number": number, "content": req.params.get("content", ""),
              "type": "call" if req.business.code.endswith(".call") else "sms"}
    filed = await svc.records.file("spam_report", req.business.code, req.msisdn, req.channel, detail, key=req.key)
    return Outcome({"number": number, "reference": filed.reference}, changed=not filed.replayed)


_OFFICIAL = _load("official.toml")


@handler("fraud.verify")
async def fraud_verify(svc, req: Request) -> Outcome:
    """Is this number or link really the operator's? Official numbers and domains are listed as data."""
    target = req.params["target"].strip()
    digits = re.sub(r"[\s-]", "", target)
    if re.fullmatch(r"\+?\d{3,20}", digits):
        digits = digits.removeprefix("+86").removeprefix("0086")
        hit = next((n for n in _OFFICIAL["numbers"] if digits == n["number"]
                    or (n.get("prefix") and digits.startswith(n["number"]))), None)
        if hit:
            return Outcome({"target": digits, "what": hit["name_en" if req.en else "name_zh"]}, ("official",))
        return Outcome({"target": digits}, ("unknown_number",))
    url = target if "://" in target else "http://" + target
    host = (urlparse(url).hostname or "").lower()
    if host and any(host == d or host.endswith("." + d) for d in _OFFICIAL["domains"]):
        return Outcome({"target": host}, ("official_link",))
    return Outcome({"target": host or target}, ("unknown_link",))


_STORES = _load("stores.toml")["store"]


@handler("store.locate")
async def store_locate(svc, req: Request) -> Outcome:
    city = req.params.get("city")
    if not city and not req.msisdn:   # an anonymous visitor: the city is needed after all
        slot = req.business.slot("city")
        assert slot is not None, "store.locate's catalogue entry declares its city slot"
        raise MissingSlot(req.business, slot)
    if not city:
        a = await svc.bss.account(req.msisdn)
        city = a["city"]
    hit = find_city(city)
    name = hit[1].name_zh if hit else city
    stores = [s for s in _STORES if s["city"] == name]
    if not stores:
        return Outcome({"city": name}, ("none",))
    lines = [f"{i}.{s['name']}：{s['address']}（{s['hours']}）" for i, s in enumerate(stores[:3], 1)]
    return Outcome({"city": name, "lines": "\n".join(lines)})


# ---------------------------------------------------------------------------------------- information
@handler("info")
async def info(svc, req: Request) -> Outcome:
    """Consultations and guidance: the reply is the knowledge text itself."""
    return Outcome({"portal": PORTAL})


@handler("menu")
async def menu(svc, req: Request) -> Outcome:
    cats = svc.catalog.menu_categories()
    lines = [f"{c.menu}.{c.name_en if req.en else c.name_zh}" for c in cats]
    return Outcome({"lines": "\n".join(lines)})

