"""The customer panel of the agent desktop: the 360° view, unmasking, verification, businesses, tickets.

An agent sees the customer with name and ID number masked (the BSS's own masked profile, whose read
it audits); seeing one of them in clear needs a reason and is audited field by field. Before an agent
runs a protected business (one the catalogue marks ``auth``) for a customer, the agent verifies them:
小贝 verified the conversation already, the customer gave the service password (checked by the BSS,
whose failures count towards its daily lock), or read back a one-time code sent to the phone. A
verification belongs to the contact it was made in: it holds for that contact, its agent and its
number for a few minutes, never for another contact or agent. Every method takes a
:class:`~hotline.desk.scope.Scope` (the routes get one from ``hotline.desk.scope``), so nothing here acts
on a number outside a contact. Businesses come from the catalogue and run through ``Services`` exactly as
every other channel runs them, with channel ``desk``, the agent as actor and an idempotency key from the
form, so a double click charges once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from hotline.assistant import store as conversation_store
from hotline.assistant.store import ConversationStore
from hotline.bss.port import Actor
from hotline.care.tickets import CATEGORIES, PRIORITIES, Ticket, Tickets
from hotline.catalog.catalog import Catalog, command_key
from hotline.catalog.schema import Auth, Business, Slot, SlotType
from hotline.desk.scope import OutOfScope, Scope
from hotline.domain.errors import DomainError, InvalidInput, NotFound, PasswordLocked, WrongPassword
from hotline.domain.identity import mask_id_number, mask_name
from hotline.domain.products import Product
from hotline.services import audit
from hotline.services.base import Request
from hotline.services.flow import Context, Flow, FlowState, Level, NotAssured
from hotline.services.identity import CodeError, Codes, CodeTooSoon
from hotline.services.otp import SMS_SENDER
from hotline.services.service import Services
from hotline.store.sql.database import Database
from hotline.store.sql.tables import desk_contact_checks

CHANNEL = "desk"             # the actor's channel in orders and the audit log
CATALOG_CHANNEL = "agent"    # the catalogue's name for this channel (``Business.channels``, reply variants)
VERIFIED_TTL = dt.timedelta(minutes=10)     # a verification covers protected businesses this long
CODE_PURPOSE = "desk"                        # identity's purpose for codes an agent sends
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
    SlotType.INT: ("数量", "Number"), SlotType.TEXT: ("内容", "Details"),
    SlotType.MSISDN: ("手机号码", "Mobile number"),
    SlotType.PHONE: ("电话号码", "Phone number"), SlotType.ID_NUMBER: ("证件号码", "ID number"),
    SlotType.PASSWORD: ("密码", "Password"), SlotType.CHOICE: ("选项", "Option"), SlotType.MONTH: ("月份", "Month"),
    SlotType.CITY: ("城市", "City"),
}
SECRET_SENT = ("结果含客户的保密信息，已通过短信发送到客户手机，请勿向客户索取。",
               "The result holds a secret for the customer: it was sent to their phone by SMS; do not ask for it.")
_KEY = re.compile(r"^[A-Za-z0-9:_-]{1,64}$")
T = TypeVar("T")
__all__ = ["CodeTooSoon", "CustomerDesk", "OutOfScope", "Scope", "VerificationFailed", "VerificationRequired"]


class VerificationRequired(DomainError):
    code = "verification_required"
    status = 403


class VerificationFailed(DomainError):
    code = "verification_failed"
    status = 403


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

    def __init__(self, services: Services, db: Database, tickets: Tickets | None = None, *,
                 codes: Codes | None = None, flow: Flow | None = None) -> None:
        self.services = services
        self.bss = services.bss
        self.catalog = services.catalog
        self.clock = services.clock
        self.db = db
        self.tickets = tickets or services.tickets   # the one ticket store every channel files in
        self.codes = codes or Codes(db, services.clock, services.outbox)
        self.flow = flow or Flow(services, self.codes)   # businesses run through the one flow

    def _utc(self) -> dt.datetime:
        return self.clock.now().astimezone(dt.UTC)

    # ------------------------------------------------------------------ the 360° view
    async def view(self, scope: Scope) -> dict[str, Any]:
        """Everything an agent needs about the customer, personal data masked; the read is audited.
        ``scope`` is a contact of the agent's, or a supervisor's audited look-up (then nothing to act on)."""
        number = scope.msisdn
        profile = await self.bss.profile(number, Actor(CHANNEL, scope.agent))   # masked; audited as profile.view
        requests = await self.services.records.of(number, limit=5)
        tickets = await self.tickets.of(number, limit=5)
        contacts = await self.db.run(conversation_store.recent_for, number, write=False)
        conversation_id = scope.conversation_id
        view = dict(profile)
        view.update({
            "contact_id": scope.contact_id,
            "conversation_id": conversation_id,
            "in_contact": scope.in_contact,
            "service_requests": [{"reference": r.reference, "kind": r.kind, "business": r.business,
                                  "business_zh": self._business_name(r.business, "zh"),
                                  "business_en": self._business_name(r.business, "en"),
                                  "status": r.status, "created_at": _iso(r.created_at)} for r in requests],
            "tickets": [t.as_dict() for t in tickets],
            **contacts,
            "verification": await self.verification(scope),
            "conversation_verified": bool(conversation_id and await self._conversation_ok(number, conversation_id)),
            "unmask_reasons": [{"code": k, "zh": v[0], "en": v[1]} for k, v in UNMASK_REASONS.items()],
            "verify_methods": [{"code": k, "zh": v[0], "en": v[1]} for k, v in VERIFY_METHODS.items()],
        })
        return view

    async def unmask(self, scope: Scope, field: str, reason: str, note: str = "") -> dict[str, Any]:
        """One personal field in clear, for this request only, inside a contact; who, which field and why
        are audited."""
        _need_contact(scope)
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
        number = scope.msisdn
        sub = await self.bss.get_subscriber(number)
        value = sub.name if field == "name" else sub.id_number
        detail = {"field": field, "reason": reason, "note": note, "contact_id": scope.contact_id}
        await self.db.run(self._audit, scope.agent, "profile.unmask", number, sub.id, detail)
        masked = mask_name(value) if field == "name" else mask_id_number(value)
        return {"field": field, "value": value, "masked": masked}

    # ------------------------------------------------------------------ verification
    async def verification(self, scope: Scope) -> dict[str, Any]:
        """Whether this agent verified this number in this contact, how, and until when."""
        v = await self._verified(scope) if scope.in_contact else None
        return v.as_dict() if v else dict(NOT_VERIFIED)

    async def require_verified(self, scope: Scope) -> Verification:
        _need_contact(scope)
        v = await self._verified(scope)
        if v is None:
            raise VerificationRequired(
                "该业务需先核实客户身份：请使用小贝的验证结果、客户的服务密码或短信验证码完成验证。",
                "This business needs the customer verified first: use Xiaobei's verification, the service "
                "password or an SMS code.")
        return v

    async def verify_conversation(self, scope: Scope, conversation_id: str | None = None) -> dict[str, Any]:
        """Take over 小贝's verification of the customer in the contact's own conversation (a conversation
        named by the request must be that one)."""
        _need_contact(scope)
        own = scope.conversation_id
        ok = bool(own) and conversation_id in (None, "", own) and await self._conversation_ok(scope.msisdn, own or "")
        v = await self._retrying(lambda conn: self._grant(conn, scope, "conversation", ok,
                                                          {"conversation_id": own}))
        if v is None:
            raise VerificationFailed("该会话中小贝未验证过此号码（或验证已过期），请改用服务密码或短信验证码。",
                                     "Xiaobei did not verify this number in the conversation (or it expired); "
                                     "use the service password or an SMS code.")
        return v.as_dict()

    async def verify_password(self, scope: Scope, password: str) -> dict[str, Any]:
        """Check the service password the customer gave; wrong ones count towards the BSS's daily lock."""
        _need_contact(scope)
        secret = (password or "").strip().lstrip("*")   # a legacy short password is given after a '*'
        if not secret:
            raise InvalidInput("请输入客户提供的服务密码。", "Enter the service password the customer gives.")
        try:
            await self.bss.verify_password(scope.msisdn, secret, actor=Actor(CHANNEL, scope.agent))
        except (WrongPassword, PasswordLocked):
            await self._retrying(lambda conn: self._grant(conn, scope, "password", False, {}))
            raise
        v = await self._retrying(lambda conn: self._grant(conn, scope, "password", True, {}))
        assert v is not None
        return v.as_dict()

    async def send_code(self, scope: Scope) -> dict[str, Any]:
        """Text a one-time code to the contact's number (identity's one policy: limits per number and
        per agent, one live code); it verifies only in this contact."""
        _need_contact(scope)
        sub = await self.bss.get_subscriber(scope.msisdn)
        lang = "en" if (sub.language or "zh").startswith("en") else "zh"
        sent = await self.codes.send(scope.msisdn, CODE_PURPOSE, client=f"desk:{scope.agent}", lang=lang)
        now = self._utc()

        def job(conn: Connection) -> None:
            _upsert(conn, scope, {"otp_sent_at": now, "otp_until": now + dt.timedelta(seconds=sent.expires_in_s),
                                  "updated_at": now})
            self._audit(conn, scope.agent, "desk.otp_send", scope.msisdn, sub.id,
                        {"contact_id": scope.contact_id, "reused": sent.reused or None})
        await self._retrying(job)
        return {"sent_to": sent.masked, "expires_in_s": sent.expires_in_s, "reused": sent.reused}

    async def verify_code(self, scope: Scope, code: str) -> dict[str, Any]:
        """Check the code the customer reads back: only a code sent in this contact verifies it; wrong
        ones spend the number's daily guess budget."""
        _need_contact(scope)

        def sent_here(conn: Connection) -> bool:     # expiry is identity's to tell
            row = _row(conn, scope)
            return row is not None and row.otp_until is not None
        if not await self.db.run(sent_here, write=False):
            raise VerificationFailed("请先在本会话中向客户发送短信验证码。",
                                     "Send the customer an SMS code in this contact first.")
        try:
            await self.codes.check(scope.msisdn, CODE_PURPOSE, code, client=f"desk:{scope.agent}")
        except CodeError as err:
            why = err.code
            await self._retrying(lambda conn: self._grant(conn, scope, "otp", False, {"why": why}))
            raise
        v = await self._retrying(lambda conn: self._grant(conn, scope, "otp", True, {}))
        assert v is not None
        return v.as_dict()

    async def _conversation_ok(self, number: str, conversation_id: str) -> bool:
        """Did 小贝 verify this number in this conversation (a code, a message from the phone, the service
        password: an assurance of the flow), still fresh?"""
        conv = await ConversationStore(self.db).load(conversation_id)
        return conversation_store.proven_for(conv, number, self.clock.now())

    async def _verified(self, scope: Scope) -> Verification | None:
        now = self._utc()

        def job(conn: Connection) -> Verification | None:
            row = _row(conn, scope)
            if row is None or row.verified_until is None or _aware(row.verified_until) <= now:
                return None
            return Verification(row.method, _aware(row.verified_until).astimezone(self.clock.tz))
        return await self.db.run(job, write=False)

    def _grant(self, conn: Connection, scope: Scope, method: str, ok: bool,
               extra: dict[str, Any]) -> Verification | None:
        """Record a verification attempt (audited); when it succeeded, the verification it grants, for
        this contact, this agent and this number only."""
        now = self._utc()
        self._audit(conn, scope.agent, "desk.verify", scope.msisdn, None,
                    {"method": method, "ok": ok, "contact_id": scope.contact_id, **extra})
        if not ok:
            return None
        until = now + VERIFIED_TTL
        values: dict[str, Any] = {"method": method, "verified_until": until, "updated_at": now}
        if method == "otp":
            values["otp_until"] = None    # a code verifies once
        _upsert(conn, scope, values)
        return Verification(method, until.astimezone(self.clock.tz))   # shown in the operator's time

    async def _retrying(self, job: Callable[[Connection], T]) -> T:
        for _ in range(2):
            try:
                return await self.db.run(job)
            except IntegrityError:
                continue   # a racing first write for this contact: the row exists now
        return await self.db.run(job)

    def _audit(self, conn: Connection, agent: str, action: str, number: str, subscriber_id: int | None,
               detail: dict[str, Any]) -> None:
        audit.record(conn, at=self.clock.now(), channel=CHANNEL, actor=agent, action=action,
                     subscriber_id=subscriber_id, msisdn=number, detail=detail)

    # ------------------------------------------------------------------ businesses
    def businesses(self, query: str = "", category: str | None = None) -> list[dict[str, Any]]:
        """The catalogue by category (menu order), filtered by name, code or SMS command."""
        q = " ".join((query or "").split()).lower()
        key = command_key(q) if q else ""
        groups = []
        for cat in sorted(self.catalog.categories.values(), key=lambda c: (c.menu or 99, c.code)):
            if category and cat.code != category:
                continue
            items = [_summary(b, self.catalog) for b in self.catalog.in_category(cat.code)
                     if CATALOG_CHANNEL in b.channels and (not q or q in b.code.lower() or q in b.name_zh.lower()
                                                           or q in b.name_en.lower()
                                                           or any(key == command_key(c) for c in b.sms.commands))]
            if items:
                groups.append({"category": cat.code, "name_zh": cat.name_zh, "name_en": cat.name_en,
                               "businesses": items})
        return groups

    async def describe(self, scope: Scope, code: str) -> dict[str, Any]:
        """What the panel needs to run a business: its form (slots, choices with prices) or, for a
        consultation, the knowledge article to read out."""
        _need_contact(scope)
        b = self._business(code)
        out = {**_summary(b, self.catalog), "description_zh": b.description_zh,
               "verification": await self.verification(scope) if b.auth is not Auth.NONE else None,
               "slots": [], "article_zh": None, "article_en": None}
        if self.catalog.role(b) == "article":
            out["article_zh"], out["article_en"] = await self._article(b, scope)
            return out
        # The same choices as on every channel: what this customer may cancel, or may still take.
        out["slots"] = [self._slot_form(b, s, await self.services.offer(b, s.name, scope.msisdn)
                                        if s.type is SlotType.PRODUCT else None) for s in b.slots]
        return out

    async def preview(self, scope: Scope, code: str, raw: dict[str, Any],
                      lang: str = "zh") -> dict[str, Any]:
        """What the agent confirms with the customer before running: product, price, when it takes effect."""
        b, state = await self._prepare(scope, code)
        params, _ = await self._checked(state, b, raw, scope, "zh", "preview")
        zh = self.services.preview(b, params, "zh")
        en = self.services.preview(b, params, "en")
        return {"business": b.code, "params": _shown(b, params), "confirm": self.catalog.confirmed(b),
                "confirm_zh": _confirm_text(zh, "zh"), "confirm_en": _confirm_text(en, "en"),
                "price_zh": zh["price"], "price_en": en["price"], "what_zh": zh["what"], "what_en": en["what"]}

    async def run(self, scope: Scope, code: str, raw: dict[str, Any], key: str,
                  lang: str = "zh") -> dict[str, Any]:
        """Run the business for the customer through the flow, the agent having read the confirmation to
        them; the same key never runs twice."""
        if not _KEY.match(key or ""):
            raise InvalidInput("缺少有效的请求编号（1至64位字母、数字、:_-）。",
                               "A request key of 1 to 64 letters, digits, ':', '_' or '-' is required.")
        lang = "en" if (lang or "").startswith("en") else "zh"
        b, state = await self._prepare(scope, code)
        await self._checked(state, b, raw, scope, lang, key)
        done = await self.flow.carry_out(state, b, _given(raw), self._ctx(scope, lang, key))
        texts = done.texts
        secret_sent = False
        if done.sensitive:   # a new password: for the customer's phone, never the agent's screen
            await self.db.run(self._send_notice, scope.msisdn, "\n".join(texts))
            texts, secret_sent = [SECRET_SENT[1 if lang == "en" else 0]], True
        return {"business": b.code, "name_zh": b.name_zh, "name_en": b.name_en, "texts": texts, "lang": lang,
                "changed": bool(done.data.get("order_id") or done.data.get("reference")),
                "order_id": done.data.get("order_id"), "reference": done.data.get("reference"),
                "secret_sent": secret_sent}

    async def _prepare(self, scope: Scope, code: str) -> tuple[Business, FlowState]:
        """The business and the flow state of this contact: the agent's credential inside a live contact
        with the customer stands for the number's possession; a verification in the contact for more."""
        _need_contact(scope)
        b = self._business(code)
        if b.auth is not Auth.NONE:   # refused before anything about the request is looked at
            await self.require_verified(scope)
        now = self.clock.now()
        state = FlowState(msisdn=scope.msisdn)
        state.grant(Level.POSSESSION, CATALOG_CHANNEL, now + dt.timedelta(minutes=1))
        verified = await self._verified(scope)
        if verified is not None:
            state.grant(Level.PASSWORD, CATALOG_CHANNEL, verified.until)
        return b, state

    async def _checked(self, state: FlowState, b: Business, raw: dict[str, Any], scope: Scope, lang: str,
                       key: str) -> tuple[dict[str, Any], Any]:
        try:
            return await self.flow.check(state, b, _given(raw), self._ctx(scope, lang, key))
        except NotAssured:
            await self.require_verified(scope)   # says how to verify, in the desk's words
            raise

    def _ctx(self, scope: Scope, lang: str, key: str) -> Context:
        return Context(CATALOG_CHANNEL, Actor(CHANNEL, scope.agent), lang, f"{scope.agent}:{key}", self.clock.now(),
                       client=f"desk:{scope.agent}")

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

    async def _article(self, b: Business, scope: Scope) -> tuple[str, str]:
        texts = []
        for lang in ("zh", "en"):
            req = Request(b, scope.msisdn, {}, Actor(CHANNEL, scope.agent), f"{CHANNEL}:read:{b.code}", lang)
            outcome = await self.services.execute(req)   # a consultation reads nothing and changes nothing
            texts.append("\n".join(self.services.render(b, outcome, CATALOG_CHANNEL, lang)))
        return texts[0], texts[1]

    def _slot_form(self, b: Business, slot: Slot, products: list[Product] | None) -> dict[str, Any]:
        label = SLOT_LABELS.get(slot.type, (slot.name, slot.name))
        out: dict[str, Any] = {"name": slot.name, "type": slot.type.value, "required": slot.required,
                               "label_zh": label[0], "label_en": label[1],
                               "prompt_zh": slot.prompt_zh, "prompt_en": slot.prompt_en,
                               "fixed": slot.name in b.preset, "value": b.preset.get(slot.name), "choices": []}
        if slot.type is SlotType.PRODUCT:
            out["choices"] = [{"value": p.code, "label_zh": f"{p.name_zh} · {p.fee_text_zh}",
                               "label_en": f"{p.name_en} · {p.fee_text_en}", "fee_fen": p.fee_fen,
                               "kind": p.kind.value} for p in products or []]
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
    async def create_ticket(self, scope: Scope, *, category: str, summary: str, detail: str = "",
                            priority: str = "normal", key: str | None = None) -> Ticket:
        """A ticket for the contact's customer (number, contact and conversation from the contact)."""
        _need_contact(scope)
        if key is not None and not _KEY.match(key):
            raise InvalidInput("请求编号须为1至64位字母、数字或 :_-。",
                               "The request key is 1 to 64 letters, digits, ':_-'.")
        agent = scope.agent
        return await self.tickets.create(category=category, summary=summary, created_by=agent, msisdn=scope.msisdn,
                                         detail=detail, priority=priority, contact_id=scope.contact_id,
                                         conversation_id=scope.conversation_id,
                                         key=f"{CHANNEL}:{agent}:{key}" if key else None)

    @staticmethod
    def ticket_options() -> dict[str, Any]:
        return {"categories": [{"code": k, "zh": v[0], "en": v[1]} for k, v in CATEGORIES.items()],
                "priorities": [{"code": k, "zh": v[0], "en": v[1]} for k, v in PRIORITIES.items()]}


