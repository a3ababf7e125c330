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
from dataclasses import dataclass, field
from typing import Any, Callable

from hotline.bss.port import Actor
from hotline.catalog.schema import Auth, Business, SlotType
from hotline.channels.sms import grammar
from hotline.channels.sms.message import InboundSms, OutboundSms
from hotline.channels.sms.sessions import SmsStore
from hotline.channels.sms.texts import say
from hotline.domain.billing import Clock
from hotline.domain.errors import DomainError, InvalidMsisdn, PasswordLocked, SubscriberNotFound, WrongPassword
from hotline.domain.msisdn import normalize_msisdn
from hotline.domain.products import Product
from hotline.domain.subscriber import Status
from hotline.services.base import Request
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
                 assistant: Callable[[], Any] | None = None) -> None:
        self.services = services
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
        loaded = await self.store.load(msisdn, key if msg.message_id else None, now - dt.timedelta(minutes=1))
        if loaded.replies is not None:
            return [OutboundSms.from_dict(r) for r in loaded.replies]  # a redelivery: same answer, nothing rerun

        lang = "zh"
        turn = _Turn(msisdn, port, _printable(msg.text), key, lang, now, dict(loaded.state))
        if loaded.recent >= self.rate_per_minute:
            if loaded.recent == self.rate_per_minute:  # say it once per window, then stay quiet
                turn.say(say("rate_limited", lang))
        else:
            try:
                sub = await self.services.bss.get_subscriber(msisdn)
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
            return turn.text
        head = turn.text.split("#")[0].split("＃")[0]
        return head + "#***" if head != turn.text else "******"

    @staticmethod
    def _until(state: dict[str, Any]) -> dt.datetime | None:
        times = [dt.datetime.fromisoformat(v["until"]) for v in state.values() if isinstance(v, dict) and "until" in v]
        return max(times) if times else None

    def _actor(self) -> Actor:
        return Actor("sms", "subscriber")

    def _live(self, item: dict | None, now: dt.datetime) -> bool:
        return bool(item) and dt.datetime.fromisoformat(item["until"]) > now

    # ------------------------------------------------------------------ routing one message
    async def _dispatch(self, turn: _Turn) -> None:
        pending = turn.state.get("pending")
        if pending:
            if self._live(pending, turn.now):
                if await self._continue(turn, pending):
                    return
            else:
                turn.state.pop("pending", None)
                if grammar.is_yes(turn.text) or grammar.password_reply(turn.text):
                    turn.say(say("expired", turn.lang))
                    return
        context = turn.state.get("context")
        if context and self._live(context, turn.now):
            if context["type"] == "menu" and await self._menu_choice(turn, context):
                return
            if context["type"] == "serials" and await self._serial_cancel(turn, context):
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
        await self._start(turn, parsed.business, parsed.params)

    async def _start(self, turn: _Turn, business: Business, raw: dict[str, Any]) -> None:
        turn.business = business.code
        if any(s.type in (SlotType.PASSWORD, SlotType.ID_NUMBER) for s in business.slots):
            turn.redact_text = True
        if "sms" not in business.channels:
            guide = business.guide.get("sms", turn.lang) if business.guide else say("not_on_sms", turn.lang,
                                                                                       what=business.name_zh)
            turn.say(guide)
            return
        if business.handler == "menu":
            await self._main_menu(turn, business)
            return
        params = self.services.bind(business, raw, check_required=False)
        await self._advance(turn, business, params, authed=False)

    async def _advance(self, turn: _Turn, business: Business, params: dict[str, Any], *, authed: bool,
                       note: str = "") -> None:
        """The next step of a business: ask for a missing slot, the password, the confirmation; or do it."""
        slot = self.services.missing(business, params)
        if slot is not None:
            await self._ask_slot(turn, business, params, slot.name)
            return
        what = business.name_en if turn.lang == "en" else business.name_zh
        if business.auth is Auth.PASSWORD and not authed:
            self._pend(turn, "password", business, params)
            turn.say(say("password", turn.lang, what=what))
            return
        if business.confirm:
            self._pend(turn, "confirm", business, params)
            turn.say(self._confirm_text(business, params, turn.lang))
            if note:
                turn.say(note)
            return
        await self._execute(turn, business, params, f"sms:{turn.key}")
        if note:
            turn.say(note)

    def _pend(self, turn: _Turn, kind: str, business: Business, params: dict[str, Any], **extra: Any) -> str:
        pid = uuid.uuid4().hex
        turn.state["pending"] = {"type": kind, "business": business.code, "params": params, "id": pid,
                                 "until": (turn.now + STEP_TTL).isoformat(), **extra}
        return pid

    def _confirm_text(self, business: Business, params: dict[str, Any], lang: str) -> str:
        preview = self.services.preview(business, params, lang)
        own = business.text("confirm", "sms", lang)
        if own:
            return own.format_map(_Keep({**{k: str(v) for k, v in params.items()}, **preview}))
        if preview["price"]:
            return say("confirm", lang, **preview)
        return say("confirm_free", lang, what=preview["what"])

    async def _execute(self, turn: _Turn, business: Business, params: dict[str, Any], key: str,
                       port: str | None = None) -> bool:
        req = Request(business, turn.msisdn, params, self._actor(), key, turn.lang)
        try:
            outcome = await self.services.execute(req)
        except DomainError as err:
            turn.say(err.message(turn.lang), port)
            return False
        sender = port or (business.sms.reply_port if business.sms.reply_port != grammar.MAIN_PORT else turn.port)
        for text in self.services.render(business, outcome, "sms", turn.lang):
            turn.say(text, sender)
        turn.sensitive = turn.sensitive or outcome.sensitive
        if "serials" in outcome.data:  # a 0000 listing: the next reply may be serial numbers to cancel
            turn.state["context"] = {"type": "serials", "map": outcome.data["serials"], "port": sender,
                                     "id": uuid.uuid4().hex, "until": (turn.now + STEP_TTL).isoformat()}
        return True

    # ------------------------------------------------------------------ the steps of a pending business
    async def _continue(self, turn: _Turn, pending: dict[str, Any]) -> bool:
        """Handle a reply to a pending step; False when the message is a new command instead."""
        business = self.catalog.get(pending["business"])
        turn.business = business.code
        params = pending["params"]
        what = business.name_en if turn.lang == "en" else business.name_zh
        if pending["type"] == "confirm":
            turn.state.pop("pending")
            if grammar.is_yes(turn.text):
                await self._execute(turn, business, params, f"sms:{pending['id']}")
                return True
            turn.say(say("cancelled", turn.lang, what=self.services.preview(business, params, turn.lang)["what"]))
            return grammar.parse(self.catalog, self.services.products, turn.port, turn.text) is None

        if pending["type"] == "password":
            turn.redact_text = True
            reply = grammar.password_reply(turn.text)
            if reply is None:
                if grammar.command_key(turn.text).lstrip("*").isdigit():
                    turn.say(say("password_format", turn.lang))
                    return True
                turn.state.pop("pending")
                turn.redact_text = False
                turn.say(say("cancelled", turn.lang, what=what))
                return grammar.parse(self.catalog, self.services.products, turn.port, turn.text) is None
            password, short = reply
            try:
                await self.services.bss.verify_password(turn.msisdn, password, actor=self._actor())
            except WrongPassword as err:
                turn.say(err.message(turn.lang))  # says how many tries remain; the prompt stays open
                return True
            except PasswordLocked as err:
                turn.state.pop("pending")
                turn.say(err.message(turn.lang))
                return True
            turn.state.pop("pending")
            note = say("short_password", turn.lang) if short else ""
            await self._advance(turn, business, params, authed=True, note=note)
            return True

        # a slot: the reply is its value (or the number of one of the offered choices)
        slot = business.slot(pending["slot"])
        choices = pending.get("choices") or {}
        text = grammar.normalize(turn.text)
        if text in choices:
            value: Any = choices[text]
        elif grammar.parse(self.catalog, self.services.products, turn.port, turn.text) is not None:
            turn.state.pop("pending")
            return False
        else:
            value = text
        turn.state.pop("pending")
        params = {**params, slot.name: self.services.parse_slot(slot, value)}
        await self._advance(turn, business, params, authed=False)
        return True

    async def _ask_slot(self, turn: _Turn, business: Business, params: dict[str, Any], name: str) -> None:
        slot = business.slot(name)
        prompt = (slot.prompt_en if turn.lang == "en" else slot.prompt_zh) or say("unknown_menu", turn.lang)
        choices: dict[str, str] = {}
        lines: list[str] = []
        if slot.type is SlotType.PRODUCT:
            options = await self._product_options(turn, business, name)
            for i, p in enumerate(options, 1):
                choices[str(i)] = p.code
                label = p.name_en if turn.lang == "en" else p.name_zh
                fee = "" if business.handler == "product.cancel" else \
                    " " + (p.fee_text_en if turn.lang == "en" else p.fee_text_zh)
                lines.append(f"{i}.{label}{fee}")
            if not options:
                turn.say(say("nothing_to_choose", turn.lang))
                return
        elif slot.type is SlotType.CHOICE:
            for i, (value, words) in enumerate(slot.choices.items(), 1):
                choices[str(i)] = value
                lines.append(f"{i}.{words[0] if words else value}")
        self._pend(turn, "slot", business, params, slot=name, choices=choices)
        if lines:
            turn.say(say("choose", turn.lang, prompt=prompt, lines="\n".join(lines)))
        else:
            turn.say(prompt)

    async def _product_options(self, turn: _Turn, business: Business, name: str) -> list[Product]:
        options = self.services.choices(business, name)
        if business.handler == "product.cancel":  # offer what the customer has, not the whole shop
            account = await self.services.bss.account(turn.msisdn)
            mine = {s["code"] for s in account["subscriptions"] if not s["in_plan"] and s["end_cycle"] is None}
            options = [p for p in options if p.code in mine]
        return options

    # ------------------------------------------------------------------ menus
    async def _main_menu(self, turn: _Turn, business: Business | None = None) -> None:
        """The catalogue's menu business (service.menu), remembered so that a digit goes deeper."""
        business = business or next(b for b in self.catalog if b.handler == "menu")
        await self._execute(turn, business, {}, f"sms:{turn.key}")
        turn.state["context"] = {"type": "menu", "level": "main", "until": (turn.now + STEP_TTL).isoformat()}

    def _category_items(self, category: str) -> list[Business]:
        return [b for b in self.catalog.in_category(category) if b.parent is None and b.sms.menu]

    async def _menu_choice(self, turn: _Turn, context: dict[str, Any]) -> bool:
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
            await self._main_menu(turn)
            return True
        code = context.get("items", {}).get(choice)
        if code is None:
            turn.say(say("menu_bad", turn.lang, choice=choice))
            return True
        turn.state.pop("context", None)
        await self._start(turn, self.catalog.get(code), {})
        return True

    # ------------------------------------------------------------------ 0000 serial cancellation
    async def _serial_cancel(self, turn: _Turn, context: dict[str, Any]) -> bool:
        key = grammar.command_key(grammar.normalize(turn.text))
        if key in {"全部", "全部退订", "退订全部", "QXQB", "ALL", "QB"}:
            turn.say(say("no_cancel_all", turn.lang), context["port"])
            return True
        chosen = grammar.serials(turn.text)
        if chosen is None:
            return False
        turn.business = "query.subscriptions"
        for n in dict.fromkeys(chosen):  # each serial once, in the order given
            code = context["map"].get(n)
            if code is None:
                turn.say(say("serial_bad", turn.lang, choice=n), context["port"])
                continue
            business, params = self._canceller(code)
            if business is None:
                turn.say(say("not_on_sms", turn.lang, what=code), context["port"])
                continue
            await self._execute(turn, business, params, f"sms:{context['id']}:{n}", port=context["port"])
        return True

    def _canceller(self, product_code: str) -> tuple[Business | None, dict[str, Any]]:
        """The catalogue business that cancels a product: its own, else the generic one for its kind."""
        kind = self.services.products.get(product_code).kind.value
        own = next((b for b in self.catalog if b.handler == "product.cancel"
                    and b.preset.get("product") == product_code), None)
        if own is not None:
            return own, {"product": product_code}
        generic = next((b for b in self.catalog if b.handler == "product.cancel" and not b.preset
                        and any(s.type is SlotType.PRODUCT and kind in s.kinds for s in b.slots)), None)
        if generic is not None:
            return generic, {"product": product_code}
        feature = next((b for b in self.catalog if b.handler == "feature.set"
                        and b.preset.get("product") == product_code and b.slot("action")), None)
        if feature is not None:
            return feature, {"product": product_code, "action": "off"}
        return None, {}

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
        assistant = self.assistant()
        result = await assistant.handle(turn.text, conversation_id=f"sms-{turn.msisdn}", msisdn=turn.msisdn,
                                        channel="sms", lang=turn.lang, verified=True)
        turn.business = result.intent if result.intent in self.catalog else turn.business
        for reply in result.replies:
            turn.say(reply.text)
        stage = result.state.get("stage", "idle")
        turn.state["assistant"] = {"until": (turn.now + STEP_TTL).isoformat(), "stage": stage}
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
