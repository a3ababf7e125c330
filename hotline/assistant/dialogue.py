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
from typing import Any, cast

from hotline.assistant import sentiment as sentiment_
from hotline.assistant.knowledge import KnowledgeBase
from hotline.assistant.nlu import NLU, OOS, Understanding, normalize
from hotline.assistant.store import Conflict, Conversation, ConversationStore, Message, TurnWrite
from hotline.assistant.texts import say
from hotline.bss.port import Actor
from hotline.catalog.schema import Business, Slot, SlotType
from hotline.domain.billing import Clock
from hotline.domain.errors import DomainError, InvalidMsisdn, SubscriberNotFound
from hotline.domain.msisdn import normalize_msisdn
from hotline.services.flow import (
    Ask,
    AskNumber,
    AskPassword,
    AskSlot,
    Cancelled,
    CodeSent,
    Confirm,
    Context,
    Done,
    Event,
    Flow,
    FlowState,
    Give,
    Level,
    No,
    NothingToChoose,
    Number,
    Password,
    Refused,
    SendCode,
    Step,
    Yes,
)
from hotline.services.flow import Code as CodeEvent
from hotline.services.redact import redact
from hotline.services.sealed import is_sealed
from hotline.services.service import Services

log = logging.getLogger("hotline.assistant")

TTL = dt.timedelta(minutes=30)          # a conversation idle this long starts afresh (its transcript stays)
STEP_TTL = dt.timedelta(minutes=10)     # a pending confirmation or prompt
ASSERTED_TTL = dt.timedelta(minutes=10)  # a channel's edge vouches for the number (an SMS from it)
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
    secret: str | None = None   # a new web conversation's secret: the client needs it to continue or resume

    def as_dict(self) -> dict[str, Any]:
        out = {"conversation_id": self.conversation_id, "replies": [r.as_dict() for r in self.replies],
               "intent": self.intent, "confidence": None if self.confidence is None else round(self.confidence, 4),
               "state": self.state, "handoff": self.handoff}
        if self.secret:
            out["secret"] = self.secret
        return out


