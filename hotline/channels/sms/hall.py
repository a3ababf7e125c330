"""The SMS business hall (短信营业厅): one inbound text in, the replies out.

The flow of one message: dedupe by the gateway's message id → rate limit → the number's session
(a pending confirmation or password prompt, a menu position, the 0000 serial numbers) → the
command grammar → the business's slots, password and confirmation steps → the service layer →
replies rendered from the catalogue, cut into SMS segments. The message, its replies and the new
session are stored in one transaction, so a restart mid-flow continues and a redelivered message
gets the same answer without running twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hotline.bss.port import Actor
from hotline.catalog.schema import Business
from hotline.channels.sms import grammar
from hotline.channels.sms.message import InboundSms, OutboundSms
from hotline.channels.sms.sessions import SmsStore
from hotline.channels.sms.texts import say
from hotline.domain.billing import Clock
from hotline.domain.errors import DomainError, InvalidMsisdn, SubscriberNotFound
from hotline.domain.msisdn import normalize_msisdn
from hotline.domain.subscriber import Status
from hotline.services.flow import (
    Ask,
    AskPassword,
    AskSlot,
    Cancelled,
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
    Password,
    Refused,
    Step,
    Yes,
)
from hotline.services.redact import redact
from hotline.services.service import Services

log = logging.getLogger("hotline.sms")
STEP_TTL = dt.timedelta(minutes=10)


@dataclass
class _Turn:
    """One inbound message being handled."""

    msisdn: str
    port: str
    text: str
    key: str                    # msisdn:message-id, the base of idempotency keys
    lang: str
    now: dt.datetime
    state: dict[str, Any]
    out: list[tuple[str, str]] = field(default_factory=list)
    business: str | None = None
    redact_text: bool = False   # the message carries a password or ID number: log it masked
    sensitive: bool = False     # a reply carries a password: do not keep it

    def say(self, text: str, port: str | None = None) -> None:
        self.out.append((port or self.port, text))


class SmsHall:
    def __init__(self, services: Services, store: SmsStore, clock: Clock, *, rate_per_minute: int = 20,
                 assistant: Callable[[], Any] | None = None, flow: Flow | None = None) -> None:
        self.services = services
        self.flow = flow or Flow(services)
        self.assistant = assistant   # 小贝, for free text that is no command (built on first use)
        self.catalog = services.catalog
        self.store = store
        self.clock = clock
        self.rate_per_minute = rate_per_minute

    # ------------------------------------------------------------------ entry point
    async def handle(self, msg: InboundSms) -> list[OutboundSms]:
        now = self.clock.now()
        port = grammar.command_key(msg.to or grammar.MAIN_PORT) or grammar.MAIN_PORT
        try:
            msisdn = normalize_msisdn(msg.msisdn)
        except InvalidMsisdn:
            return [self._build(port, msg.msisdn, say("not_ours", "zh"), "zh")]
        key = f"{msisdn}:{msg.message_id}" if msg.message_id else f"{msisdn}:{uuid.uuid4().hex}"
        loaded = await self.store.load(msisdn, key if msg.message_id else None, now)   # counted atomically
        if loaded.replies is not None:
            return [OutboundSms.from_dict(r) for r in loaded.replies]  # a redelivery: same answer, nothing rerun

        lang = "zh"
        turn = _Turn(msisdn, port, _printable(msg.text), key, lang, now, dict(loaded.state))
        if loaded.recent >= self.rate_per_minute:
            if loaded.recent == self.rate_per_minute:  # say it once per window, then stay quiet
                turn.say(say("rate_limited", lang))
        else:
            try:
                sub = await self.services.bss.subscriber(msisdn)
                turn.lang = lang = sub.language or "zh"
                if sub.status is Status.CLOSED:
                    turn.say(say("not_ours", lang))
                else:
                    await self._dispatch(turn)
            except SubscriberNotFound:
                turn.say(say("not_ours", lang))
            except DomainError as err:
                turn.say(err.message(lang))
            except Exception:  # never leave the customer without an answer; nothing half-done is kept
                log.exception("sms: failed on a message from %s", msisdn[:3] + "****" + msisdn[-4:])
                turn.out = [(port, say("error", lang))]
                turn.state = dict(loaded.state)
        replies = [self._build(p, msisdn, t, lang) for p, t in turn.out]
        stored = [r.as_stored() for r in replies]
        if turn.sensitive:
            stored = [{**r, "text": say("redacted", lang), "parts": [say("redacted", lang)]} for r in stored]
        first = await self.store.save(msisdn=msisdn, message_key=key, port=port,
                                      text=self._loggable(turn), business=turn.business, replies=stored,
                                      state=turn.state, until=self._until(turn.state), now=now,
                                      had_state=bool(loaded.state))
        if first is not None:
            return [OutboundSms.from_dict(r) for r in first]
        return replies

    def _build(self, port: str, to: str, text: str, lang: str) -> OutboundSms:
        return OutboundSms.build(port, to, text, say("overflow", lang))

    @staticmethod
    def _loggable(turn: _Turn) -> str:
        if not turn.redact_text:
            return redact(turn.text)      # an ID number or a PIN inside free text, masked
        head = turn.text.split("#")[0].split("＃")[0]
        return head + "#***" if head != turn.text else "******"

    @staticmethod
    def _until(state: dict[str, Any]) -> dt.datetime | None:
        pending = (state.get("flow") or {}).get("pending")
        held = [*state.values(), pending] if pending else list(state.values())
        times = [dt.datetime.fromisoformat(v["until"]) for v in held if isinstance(v, dict) and "until" in v]
        return max(times) if times else None

    def _actor(self) -> Actor:
        return Actor("sms", "subscriber")

    def _live(self, item: dict | None, now: dt.datetime) -> bool:
        if not item:
            return False
        return dt.datetime.fromisoformat(item["until"]) > now

    # ------------------------------------------------------------------ routing one message
    def _ctx(self, turn: _Turn) -> Context:
        return Context("sms", self._actor(), turn.lang, turn.key, turn.now, client=f"sms:{turn.msisdn}")

    async def _dispatch(self, turn: _Turn) -> None:
        flow = FlowState.of(turn.state.get("flow"))
        # The gateway asserts the sender: the message itself proves possession of the number.
        self.flow.prove(flow, turn.msisdn, Level.POSSESSION, self._ctx(turn), STEP_TTL)
        try:
            await self._route(turn, flow)
        finally:
            if flow.pending or flow.last:
                turn.state["flow"] = flow.as_dict()
            else:
                turn.state.pop("flow", None)

    async def _route(self, turn: _Turn, flow: FlowState) -> None:
        if flow.pending is not None:
            if flow.pending_live(turn.now) is not None:
                if await self._continue(turn, flow):
                    return
            else:
                flow.pending = None
                if grammar.is_yes(turn.text) or grammar.password_reply(turn.text):
                    turn.say(say("expired", turn.lang))
                    return
        context = turn.state.get("context")
        if context and self._live(context, turn.now):
            if context["type"] == "menu" and await self._menu_choice(turn, flow, context):
                return
            if context["type"] == "serials" and await self._serial_cancel(turn, flow, context):
                return
        parsed = grammar.parse(self.catalog, self.services.products, turn.port, turn.text)
        if parsed is None:
            if self._for_assistant(turn):
                await self._assistant(turn)
                return
            if grammar.is_yes(turn.text):
                turn.say(say("nothing_pending", turn.lang))
                return
            self._unknown(turn)
            return
        turn.state.pop("context", None)
        turn.state.pop("assistant", None)   # a command ends a conversation with 小贝
        await self._start(turn, flow, parsed.business, parsed.params)

    async def _start(self, turn: _Turn, flow: FlowState, business: Business, raw: dict[str, Any]) -> None:
        turn.business = business.code
        if any(s.secret for s in business.slots):
            turn.redact_text = True
        if self.catalog.role(business) == "menu":
            await self._main_menu(turn, flow, business)
            return
        await self._run(turn, flow, Ask(business, raw))

    async def _run(self, turn: _Turn, flow: FlowState, event: Event, port: str | None = None,
                   note: str = "") -> None:
        """Feed the flow one event and send its steps as SMS."""
        for step in await self.flow.handle(flow, event, self._ctx(turn)):
            self._render(turn, step, port)
        if note:
            turn.say(note, port)

    def _render(self, turn: _Turn, step: Step, port: str | None) -> None:
        lang, b = turn.lang, step.business
        what = (b.name_en if lang == "en" else b.name_zh) if b is not None else ""
        if isinstance(step, Done):
            assert b is not None
            sender = port or (b.sms.reply_port if b.sms.reply_port != grammar.MAIN_PORT else turn.port)
            for text in step.texts:
                turn.say(text, sender)
            turn.sensitive = turn.sensitive or step.sensitive
            if "serials" in step.data:  # a 0000 listing: the next reply may be serial numbers to cancel
                turn.state["context"] = {"type": "serials", "map": step.data["serials"], "port": sender,
                                         "business": b.code,
                                         "id": uuid.uuid4().hex, "until": (turn.now + STEP_TTL).isoformat()}
        elif isinstance(step, Confirm):
            assert b is not None
            turn.say(self._confirm_text(b, step, lang), port)
        elif isinstance(step, AskPassword):
            turn.say(say("password", lang, what=what), port)
        elif isinstance(step, AskSlot):
            prompt = step.prompt
            if not prompt and step.slot is not None:
                prompt = step.slot.prompt_en if lang == "en" else step.slot.prompt_zh
            prompt = prompt or say("unknown_menu", lang)
            if step.labels:
                lines = "\n".join(f"{i}.{label}" for i, label in enumerate(step.labels, 1))
                turn.say(say("choose", lang, prompt=prompt, lines=lines), port)
            else:
                turn.say(prompt, port)
        elif isinstance(step, Cancelled):
            turn.say(say("cancelled", lang, what=step.what or what), port)
        elif isinstance(step, NothingToChoose):
            turn.say(say("nothing_to_choose", lang), port)
        elif isinstance(step, Refused):
            if step.code == "not_on_channel" and b is not None and b.guide is None:
                turn.say(say("not_on_sms", lang, what=what), port)
            else:
                turn.say(step.text, port)
        else:   # a number or a code: never asked by SMS, the gateway asserts the sender
            turn.say(say("error", lang), port)

    def _confirm_text(self, business: Business, step: Confirm, lang: str) -> str:
        own = business.text("confirm", "sms", lang)
        if own:
            return own.format_map(_Keep({k: str(v) for k, v in step.preview.items()}))
        what = step.what
        if step.items:
            what = (", " if lang == "en" else "、").join([step.what, *step.items])
        if step.off:
            return say("confirm_off", lang, what=what)
        if not step.free and not step.items:
            return say("confirm", lang, what=what, price=step.price, effective=step.effective)
        return say("confirm_free", lang, what=what)

    # ------------------------------------------------------------------ the reply to a pending step
    async def _continue(self, turn: _Turn, flow: FlowState) -> bool:
        """Turn a reply to the pending step into a flow event; False when the message is a new command."""
        pending = flow.pending
        assert pending is not None
        turn.business = pending.business
        if pending.step == "confirm":
            if grammar.is_yes(turn.text):
                await self._run(turn, flow, Yes())
                return True
            await self._run(turn, flow, No())
            return grammar.parse(self.catalog, self.services.products, turn.port, turn.text) is None

        if pending.step == "password":
            turn.redact_text = True
            reply = grammar.password_reply(turn.text)
            if reply is None:
                if grammar.command_key(turn.text).lstrip("*").isdigit():
                    turn.say(say("password_format", turn.lang))
                    return True
                turn.redact_text = False
                await self._run(turn, flow, No())
                return grammar.parse(self.catalog, self.services.products, turn.port, turn.text) is None
            password, short = reply
            steps = await self.flow.handle(flow, Password(password), self._ctx(turn))
            for step in steps:
                self._render(turn, step, None)
            if short and not any(isinstance(s, Refused) for s in steps):
                turn.say(say("short_password", turn.lang))
            return True

        if pending.step == "slot":
            text = grammar.normalize(turn.text)
            if text not in pending.choices and \
                    grammar.parse(self.catalog, self.services.products, turn.port, turn.text) is not None:
                flow.pending = None
                return False
            await self._run(turn, flow, Give(text))
            return True
        flow.pending = None
        return False

    # ------------------------------------------------------------------ menus
    async def _main_menu(self, turn: _Turn, flow: FlowState, business: Business | None = None) -> None:
        """The catalogue's menu business, remembered so that a digit goes deeper."""
        business = business or self.catalog.with_role("menu")
        assert business is not None
        await self._run(turn, flow, Ask(business))
        turn.state["context"] = {"type": "menu", "level": "main", "until": (turn.now + STEP_TTL).isoformat()}

    def _category_items(self, category: str) -> list[Business]:
        return [b for b in self.catalog.in_category(category) if b.parent is None and b.sms.menu]

    async def _menu_choice(self, turn: _Turn, flow: FlowState, context: dict[str, Any]) -> bool:
        choice = grammar.command_key(grammar.normalize(turn.text))
        if not choice.isdigit() or len(choice) > 2:  # 10086, 0000 … are commands, not menu choices
            return False
        if context["level"] == "main":
            cat = next((c for c in self.catalog.menu_categories() if str(c.menu) == choice), None)
            if cat is None:
                turn.say(say("menu_bad", turn.lang, choice=choice))
                return True
            items = self._category_items(cat.code)
            lines = []
            for i, b in enumerate(items, 1):
                cmd = next((grammar.command_key(c) for c in b.sms.commands if grammar.command_key(c).isascii()), "")
                name = b.name_en if turn.lang == "en" else b.name_zh
                lines.append(f"{i}.{name}" + (f" {cmd}" if cmd else ""))
            turn.state["context"] = {"type": "menu", "level": cat.code,
                                     "items": {str(i): b.code for i, b in enumerate(items, 1)},
                                     "until": (turn.now + STEP_TTL).isoformat()}
            turn.say(say("menu_category", turn.lang, category=cat.name_en if turn.lang == "en" else cat.name_zh,
                         lines="\n".join(lines)))
            return True
        if choice == "0":
            await self._main_menu(turn, flow)
            return True
        code = context.get("items", {}).get(choice)
        if code is None:
            turn.say(say("menu_bad", turn.lang, choice=choice))
            return True
        turn.state.pop("context", None)
        await self._start(turn, flow, self.catalog.get(code), {})
        return True

    # ------------------------------------------------------------------ 0000 serial cancellation
    async def _serial_cancel(self, turn: _Turn, flow: FlowState, context: dict[str, Any]) -> bool:
        if turn.port != context["port"]:   # serials answer the listing, on the port it came from (10086977)
            return False
        key = grammar.command_key(grammar.normalize(turn.text))
        listing = self.catalog.by_code.get(context.get("business", ""))
        if listing is not None and key in {grammar.command_key(w) for w in listing.sms.refuse_all}:
            turn.say(say("no_cancel_all", turn.lang), context["port"])
            return True
        chosen = grammar.serials(turn.text)
        if chosen is None:
            return False
        turn.business = listing.code if listing is not None else turn.business
        items: list[tuple[Business, dict[str, Any]]] = []
        for n in dict.fromkeys(chosen):  # each serial once, in the order given
            code = context["map"].get(n)
            if code is None:
                turn.say(say("serial_bad", turn.lang, choice=n), context["port"])
                continue
            found = self.catalog.canceller(code, self.services.products.get(code).kind.value)
            if found is None:
                turn.say(say("not_on_sms", turn.lang, what=code), context["port"])
                continue
            items.append(found)
        if items:
            for step in await self.flow.confirm_batch(flow, items, self._ctx(turn)):
                self._render(turn, step, context["port"])
        return True

    # ------------------------------------------------------------------ free text: 小贝
    def _for_assistant(self, turn: _Turn) -> bool:
        """Free text goes to the assistant: anything with Chinese in it, and any reply while a conversation
        with 小贝 is going on. A mistyped letter code still gets the closest commands."""
        if self.assistant is None or turn.port != grammar.MAIN_PORT:
            return False
        if self._live(turn.state.get("assistant"), turn.now):
            return True
        if grammar.is_yes(turn.text):   # a late 是 to the hall itself
            return False
        return any("\u4e00" <= c <= "\u9fff" for c in turn.text)

    async def _assistant(self, turn: _Turn) -> None:
        talk = turn.state.get("assistant") or {}
        if talk.get("stage") in ("password", "otp"):
            turn.redact_text = True   # the message is a password or a code
        assert self.assistant is not None   # _for_assistant checked it
        assistant = self.assistant()
        # The conversation id is the server's, kept in the number's SMS session; never derived from the number.
        result = await assistant.handle(turn.text, conversation_id=talk.get("conversation"), msisdn=turn.msisdn,
                                        channel="sms", lang=turn.lang, verified=True, client=f"sms:{turn.msisdn}")
        turn.business = result.intent if result.intent in self.catalog else turn.business
        for reply in result.replies:
            turn.say(reply.text)
        stage = result.state.get("stage", "idle")
        turn.state["assistant"] = {"until": (turn.now + STEP_TTL).isoformat(), "stage": stage,
                                   "conversation": result.conversation_id}
        turn.sensitive = turn.sensitive or result.sensitive

    # ------------------------------------------------------------------ not understood
    def _unknown(self, turn: _Turn) -> None:
        shown = grammar.normalize(turn.text)[:20]
        hints = grammar.suggestions(self.catalog, turn.text)
        text = say("unknown", turn.lang, text=shown)
        if hints:
            lines = "\n".join(f"{cmd} {b.name_en if turn.lang == 'en' else b.name_zh}" for cmd, b in hints)
            text += say("unknown_hint", turn.lang, lines=lines)
        else:
            text += say("unknown_menu", turn.lang)
        turn.say(text)


def _printable(text: str, limit: int = 1000) -> str:
    """The text without control or format characters (NUL, zero-width …), which phones send by mistake."""
    return "".join(c if c != "\t" else " " for c in text[:limit]
                   if c in "\n\t" or unicodedata.category(c)[0] != "C")


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
