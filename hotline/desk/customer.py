"""The customer panel of the agent desktop: the 360° view, unmasking, verification, businesses, tickets.

An agent sees the customer with name and ID number masked (the BSS's own masked profile, whose read
it audits); seeing one of them in clear needs a reason and is audited field by field. Before an agent
runs a protected business (one the catalogue marks ``auth``) for a customer, the agent verifies them:
小贝 verified the conversation already, the customer gave the service password (checked by the BSS,
whose failures count towards its daily lock), or read back a one-time code sent to the phone. A
verification holds for one agent and one number for a few minutes. Businesses come from the catalogue
and run through ``Services`` exactly as every other channel runs them, with channel ``desk``, the agent
as actor and an idempotency key from the form, so a double click charges once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, desc, insert, select, update
from sqlalchemy.exc import IntegrityError

from hotline.assistant.store import ConversationStore
from hotline.bss.port import Actor
from hotline.care.tickets import CATEGORIES, PRIORITIES, Ticket, Tickets
from hotline.catalog.catalog import command_key
from hotline.catalog.schema import Auth, Business, Slot, SlotType
from hotline.domain.errors import DomainError, InvalidInput, NotFound, PasswordLocked, WrongPassword
from hotline.domain.identity import mask_id_number, mask_name
from hotline.domain.msisdn import mask_msisdn, normalize_msisdn
from hotline.services.base import Request
from hotline.services.otp import OTP_TRIES, OTP_TTL, SMS_SENDER
from hotline.services.service import Services
from hotline.store.sql.database import Database
from hotline.store.sql.tables import audit_log, conversations, desk_verifications, handoffs

CHANNEL = "desk"             # the actor's channel in orders and the audit log
CATALOG_CHANNEL = "agent"    # the catalogue's name for this channel (``Business.channels``, reply variants)
VERIFIED_TTL = dt.timedelta(minutes=10)     # a verification covers protected businesses this long
OTP_RESEND_AFTER = dt.timedelta(seconds=60)  # no new code to the same phone sooner than this
NOTE_MIN = 4                                 # a free-text reason says something

UNMASK_FIELDS: dict[str, tuple[str, str]] = {"name": ("姓名", "name"), "id_number": ("证件号码", "ID number")}
UNMASK_REASONS: dict[str, tuple[str, str]] = {
    "identity_check": ("核实客户身份", "Verifying the customer's identity"),
    "registration": ("客户要求核对登记信息", "The customer asks to check the registered details"),
    "complaint": ("处理投诉或争议", "Handling a complaint or dispute"),
    "other": ("其他（请说明）", "Other (explain)"),
}
VERIFY_METHODS: dict[str, tuple[str, str]] = {
    "conversation": ("小贝已验证", "Verified by Xiaobei"),
    "password": ("服务密码", "Service password"),
    "otp": ("短信验证码", "SMS code"),
}
SLOT_LABELS: dict[SlotType, tuple[str, str]] = {
    SlotType.PRODUCT: ("产品", "Product"), SlotType.MONEY: ("金额（元）", "Amount (yuan)"),
    SlotType.INT: ("数量", "Number"), SlotType.TEXT: ("内容", "Details"), SlotType.MSISDN: ("手机号码", "Mobile number"),
    SlotType.PHONE: ("电话号码", "Phone number"), SlotType.ID_NUMBER: ("证件号码", "ID number"),
    SlotType.PASSWORD: ("密码", "Password"), SlotType.CHOICE: ("选项", "Option"), SlotType.MONTH: ("月份", "Month"),
    SlotType.CITY: ("城市", "City"),
}
OTP_SMS = ("【中国移动】您的验证码为{code}，{minutes}分钟内有效，用于10086人工客服核实您的身份。"
           "请仅告知正在为您服务的10086客服，切勿告诉他人。",
           "[China Mobile] Your code is {code}, valid for {minutes} minutes, for the 10086 agent serving you "
           "to verify your identity. Tell it to no one else.")
SECRET_SENT = ("结果含客户的保密信息，已通过短信发送到客户手机，请勿向客户索取。",
               "The result holds a secret for the customer: it was sent to their phone by SMS; do not ask for it.")
_KEY = re.compile(r"^[A-Za-z0-9:_-]{1,64}$")


class VerificationRequired(DomainError):
    code = "verification_required"
    status = 403


class VerificationFailed(DomainError):
    code = "verification_failed"
    status = 403


class CodeTooSoon(DomainError):
    code = "otp_too_soon"
    status = 429


@dataclass(frozen=True)
class Verification:
    method: str
    until: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {"verified": True, "method": self.method, "method_zh": VERIFY_METHODS[self.method][0],
                "method_en": VERIFY_METHODS[self.method][1], "until": self.until.isoformat()}


NOT_VERIFIED = {"verified": False, "method": None, "until": None}


class CustomerDesk:
    """The desk's use cases about one customer. Stateless: everything lives in the database."""

    def __init__(self, services: Services, db: Database, tickets: Tickets | None = None) -> None:
        self.services = services
        self.bss = services.bss
        self.catalog = services.catalog
        self.clock = services.clock
        self.db = db
        self.tickets = tickets or Tickets(db, services.clock)

    def _utc(self) -> dt.datetime:
        return self.clock.now().astimezone(dt.timezone.utc)

    # ------------------------------------------------------------------ the 360° view
    async def view(self, agent: str, msisdn: str, *, contact_id: str | None = None,
                   conversation_id: str | None = None) -> dict[str, Any]:
        """Everything an agent needs about the customer, personal data masked; the read is audited."""
        number = normalize_msisdn(msisdn)
        profile = await self.bss.profile(number, Actor(CHANNEL, agent))   # masked; audited as profile.view
        requests = await self.services.records.of(number, limit=5)
        tickets = await self.tickets.of(number, limit=5)
        contacts = await self.db.run(_contacts, number, write=False)
        view = dict(profile)
        view.update({
            "contact_id": contact_id,
            "conversation_id": conversation_id,
            "service_requests": [{"reference": r.reference, "kind": r.kind, "business": r.business,
                                  "business_zh": self._business_name(r.business, "zh"),
                                  "business_en": self._business_name(r.business, "en"),
                                  "status": r.status, "created_at": _iso(r.created_at)} for r in requests],
            "tickets": [t.as_dict() for t in tickets],
            **contacts,
            "verification": await self.verification(agent, number),
            "conversation_verified": bool(conversation_id) and await self._conversation_ok(number, conversation_id),
            "unmask_reasons": [{"code": k, "zh": v[0], "en": v[1]} for k, v in UNMASK_REASONS.items()],
            "verify_methods": [{"code": k, "zh": v[0], "en": v[1]} for k, v in VERIFY_METHODS.items()],
        })
        return view

    async def unmask(self, agent: str, msisdn: str, field: str, reason: str, note: str = "", *,
                     contact_id: str | None = None) -> dict[str, Any]:
        """One personal field in clear, for this request only; who, which field and why are audited."""
        if field not in UNMASK_FIELDS:
            raise InvalidInput("只能查看姓名或证件号码。", "Only the name or the ID number can be unmasked.",
                               allowed=list(UNMASK_FIELDS))
        reason = (reason or "").strip()
        note = " ".join((note or "").split())[:200]
        if reason not in UNMASK_REASONS:
            raise InvalidInput("查看完整个人信息须选择原因。", "Choose why you need to see the personal data.",
                               allowed=list(UNMASK_REASONS))
        if reason == "other" and len(note) < NOTE_MIN:
            raise InvalidInput(f"选择“其他”时请说明原因（至少{NOTE_MIN}个字）。",
                               f"With 'other', explain the reason in at least {NOTE_MIN} characters.")
        number = normalize_msisdn(msisdn)
        sub = await self.bss.get_subscriber(number)
        value = sub.name if field == "name" else sub.id_number
        detail = {"field": field, "reason": reason, "note": note, "contact_id": contact_id}
        await self.db.run(self._audit, agent, "profile.unmask", number, sub.id, detail)
        masked = mask_name(value) if field == "name" else mask_id_number(value)
        return {"field": field, "value": value, "masked": masked}

    # ------------------------------------------------------------------ verification
    async def verification(self, agent: str, msisdn: str) -> dict[str, Any]:
        """Whether this agent has verified this number, how, and until when."""
        v = await self._verified(agent, normalize_msisdn(msisdn))
        return v.as_dict() if v else dict(NOT_VERIFIED)

    async def require_verified(self, agent: str, msisdn: str) -> Verification:
        v = await self._verified(agent, normalize_msisdn(msisdn))
        if v is None:
            raise VerificationRequired(
                "该业务需先核实客户身份：请使用小贝的验证结果、客户的服务密码或短信验证码完成验证。",
                "This business needs the customer verified first: use Xiaobei's verification, the service "
                "password or an SMS code.")
        return v

    async def verify_conversation(self, agent: str, msisdn: str, conversation_id: str, *,
                                  contact_id: str | None = None) -> dict[str, Any]:
        """Take over 小贝's verification of the customer in this conversation."""
        number = normalize_msisdn(msisdn)
        ok = bool(conversation_id) and await self._conversation_ok(number, conversation_id)
        v = await self.db.run(self._grant, agent, number, contact_id, "conversation", ok,
                              {"conversation_id": conversation_id})
        if v is None:
            raise VerificationFailed("该会话中小贝未验证过此号码（或验证已过期），请改用服务密码或短信验证码。",
                                     "Xiaobei did not verify this number in the conversation (or it expired); "
                                     "use the service password or an SMS code.")
        return v.as_dict()

    async def verify_password(self, agent: str, msisdn: str, password: str, *,
                              contact_id: str | None = None) -> dict[str, Any]:
        """Check the service password the customer gave; wrong ones count towards the BSS's daily lock."""
        number = normalize_msisdn(msisdn)
        secret = (password or "").strip().lstrip("*")   # a legacy short password is given after a '*'
        if not secret:
            raise InvalidInput("请输入客户提供的服务密码。", "Enter the service password the customer gives.")
        try:
            await self.bss.verify_password(number, secret, actor=Actor(CHANNEL, agent))
        except (WrongPassword, PasswordLocked):
            await self.db.run(self._grant, agent, number, contact_id, "password", False, {})
            raise
        v = await self.db.run(self._grant, agent, number, contact_id, "password", True, {})
        return v.as_dict()

    async def send_code(self, agent: str, msisdn: str, *, contact_id: str | None = None) -> dict[str, Any]:
        """Text a one-time code to the customer's phone (through the SMS outbox) for them to read back."""
        number = normalize_msisdn(msisdn)
        sub = await self.bss.get_subscriber(number)
        ttl, sender = OTP_TTL, SMS_SENDER
        code = f"{secrets.randbelow(10**6):06d}"
        text = OTP_SMS[1 if (sub.language or "zh").startswith("en") else 0].format(
            code=code, minutes=int(ttl.total_seconds() // 60))
        now = self._utc()

        def job(conn: Connection) -> dt.timedelta | None:
            row = _row(conn, agent, number, lock=self.db.for_update)
            if row is not None and row.otp_sent_at is not None and now - _aware(row.otp_sent_at) < OTP_RESEND_AFTER:
                return OTP_RESEND_AFTER - (now - _aware(row.otp_sent_at))
            _upsert(conn, agent, number, {"contact_id": contact_id, "otp_digest": _digest(code), "otp_until": now + ttl,
                                          "otp_tries": 0, "otp_sent_at": now, "updated_at": now})
            self.services.outbox.enqueue(conn, number, text, sender=sender, purpose="otp", secret=True)
            self._audit(conn, agent, "desk.otp_send", number, sub.id, {"contact_id": contact_id})
            return None

        wait = await self._retrying(job)
        if wait is not None:
            seconds = max(1, int(wait.total_seconds()))
            raise CodeTooSoon(f"验证码刚刚发送过，请{seconds}秒后再重新发送。",
                              f"A code was just sent; send another in {seconds} seconds.", retry_after_s=seconds)
        return {"sent_to": mask_msisdn(number), "expires_in_s": int(ttl.total_seconds())}

    async def verify_code(self, agent: str, msisdn: str, code: str, *,
                          contact_id: str | None = None) -> dict[str, Any]:
        """Check the code the customer reads back; a few wrong tries void it."""
        number = normalize_msisdn(msisdn)
        code = re.sub(r"\s", "", code or "")
        tries_allowed = OTP_TRIES
        now = self._utc()

        def job(conn: Connection) -> tuple[str, int] | Verification:
            row = _row(conn, agent, number, lock=self.db.for_update)
            if row is None or not row.otp_digest:
                return ("none", 0)
            cleared = {"otp_digest": None, "otp_until": None, "otp_tries": 0, "updated_at": now}
            if _aware(row.otp_until) <= now:
                _upsert(conn, agent, number, cleared)
                self._audit(conn, agent, "desk.verify", number, None,
                            {"method": "otp", "ok": False, "why": "expired", "contact_id": contact_id})
                return ("expired", 0)
            if not _digest_matches(row.otp_digest, code):
                tries = row.otp_tries + 1
                more = {"otp_tries": tries, "updated_at": now}
                _upsert(conn, agent, number, cleared if tries >= tries_allowed else more)
                self._audit(conn, agent, "desk.verify", number, None,
                            {"method": "otp", "ok": False, "tries": tries, "contact_id": contact_id})
                return ("wrong", tries_allowed - tries)
            _upsert(conn, agent, number, cleared)
            return self._grant(conn, agent, number, contact_id, "otp", True, {})

        out = await self._retrying(job)
        if isinstance(out, Verification):
            return out.as_dict()
        why, left = out
        if why == "none":
            raise VerificationFailed("请先向客户发送短信验证码。", "Send the customer an SMS code first.")
        if why == "expired":
            raise VerificationFailed("验证码已过期，请重新发送。", "The code expired; send a new one.")
        if left <= 0:
            raise VerificationFailed("验证码错误次数过多，本次验证码已失效，请重新发送。",
                                     "Too many wrong codes: this one is void; send a new one.")
        raise VerificationFailed(f"验证码不正确，还可以再试{left}次。", f"Wrong code; {left} more tries.",
                                 tries_left=left)

    async def _conversation_ok(self, number: str, conversation_id: str) -> bool:
        """Did 小贝 verify this number in this conversation (a code, or a message from the phone), still fresh?"""
        conv = await ConversationStore(self.db).load(conversation_id)
        if conv is None or conv.state.get("msisdn") != number:
            return False
        now = self.clock.now()
        if conv.expires_at is not None and conv.expires_at <= now:
            return False
        until = conv.state.get("auth_until")
        return bool(conv.state.get("verified")) or bool(until and dt.datetime.fromisoformat(until) > now)

    async def _verified(self, agent: str, number: str) -> Verification | None:
        now = self._utc()

        def job(conn: Connection) -> Verification | None:
            row = _row(conn, agent, number)
            if row is None or row.verified_until is None or _aware(row.verified_until) <= now:
                return None
            return Verification(row.method, _aware(row.verified_until).astimezone(self.clock.tz))
        return await self.db.run(job, write=False)

    def _grant(self, conn: Connection, agent: str, number: str, contact_id: str | None, method: str, ok: bool,
               extra: dict[str, Any]) -> Verification | None:
        """Record a verification attempt (audited); when it succeeded, the verification it grants."""
        now = self._utc()
        self._audit(conn, agent, "desk.verify", number, None,
                    {"method": method, "ok": ok, "contact_id": contact_id, **extra})
        if not ok:
            return None
        until = now + VERIFIED_TTL
        _upsert(conn, agent, number, {"contact_id": contact_id, "method": method, "verified_until": until,
                                      "updated_at": now})
        return Verification(method, until.astimezone(self.clock.tz))   # shown in the operator's time

    async def _retrying(self, job):
        for _ in range(2):
            try:
                return await self.db.run(job)
            except IntegrityError:
                continue   # a racing first write for this (agent, number): it exists now
        return await self.db.run(job)

    def _audit(self, conn: Connection, agent: str, action: str, number: str, subscriber_id: int | None,
               detail: dict[str, Any]) -> None:
        conn.execute(insert(audit_log).values(
            at=self.clock.now(), channel=CHANNEL, actor=agent[:64], action=action, subscriber_id=subscriber_id,
            msisdn=number, detail=json.dumps({k: v for k, v in detail.items() if v is not None}, ensure_ascii=False)))

    # ------------------------------------------------------------------ businesses
    def businesses(self, query: str = "", category: str | None = None) -> list[dict[str, Any]]:
        """The catalogue by category (menu order), filtered by name, code or SMS command."""
        q = " ".join((query or "").split()).lower()
        key = command_key(q) if q else ""
        groups = []
        for cat in sorted(self.catalog.categories.values(), key=lambda c: (c.menu or 99, c.code)):
            if category and cat.code != category:
                continue
            items = [_summary(b) for b in self.catalog.in_category(cat.code)
                     if CATALOG_CHANNEL in b.channels and (not q or q in b.code.lower() or q in b.name_zh.lower()
                                                           or q in b.name_en.lower()
                                                           or any(key == command_key(c) for c in b.sms.commands))]
            if items:
                groups.append({"category": cat.code, "name_zh": cat.name_zh, "name_en": cat.name_en,
                               "businesses": items})
        return groups

    async def describe(self, agent: str, msisdn: str, code: str) -> dict[str, Any]:
        """What the panel needs to run a business: its form (slots, choices with prices) or, for a
        consultation, the knowledge article to read out."""
        b = self._business(code)
        number = normalize_msisdn(msisdn)
        out = {**_summary(b), "description_zh": b.description_zh,
               "verification": await self.verification(agent, number) if b.auth is not Auth.NONE else None,
               "slots": [], "article_zh": None, "article_en": None}
        if b.handler == "info":
            out["article_zh"], out["article_en"] = await self._article(b, number, agent)
            return out
        held = None
        if b.handler == "product.cancel":   # only what the customer has and may cancel
            account = await self.bss.account(number)
            held = {s["code"] for s in account["subscriptions"] if not s["in_plan"]}
        out["slots"] = [self._slot_form(b, s, held) for s in b.slots]
        return out

    async def preview(self, agent: str, msisdn: str, code: str, raw: dict[str, Any],
                      lang: str = "zh") -> dict[str, Any]:
        """What the agent confirms with the customer before running: product, price, when it takes effect."""
        b, number, params = await self._prepare(agent, msisdn, code, raw)
        zh = self.services.preview(b, params, "zh")
        en = self.services.preview(b, params, "en")
        return {"business": b.code, "params": _shown(b, params),
                "confirm_zh": _confirm_text(zh, "zh"), "confirm_en": _confirm_text(en, "en"),
                "price_zh": zh["price"], "price_en": en["price"], "what_zh": zh["what"], "what_en": en["what"]}

    async def run(self, agent: str, msisdn: str, code: str, raw: dict[str, Any], key: str,
                  lang: str = "zh") -> dict[str, Any]:
        """Run the business for the customer through the service layer; the same key never runs twice."""
        if not _KEY.match(key or ""):
            raise InvalidInput("缺少有效的请求编号（1至64位字母、数字、:_-）。",
                               "A request key of 1 to 64 letters, digits, ':', '_' or '-' is required.")
        lang = "en" if (lang or "").startswith("en") else "zh"
        b, number, params = await self._prepare(agent, msisdn, code, raw)
        req = Request(b, number, params, Actor(CHANNEL, agent), f"{CHANNEL}:{agent}:{key}", lang)
        outcome = await self.services.execute(req)
        texts = self.services.render(b, outcome, CATALOG_CHANNEL, lang)
        secret_sent = False
        if outcome.sensitive:   # a new password: for the customer's phone, never the agent's screen
            await self.db.run(self._send_notice, number, "\n".join(texts))
            texts, secret_sent = [SECRET_SENT[1 if lang == "en" else 0]], True
        return {"business": b.code, "name_zh": b.name_zh, "name_en": b.name_en, "texts": texts, "lang": lang,
                "changed": outcome.changed, "order_id": outcome.data.get("order_id"),
                "reference": outcome.data.get("reference"), "secret_sent": secret_sent}

    async def _prepare(self, agent: str, msisdn: str, code: str,
                       raw: dict[str, Any]) -> tuple[Business, str, dict[str, Any]]:
        b = self._business(code)
        number = normalize_msisdn(msisdn)
        if b.auth is not Auth.NONE:   # refused before anything about the request is looked at
            await self.require_verified(agent, number)
        params = self.services.bind(b, {k: v for k, v in (raw or {}).items() if v not in (None, "")})
        return b, number, params

    def _business(self, code: str) -> Business:
        b = self.catalog.by_code.get(code)
        if b is None:
            raise NotFound(f"没有业务“{code}”。", f"There is no business '{code}'.", business=code)
        if CATALOG_CHANNEL not in b.channels:
            guide = b.guide.get(CATALOG_CHANNEL, "zh") if b.guide else ""
            raise InvalidInput(f"该业务不能由客服代办。{guide}", "Agents cannot carry out this business.",
                               business=code)
        return b

    def _business_name(self, code: str, lang: str) -> str:
        b = self.catalog.by_code.get(code)
        if b is None:
            return code
        return b.name_en if lang == "en" else b.name_zh

    async def _article(self, b: Business, number: str, agent: str) -> tuple[str, str]:
        texts = []
        for lang in ("zh", "en"):
            req = Request(b, number, {}, Actor(CHANNEL, agent), f"{CHANNEL}:read:{b.code}", lang)
            outcome = await self.services.execute(req)   # a consultation reads nothing and changes nothing
            texts.append("\n".join(self.services.render(b, outcome, CATALOG_CHANNEL, lang)))
        return texts[0], texts[1]

    def _slot_form(self, b: Business, slot: Slot, held: set[str] | None) -> dict[str, Any]:
        label = SLOT_LABELS.get(slot.type, (slot.name, slot.name))
        out: dict[str, Any] = {"name": slot.name, "type": slot.type.value, "required": slot.required,
                               "label_zh": label[0], "label_en": label[1],
                               "prompt_zh": slot.prompt_zh, "prompt_en": slot.prompt_en,
                               "fixed": slot.name in b.preset, "value": b.preset.get(slot.name), "choices": []}
        if slot.type is SlotType.PRODUCT:
            products = self.services.choices(b, slot.name)
            if held is not None:
                products = [p for p in products if p.code in held]
            out["choices"] = [{"value": p.code, "label_zh": f"{p.name_zh} · {p.fee_text_zh}",
                               "label_en": f"{p.name_en} · {p.fee_text_en}", "fee_fen": p.fee_fen,
                               "kind": p.kind.value} for p in products]
        elif slot.type is SlotType.CHOICE:
            out["choices"] = [self._choice(value, words) for value, words in slot.choices.items()]
        if out["fixed"]:
            value = b.preset[slot.name]
            hit = next((c for c in out["choices"] if c["value"] == value), None)
            out["choices"] = [hit] if hit else [{"value": value, "label_zh": value, "label_en": value}]
        return out

    def _choice(self, value: str, words: tuple[str, ...]) -> dict[str, Any]:
        p = self.services.products.by_code.get(value)
        if p is not None:
            return {"value": value, "label_zh": p.name_zh, "label_en": p.name_en}
        return {"value": value, "label_zh": words[0] if words else value, "label_en": value}

    def _send_notice(self, conn: Connection, number: str, text: str) -> None:
        """Only a secret (a new password) is sent this way: redacted once delivered."""
        self.services.outbox.enqueue(conn, number, text, sender=SMS_SENDER, purpose="notice", secret=True)

    # ------------------------------------------------------------------ tickets
    async def create_ticket(self, agent: str, *, category: str, summary: str, msisdn: str | None = None,
                            detail: str = "", priority: str = "normal", contact_id: str | None = None,
                            conversation_id: str | None = None, key: str | None = None) -> Ticket:
        if key is not None and not _KEY.match(key):
            raise InvalidInput("请求编号须为1至64位字母、数字或 :_-。", "The request key is 1 to 64 letters, digits, ':_-'.")
        return await self.tickets.create(category=category, summary=summary, created_by=agent, msisdn=msisdn,
                                         detail=detail, priority=priority, contact_id=contact_id,
                                         conversation_id=conversation_id,
                                         key=f"{CHANNEL}:{agent}:{key}" if key else None)

    @staticmethod
    def ticket_options() -> dict[str, Any]:
        return {"categories": [{"code": k, "zh": v[0], "en": v[1]} for k, v in CATEGORIES.items()],
                "priorities": [{"code": k, "zh": v[0], "en": v[1]} for k, v in PRIORITIES.items()]}


# ---------------------------------------------------------------------- helpers

def _contacts(conn: Connection, number: str) -> dict[str, Any]:
    """The number's recent conversations with 小贝 and its hand-offs to people (no transcripts, no secrets)."""
    convs = conn.execute(select(conversations.c.id, conversations.c.channel, conversations.c.state,
                                conversations.c.created_at, conversations.c.updated_at)
                         .where(conversations.c.msisdn == number)
                         .order_by(desc(conversations.c.updated_at)).limit(5)).all()
    hos = conn.execute(select(handoffs.c.id, handoffs.c.conversation_id, handoffs.c.channel, handoffs.c.reason,
                              handoffs.c.priority, handoffs.c.business, handoffs.c.status, handoffs.c.created_at)
                       .where(handoffs.c.msisdn == number).order_by(desc(handoffs.c.id)).limit(5)).all()
    return {
        "conversations": [{"id": c.id, "channel": c.channel, "created_at": _iso(c.created_at),
                           "updated_at": _iso(c.updated_at),
                           "business": ((c.state or {}).get("last") or {}).get("business"),
                           "handed_off": bool((c.state or {}).get("handoff"))} for c in convs],
        "handoffs": [{"id": h.id, "conversation_id": h.conversation_id, "channel": h.channel, "reason": h.reason,
                      "priority": bool(h.priority), "business": h.business, "status": h.status,
                      "created_at": _iso(h.created_at)} for h in hos],
    }


def _row(conn: Connection, agent: str, number: str, lock: bool = False) -> Any:
    q = select(desk_verifications).where(desk_verifications.c.agent == agent, desk_verifications.c.msisdn == number)
    return conn.execute(q.with_for_update() if lock else q).first()


def _upsert(conn: Connection, agent: str, number: str, values: dict[str, Any]) -> None:
    t = desk_verifications
    done = conn.execute(update(t).where(t.c.agent == agent, t.c.msisdn == number).values(**values)).rowcount
    if not done:
        conn.execute(insert(t).values(agent=agent, msisdn=number, **{"otp_tries": 0, **values}))


def _digest(code: str) -> str:
    salt = secrets.token_hex(8)
    return f"{salt}${hashlib.sha256(f'{salt}:{code}'.encode()).hexdigest()}"


def _digest_matches(stored: str, code: str) -> bool:
    salt, _, digest = stored.partition("$")
    return secrets.compare_digest(digest, hashlib.sha256(f"{salt}:{code}".encode()).hexdigest())


def _summary(b: Business) -> dict[str, Any]:
    return {"code": b.code, "name_zh": b.name_zh, "name_en": b.name_en, "category": b.category,
            "auth": b.auth.value, "protected": b.auth is not Auth.NONE, "confirm": b.confirm,
            "consultation": b.handler == "info"}


def _confirm_text(p: dict[str, Any], lang: str) -> str:
    if lang == "en":
        parts = [f"Carry out for the customer: {p['what']}"] + [x for x in (p["price"], p["effective"]) if x]
        return ", ".join(parts) + ". Confirm with the customer, then submit."
    parts = [f"为客户办理：{p['what']}"] + [x for x in (p["price"], p["effective"]) if x]
    return "，".join(parts) + "。请与客户确认后提交。"


def _shown(b: Business, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as the confirmation shows them: secrets (passwords, ID numbers) never echoed."""
    secret = {s.name for s in b.slots if s.secret}
    return {k: "******" if k in secret else v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
            for k, v in params.items()}


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value
