"""The business flow: one business session, the same steps on every channel.

A channel turns its input into an *event* (a request for a business with what the customer gave, yes,
no, a choice, a password, a code, a number, cancel) and renders the *steps* the flow answers (ask a slot
with its choices, ask who you are, ask the password, say a code was sent, confirm, the result, a
refusal). Everything in between lives here, once: which slots are missing, which assurance a business
needs (from the catalogue's policy), the confirmation of anything that costs money or changes the
account, and the execution through ``Services`` with an idempotency key taken from the confirmation, so
a repeated "yes" never runs twice.

Identity rules (see ARCHITECTURE.md): an assurance is bound to the number it was proven for, the channel
and an expiry, and lives in the conversation's state; naming another number drops every assurance and the
pending step; a pending step records the number it is for and runs only for it, after the assurance is
checked again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

from hotline.bss.port import Actor
from hotline.catalog.schema import Auth, Business, Slot, SlotType
from hotline.domain.errors import DomainError, InvalidMsisdn, PasswordLocked, SubscriberNotFound, WrongPassword
from hotline.domain.msisdn import mask_msisdn, normalize_msisdn
from hotline.domain.subscriber import Status
from hotline.services.base import MissingSlot, Request
from hotline.services.sealed import Sealer, is_sealed

if TYPE_CHECKING:
    from hotline.services.service import Services

STEP_TTL = dt.timedelta(minutes=10)       # a pending step (slot, password, code, confirmation)
PROVEN_TTL = dt.timedelta(minutes=15)     # a password or code proves the customer this long
CODE_PURPOSE = "verify"


class Level(IntEnum):
    """How sure we are that the person is the number's subscriber."""

    NONE = 0
    POSSESSION = 1    # holds the phone: a one-time code, or a message the gateway/SIP edge asserts
    PASSWORD = 2      # the service password


def needed(services: Services, b: Business) -> Level:
    """The assurance a business needs, from the catalogue: its auth, else what its kind needs."""
    if b.auth is Auth.PASSWORD:
        return Level.PASSWORD
    if b.auth is Auth.OTP or services.catalog.needs_subscriber(b):
        return Level.POSSESSION
    return Level.NONE


# ---------------------------------------------------------------------- state
@dataclass
class Assurance:
    msisdn: str
    level: Level
    channel: str
    until: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {"msisdn": self.msisdn, "level": int(self.level), "channel": self.channel,
                "until": self.until.isoformat()}

    @classmethod
    def of(cls, d: dict[str, Any]) -> Assurance:
        return cls(d["msisdn"], Level(d["level"]), d["channel"], dt.datetime.fromisoformat(d["until"]))


@dataclass
class Pending:
    step: str                     # slot | number | password | code | confirm
    business: str
    params: dict[str, Any]
    msisdn: str | None            # the number the step is for
    id: str
    until: dt.datetime
    slot: str | None = None
    choices: dict[str, str] = field(default_factory=dict)     # "1" → value
    labels: list[str] = field(default_factory=list)
    batch: list[dict[str, Any]] = field(default_factory=list)  # further {business, params} confirmed together

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "business": self.business, "params": _jsonable(self.params),
                "msisdn": self.msisdn, "id": self.id, "until": self.until.isoformat(), "slot": self.slot,
                "choices": self.choices, "labels": self.labels, "batch": self.batch}

    @classmethod
    def of(cls, d: dict[str, Any]) -> Pending:
        return cls(d["step"], d["business"], dict(d.get("params") or {}), d.get("msisdn"), d["id"],
                   dt.datetime.fromisoformat(d["until"]), d.get("slot"), dict(d.get("choices") or {}),
                   list(d.get("labels") or []), list(d.get("batch") or []))