@dataclass
class _Turn:
    conv: Conversation
    text: str
    lang: str
    now: dt.datetime
    channel: str
    flow: FlowState = field(default_factory=FlowState)
    client: str = ""
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
                 clock: Clock, flow: Flow | None = None) -> None:
        self.services = services
        self.flow = flow or Flow(services)
        self.catalog = services.catalog
        self.nlu = nlu
        self.kb = kb
        self.store = store
        self.clock = clock

    # ------------------------------------------------------------------ entry point
    async def handle(self, text: str, *, conversation_id: str | None = None, msisdn: str | None = None,
                     channel: str = "web", lang: str | None = None, client_id: str | None = None,
                     verified: bool = False, secret: str | None = None, client: str = "") -> TurnResult:
        """Answer one message. ``msisdn`` is who the channel says the customer is; ``verified`` means the
        channel's edge asserts it (an SMS through the gateway), else a one-time code or the password proves
        it when a business needs it. A web conversation continues only with its ``secret``; a conversation
        of one channel is never continued from another."""
        for attempt in range(4):
            try:
                return await self._handle(text, conversation_id, msisdn, channel, lang, client_id, verified,
                                          secret, client)
            except Conflict:     # another turn of the same conversation won the race: replay on its state
                if attempt == 3:
                    raise Busy("上一条消息还在处理中，请稍候再发送。",
                               "Your previous message is still being handled; please send again in a moment.") \
                        from None
        raise AssertionError("unreachable")

    async def owns(self, conversation_id: str | None, channel: str, secret: str | None) -> bool:
        """Whether a client holding ``secret`` may continue (or follow the live chat of) this conversation."""
        if not conversation_id:
            return False
        conv = await self.store.load(conversation_id)
        return conv is not None and _may_continue(conv, channel, secret)

    async def _handle(self, text: str, conversation_id: str | None, msisdn: str | None, channel: str,
                      lang: str | None, client_id: str | None, verified: bool, secret: str | None,
                      client: str) -> TurnResult:
        now = self.clock.now()
        text = _printable(text)
        conv = await self.store.load(conversation_id, client_id) if conversation_id else None
        if conv is not None and not _may_continue(conv, channel, secret):
            conv = None                         # not this client's: a new conversation, nothing of the other
        if conv is not None and conv.replayed is not None:   # a retried message: the same answer, nothing rerun
            return TurnResult(conv.id, [Reply(r["text"]) for r in conv.replayed], None, None, self._public(conv))
        new_secret = None
        if conv is None:
            conv = Conversation(uuid.uuid4().hex, channel, None, {})
            if channel == "web":
                new_secret = secrets.token_urlsafe(24)
                conv.state["secret"] = _digest(new_secret)
        elif conv.expires_at is not None and conv.expires_at <= now:   # idle too long: afresh
            conv.state = {k: v for k, v in conv.state.items() if k in ("lang", "secret")}
        state = conv.state
        flow = FlowState.of(state.get("flow"))
        ctx_channel = _flow_channel(channel)
        if msisdn:
            try:
                number: str | None = normalize_msisdn(msisdn)
            except InvalidMsisdn:
                number = None
            if number and flow.identify(number):   # another number: nothing proven for the last one holds
                state.pop("pending", None)
                state.pop("last", None)
            if number and verified:
                flow.grant(Level.POSSESSION, ctx_channel, now + ASSERTED_TTL)
        conv.msisdn = flow.msisdn
        if lang is None and "lang" not in state and conv.msisdn:
            try:
                state["lang"] = (await self.services.bss.subscriber(conv.msisdn)).language or "zh"
            except (SubscriberNotFound, DomainError):
                state["lang"] = "zh"
        turn = _Turn(conv, text, lang or state.get("lang") or "zh", now, channel, flow, client)
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
        state["flow"] = flow.as_dict()
        conv.msisdn = flow.msisdn
        u = turn.understanding
        stored_text = "******" if turn.secret else redact(text)
        turn.write.messages.insert(0, Message("customer", stored_text, u.intent if u else None,
                                              u.confidence if u else None, client_id))
        for r in turn.replies:
            turn.write.messages.append(Message("assistant", "【已隐去敏感信息】" if turn.sensitive else r.text))
        await self.store.save(conv, turn.write, now, now + TTL)
        handoff = turn.write.handoff
        return TurnResult(conv.id, turn.replies, u.intent if u else None, u.confidence if u else None,
                          self._public(conv), _public_handoff(handoff), turn.sensitive, new_secret)

    def _public(self, conv: Conversation) -> dict[str, Any]:
        s = conv.state
        flow = FlowState.of(s.get("flow"))
        fp = flow.pending.as_dict() if flow.pending else {}
        pending = s.get("pending") or {}
        stage = pending.get("type") or {"code": "otp", "number": "msisdn"}.get(fp.get("step", ""), fp.get("step"))
        return {"stage": stage or "idle", "business": fp.get("business") or
                (s.get("last") or {}).get("business"), "slots": _shown(fp.get("params")) or
                _shown((s.get("last") or {}).get("params")) or {}, "msisdn": _mask(conv.msisdn),
                "verified": any(a.msisdn == flow.msisdn and a.until > self.clock.now() for a in flow.assurances),
                "handed_off": bool(s.get("handoff")),
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
        step = turn.flow.pending_live(turn.now)
        secret_step = step is not None and step.step in ("password", "code", "number")
        # a code, a password or a number is no mood
        mood = sentiment_.analyse("" if secret_step else text)
        if mood.label in ("angry", "negative"):
            state["sentiment"] = mood.label if state.get("sentiment") != "angry" else "angry"
            state.setdefault("cues", [])
            state["cues"] = list(dict.fromkeys(state["cues"] + list(mood.cues)))[:10]
        if not secret_step and _HUMAN.search(text):
            human = self.catalog.with_role("human")
            turn.understanding = Understanding(text, human.code if human else OOS, 1.0)
            await self._handoff(turn, "angry" if mood.angry else "asked", priority=mood.angry)
            return
        if mood.angry and not state.get("handoff"):
            turn.understanding = self.nlu.understand(text)
            await self._handoff(turn, "angry", priority=True)
            return
        if pending and await self._continue(turn, pending):
            return
        if step is not None and await self._continue_flow(turn):
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
        if self.catalog.role(business) == "human":
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

    # ------------------------------------------------------------------ a business, through the flow
    async def _start(self, turn: _Turn, business: Business, u: Understanding | None,
                     base: dict[str, Any] | None = None) -> None:
        state = turn.state
        state["misses"] = 0
        if self.catalog.role(business) == "article":
            article = self.kb.by_id.get(business.code)
            if article is not None:
                self._answer_article(turn, article)
                state["last"] = {"business": business.code, "params": {}}
                return
        params = dict(base or {})
        for k in business.preset:
            params.pop(k, None)
        if u is not None:
            params.update(self._slots_from(business, u, turn.text))
        await self._run(turn, Ask(business, params))

    async def _run(self, turn: _Turn, event: Event) -> None:
        """Feed the flow one event; say its steps as chat bubbles."""
        ctx = Context(_flow_channel(turn.channel), Actor("assistant", "subscriber"), turn.lang,
                      f"{turn.conv.id}:{turn.conv.seq + 1}", turn.now, client=turn.client or f"conv:{turn.conv.id}")
        for step in await self.flow.handle(turn.flow, event, ctx):
            self._render(turn, step)
        turn.conv.msisdn = turn.flow.msisdn

    def _render(self, turn: _Turn, step: Step) -> None:
        lang, b = turn.lang, step.business
        what = self._name(b, lang) if b is not None else ""
        yes_no = ["是", "不"] if lang == "zh" else ["yes", "no"]
        if isinstance(step, Done):
            for text in step.texts:
                turn.say(text)
            turn.sensitive = turn.sensitive or step.sensitive
            turn.state["last"] = turn.flow.last
        elif isinstance(step, Confirm):
            key = "confirm_off" if step.off else "confirm_free" if step.free else "confirm"
            turn.say(say(key, lang, **step.preview), choices=yes_no)
        elif isinstance(step, AskSlot):
            prompt = step.prompt or (step.slot.prompt_en if lang == "en" else step.slot.prompt_zh) \
                if step.slot is not None else step.prompt
            if step.labels:
                lines = "\n".join(f"{i}. {label}" for i, label in enumerate(step.labels, 1))
                turn.say(say("choose", lang, prompt=prompt or what + "：", lines=lines), choices=step.labels)
            elif step.slot is not None and step.slot.type is SlotType.TEXT and step.slot.name == "content":
                turn.say(say("ask_content", lang))     # its prompt is the SMS syntax
            else:
                turn.say(prompt or say("ask_content", lang))
        elif isinstance(step, AskNumber):
            turn.say(say("ask_msisdn", lang, what=what))
        elif isinstance(step, AskPassword):
            turn.say(say("password", lang, what=what))
        elif isinstance(step, CodeSent):
            turn.say(say("otp_sent", lang, masked=step.masked))
        elif isinstance(step, Cancelled):
            turn.say(say("cancelled", lang, what=step.what or what))
        elif isinstance(step, NothingToChoose):
            turn.say(say("nothing_to_choose", lang))
        elif isinstance(step, Refused):
            if step.code == "not_on_channel":
                turn.say(say("guide", lang, guide=step.text))
            elif step.code in ("not_ours", "bad_msisdn"):
                turn.say(say(step.code, lang))
            else:
                turn.say(step.text)

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

    # ------------------------------------------------------------------ the step a conversation waits on
    async def _continue_flow(self, turn: _Turn) -> bool:
        """A reply to the flow's pending step, as an event; False when it is something else (handled afresh)."""
        pending = turn.flow.pending
        assert pending is not None
        business = self.catalog.by_code.get(pending.business)
        text = turn.text.strip()
        compact = normalize(text).replace(" ", "")
        kind = pending.step
        if kind in ("password", "code") and _DIGITS.match(compact):
            turn.secret = True
            turn.understanding = Understanding("******", f"step.{'otp' if kind == 'code' else kind}", 1.0)
            event: Event = Password(compact.lstrip("*")) if kind == "password" else CodeEvent(compact)
            await self._run(turn, event)
            return True
        if (kind == "password" and _USE_OTP.search(text)) or (kind == "code" and _RESEND.search(text)):
            await self._run(turn, SendCode())
            return True
        if kind == "number":
            digits = re.sub(r"[\s-]", "", compact)
            if re.fullmatch(r"(\+?86)?1\d{10}", digits):
                turn.secret = True     # a number typed is personal data: kept masked
                await self._run(turn, Number(digits[-11:]))
                return True
        expect: tuple[str, ...] = ("act.affirm", "act.deny") if kind == "confirm" else ()
        u = self.nlu.understand(text, expect=expect)
        turn.understanding = u
        if kind == "slot" and business is not None:
            slot = business.slot(pending.slot or "")
            picked = pending.choices.get(compact.rstrip("号.、"))
            if picked is None and slot is not None:
                picked = self._pick_by_name(business, slot.name, u, text, pending.choices,
                                            (turn.state.get("last") or {}).get("params"))
            if picked is None and slot is not None and not pending.choices and u.intent != "act.deny" and (
                    u.intent == OOS or u.confidence < CONFIDENT or slot.type is SlotType.TEXT):
                picked = _entity_value(slot, u, self.services) or text
            if picked is not None:
                await self._run(turn, Give(picked))
                return True
        if u.intent == "act.deny" or normalize(text) in ("取消", "cancel", "退出", "不办了"):
            await self._run(turn, No())
            return True
        if u.intent == "act.affirm" and kind == "confirm":
            await self._run(turn, Yes())
            return True
        # Anything else: a correction ("不是，我要退订") or a new request replaces the step.
        if u.intent != OOS and u.confidence >= CONFIDENT and not u.intent.startswith("act."):
            turn.flow.pending = None
            await self._understand(turn, u)
            return True
        if kind == "confirm" and business is not None:
            what = self.services.preview(business, pending.params, turn.lang)["what"]
            turn.say(say("confirm_again", turn.lang, what=what))
            return True
        if kind == "slot" and pending.choices:
            lines = "\n".join(f"{k}. {v}" for k, v in zip(pending.choices, pending.labels)) or \
                ", ".join(pending.choices)
            turn.say(say("choose_again", turn.lang, lines=lines))
            return True
        if kind == "password":
            turn.say(say("password_format", turn.lang))
            return True
        if kind == "number":
            turn.say(say("bad_msisdn", turn.lang))
            return True
        turn.flow.pending = None
        return False

    async def _continue(self, turn: _Turn, pending: dict[str, Any]) -> bool:
        """A reply to 小贝's own question (which business was meant, a person, a complaint)."""
        kind = pending["type"]
        state = turn.state
        text = turn.text.strip()
        compact = normalize(text).replace(" ", "")
        expect: tuple[str, ...] = ("act.affirm", "act.deny") if kind in ("offer_human", "offer_complaint") else ()
        u = self.nlu.understand(text, expect=expect)
        turn.understanding = u
        if kind == "choose_intent":
            picked = (pending.get("choices") or {}).get(compact.rstrip("号.、"))
            if picked is not None:
                state.pop("pending")
                chosen = self.catalog.get(picked)
                turn.understanding = Understanding(text, chosen.code, 1.0, u.entities)
                await self._start(turn, chosen, None)
                return True
        if u.intent == "act.deny" or normalize(text) in ("取消", "cancel", "退出", "不办了"):
            state.pop("pending")
            if kind == "offer_human":
                state["misses"] = 0
            turn.say(say("anything_else", turn.lang))
            return True
        if u.intent == "act.affirm" and kind in ("offer_human", "offer_complaint"):
            state.pop("pending")
            complaint = self.catalog.with_role("complaint")
            if kind == "offer_human":
                await self._handoff(turn, "misunderstood")
            elif complaint is not None:
                await self._start(turn, complaint, None)
            return True
        intended = self.catalog.by_code.get(u.intent)
        if kind == "offer_complaint" and intended is not None and self.catalog.role(intended) == "complaint":
            state.pop("pending")
            await self._start(turn, intended, u)
            return True
        if u.intent != OOS and u.confidence >= CONFIDENT and not u.intent.startswith("act."):
            state.pop("pending")
            await self._understand(turn, u)
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
        if turn.flow.pending is not None:      # the business the customer was in the middle of
            pending = turn.flow.pending.as_dict()
            turn.flow.pending = None
        last = state.get("last") or {}
        business = pending.get("business") or last.get("business")
        slots = _shown(pending.get("params") or last.get("params") or {})
        u = turn.understanding
        intended = self.catalog.by_code.get(u.intent) if u is not None else None
        if intended is not None and self.catalog.role(intended) != "human":
            business = intended.code
        mood = sentiment_.analyse(turn.text)
        transcript = [{"role": r["role"], "text": r["text"]} for r in await self.store.transcript(turn.conv.id)]
        transcript.append({"role": "customer", "text": "******" if turn.secret else redact(turn.text)})
        event = {"msisdn": turn.flow.msisdn, "channel": turn.channel, "reason": reason, "priority": priority,
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
            p = services.products.by_code.get(cast(str, e.value))
            if p is not None and p.kind.value in slot.kinds:
                return p.code
        elif slot.type is SlotType.MONEY and e.type == "money":
            fen = cast(int, e.value)
            return f"{fen // 100}.{fen % 100:02d}"
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


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()   # a random 192-bit secret: no salt or KDF needed


def _flow_channel(channel: str) -> str:
    """The catalogue's name for where 小贝 is reached: by SMS or voice as those; web chat and the
    terminal are the assistant channel."""
    return channel if channel in ("sms", "ivr") else "assistant"


def _may_continue(conv: Conversation, channel: str, secret: str | None) -> bool:
    """Only from the channel it started on, and on the web only with its secret."""
    if conv.channel != channel:
        return False
    if channel != "web":
        return True
    held = conv.state.get("secret")
    if not held or not secret:
        return False
    return secrets.compare_digest(held, _digest(secret))


def _shown(params: dict[str, Any] | None) -> dict[str, Any]:
    """Slot values as shown to the client or an agent: ID numbers and secrets masked."""
    return {k: "******" if is_sealed(v) else redact(v) if isinstance(v, str) else v
            for k, v in (params or {}).items()}


class Busy(DomainError):
    code = "conversation_busy"
    status = 409


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
