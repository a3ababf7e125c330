"""Money in, in the reference BSS: top-up cards, verified online payments and agents' adjustments.

Each credit is one order (one database transaction: the subscriber row, a ledger row, the order row and
its audit row), idempotent on its key like every order. Nothing here credits without something paid:
a card (its PIN checked), a payment the provider confirmed, or an adjustment the desk's limits or a
supervisor allowed (hotline/desk/adjustments.py decides that before calling ``adjust``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from hotline.bss import cards
from hotline.bss import records as rec
from hotline.bss.port import Actor, OrderResult
from hotline.bss.records import Effects, Holding
from hotline.domain.billing import MAX_RECHARGE_FEN, Clock
from hotline.domain.errors import InvalidInput, NotEligible
from hotline.domain.msisdn import normalize_msisdn
from hotline.domain.products import yuan
from hotline.domain.subscriber import Status, Subscriber
from hotline.store.sql.database import Database

if TYPE_CHECKING:
    from hotline.bss.reference import Decide

# A dummy digest to spend the same time on an unknown serial as on a known one.
_DUMMY = cards.hash_pin("0" * 18, 2**10, b"hotline-dummy-16")


class MoneyIn:
    """Mixed into ``ReferenceBSS``: the ways money enters an account."""

    db: Database
    clock: Clock
    kdf_n: int
    max_card_failures: int = 5

    if TYPE_CHECKING:
        async def _order(self, msisdn: str, kind: str, key: str, actor: Actor, params: dict[str, Any],
                         decide: Decide, product_code: str | None = None) -> OrderResult: ...

    # ------------------------------------------------------------------ top-up cards
    async def redeem_card(self, msisdn: str, serial: str, pin: str, *, key: str, actor: Actor) -> OrderResult:
        """Credit a card's face value once. A wrong PIN counts toward a lock (per number and per card,
        a day, Asia/Shanghai) *before* it is checked, so concurrent guesses cannot exceed the limit."""
        msisdn = normalize_msisdn(msisdn)
        serial, pin = cards.clean_serial(serial), cards.clean_pin(pin)
        existing = await self.db.run(rec.find_order, key, write=False) if key else None
        if existing is not None:   # a retried request answers as the first did, without another guess
            return await self._order(msisdn, "topup_card", key, actor, {"serial": serial}, _never)
        stored = await self.db.run(self._reserve_attempt, msisdn, serial)
        ok = await asyncio.to_thread(cards.verify_pin, pin, stored or _DUMMY)
        if not ok or stored is None:
            left = await self.db.run(self._wrong_pin, msisdn, serial, actor)
            if left <= 0:
                raise _card_locked(self.max_card_failures)
            raise cards.WrongCardPin(f"充值卡序列号或密码错误，今天还可以再试{left}次。",
                                     f"Wrong card serial or PIN; {left} more tries today.", tries_left=left)
        await self.db.run(self._release_attempt, msisdn, serial)

        def decide(conn: Connection, sub: Subscriber, holdings: list[Holding], fx: Effects) -> dict[str, Any]:
            card = cards.find_card(conn, serial, lock=self.db.for_update)
            if card.status != "active":
                raise cards.CardUsed("这张充值卡已经使用过，不能重复充值。如有疑问请拨打10086。",
                                     "This top-up card has already been used. Call 10086 if this is unexpected.")
            if card.expires_on < self.clock.today():
                raise cards.CardExpired(f"这张充值卡已于{card.expires_on:%Y年%m月%d日}过期，不能充值。",
                                        f"This top-up card expired on {card.expires_on:%Y-%m-%d}.")
            if sub.status is Status.CLOSED:
                raise NotEligible("该号码已销户，不能充值。", "This number is closed and cannot be recharged.")
            if not cards.mark_used(conn, card.id, sub.id, fx.now):
                raise cards.CardUsed("这张充值卡已经使用过，不能重复充值。", "This top-up card has already been used.")
            _credit(sub, fx, "topup_card", card.face_value_fen, f"充值卡充值{yuan(card.face_value_fen)}元")
            fx.audit.append(("card.redeem", {"serial": serial, "face_value_fen": card.face_value_fen}))
            return {"balance_fen": sub.balance_fen, "status": sub.status.value,
                    "face_value_fen": card.face_value_fen, "serial": serial}

        result = await self._order(msisdn, "topup_card", key, actor, {"serial": serial}, decide)
        if not result.replayed:   # for the card's own record; the order names the serial already
            await self.db.run(cards.link_order, serial, result.order_id)
        return result

    def _keys(self, msisdn: str, serial: str) -> tuple[str, str]:
        return f"card-msisdn:{msisdn}", f"card-serial:{serial}"

    def _reserve_attempt(self, conn: Connection, msisdn: str, serial: str) -> str | None:
        """Count this attempt as a failure up front (undone when the PIN is right); refuse when locked.
        Returns the card's PIN digest, or None for an unknown serial."""
        today = self.clock.today()
        card = cards.find_card(conn, serial)
        keys = self._keys(msisdn, serial) if card is not None else self._keys(msisdn, serial)[:1]  # no junk rows
        for k in keys:
            if cards.counter(conn, k, today, lock=self.db.for_update) >= self.max_card_failures:
                raise _card_locked(self.max_card_failures)
        for k in keys:
            cards.add(conn, k, today, 1)
        return card.pin_hash if card is not None else None

    def _release_attempt(self, conn: Connection, msisdn: str, serial: str) -> None:
        today = self.clock.today()
        for k in self._keys(msisdn, serial):
            cards.counter(conn, k, today, lock=self.db.for_update)
            cards.add(conn, k, today, -1)   # the attempt counted up front was right after all

    def _wrong_pin(self, conn: Connection, msisdn: str, serial: str, actor: Actor) -> int:
        """Audit a wrong PIN (already counted); the tries left today for the number or the card."""
        today = self.clock.today()
        used = max(cards.counter(conn, k, today, lock=False) for k in self._keys(msisdn, serial))
        sub_id = conn.execute(select(rec.subscribers.c.id).where(rec.subscribers.c.msisdn == msisdn)).scalar()
        rec.write_audit(conn, self.clock.now(), actor.channel, actor.id, "card.redeem.wrong_pin", msisdn, sub_id,
                        {"serial": serial, "failures_today": used})
        return self.max_card_failures - used

    async def create_cards(self, face_value_fen: int, count: int, *, batch: str = "",
                           expires_on: dt.date | None = None) -> list[cards.NewCard]:
        """Make ``count`` new cards; their PINs are returned once, to be printed, and never stored in clear."""
        cards.check_face_value(face_value_fen)
        if not 1 <= count <= 10_000:
            raise InvalidInput("一次可制卡1至10000张。", "Make 1 to 10,000 cards at a time.")
        until = expires_on or self.clock.today() + dt.timedelta(days=cards.CARD_LIFETIME_DAYS)
        batch = batch or f"B{self.clock.now():%Y%m%d%H%M%S}"
        made: list[cards.NewCard] = []
        while len(made) < count:   # a serial already taken (1 in 10^16) is made again, never printed unsaved
            fresh = [cards.new_card(face_value_fen, until) for _ in range(count - len(made))]
            hashes = await asyncio.to_thread(_hash_pins, fresh, self.kdf_n)
            stored = await self.db.run(cards.insert_cards, cards.card_rows(fresh, hashes, batch, self.clock.now()))
            made.extend(c for c in fresh if c.serial in stored)
        return made

    # ------------------------------------------------------------------ online payments
    async def credit_payment(self, msisdn: str, amount_fen: int, *, ref: str, provider: str, key: str,
                             actor: Actor) -> OrderResult:
        """Credit a payment the provider confirmed (hotline/services/payments.py verified its notification)."""
        _check_amount(amount_fen)

        def decide(conn: Connection, sub: Subscriber, holdings: list[Holding], fx: Effects) -> dict[str, Any]:
            if sub.status is Status.CLOSED:
                raise NotEligible("该号码已销户，不能充值。", "This number is closed and cannot be recharged.")
            _credit(sub, fx, "payment", amount_fen, f"在线缴费{yuan(amount_fen)}元")
            return {"balance_fen": sub.balance_fen, "status": sub.status.value, "ref": ref}

        return await self._order(normalize_msisdn(msisdn), "payment", key, actor,
                                 {"amount_fen": amount_fen, "ref": ref, "provider": provider}, decide)

    # ------------------------------------------------------------------ adjustments
    async def adjust(self, msisdn: str, amount_fen: int, reason: str, *, key: str, actor: Actor) -> OrderResult:
        """A balance adjustment (调账), credit or debit, with its reason; the desk checked who may make it."""
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen == 0 \
                or abs(amount_fen) > MAX_RECHARGE_FEN:
            raise InvalidInput(f"调账金额须为非零整数分，且不超过{yuan(MAX_RECHARGE_FEN)}元。",
                               f"An adjustment is a non-zero number of fen up to ¥{yuan(MAX_RECHARGE_FEN)}.")

        def decide(conn: Connection, sub: Subscriber, holdings: list[Holding], fx: Effects) -> dict[str, Any]:
            if sub.status is Status.CLOSED:
                raise NotEligible("该号码已销户，不能调账。", "This number is closed.")
            if amount_fen > 0:
                _credit(sub, fx, "adjustment", amount_fen, f"调账{yuan(amount_fen)}元")
            else:
                fx.money(sub, "adjustment", amount_fen, f"调账{yuan(amount_fen)}元")
            return {"balance_fen": sub.balance_fen, "status": sub.status.value}

        return await self._order(normalize_msisdn(msisdn), "adjustment", key, actor,
                                 {"amount_fen": amount_fen, "reason": reason[:200]}, decide)