@dataclass
class FlowState:
    """What one conversation holds for the flow; stored by the channel as ``as_dict()``."""

    msisdn: str | None = None
    assurances: list[Assurance] = field(default_factory=list)
    pending: Pending | None = None
    last: dict[str, Any] | None = None        # the last business done: {business, params}

    def as_dict(self) -> dict[str, Any]:
        return {"msisdn": self.msisdn, "assurances": [a.as_dict() for a in self.assurances],
                "pending": self.pending.as_dict() if self.pending else None, "last": self.last}

    @classmethod
    def of(cls, d: dict[str, Any] | None) -> FlowState:
        d = d or {}
        return cls(d.get("msisdn"), [Assurance.of(a) for a in d.get("assurances") or []],
                   Pending.of(d["pending"]) if d.get("pending") else None, d.get("last"))

    # -------------------------------------------------------------- identity
    def identify(self, msisdn: str | None) -> bool:
        """The customer names (or the channel says) the number the conversation is about. Naming another
        number drops every assurance and the pending step. Returns True when the number changed."""
        if msisdn == self.msisdn:
            return False
        self.msisdn = msisdn
        self.assurances = []
        self.pending = None
        self.last = None
        return True

    def grant(self, level: Level, channel: str, until: dt.datetime) -> None:
        """An assurance for the current number (a proof just made, or the channel's edge asserting it)."""
        if self.msisdn is None:
            raise ValueError("no number to grant an assurance for")
        self.assurances = [a for a in self.assurances if a.level != level] + [
            Assurance(self.msisdn, level, channel, until)]

    def level(self, channel: str, now: dt.datetime) -> Level:
        live = [a.level for a in self.assurances
                if a.msisdn == self.msisdn and a.channel == channel and a.until > now]
        return max(live, default=Level.NONE)

    def pending_live(self, now: dt.datetime) -> Pending | None:
        return self.pending if self.pending is not None and self.pending.until > now else None


# ---------------------------------------------------------------------- events in
@dataclass(frozen=True)
class Ask:
    """A request for a business, with the raw slot values the customer gave."""
    business: Business
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Yes:
    """The customer agrees to the pending confirmation."""


@dataclass(frozen=True)
class No:
    """The customer declines: the pending step ends, nothing is done."""


@dataclass(frozen=True)
class Give:
    """A value for the pending slot: a choice's number, a value, or text to parse."""
    value: Any


@dataclass(frozen=True)
class Password:
    secret: str


@dataclass(frozen=True)
class Code:
    code: str


@dataclass(frozen=True)
class Number:
    msisdn: str


@dataclass(frozen=True)
class SendCode:
    """The customer asks for a (new) one-time code instead of giving the password."""


Event = Ask | Yes | No | Give | Password | Code | Number | SendCode


@dataclass(frozen=True)
class Context:
    """Who is asking, through which channel. ``channel`` is the catalogue's name (sms, assistant, agent,
    web, ivr); ``key`` is the base of idempotency keys (the channel's message or request id)."""
    channel: str
    actor: Actor
    lang: str
    key: str
    now: dt.datetime
    client: str = ""

    @property
    def en(self) -> bool:
        return self.lang.startswith("en")


# ---------------------------------------------------------------------- steps out
@dataclass
class Step:
    kind: str
    business: Business | None = None


@dataclass
class AskSlot(Step):
    slot: Slot | None = None
    prompt: str = ""
    labels: list[str] = field(default_factory=list)   # numbered choices, when there are any


@dataclass
class AskNumber(Step):
    pass


@dataclass
class AskPassword(Step):
    pass


@dataclass
class CodeSent(Step):
    masked: str = ""


@dataclass
class Confirm(Step):
    what: str = ""
    price: str = ""
    effective: str = ""
    off: bool = False                 # a cancellation (worded as such)
    free: bool = True
    items: list[str] = field(default_factory=list)   # further items confirmed together
    preview: dict[str, Any] = field(default_factory=dict)


@dataclass
class Done(Step):
    texts: list[str] = field(default_factory=list)
    sensitive: bool = False
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Refused(Step):
    """The flow cannot go on: a polite message (a domain error, a business not on this channel …)."""
    text: str = ""
    code: str = ""


@dataclass
class Cancelled(Step):
    what: str = ""


@dataclass
class NothingToChoose(Step):
    pass


def _step(kind: str, business: Business | None = None, **kw: Any) -> Step:
    cls = {"slot": AskSlot, "number": AskNumber, "password": AskPassword, "code": CodeSent, "confirm": Confirm,
           "done": Done, "refused": Refused, "cancelled": Cancelled, "nothing": NothingToChoose}[kind]
    return cls(kind, business, **kw)


