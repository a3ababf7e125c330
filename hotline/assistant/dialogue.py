"""小贝's dialogue manager: one customer message in, the replies out, the conversation carried on.

A turn goes: the conversation's state → hand-off requests and anger first → the step the conversation
is waiting for (a slot, the password, a one-time code, a confirmation, an offer) → otherwise the
understanding of the message: a dialogue act, a business (slots from the message and the context,
then identity, password and confirmation before anything is done), a knowledge answer, or an honest
"I did not understand" with the closest businesses to choose from; twice in a row, a human is offered.
Businesses run through the same service layer as every other channel, with an idempotency key that
comes from the confirmation, so a repeated "是" never charges twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from hotline.assistant import sentiment as sentiment_
from hotline.assistant.knowledge import KnowledgeBase
from hotline.assistant.nlu import NLU, OOS, Understanding, normalize
from hotline.assistant.store import Conflict, Conversation, ConversationStore, Message, TurnWrite
from hotline.assistant.texts import say
from hotline.bss.port import Actor
from hotline.catalog.schema import Auth, Business, Slot, SlotType
from hotline.domain.billing import Clock
from hotline.domain.errors import DomainError, InvalidMsisdn, PasswordLocked, SubscriberNotFound, WrongPassword
from hotline.domain.msisdn import normalize_msisdn
from hotline.domain.subscriber import Status
from hotline.services.base import MissingSlot, Request
from hotline.services.otp import OTP_TRIES, OTP_TTL, SMS_SENDER
from hotline.services.service import Services

log = logging.getLogger("hotline.assistant")

TTL = dt.timedelta(minutes=30)          # a conversation idle this long starts afresh (its transcript stays)
STEP_TTL = dt.timedelta(minutes=10)     # a pending confirmation or prompt
AUTH_TTL = dt.timedelta(minutes=15)     # a verified password or code covers protected businesses this long
PUBLIC_HANDLERS = {"info", "menu", "store.locate", "fraud.verify"}   # need no subscriber
# What changes the account is confirmed in a chat even when free (a cancellation, a switch): the
# customer sees what 小贝 understood before it is done, and a misunderstanding costs nothing.
CHANGES = {"product.subscribe", "product.cancel", "plan.change", "feature.set", "status.change",
           "points.redeem", "payment.recharge", "marketing.set"}
CONFIDENT = 0.55                        # enough to switch business in the middle of a step

_HUMAN = re.compile(r"转人工|人工服务|人工客服|找客服|找人工|真人|接人工|要人工|人工台|人工坐席|客服人员|"
                    r"\bagent\b|\bhuman\b|real person", re.I)
_ELLIPTIC = re.compile(r"^(那|那么|那就|还有|再|换成|改成|改为|要是|如果是)|呢[?？]?$|的呢|呢$")
_ELLIPSIS = re.compile(r"^(那么|那就|那|还有|再问一下|再)|(的)?呢[?？。]*$")
_SAME = re.compile(r"刚才(那个|的)|还是(那个|刚才)|上次(那个|的)|一样的|同一个|跟刚才")
_RESEND = re.compile(r"重发|重新发|再发|没收到|resend", re.I)
_USE_OTP = re.compile(r"验证码|短信验证|忘(记|了)密码|不知道密码|没有密码|\bcode\b", re.I)
_DIGITS = re.compile(r"^\*?\d{4,8}$")
_ID_NUMBER = re.compile(r"\b\d{17}[\dXx]\b")


@dataclass
class Reply:
    text: str
    choices: list[str] = field(default_factory=list)   # numbered options the customer may pick
    article: str | None = None                          # the knowledge article an answer comes from

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text}
        if self.choices:
            out["choices"] = self.choices
        if self.article:
            out["article"] = self.article
        return out


@dataclass
class TurnResult:
    conversation_id: str
    replies: list[Reply]
    intent: str | None
    confidence: float | None
    state: dict[str, Any]
    handoff: dict[str, Any] | None = None
    sensitive: bool = False     # a reply carries a secret (a new password): deliver it, keep no copy

    def as_dict(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "replies": [r.as_dict() for r in self.replies],
                "intent": self.intent, "confidence": None if self.confidence is None else round(self.confidence, 4),
                "state": self.state, "handoff": self.handoff}


@dataclass
class _Turn:
    conv: Conversation
    text: str
    lang: str
    now: dt.datetime
    channel: str
    replies: list[Reply] = field(default_factory=list)
    write: TurnWrite = field(default_factory=TurnWrite)
    understanding: Understanding | None = None
    secret: bool = False          # the message is a password or code: stored masked
    sensitive: bool = False       # a reply carries a secret: stored redacted

    @property
    def state(self) -> dict[str, Any]:
        return self.conv.state

    def say(self, text: str, **extra: Any) -> None:
        self.replies.append(Reply(text, **extra))


class Assistant:
    def __init__(self, services: Services, nlu: NLU, kb: KnowledgeBase, store: ConversationStore,
                 clock: Clock) -> None:
        self.services = services
        self.catalog = services.catalog
        self.nlu = nlu
        self.kb = kb
        self.store = store
        self.clock = clock

    # ------------------------------------------------------------------ entry point
    async def handle(self, text: str, *, conversation_id: str | None = None, msisdn: str | None = None,
                     channel: str = "web", lang: str | None = None, client_id: str | None = None,
                     verified: bool = False) -> TurnResult:
        """Answer one message. ``msisdn`` is who the channel says the customer is; ``verified`` means the
        channel proved it (an SMS or a call from the number), else a one-time code proves it when needed."""
        for attempt in range(3):
            try:
                return await self._handle(text, conversation_id, msisdn, channel, lang, client_id, verified)
            except Conflict:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _handle(self, text: str, conversation_id: str | None, msisdn: str | None, channel: str,
                      lang: str | None, client_id: str | None, verified: bool) -> TurnResult:
        now = self.clock.now()
        text = _printable(text)
        conv = await self.store.load(conversation_id, client_id) if conversation_id else None
        if conv is not None and conv.replayed is not None:   # a retried message: the same answer, nothing rerun
            return TurnResult(conv.id, [Reply(r["text"]) for r in conv.replayed], None, None, self._public(conv))
        if conv is None:
            conv = Conversation(conversation_id or uuid.uuid4().hex, channel, None, {})
        elif conv.expires_at is not None and conv.expires_at <= now:
            conv.state = {k: v for k, v in conv.state.items() if k in ("msisdn", "lang")}   # idle too long: afresh
        state = conv.state
        if msisdn:
            try:
                number = normalize_msisdn(msisdn)
            except InvalidMsisdn:
                number = None
            if number and number != state.get("msisdn"):
                state.pop("auth_until", None)
                state["msisdn"] = number
                state["verified"] = verified
            elif number and verified:
                state["verified"] = True
        conv.msisdn = state.get("msisdn")
        if lang is None and "lang" not in state and conv.msisdn:
            try:
                state["lang"] = (await self.services.bss.get_subscriber(conv.msisdn)).language or "zh"
            except (SubscriberNotFound, DomainError):
                state["lang"] = "zh"
        turn = _Turn(conv, text, lang or state.get("lang") or "zh", now, channel)
        if lang:
            state["lang"] = lang
        try:
            await self._dispatch(turn)
        except DomainError as err:
            turn.say(err.message(turn.lang))
        except Conflict:
            raise
        except Exception:  # never leave the customer without an answer; nothing half-done is kept
            log.exception("assistant: failed on a message in conversation %s", conv.id)
            turn.replies = [Reply(say("error", turn.lang))]
        u = turn.understanding
        stored_text = "******" if turn.secret else text
        turn.write.messages.insert(0, Message("customer", stored_text, u.intent if u else None,
                                              u.confidence if u else None, client_id))
        for r in turn.replies:
            turn.write.messages.append(Message("assistant", "【已隐去敏感信息】" if turn.sensitive else r.text))
        await self.store.save(conv, turn.write, now, now + TTL)
        handoff = turn.write.handoff
        return TurnResult(conv.id, turn.replies, u.intent if u else None, u.confidence if u else None,
                          self._public(conv), _public_handoff(handoff), turn.sensitive)

    def _public(self, conv: Conversation) -> dict[str, Any]:
        s = conv.state
        pending = s.get("pending") or {}
        return {"stage": pending.get("type", "idle"), "business": pending.get("business") or
                (s.get("last") or {}).get("business"), "slots": pending.get("params") or
                (s.get("last") or {}).get("params") or {}, "msisdn": _mask(conv.msisdn),
                "verified": bool(s.get("verified")), "handed_off": bool(s.get("handoff")),
                "sentiment": s.get("sentiment", "neutral"), "misses": s.get("misses", 0)}

    # ------------------------------------------------------------------ routing one message
    async def _dispatch(self, turn: _Turn) -> None:
        text = turn.text
        state = turn.state
        if not normalize(text).strip():
            turn.say(say("empty", turn.lang))
            return
        pending = state.get("pending")
        if pending and dt.datetime.fromisoformat(pending["until"]) <= turn.now:
            state.pop("pending")
            pending = None
        secret_step = bool(pending) and pending["type"] in ("password", "otp", "msisdn")
        # a code, a password or a number is no mood
        mood = sentiment_.analyse("" if secret_step else text)
        if mood.label in ("angry", "negative"):
            state["sentiment"] = mood.label if state.get("sentiment") != "angry" else "angry"
            state.setdefault("cues", [])
            state["cues"] = list(dict.fromkeys(state["cues"] + list(mood.cues)))[:10]
        if not secret_step and _HUMAN.search(text):
            turn.understanding = Understanding(text, "service.human", 1.0)
            await self._handoff(turn, "angry" if mood.angry else "asked", priority=mood.angry)
            return
        if mood.angry and not state.get("handoff"):
            turn.understanding = self.nlu.understand(text)
            await self._handoff(turn, "angry", priority=True)
            return
        if pending and await self._continue(turn, pending):
            return
        await self._understand(turn)

    async def _understand(self, turn: _Turn, u: Understanding | None = None) -> None:
        state = turn.state
        u = u or self.nlu.understand(turn.text)
        last = state.get("last")
        if last and _ELLIPTIC.search(turn.text):   # "那话费呢": the question is what is left without 那…呢
            core = _ELLIPSIS.sub("", turn.text.strip())
            if core and core != turn.text.strip():
                v = self.nlu.understand(core, within=last["business"].split(".")[0] + ".")
                if v.intent in self.catalog.by_code and (u.intent not in self.catalog.by_code or
                                                         v.confidence > u.confidence):
                    u = Understanding(turn.text, v.intent, v.confidence, u.entities or v.entities,
                                      v.alternatives, v.scored)
        turn.understanding = u
        # Context: "那上个月的呢" / "还是刚才那个" continue the last business with what is new.
        if last and (u.intent == OOS or u.confidence < CONFIDENT or _ELLIPTIC.search(turn.text)
                     or _SAME.search(turn.text)):
            business = self.catalog.by_code.get(last["business"])
            if business is not None and (_SAME.search(turn.text) or self._fills_any(business, u)):
                if u.intent in (business.code, OOS) or u.confidence < CONFIDENT or _ELLIPTIC.search(turn.text) \
                        or _SAME.search(turn.text):
                    turn.understanding = Understanding(u.text, business.code, max(u.confidence, CONFIDENT),
                                                       u.entities, u.alternatives, u.scored)
                    params = dict(last.get("params") or {})
                    await self._start(turn, business, u, base=params)
                    return
        intent = u.intent
        if intent.startswith("act."):
            self._act(turn, intent)
            return
        if intent == OOS:
            article = self._article_for(turn.text)
            if article is not None and u.scored != OOS:
                self._answer_article(turn, article)
                return
            self._miss(turn, u, oos=u.scored == OOS)
            return
        business = self.catalog.by_code.get(intent)
        if business is None:
            self._miss(turn, u)
            return
        if business.code == "service.human":
            await self._handoff(turn, "asked")
            return
        await self._start(turn, business, u)

    def _act(self, turn: _Turn, intent: str) -> None:
        state = turn.state
        state["misses"] = 0
        if intent == "act.greet":
            turn.say(say("greet", turn.lang))
        elif intent == "act.thanks":
            turn.say(say("thanks", turn.lang))
        elif intent == "act.goodbye":
            turn.say(say("goodbye", turn.lang))
            state.pop("last", None)
        else:
            turn.say(say("anything_else", turn.lang))

    def _miss(self, turn: _Turn, u: Understanding, *, oos: bool = False) -> None:
        """Not understood (or not ours): say so; the second time in a row, offer a human."""
        state = turn.state
        state["misses"] = state.get("misses", 0) + 1
        if state["misses"] >= 2:
            self._pend(turn, "offer_human", None, {})
            turn.say(say("offer_human", turn.lang), choices=["是", "不"] if turn.lang == "zh" else ["yes", "no"])
            return
        if oos:
            turn.say(say("out_of_scope", turn.lang))
            return
        options = [(c, p) for c, p in ((u.scored, u.confidence), *u.alternatives)
                   if c in self.catalog.by_code and p >= 0.02][:3]
        if not options:
            turn.say(say("not_understood_plain", turn.lang))
            return
        names = [self._name(self.catalog.get(c), turn.lang) for c, _ in options]
        self._pend(turn, "choose_intent", None, {}, choices={str(i): c for i, (c, _) in enumerate(options, 1)})
        turn.say(say("not_understood", turn.lang, lines="\n".join(f"{i}. {n}" for i, n in enumerate(names, 1))),
                 choices=names)

    # ------------------------------------------------------------------ a business
    async def _start(self, turn: _Turn, business: Business, u: Understanding | None,
                     base: dict[str, Any] | None = None) -> None:
        state = turn.state
        state["misses"] = 0
        if business.handler == "info":
            article = self.kb.by_id.get(business.code)
            if article is not None:
                self._answer_article(turn, article)
                state["last"] = {"business": business.code, "params": {}}
                return
        if "assistant" not in business.channels:
            guide = business.guide.get("assistant", turn.lang) if business.guide else self._name(business, turn.lang)
            turn.say(say("guide", turn.lang, guide=guide))
            return
        params = dict(base or {})
        for k in business.preset:
            params.pop(k, None)
        if u is not None:
            params.update(self._slots_from(business, u, turn.text))
        params = self.services.bind(business, params, check_required=False)
        await self._advance(turn, business, params)

    async def _advance(self, turn: _Turn, business: Business, params: dict[str, Any]) -> None:
        """The next step: identity, a missing slot, the password, the confirmation; or do it."""
        state = turn.state
        needs_subscriber = business.handler not in PUBLIC_HANDLERS
        if needs_subscriber and not (state.get("msisdn") and (state.get("verified") or self._authed(turn))):
            if state.get("msisdn"):
                await self._send_otp(turn, business, params)
            else:
                self._pend(turn, "msisdn", business, params)
                turn.say(say("ask_msisdn", turn.lang, what=self._name(business, turn.lang)))
            return
        if needs_subscriber:
            sub = await self.services.bss.get_subscriber(state["msisdn"])
            if sub.status is Status.CLOSED:
                turn.say(say("not_ours", turn.lang))
                return
        slot = self.services.missing(business, params)
        if slot is not None:
            await self._ask_slot(turn, business, params, slot)
            return
        if business.auth is not Auth.NONE and not self._authed(turn):
            if business.auth is Auth.OTP:
                await self._send_otp(turn, business, params)
            else:
                self._pend(turn, "password", business, params)
                turn.say(say("password", turn.lang, what=self._name(business, turn.lang)))
            return
        if business.confirm or business.handler in CHANGES:
            self._pend(turn, "confirm", business, params)
            preview = self.services.preview(business, params, turn.lang)
            off = business.handler == "product.cancel" or params.get("action") == "off"
            key = "confirm_off" if off else "confirm" if preview["price"] and preview["price"] not in ("免费", "free") \
                else "confirm_free"
            turn.say(say(key, turn.lang, **preview), choices=["是", "不"] if turn.lang == "zh" else ["yes", "no"])
            return
        await self._execute(turn, business, params, f"assistant:{turn.conv.id}:{turn.conv.seq + 1}")

    async def _execute(self, turn: _Turn, business: Business, params: dict[str, Any], key: str) -> None:
        msisdn = turn.state.get("msisdn") or ""
        req = Request(business, msisdn, params, Actor("assistant", "subscriber"), key, turn.lang)
        try:
            outcome = await self.services.execute(req)
        except MissingSlot as missing:   # the handler found it needs more (a city from a visitor)
            await self._ask_slot(turn, business, params, missing.slot)
            return
        for text in self.services.render(business, outcome, "assistant", turn.lang):
            turn.say(text)
        turn.sensitive = turn.sensitive or outcome.sensitive
        turn.state["last"] = {"business": business.code, "params": _jsonable(params)}

    def _slots_from(self, business: Business, u: Understanding, text: str) -> dict[str, Any]:
        """Slot values the message itself gives (its entities; its words for choices; itself for free text)."""
        values: dict[str, Any] = {}
        for slot in business.slots:
            if slot.name in business.preset:
                continue
            v = _entity_value(slot, u, self.services)
            if v is None and slot.type is SlotType.CHOICE:
                v = _choice_in(slot, text)
            if v is None and slot.type is SlotType.ID_NUMBER:
                m = _ID_NUMBER.search(text)
                v = m.group(0) if m else None
            if v is None and slot.type is SlotType.TEXT and len(normalize(text)) >= 8 and slot.name == "content":
                v = text
            if v is not None:
                values[slot.name] = v
        return values

    def _fills_any(self, business: Business, u: Understanding) -> bool:
        return any(_entity_value(s, u, self.services) is not None for s in business.slots
                   if s.name not in business.preset)

    async def _ask_slot(self, turn: _Turn, business: Business, params: dict[str, Any], slot: Slot) -> None:
        prompt = (slot.prompt_en if turn.lang == "en" else slot.prompt_zh)
        choices: dict[str, str] = {}
        labels: list[str] = []
        if slot.type is SlotType.PRODUCT:
            options = self.services.choices(business, slot.name)
            if business.handler == "product.cancel":   # offer what the customer has, not the whole shop
                account = await self.services.bss.account(turn.state["msisdn"])
                mine = {s["code"] for s in account["subscriptions"] if not s["in_plan"] and s["end_cycle"] is None}
                options = [p for p in options if p.code in mine]
            if not options:
                turn.say(say("nothing_to_choose", turn.lang))
                return
            for i, p in enumerate(options, 1):
                choices[str(i)] = p.code
                name = p.name_en if turn.lang == "en" else p.name_zh
                fee = "" if business.handler == "product.cancel" else \
                    " " + (p.fee_text_en if turn.lang == "en" else p.fee_text_zh)
                labels.append(f"{name}{fee}")
        elif slot.type is SlotType.CHOICE:
            for i, (value, words) in enumerate(slot.choices.items(), 1):
                choices[str(i)] = value
                labels.append(self.services._choice_name(value, slot, turn.lang == "en"))
        self._pend(turn, "slot", business, params, slot=slot.name, choices=choices, labels=labels)
        if labels:
            lines = "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1))
            turn.say(say("choose", turn.lang, prompt=prompt or self._name(business, turn.lang) + "：", lines=lines),
                     choices=labels)
        elif slot.type is SlotType.TEXT and slot.name == "content":   # its prompt is the SMS syntax
            turn.say(say("ask_content", turn.lang))
        else:
            turn.say(prompt or say("ask_content", turn.lang))

    # ------------------------------------------------------------------ the step a conversation waits on
    async def _continue(self, turn: _Turn, pending: dict[str, Any]) -> bool:
        """Handle a reply to a pending step; False when the message is something else (handled afresh)."""
        kind = pending["type"]
        business = self.catalog.by_code.get(pending.get("business") or "")
        params = pending.get("params") or {}
        state = turn.state
        text = turn.text.strip()
        compact = normalize(text).replace(" ", "")

        if kind in ("password", "otp") and _DIGITS.match(compact):
            turn.secret = True
            turn.understanding = Understanding("******", f"step.{kind}", 1.0)
            state.pop("pending")
            if kind == "password":
                return await self._check_password(turn, business, params, pending, compact)
            return await self._check_otp(turn, business, params, pending, compact)
        if kind == "password" and _USE_OTP.search(text):
            state.pop("pending")
            await self._send_otp(turn, business, params)
            return True
        if kind == "otp" and _RESEND.search(text):
            state.pop("pending")
            await self._send_otp(turn, business, params)
            return True
        if kind == "msisdn":
            digits = re.sub(r"[\s-]", "", compact)
            if re.fullmatch(r"(\+?86)?1\d{10}", digits):
                try:
                    number = normalize_msisdn(digits[-11:])
                    await self.services.bss.get_subscriber(number)
                except (InvalidMsisdn, SubscriberNotFound):
                    turn.say(say("bad_msisdn", turn.lang))
                    return True
                state.pop("pending")
                state["msisdn"], state["verified"] = number, False
                turn.conv.msisdn = number
                await self._send_otp(turn, business, params)
                return True

        expect: tuple[str, ...] = ()
        if kind in ("confirm", "offer_human", "offer_complaint"):
            expect = ("act.affirm", "act.deny")
        u = self.nlu.understand(text, expect=expect)
        turn.understanding = u

        if kind == "choose_intent" or kind == "slot":
            choices: dict[str, str] = pending.get("choices") or {}
            picked = choices.get(compact.rstrip("号.、"))
            if picked is None and kind == "slot" and business is not None:
                picked = self._pick_by_name(business, pending["slot"], u, text, choices,
                                            (state.get("last") or {}).get("params"))
            if picked is not None:
                state.pop("pending")
                if kind == "choose_intent":
                    chosen = self.catalog.get(picked)
                    turn.understanding = Understanding(text, chosen.code, 1.0, u.entities)
                    await self._start(turn, chosen, None)
                else:
                    slot = business.slot(pending["slot"])
                    params = {**params, slot.name: self.services.parse_slot(slot, picked)}
                    await self._advance(turn, business, params)
                return True
            if kind == "slot" and business is not None and not choices:
                slot = business.slot(pending["slot"])
                if slot is not None and (u.intent == OOS or u.confidence < CONFIDENT
                                         or slot.type is SlotType.TEXT) and u.intent != "act.deny":
                    state.pop("pending")
                    value = _entity_value(slot, u, self.services) or text
                    params = {**params, slot.name: self.services.parse_slot(slot, value)}
                    await self._advance(turn, business, params)
                    return True

        if u.intent == "act.deny" or normalize(text) in ("取消", "cancel", "退出", "不办了"):
            state.pop("pending")
            if kind == "offer_human":
                state["misses"] = 0
                turn.say(say("anything_else", turn.lang))
            elif business is not None:
                what = self.services.preview(business, params, turn.lang)["what"]
                turn.say(say("cancelled", turn.lang, what=what))
            else:
                turn.say(say("anything_else", turn.lang))
            return True
        if u.intent == "act.affirm" and kind in ("confirm", "offer_human", "offer_complaint"):
            state.pop("pending")
            if kind == "confirm":
                await self._execute(turn, business, params, f"assistant:{pending['id']}")
            elif kind == "offer_human":
                await self._handoff(turn, "misunderstood")
            else:
                await self._start(turn, self.catalog.get("care.complaint"), None)
            return True
        if kind == "offer_complaint" and u.intent.startswith("care.complaint"):
            state.pop("pending")
            await self._start(turn, self.catalog.get(u.intent), u)
            return True
        # Anything else: a correction ("不是，我要退订") or a new request replaces the step.
        if u.intent != OOS and u.confidence >= CONFIDENT and not u.intent.startswith("act."):
            state.pop("pending")
            await self._understand(turn, u)
            return True
        if kind == "confirm" and business is not None:
            what = self.services.preview(business, params, turn.lang)["what"]
            turn.say(say("confirm_again", turn.lang, what=what))
            return True
        if kind == "slot" and pending.get("choices"):
            labels = pending.get("labels") or []
            lines = "\n".join(f"{k}. {v}" for k, v in zip(pending["choices"], labels)) or \
                ", ".join(pending["choices"])
            turn.say(say("choose_again", turn.lang, lines=lines))
            return True
        if kind in ("password",):
            turn.say(say("password_format", turn.lang))
            return True
        state.pop("pending")
        return False

    def _pick_by_name(self, business: Business, slot_name: str, u: Understanding, text: str,
                      choices: dict[str, str], last: dict[str, Any] | None) -> str | None:
        slot = business.slot(slot_name)
        if slot is None:
            return None
        v = _entity_value(slot, u, self.services)
        if v is None and slot.type is SlotType.CHOICE:
            v = _choice_in(slot, text)
        if v is None and _SAME.search(text):   # "还是刚才那个": what the last business used
            v = (last or {}).get(slot_name)
        if v is not None and (not choices or v in choices.values()):
            return v
        return None

    async def _check_password(self, turn: _Turn, business: Business | None, params: dict[str, Any],
                              pending: dict[str, Any], password: str) -> bool:
        msisdn = turn.state["msisdn"]
        try:
            await self.services.bss.verify_password(msisdn, password.lstrip("*"), actor=Actor("assistant", "subscriber"))
        except WrongPassword as err:
            turn.state["pending"] = pending    # the prompt stays open; the back end counts the failures
            turn.say(err.message(turn.lang))
            return True
        except PasswordLocked as err:
            turn.say(err.message(turn.lang))
            return True
        turn.state["auth_until"] = (turn.now + AUTH_TTL).isoformat()
        if business is not None:
            await self._advance(turn, business, params)
        return True

    # ------------------------------------------------------------------ one-time codes
    async def _send_otp(self, turn: _Turn, business: Business | None, params: dict[str, Any]) -> None:
        msisdn = turn.state["msisdn"]
        code = f"{secrets.randbelow(10**6):06d}"
        self._pend(turn, "otp", business, params, digest=_digest(turn.conv.id, code), tries=0,
                   code_until=(turn.now + OTP_TTL).isoformat())
        turn.write.outbox.append((msisdn, SMS_SENDER, say("otp_sms", turn.lang, code=code), "otp"))
        turn.say(say("otp_sent", turn.lang, masked=_mask(msisdn)))

    async def _check_otp(self, turn: _Turn, business: Business | None, params: dict[str, Any],
                         pending: dict[str, Any], code: str) -> bool:
        if dt.datetime.fromisoformat(pending["code_until"]) <= turn.now:
            turn.say(say("otp_expired", turn.lang))
            await self._send_otp(turn, business, params)
            return True
        if not secrets.compare_digest(pending["digest"], _digest(turn.conv.id, code)):
            tries = pending["tries"] + 1
            if tries >= OTP_TRIES:
                turn.say(say("otp_failed", turn.lang))
                return True
            turn.state["pending"] = {**pending, "tries": tries}
            turn.say(say("otp_wrong", turn.lang, left=OTP_TRIES - tries))
            return True
        turn.state["verified"] = True
        turn.state["auth_until"] = (turn.now + AUTH_TTL).isoformat()
        if business is not None:
            await self._advance(turn, business, params)
        return True

    def _authed(self, turn: _Turn) -> bool:
        until = turn.state.get("auth_until")
        return bool(until) and dt.datetime.fromisoformat(until) > turn.now

    # ------------------------------------------------------------------ knowledge and hand-off
    def _article_for(self, text: str):
        hits = self.kb.search(text, k=1)
        if hits and hits[0][1] >= KB_MIN_SCORE:
            return hits[0][0]
        return None

    def _answer_article(self, turn: _Turn, article) -> None:
        turn.state["misses"] = 0
        turn.say(say("article", turn.lang, body=article.body(turn.lang), title=article.title(turn.lang)),
                 article=article.id)

    async def _handoff(self, turn: _Turn, reason: str, *, priority: bool = False) -> None:
        state = turn.state
        if state.get("handoff"):
            turn.say(say("handoff_waiting", turn.lang))
            return
        pending = state.pop("pending", None) or {}
        last = state.get("last") or {}
        business = pending.get("business") or last.get("business")
        slots = pending.get("params") or last.get("params") or {}
        u = turn.understanding
        if u is not None and u.intent in self.catalog.by_code and u.intent != "service.human":
            business = u.intent
        mood = sentiment_.analyse(turn.text)
        transcript = [{"role": r["role"], "text": r["text"]} for r in await self.store.transcript(turn.conv.id)]
        transcript.append({"role": "customer", "text": turn.text})
        event = {"msisdn": state.get("msisdn"), "channel": turn.channel, "reason": reason, "priority": priority,
                 "business": business, "slots": _jsonable(slots),
                 "sentiment": {"label": state.get("sentiment", mood.label), "score": round(mood.score, 2),
                               "cues": state.get("cues", list(mood.cues))},
                 "transcript": transcript}
        turn.write.handoff = event
        state["handoff"] = {"reason": reason, "priority": priority, "at": turn.now.isoformat()}
        state["misses"] = 0
        if priority:
            self._pend(turn, "offer_complaint", None, {})
            turn.say(say("handoff_priority", turn.lang))
        else:
            turn.say(say("handoff", turn.lang))

    # ------------------------------------------------------------------ helpers
    def _pend(self, turn: _Turn, kind: str, business: Business | None, params: dict[str, Any], **extra: Any) -> None:
        turn.state["pending"] = {"type": kind, "business": business.code if business else None,
                                 "params": _jsonable(params), "id": uuid.uuid4().hex,
                                 "until": (turn.now + STEP_TTL).isoformat(), **extra}

    @staticmethod
    def _name(business: Business, lang: str) -> str:
        return business.name_en if lang.startswith("en") else business.name_zh


KB_MIN_SCORE = 6.0   # BM25 score below which an article is not a confident answer


def _entity_value(slot: Slot, u: Understanding, services: Services) -> Any:
    """The first entity of the message that fits the slot, as the raw value ``Services.bind`` takes."""
    for e in u.entities:
        if slot.type is SlotType.PRODUCT and e.type == "product":
            p = services.products.by_code.get(e.value)
            if p is not None and p.kind.value in slot.kinds:
                return p.code
        elif slot.type is SlotType.MONEY and e.type == "money":
            return f"{e.value // 100}.{e.value % 100:02d}"
        elif slot.type is SlotType.MONTH and e.type == "month":
            return str(e.value)
        elif slot.type is SlotType.MSISDN and e.type == "msisdn":
            return str(e.value)
        elif slot.type is SlotType.PHONE and e.type in ("msisdn", "phone"):
            return str(e.value)
        elif slot.type is SlotType.CITY and e.type == "city":
            return str(e.value)
        elif slot.type is SlotType.INT and e.type == "number":
            return str(e.value)
    return None


def _choice_in(slot: Slot, text: str) -> str | None:
    """A choice whose word occurs in the text (the longest word wins: 关闭 over 关)."""
    t = normalize(text)
    best: tuple[int, str] | None = None
    for value, words in slot.choices.items():
        for w in words:
            wl = w.lower()
            if len(wl) >= 1 and wl in t and (best is None or len(wl) > best[0]):
                best = (len(wl), value)
    return best[1] if best else None


def _digest(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _mask(msisdn: str | None) -> str | None:
    return f"{msisdn[:3]}****{msisdn[-4:]}" if msisdn else None


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for k, v in params.items()}


def _public_handoff(event: dict[str, Any] | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {k: event[k] for k in ("reason", "priority", "business", "slots", "sentiment")}


def _printable(text: str, limit: int = 1000) -> str:
    return "".join(c for c in str(text)[:limit] if c in "\n" or not (ord(c) < 32 or 0x7f <= ord(c) < 0xa0))