def _credit(sub: Subscriber, fx: Effects, kind: str, amount_fen: int, description: str) -> None:
    fx.money(sub, kind, amount_fen, description)
    if sub.status is Status.SUSPENDED_ARREARS and not sub.in_arrears:
        sub.transition(Status.ACTIVE)
        fx.audit.append(("status.resume_after_payment", {"status": Status.ACTIVE.value}))


def _hash_pins(made: list[cards.NewCard], kdf_n: int) -> list[str]:
    return [cards.hash_pin(c.pin, kdf_n) for c in made]


def _check_amount(amount_fen: int) -> None:
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or not 0 < amount_fen <= MAX_RECHARGE_FEN:
        raise InvalidInput(f"缴费金额须在0.01元至{yuan(MAX_RECHARGE_FEN)}元之间。",
                           f"A payment is between ¥0.01 and ¥{yuan(MAX_RECHARGE_FEN)}.")


def _card_locked(limit: int) -> cards.CardLocked:
    return cards.CardLocked(f"充值卡密码今日已输错{limit}次，充值卡充值已锁定，请明天再试。",
                            f"A wrong card PIN was entered {limit} times today; card top-ups are locked "
                            "until tomorrow.")


def _never(conn: Connection, sub: Subscriber, holdings: list[Holding], fx: Effects) -> dict[str, Any]:
    raise AssertionError("replayed orders do not decide")  # pragma: no cover