# ---------------------------------------------------------------------- helpers

def _need_contact(scope: Scope) -> None:
    """Acting for a customer needs a contact (a supervisor's look-up only views)."""
    if not scope.in_contact:
        raise OutOfScope("只能在您正在服务的会话中为客户办理。",
                         "Act for a customer only inside a contact you are serving.")


def _row(conn: Connection, scope: Scope) -> Any:
    t = desk_contact_checks
    return conn.execute(select(t).where(t.c.contact_id == scope.contact_id, t.c.agent == scope.agent,
                                        t.c.msisdn == scope.msisdn)).first()


def _upsert(conn: Connection, scope: Scope, values: dict[str, Any]) -> None:
    t = desk_contact_checks
    done = conn.execute(update(t).where(t.c.contact_id == scope.contact_id, t.c.agent == scope.agent,
                                        t.c.msisdn == scope.msisdn).values(**values)).rowcount
    if not done:
        conn.execute(insert(t).values(contact_id=scope.contact_id, agent=scope.agent, msisdn=scope.msisdn,
                                      **{"otp_tries": 0, **values}))


def _given(raw: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (raw or {}).items() if v not in (None, "")}


def _summary(b: Business, catalog: Catalog) -> dict[str, Any]:
    return {"code": b.code, "name_zh": b.name_zh, "name_en": b.name_en, "category": b.category,
            "auth": b.auth.value, "protected": b.auth is not Auth.NONE, "confirm": catalog.confirmed(b),
            "consultation": catalog.role(b) == "article"}


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
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value