class CodeSender(Protocol):
    async def send(self, msisdn: str, purpose: str, *, client: str, lang: str = "zh") -> Any: ...

    async def check(self, msisdn: str, purpose: str, code: str, *, client: str = "") -> None: ...


# ---------------------------------------------------------------------- the flow
class Flow:
    def __init__(self, services: Services, codes: CodeSender | None = None, sealer: Sealer | None = None) -> None:
        self.services = services
        self.catalog = services.catalog
        self.codes = codes
        # Secret slots (a PIN, a new password) wait for their step sealed, never in clear in the state.
        self.sealer = sealer or Sealer(Sealer.new_key())

    async def handle(self, state: FlowState, event: Event, ctx: Context) -> list[Step]:
        """One event in, the steps out. Domain errors become a polite ``Refused`` step."""
        try:
            return await self._handle(state, event, ctx)
        except DomainError as err:
            return [_step("refused", None, text=err.message(ctx.lang), code=err.code)]

    async def _handle(self, state: FlowState, event: Event, ctx: Context) -> list[Step]:
        if isinstance(event, Ask):
            state.pending = None
            return await self.start(state, event.business, event.raw, ctx)
        pending = state.pending_live(ctx.now)
        if pending is None:
            state.pending = None
            return []
        b = self.catalog.get(pending.business)
        params = self._params(pending)
        if pending.msisdn != state.msisdn:      # the conversation moved to another number meanwhile
            state.pending = None
            return [_step("cancelled", b, what=self._what(b, params, ctx))]
        if isinstance(event, No):
            state.pending = None
            return [_step("cancelled", b, what=self._what(b, params, ctx))]
        if pending.step == "confirm":
            if not isinstance(event, Yes):
                state.pending = None
                return [_step("cancelled", b, what=self._what(b, params, ctx))]
            state.pending = None
            return await self._confirmed(state, b, pending, ctx)
        if pending.step == "password":
            if isinstance(event, SendCode):
                return await self._send_code(state, b, params, ctx)
            if not isinstance(event, Password):
                return []
            return await self._password(state, b, pending, event.secret, ctx)
        if pending.step == "code":
            if isinstance(event, SendCode):
                return await self._send_code(state, b, params, ctx)
            if not isinstance(event, Code):
                return []
            return await self._code(state, b, pending, event.code, ctx)
        if pending.step == "number":
            if not isinstance(event, Number):
                return []
            return await self._number(state, b, pending, event.msisdn, ctx)
        if pending.step == "slot":
            if not isinstance(event, Give):
                return []
            slot = b.slot(pending.slot or "")
            assert slot is not None
            raw = event.value
            if isinstance(raw, str) and raw.strip() in pending.choices:
                raw = pending.choices[raw.strip()]
            elif pending.choices and raw not in pending.choices.values():
                return [self._ask_again(b, pending)]
            value = self.services.parse_slot(slot, raw)
            state.pending = None
            return await self._advance(state, b, {**params, slot.name: value}, ctx)
        return []

    # -------------------------------------------------------------- steps of a business
    async def start(self, state: FlowState, b: Business, raw: dict[str, Any], ctx: Context) -> list[Step]:
        if ctx.channel not in b.channels:
            guide = b.guide.get(ctx.channel, ctx.lang) if b.guide else self._name(b, ctx)
            return [_step("refused", b, text=guide, code="not_on_channel")]
        params = self.services.bind(b, raw, check_required=False)
        return await self._advance(state, b, params, ctx)

    async def _advance(self, state: FlowState, b: Business, params: dict[str, Any], ctx: Context) -> list[Step]:
        """The next step: who you are, a missing slot, the password or code, the confirmation; or do it."""
        level = needed(self.services, b)
        if level > Level.NONE:
            if state.msisdn is None:
                self._pend(state, "number", b, params, ctx)
                return [_step("number", b)]
            if state.level(ctx.channel, ctx.now) < Level.POSSESSION:
                # Not proven yet: a number that is not ours gets no code (a proven one was ours when proven).
                if not await self._ours(state.msisdn):
                    return [_step("refused", b, text=_not_ours(ctx.lang), code="not_ours")]
                return await self._send_code(state, b, params, ctx)
        slot = self.services.missing(b, params)
        if slot is not None:
            return await self._ask_slot(state, b, params, slot, ctx)
        if level > state.level(ctx.channel, ctx.now):
            self._pend(state, "password", b, params, ctx)
            return [_step("password", b)]
        if self.catalog.confirmed(b):
            self._pend(state, "confirm", b, params, ctx)
            return [self._confirm(b, params, ctx)]
        return await self._execute(state, b, params, ctx, f"{ctx.channel}:{ctx.key}")

    async def _confirmed(self, state: FlowState, b: Business, pending: Pending, ctx: Context) -> list[Step]:
        params = self._params(pending)
        if state.level(ctx.channel, ctx.now) < needed(self.services, b) or self.services.missing(b, params):
            return await self._advance(state, b, params, ctx)    # expired meanwhile: prove (or give) again
        if not pending.batch:
            return await self._execute(state, b, params, ctx, f"{ctx.channel}:{pending.id}")
        steps: list[Step] = []    # several confirmed together: each runs (or is refused) on its own
        items = [(b, params), *((self.catalog.get(x["business"]), x["params"]) for x in pending.batch)]
        for i, (item, item_params) in enumerate(items):
            try:
                steps += await self._execute(state, item, item_params, ctx, f"{ctx.channel}:{pending.id}:{i}")
            except DomainError as err:
                steps.append(_step("refused", item, text=err.message(ctx.lang), code=err.code))
        return steps

    async def _execute(self, state: FlowState, b: Business, params: dict[str, Any], ctx: Context,
                       key: str) -> list[Step]:
        msisdn = state.msisdn or ""
        req = Request(b, msisdn, params, ctx.actor, key, ctx.lang)
        try:
            outcome = await self.services.execute(req)
        except MissingSlot as missing:     # the handler found it needs more (a city from a visitor)
            return await self._ask_slot(state, b, params, missing.slot, ctx)
        state.last = {"business": b.code, "params": {k: v for k, v in _jsonable(params).items() if not _secret(b, k)}}
        texts = self.services.render(b, outcome, ctx.channel, ctx.lang)
        return [_step("done", b, texts=texts, sensitive=outcome.sensitive, data=outcome.data)]

    async def _ask_slot(self, state: FlowState, b: Business, params: dict[str, Any], slot: Slot,
                        ctx: Context) -> list[Step]:
        choices: dict[str, str] = {}
        labels: list[str] = []
        if slot.type is SlotType.PRODUCT:
            options = await self.services.offer(b, slot.name, state.msisdn)
            if not options:
                return [_step("nothing", b)]
            off = self.catalog.cancels(b, params)
            for i, p in enumerate(options, 1):
                choices[str(i)] = p.code
                name = p.name_en if ctx.en else p.name_zh
                labels.append(name if off else f"{name} {p.fee_text_en if ctx.en else p.fee_text_zh}")
        elif slot.type is SlotType.CHOICE:
            for i, value in enumerate(slot.choices, 1):
                choices[str(i)] = value
                labels.append(self.services._choice_name(value, slot, ctx.en))
        self._pend(state, "slot", b, params, ctx, slot=slot.name, choices=choices, labels=labels)
        prompt = slot.prompt_en if ctx.en else slot.prompt_zh
        return [_step("slot", b, slot=slot, prompt=prompt, labels=labels)]

    def _ask_again(self, b: Business, pending: Pending) -> Step:
        slot = b.slot(pending.slot or "")
        return _step("slot", b, slot=slot, prompt="", labels=pending.labels)

    def _confirm(self, b: Business, params: dict[str, Any], ctx: Context) -> Confirm:
        p = self.services.preview(b, params, ctx.lang)
        off = self.catalog.cancels(b, params)
        free = not p["price"] or p["price"] in ("免费", "free")
        shown = {k: str(v) for k, v in params.items() if not _secret(b, k)}
        step = _step("confirm", b, what=p["what"], price=p["price"], effective=p["effective"], off=off, free=free,
                     preview={**shown, **p})
        assert isinstance(step, Confirm)
        return step

    async def confirm_batch(self, state: FlowState, items: list[tuple[Business, dict[str, Any]]],
                            ctx: Context) -> list[Step]:
        """Several changes confirmed with one yes (the cancellations picked from a 0000 list). Each must be
        open to the channel, need no more than the assurance held, and (when cancelling) be cancellable."""
        steps: list[Step] = []
        ok: list[tuple[Business, dict[str, Any]]] = []
        for b, raw in items:
            if ctx.channel not in b.channels or needed(self.services, b) > state.level(ctx.channel, ctx.now):
                steps.append(_step("refused", b, text=self._name(b, ctx), code="not_on_channel"))
                continue
            params = self.services.bind(b, raw)
            if self.catalog.cancels(b, params) and state.msisdn and "product" in params:
                try:
                    await self.services.check_cancellable(state.msisdn, params["product"])
                except DomainError as err:
                    steps.append(_step("refused", b, text=err.message(ctx.lang), code=err.code))
                    continue
            ok.append((b, params))
        if not ok:
            return steps
        (b, params), rest = ok[0], ok[1:]
        self._pend(state, "confirm", b, params, ctx,
                   batch=[{"business": x.code, "params": _jsonable(p)} for x, p in rest])
        step = self._confirm(b, params, ctx)
        step.items = [self._what(x, p, ctx) for x, p in rest]
        return steps + [step]

    # -------------------------------------------------------------- a form, confirmed outside the flow
    async def check(self, state: FlowState, b: Business, raw: dict[str, Any], ctx: Context) -> tuple[
            dict[str, Any], Confirm | None]:
        """For a channel that shows a whole form and confirms by itself (the desk: the agent reads the
        confirmation to the customer): the bound parameters and what to confirm, after the same checks
        the conversation runs — the channel, the number, the assurance, every required slot."""
        if ctx.channel not in b.channels:
            guide = b.guide.get(ctx.channel, ctx.lang) if b.guide else self._name(b, ctx)
            raise NotOnChannel(guide, guide)
        level = needed(self.services, b)
        if level > Level.NONE:
            if state.msisdn is None or not await self._ours(state.msisdn):
                raise SubscriberNotFound(_not_ours("zh"), _not_ours("en"))
            if state.level(ctx.channel, ctx.now) < level:
                raise NotAssured("该业务需先核实客户身份。", "This business needs the customer verified first.")
        params = self.services.bind(b, raw)
        if self.catalog.cancels(b, params) and state.msisdn and "product" in params:
            await self.services.check_cancellable(state.msisdn, params["product"])
        return params, self._confirm(b, params, ctx) if self.catalog.confirmed(b) else None

    async def carry_out(self, state: FlowState, b: Business, raw: dict[str, Any], ctx: Context) -> Done:
        """Run a business whose confirmation the channel took itself; ``ctx.key`` makes a retry run once."""
        params, _ = await self.check(state, b, raw, ctx)
        steps = await self._execute(state, b, params, ctx, f"{ctx.channel}:{ctx.key}")
        done = steps[-1]
        if not isinstance(done, Done):
            raise MissingSlot(b, b.slots[0]) if b.slots else DomainError("无法办理。", "Cannot be done.")
        return done

    # -------------------------------------------------------------- identity
    async def _password(self, state: FlowState, b: Business, pending: Pending, secret: str,
                        ctx: Context) -> list[Step]:
        assert state.msisdn is not None
        try:
            await self.services.bss.verify_password(state.msisdn, secret, actor=ctx.actor)
        except WrongPassword as err:      # the prompt stays open; the back end counts the failures
            return [_step("refused", b, text=err.message(ctx.lang), code=err.code)]
        except PasswordLocked as err:
            state.pending = None
            return [_step("refused", b, text=err.message(ctx.lang), code=err.code)]
        state.pending = None
        state.grant(Level.PASSWORD, ctx.channel, ctx.now + PROVEN_TTL)
        state.grant(Level.POSSESSION, ctx.channel, ctx.now + PROVEN_TTL)
        return await self._advance(state, b, self._params(pending), ctx)

    async def _send_code(self, state: FlowState, b: Business, params: dict[str, Any], ctx: Context) -> list[Step]:
        assert state.msisdn is not None
        if self.codes is None:
            raise DomainError("暂时无法发送验证码，请稍后再试。", "Codes cannot be sent now; please try later.")
        try:
            sent = await self.codes.send(state.msisdn, CODE_PURPOSE, client=ctx.client, lang=ctx.lang)
        except DomainError as err:
            if err.code == "otp_too_soon":     # a code sent moments ago is still live: it is the one to give
                self._pend(state, "code", b, params, ctx)
            return [_step("refused", b, text=err.message(ctx.lang), code=err.code)]
        self._pend(state, "code", b, params, ctx)
        return [_step("code", b, masked=getattr(sent, "masked", mask_msisdn(state.msisdn)))]

    async def _code(self, state: FlowState, b: Business, pending: Pending, code: str, ctx: Context) -> list[Step]:
        assert state.msisdn is not None and self.codes is not None
        try:
            await self.codes.check(state.msisdn, CODE_PURPOSE, code, client=ctx.client)
        except DomainError as err:
            if err.code != "otp_wrong":      # expired, none pending, locked: this step is over
                state.pending = None
            return [_step("refused", b, text=err.message(ctx.lang), code=err.code)]
        state.pending = None
        state.grant(Level.POSSESSION, ctx.channel, ctx.now + PROVEN_TTL)
        return await self._advance(state, b, self._params(pending), ctx)

    async def _number(self, state: FlowState, b: Business, pending: Pending, raw: str, ctx: Context) -> list[Step]:
        try:
            number = normalize_msisdn(raw)
        except InvalidMsisdn as err:     # the prompt stays open
            return [_step("refused", b, text=err.message(ctx.lang), code="bad_msisdn")]
        if not await self._ours(number):
            return [_step("refused", b, text=_not_ours(ctx.lang), code="bad_msisdn")]
        state.identify(number)
        return await self._advance(state, b, self._params(pending), ctx)

    def prove(self, state: FlowState, msisdn: str, level: Level, ctx: Context, ttl: dt.timedelta) -> None:
        """The channel's edge asserts the number (an SMS from it through the gateway, a call the SIP edge
        vouches for, an agent's verification within a contact)."""
        state.identify(msisdn)
        state.grant(level, ctx.channel, ctx.now + ttl)

    # -------------------------------------------------------------- helpers
    async def _ours(self, msisdn: str) -> bool:
        try:
            sub = await self.services.bss.subscriber(msisdn)
        except SubscriberNotFound:
            return False
        return sub.status is not Status.CLOSED

    def _pend(self, state: FlowState, step: str, b: Business, params: dict[str, Any], ctx: Context,
              **extra: Any) -> None:
        kept = {k: self.sealer.seal(str(v)) if _secret(b, k) and not is_sealed(v) else v
                for k, v in _jsonable(params).items()}
        if "batch" in extra:
            extra["batch"] = [{**item, "params": {k: v for k, v in item["params"].items()
                                                  if not _secret(self.catalog.get(item["business"]), k)}}
                              for item in extra["batch"]]
        state.pending = Pending(step, b.code, kept, state.msisdn, uuid.uuid4().hex, ctx.now + STEP_TTL, **extra)

    def _params(self, pending: Pending) -> dict[str, Any]:
        """A pending step's parameters with its sealed secrets opened (for the step that uses them)."""
        out = {}
        for k, v in pending.params.items():
            opened = self.sealer.open(v) if is_sealed(v) else v
            if opened is not None:       # unreadable (the key changed): asked for again as missing
                out[k] = opened
        return out

    def _what(self, b: Business, params: dict[str, Any], ctx: Context) -> str:
        try:
            return str(self.services.preview(b, params, ctx.lang)["what"])
        except DomainError:
            return self._name(b, ctx)

    @staticmethod
    def _name(b: Business, ctx: Context) -> str:
        return b.name_en if ctx.en else b.name_zh


class NotOnChannel(DomainError):
    code = "not_on_channel"
    status = 403


class NotAssured(DomainError):
    code = "verification_required"
    status = 403


def _not_ours(lang: str) -> str:
    return ("The number is not an active China Mobile number." if lang.startswith("en")
            else "该号码不是本网有效用户。")


def _secret(b: Business, name: str) -> bool:
    slot = b.slot(name)
    return slot is not None and slot.secret


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for k, v in params.items()}
