"""``Services``: binds a business's parameters, runs its handler, renders its reply for a channel."""

from __future__ import annotations

import string
from typing import Any

from hotline.bss.port import BSS
from hotline.care.tickets import Tickets
from hotline.catalog.catalog import Catalog
from hotline.catalog.schema import Business, Slot, SlotType
from hotline.domain.billing import Clock
from hotline.domain.errors import Conflict, DomainError, NotEligible
from hotline.domain.products import Effective, Product, yuan
from hotline.services import handlers as _handlers  # noqa: F401  (registers the handlers)
from hotline.services import slots
from hotline.services.base import HANDLERS, MissingSlot, Outcome, Request
from hotline.services.outbox import Outbox
from hotline.services.payments import Payments
from hotline.services.records import ServiceRecords
from hotline.services.sealed import Sealer
from hotline.store.sql.database import Database


class _Blank(dict):
    def __missing__(self, key: str) -> str:  # a template field the handler did not fill stays visible
        return "{" + key + "}"


class Services:
    def __init__(self, bss: BSS, catalog: Catalog, db: Database, clock: Clock, outbox: Outbox | None = None,
                 payments: Payments | None = None, sealer: Sealer | None = None) -> None:
        self.bss = bss
        self.sealer = sealer or Sealer(Sealer.new_key())   # codes a handler must keep (porting) are sealed
        self.payments = payments   # online payment (pay links); None: not offered
        self.outbox = outbox if outbox is not None else Outbox(db, clock)   # every SMS the system sends
        self.tickets = Tickets(db, clock)   # the one ticket store, for every channel and the desk
        self.catalog = catalog
        self.products = bss.products
        self.clock = clock
        self.records = ServiceRecords(db, clock)

    # ------------------------------------------------------------------ parameters
    def bind(self, business: Business, raw: dict[str, Any], *, check_required: bool = True) -> dict[str, Any]:
        """Typed slot values from what the customer gave, with the business's presets applied.

        Raises ``MissingSlot`` for the first required slot not given, ``InvalidInput`` for a bad value.
        """
        values: dict[str, Any] = {}
        for slot in business.slots:
            given = business.preset.get(slot.name, raw.get(slot.name))
            if given is None or (isinstance(given, str) and not given.strip()):
                if slot.required and check_required:
                    raise MissingSlot(business, slot)
                continue
            try:
                values[slot.name] = slots.parse(slot, given, self.products, self.clock)
            except DomainError as err:
                if slot.prompt_zh and slot.name not in business.preset:  # say how to give it right
                    err.message_zh = f"{err.message_zh}{slot.prompt_zh}"
                    err.message_en = f"{err.message_en} {slot.prompt_en}".strip()
                raise
        return values

    def parse_slot(self, slot: Slot, raw: Any) -> Any:
        return slots.parse(slot, raw, self.products, self.clock)

    def missing(self, business: Business, params: dict[str, Any]):
        return next((s for s in business.slots if s.required and s.name not in params), None)

    def choices(self, business: Business, slot_name: str) -> list[Product]:
        """What a product slot can take, for channels that offer a list (cheapest first)."""
        slot = business.slot(slot_name)
        if slot is None or slot.type is not SlotType.PRODUCT:
            return []
        return sorted((p for p in self.products if p.kind.value in slot.kinds), key=lambda p: (p.fee_fen, p.code))

    async def cancellable(self, msisdn: str) -> set[str]:
        """What the subscriber may cancel: what they hold outside the plan and have not already cancelled.
        One rule for every channel (SMS 0000, 小贝, the desk)."""
        account = await self.bss.account(msisdn)
        return {s["code"] for s in account["subscriptions"] if not s["in_plan"] and s["end_cycle"] is None}

    async def check_cancellable(self, msisdn: str, product_code: str) -> None:
        """Refuse, before any confirmation, what cannot be cancelled (in the plan, not held, already ended)."""
        account = await self.bss.account(msisdn)
        p = self.products.get(product_code)
        held = [s for s in account["subscriptions"] if s["code"] == product_code]
        if any(s["in_plan"] for s in held):
            raise NotEligible(f"“{p.name_zh}”包含在您的套餐中，不能单独退订。",
                              f"{p.name_en} is part of your plan and cannot be cancelled alone.")
        if not any(s["end_cycle"] is None for s in held):
            raise Conflict(f"您没有订购“{p.name_zh}”或已退订。",
                           f"You do not have {p.name_en}, or it is already cancelled.")

    async def offer(self, business: Business, slot_name: str, msisdn: str | None) -> list[Product]:
        """The choices of a product slot for this subscriber: only what they can cancel when cancelling,
        and not what they already have (or their own plan) when ordering."""
        options = self.choices(business, slot_name)
        if msisdn is None:
            return options
        if self.catalog.policy(business).cancels:
            mine = await self.cancellable(msisdn)
            return [p for p in options if p.code in mine]
        if self.catalog.policy(business).changes and business.slot("action") is None:
            account = await self.bss.account(msisdn)
            held = {s["code"] for s in account["subscriptions"] if s["end_cycle"] is None}
            held.add((account.get("plan") or {}).get("code", ""))
            return [p for p in options if p.code not in held]
        return options

    # ------------------------------------------------------------------ carrying out
    async def execute(self, req: Request) -> Outcome:
        fn = HANDLERS[req.business.handler]
        missing = self.missing(req.business, req.params)
        if missing is not None:
            raise MissingSlot(req.business, missing)
        return await fn(self, req)

    def preview(self, business: Business, params: dict[str, Any], lang: str) -> dict[str, Any]:
        """What a confirmation shows: the product, its price and when it takes effect."""
        product_code = next((params[s.name] for s in business.slots
                             if s.type is SlotType.PRODUCT and s.name in params), None)
        en = lang.startswith("en")
        if product_code is None:
            named = {f"{s.name}_name": self._choice_name(params[s.name], s, en) for s in business.slots
                     if s.type is SlotType.CHOICE and s.name in params}
            what = business.name_en if en else business.name_zh
            money = [params[s.name] for s in business.slots if s.type is SlotType.MONEY and s.name in params]
            if money:   # an amount to pay is part of what is confirmed (在线缴费50.00元)
                what += f" ¥{yuan(money[0])}" if en else f"{yuan(money[0])}元"
            return {"what": what, "price": "", "effective": "", **named}
        p = self.products.get(product_code)
        cancelling = self.catalog.cancels(business, params)
        if cancelling or p.fee_fen == 0:
            price = "free" if en else "免费"
        else:
            price = p.fee_text_en if en else p.fee_text_zh
        if p.effective is Effective.NEXT_CYCLE:
            effective = "from the 1st of next month" if en else "次月1日生效"
        else:
            effective = "immediately" if en else "立即生效"
        return {"what": p.name_en if en else p.name_zh, "price": price, "effective": effective,
                "fee": yuan(p.fee_fen)}

    def _choice_name(self, value: str, slot: Slot, en: bool) -> str:
        """A choice as the customer reads it: a product's name, else the first word that means it."""
        if value in self.products.by_code:
            p = self.products.get(value)
            return p.name_en if en else p.name_zh
        words = slot.choices.get(value) or (value,)
        return value if en else words[0]

    # ------------------------------------------------------------------ replies
    def render(self, business: Business, outcome: Outcome, channel: str, lang: str) -> list[str]:
        texts = []
        for part in outcome.parts:
            template = business.text(part, channel, lang)
            if template is None:
                raise KeyError(f"business {business.code} has no reply template {part!r}")
            texts.append(string.Formatter().vformat(template, (), _Blank(outcome.data)).strip())
        return texts
