"""The reference BSS: subscribers, products, money, usage, bills and orders on hotline's database.

Every business transaction is an *order*: one database transaction that reads the subscriber (row
locked), lets the domain rules decide, and writes the subscriber, its ledger and subscriptions,
the order row and the audit row together. An idempotency key makes a retried request return the
first outcome instead of running again; a refused request changes nothing and is recorded as a
failed order, so its retry answers the same.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, desc, insert, select
from sqlalchemy.exc import IntegrityError

from hotline.bss import records as rec
from hotline.bss.money import MoneyIn
from hotline.bss.port import Actor, OrderResult, SubscriberRecord
from hotline.bss.records import Effects, Holding
from hotline.domain import password as pw
from hotline.domain.billing import (
    BUCKETS,
    MAX_POINTS_REDEEMED,
    MAX_RECHARGE_FEN,
    TARIFF,
    Clock,
    check_usage_quantity,
    cycle_label_zh,
    next_cycle,
)
from hotline.domain.errors import (
    Conflict,
    DomainError,
    IdentityMismatch,
    IllegalTransition,
    InvalidInput,
    NotEligible,
    PasswordLocked,
    WrongPassword,
)
from hotline.domain.geo import province_by_code
from hotline.domain.identity import mask_id_number, mask_name
from hotline.domain.msisdn import normalize_msisdn
from hotline.domain.products import (
    Billing,
    Effective,
    Product,
    ProductCatalog,
    ProductKind,
    check_affordable,
    check_eligible,
    require_active,
    yuan,
)
from hotline.domain.subscriber import PaymentType, Status, Subscriber
from hotline.services import audit
from hotline.store.sql.database import Database
from hotline.store.sql.tables import bill_items, bills, orders, usage_counters, usage_records

# status actions → (target status, zh name, en name)
STATUS_ACTIONS: dict[str, tuple[Status, str, str]] = {
    "suspend": (Status.SUSPENDED_VOLUNTARY, "停机保号", "voluntary suspension"),
    "resume": (Status.ACTIVE, "复机", "resumption"),
    "report_lost": (Status.LOST, "挂失", "report of loss"),
    "unreport_lost": (Status.ACTIVE, "解挂", "cancelling the loss report"),
    "close": (Status.CLOSED, "销户", "closing the number"),
}

Decide = Callable[[Connection, Subscriber, list[Holding], Effects], dict[str, Any]]


class ReferenceBSS(MoneyIn):
    """Implements ``hotline.bss.port.BSS`` on a ``Database``."""

    def __init__(self, db: Database, products: ProductCatalog, clock: Clock | None = None,
                 kdf_n: int = 2**14, max_password_failures: int = 3, max_card_failures: int = 5) -> None:
        self.db = db
        self.max_card_failures = max_card_failures
        self.products = products
        self.clock = clock or Clock()
        self.kdf_n = kdf_n
        self.max_password_failures = max_password_failures

    # ------------------------------------------------------------------ the order frame
    async def _order(self, msisdn: str, kind: str, key: str, actor: Actor, params: dict[str, Any],
                     decide: Decide, product_code: str | None = None) -> OrderResult:
        msisdn = normalize_msisdn(msisdn)
        if not key or len(key) > 128:
            raise InvalidInput("缺少有效的幂等键（1至128个字符）。",
                               "An idempotency key of 1 to 128 characters is required.")
        digest = rec.request_hash(kind, msisdn, params)
        for _ in range(3):
            try:
                return await self.db.run(self._order_job, msisdn, kind, key, actor, params, decide,
                                         product_code, digest)
            except IntegrityError:
                # A concurrent request with the same key committed first: answer with its outcome.
                existing = await self.db.run(rec.find_order, key, write=False)
                if existing is not None:
                    if not rec.same_request(existing, digest, kind, params):
                        raise rec.key_reused() from None
                    return _replay(existing)
                raise
            except DomainError as err:
                if err.detail.get("replayed") or await self.db.run(self._record_failure, msisdn, kind, key, actor,
                                                                   params, err, product_code, digest):
                    raise
                # the key was taken meanwhile: loop to replay it
        raise RuntimeError("order could not be settled")  # pragma: no cover

    def _order_job(self, conn: Connection, msisdn: str, kind: str, key: str, actor: Actor,
                   params: dict[str, Any], decide: Decide, product_code: str | None,
                   digest: str) -> OrderResult:
        sub, holdings, existing_id = rec.load_for_order(conn, msisdn, key, lock=self.db.for_update)
        if existing_id is not None:
            existing = rec.find_order(conn, key)
            if existing.subscriber_id != sub.id or not rec.same_request(existing, digest, kind, params):
                raise rec.key_reused()
            return _replay(existing)
        fx = Effects(now=self.clock.now(), cycle=sub.cycle)
        result = decide(conn, sub, holdings, fx)
        amount = abs(sum(a for _, a, _ in fx.ledger))  # money moved, either way
        inserted = conn.execute(rec.INSERT_ORDER, dict(
            idempotency_key=key, subscriber_id=sub.id, kind=kind, product_code=product_code,
            amount_fen=amount, channel=actor.channel, actor=actor.id, status="completed", params=params,
            result=result, created_at=fx.now, completed_at=fx.now, request_hash=digest)).inserted_primary_key
        assert inserted is not None   # a single-row INSERT
        order_id = inserted[0]
        fx.audit.insert(0, (f"order.{kind}", {**params, "amount_fen": amount}))
        rec.apply_effects(conn, sub, fx, order_id, actor.id, actor.channel)
        return OrderResult(order_id, kind, "completed", amount, result)

    def _record_failure(self, conn: Connection, msisdn: str, kind: str, key: str, actor: Actor,
                        params: dict[str, Any], err: DomainError, product_code: str | None,
                        digest: str) -> bool:
        """Keep a refused order so that its retry gets the same answer. False if the key is taken."""
        if rec.find_order(conn, key) is not None:
            return False
        sub_id = conn.execute(select(rec.subscribers.c.id).where(rec.subscribers.c.msisdn == msisdn)
                              ).scalar()
        if sub_id is None:
            return True
        now = self.clock.now()
        conn.execute(insert(orders).values(
            idempotency_key=key, subscriber_id=sub_id, kind=kind, product_code=product_code,
            amount_fen=0, channel=actor.channel, actor=actor.id, status="failed", params=params,
            result={"error": err.as_dict(), "error_type": type(err).__name__}, created_at=now,
            completed_at=now, request_hash=digest))
        rec.write_audit(conn, now, actor.channel, actor.id, f"order.{kind}.refused", msisdn, sub_id,
                        {"code": err.code, **params})
        return True

    # ------------------------------------------------------------------ money
    async def recharge(self, msisdn: str, amount_fen: int, *, key: str, actor: Actor) -> OrderResult:
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
            raise InvalidInput("充值金额须为正数（单位：分）。",
                               "The recharge amount must be a positive number of fen.")
        if amount_fen > MAX_RECHARGE_FEN:
            raise InvalidInput(f"单笔充值金额不能超过{yuan(MAX_RECHARGE_FEN)}元。",
                               f"One recharge cannot exceed ¥{yuan(MAX_RECHARGE_FEN)}.")

        def decide(conn: Connection, sub: Subscriber, holdings: list[Holding], fx: Effects) -> dict[str, Any]:
            if sub.status is Status.CLOSED:
                raise NotEligible("该号码已销户，不能充值。", "This number is closed and cannot be recharged.")
            fx.money(sub, "recharge", amount_fen, f"充值{yuan(amount_fen)}元")
            if sub.status is Status.SUSPENDED_ARREARS and not sub.in_arrears:
                sub.transition(Status.ACTIVE)
                fx.audit.append(("status.resume_after_payment", {"status": Status.ACTIVE.value}))
            return {"balance_fen": sub.balance_fen, "status": sub.status.value}

        return await self._order(msisdn, "recharge", key, actor, {"amount_fen": amount_fen}, decide)

    # ------------------------------------------------------------------ products
    async def subscribe(self, msisdn: str, product_code: str, *, key: str, actor: Actor) -> OrderResult:
        product = self.products.get(product_code)
        if product.kind is ProductKind.PLAN:
            return await self.change_plan(msisdn, product_code, key=key, actor=actor)

        def decide(conn: Connection, sub: Subscriber, holdings: list[Holding], fx: Effects) -> dict[str, Any]:
            active = {h.product_code for h in holdings if h.active_in(sub.cycle) or h.start_cycle > sub.cycle}
            check_eligible(product, sub, active, self.products)
            if product.effective is Effective.NEXT_CYCLE:
                start = next_cycle(sub.cycle)
            else:
                start = sub.cycle
                check_affordable(sub, product.fee_fen, product.name_zh, product.name_en)
                if product.fee_fen:
                    fx.money(sub, product.kind.value + "_fee", -product.fee_fen,
                             f"{product.name_zh}（{cycle_label_zh(sub.cycle)}）")
            end = start if product.billing is Billing.ONE_OFF else None
            fx.hold(product.code, start=start, end=end)
            return {"product": product.code, "name_zh": product.name_zh, "fee_fen": product.fee_fen,
                    "effective_cycle": start, "balance_fen": sub.balance_fen}

        return await self._order(msisdn, "subscribe", key, actor, {"product": product_code}, decide,
                                 product_code)

    async def unsubscribe(self, msisdn: str, product_code: str, *, key: str, actor: Actor) -> OrderResult:
        product = self.products.get(product_code)

        def decide(conn: Connection, sub: Subscriber, holdings: list[Holding], fx: Effects) -> dict[str, Any]:
            if sub.status is Status.CLOSED:
                raise NotEligible("该号码已销户。", "This number is closed.")
            if product.kind is ProductKind.PLAN:
                raise NotEligible("套餐不能退订，只能变更为其他套餐。",
                                  "A plan cannot be cancelled, only changed to another plan.")
            mine = [h for h in holdings if h.product_code == product.code and h.end_cycle is None
                    or h.product_code == product.code and h.start_cycle > sub.cycle]
            if not mine:
                raise Conflict(f"您没有订购“{product.name_zh}”或已退订。",
                               f"You do not have {product.name_en}, or it is already cancelled.")
            h = mine[0]
            if h.in_plan:
                raise NotEligible(f"“{product.name_zh}”包含在您的套餐中，不能单独退订。",
                                  f"{product.name_en} is part of your plan and cannot be cancelled alone.")
            if product.billing is Billing.ONE_OFF:
                raise NotEligible(f"“{product.name_zh}”为当月有效的一次性业务，月底自动失效，无需退订。",
                                  f"{product.name_en} is a one-off pack; it ends with this month by itself.")
            if h.start_cycle > sub.cycle:
                fx.end(h, h.start_cycle - 1)  # scheduled, never started
                until = sub.cycle
            elif product.kind in (ProductKind.DATA_PACK, ProductKind.VOICE_PACK):
                fx.end(h, sub.cycle)          # monthly packs run out the paid month
                until = sub.cycle
            else:
                fx.end(h, sub.cycle - 1)      # services stop now; the month's fee is not refunded
                until = sub.cycle - 1
            return {"product": product.code, "name_zh": product.name_zh, "valid_until_cycle": until}

        return await self._order(msisdn, "unsubscribe", key, actor, {"product": product_code}, decide,
                                 product_code)

    async def change_plan(self, msisdn: str, plan_code: str, *, key: str, actor: Actor) -> OrderResult:
        plan = self.products.get(plan_code)
        if plan.kind is not ProductKind.PLAN:
            raise InvalidInput(f"“{plan.name_zh}”不是套餐。", f"{plan.name_en} is not a plan.")

        def decide(conn: Connection, sub: Subscriber, holdings: list[Holding], fx: Effects) -> dict[str, Any]:
            require_active(sub)
            if plan.code == (sub.next_plan_code or sub.plan_code):
                raise Conflict(f"您已是“{plan.name_zh}”，无需变更。", f"You are already on {plan.name_en}.")
            others = {h.product_code for h in holdings if not h.in_plan} | {sub.plan_code}
            others.discard(sub.plan_code)
            check_eligible(plan, sub, others, self.products)
            sub.set(next_plan_code=plan.code)
            return {"plan": plan.code, "name_zh": plan.name_zh, "fee_fen": plan.fee_fen,
                    "effective_cycle": next_cycle(sub.cycle)}

        return await self._order(msisdn, "change_plan", key, actor, {"plan": plan_code}, decide, plan_code)

    # ------------------------------------------------------------------ status
    async def change_status(self, msisdn: str, action: str, *, key: str, actor: Actor) -> OrderResult:
        if action not in STATUS_ACTIONS:
            raise InvalidInput(f"不支持的操作“{action}”。", f"Unknown status action '{action}'.",
                               allowed=sorted(STATUS_ACTIONS))
        target, name_zh, name_en = STATUS_ACTIONS[action]

        def decide(conn: Connection, sub: Subscriber, holdings: list[Holding], fx: Effects) -> dict[str, Any]:
            before = sub.status
            if action == "resume" and before is not Status.SUSPENDED_VOLUNTARY:
                raise _illegal(before, name_zh, name_en)
            if action == "unreport_lost" and before is not Status.LOST:
                raise _illegal(before, name_zh, name_en)
            if action == "close" and sub.in_arrears:
                raise NotEligible(f"您尚有欠费{yuan(-sub.available_fen)}元，请结清后再办理销户。",
                                  f"Please settle arrears of ¥{yuan(-sub.available_fen)} before closing.")
            goal = target
            if target is Status.ACTIVE and sub.in_arrears:
                goal = Status.SUSPENDED_ARREARS
            sub.transition(goal)
            return {"status": goal.value, "status_zh": goal.name_zh, "previous": before.value}

        return await self._order(msisdn, f"status.{action}", key, actor, {"action": action}, decide)

    # ------------------------------------------------------------------ points
    async def redeem_points(self, msisdn: str, reward: str, points: int, *, key: str,
                            actor: Actor) -> OrderResult:
        """Redeem points for balance (1 point = 1 fen, in hundreds) or for a one-off pack."""
        product = None if reward == "balance" else self.products.get(reward)
        if product is not None and product.billing is not Billing.ONE_OFF:
            raise InvalidInput("积分只能兑换话费或当月有效的流量包、语音包。",
                               "Points buy balance or one-off packs only.")
        cost = product.fee_fen if product else points
        if not isinstance(cost, int) or cost <= 0 or (product is None and cost % 100):
            raise InvalidInput("兑换话费的积分须为100的正整数倍。",
                               "Points redeemed for balance must be a positive multiple of 100.")
        if cost > MAX_POINTS_REDEEMED:
            raise InvalidInput(f"单次兑换不能超过{MAX_POINTS_REDEEMED}积分。",
                               f"One redemption cannot exceed {MAX_POINTS_REDEEMED} points.")

        def decide(conn: Connection, sub: Subscriber, holdings: list[Holding], fx: Effects) -> dict[str, Any]:
            require_active(sub)
            if sub.points < cost:
                raise NotEligible(f"您的积分为{sub.points}分，兑换需要{cost}分，积分不足。",
                                  f"You have {sub.points} points; this needs {cost}.")
            if product is not None:
                active = {h.product_code for h in holdings if h.active_in(sub.cycle)}
                check_eligible(product, sub, active, self.products)
                fx.hold(product.code, start=sub.cycle, end=sub.cycle)
            else:
                fx.money(sub, "points_redemption", cost, f"积分兑换话费{yuan(cost)}元")
            sub.set(points=sub.points - cost)
            return {"reward": reward, "points_used": cost, "points": sub.points, "balance_fen": sub.balance_fen}

        return await self._order(msisdn, "points.redeem", key, actor, {"reward": reward, "points": cost},
                                 decide, product.code if product else None)

    # ------------------------------------------------------------------ service password
    async def verify_password(self, msisdn: str, password: str, *, actor: Actor) -> None:
        """Check the service password under one lockout for every channel (``max_password_failures`` a day).

        Why in two steps: the attempt is first counted as a failure, under the subscriber's row lock and only
        while the number is not locked; only then is the (slow) password evaluated, and a right one takes its
        count back. So concurrent guesses are admitted one by one up to the limit and the rest are refused
        without being evaluated: twenty guesses at once get three evaluations, never twenty.
        """
        msisdn = normalize_msisdn(msisdn)
        stored, failures = await self.db.run(self._admit_password_attempt, msisdn)
        ok = bool(stored) and await asyncio.to_thread(pw.verify_password, password, stored)
        refusal = await self.db.run(self._settle_password_attempt, msisdn, ok, failures, actor)
        if refusal is not None:
            raise refusal  # raised after the attempt is recorded

    def _admit_password_attempt(self, conn: Connection, msisdn: str) -> tuple[str, int]:
        """Refuse a locked number; else count this attempt as a failure now. Returns the hash and the count."""
        sub = rec.load_subscriber(conn, msisdn, lock=self.db.for_update)
        today = self.clock.today()
        failures = pw.failures_today(sub.pw_failures, sub.pw_fail_day, today)
        if failures >= self.max_password_failures:
            raise _locked()
        sub.set(pw_failures=failures + 1, pw_fail_day=today)
        rec.save_subscriber(conn, sub)
        return sub.password_hash, failures + 1

    def _settle_password_attempt(self, conn: Connection, msisdn: str, ok: bool, failures: int,
                                 actor: Actor) -> DomainError | None:
        """A right password clears the day's failures (its own count included); a wrong one stays counted."""
        now = self.clock.now()
        if ok:
            sub = rec.load_subscriber(conn, msisdn, lock=self.db.for_update)
            if sub.pw_failures or sub.pw_fail_day is not None:
                sub.set(pw_failures=0, pw_fail_day=None)
                rec.save_subscriber(conn, sub)
            rec.write_audit(conn, now, actor.channel, actor.id, "password.verify", msisdn, sub.id, {"ok": True})
            return None
        sub = rec.load_subscriber(conn, msisdn)
        rec.write_audit(conn, now, actor.channel, actor.id, "password.verify", msisdn, sub.id,
                        {"ok": False, "failures_today": failures})
        left = self.max_password_failures - failures
        if left <= 0:
            return _locked()
        return WrongPassword(
            f"服务密码错误，今天还可以再试{left}次。",
            f"Wrong service password; {left} more tries today.", tries_left=left)

    async def change_password(self, msisdn: str, old: str, new: str, *, actor: Actor) -> None:
        msisdn = normalize_msisdn(msisdn)
        sub = await self.db.run(rec.load_subscriber, msisdn, write=False)
        pw.check_strength(new, sub.msisdn, sub.id_number)
        await self.verify_password(msisdn, old, actor=actor)
        hashed = await asyncio.to_thread(pw.hash_password, new, self.kdf_n)
        await self.db.run(self._set_password, msisdn, hashed, actor, "password.change")

    async def reset_password(self, msisdn: str, id_number: str, new: str | None = None, *,
                             actor: Actor) -> str:
        """Reset after an ID check; returns the new password (generated when not given)."""
        msisdn = normalize_msisdn(msisdn)
        sub = await self.db.run(rec.load_subscriber, msisdn, write=False)
        if sub.status is Status.CLOSED:
            raise NotEligible("该号码已销户。", "This number is closed.")
        if not id_number or id_number.strip().upper() != sub.id_number.upper():
            await self.db.run(lambda c: rec.write_audit(c, self.clock.now(), actor.channel, actor.id,
                                                        "password.reset.refused", msisdn, sub.id))
            raise IdentityMismatch("证件号码与登记信息不符，无法重置服务密码。",
                                   "The ID number does not match our records; the password was not reset.")
        new = new or pw.random_password(sub.msisdn, sub.id_number)
        pw.check_strength(new, sub.msisdn, sub.id_number)
        hashed = await asyncio.to_thread(pw.hash_password, new, self.kdf_n)
        await self.db.run(self._set_password, msisdn, hashed, actor, "password.reset")
        return new

    def _set_password(self, conn: Connection, msisdn: str, hashed: str, actor: Actor, action: str) -> None:
        sub = rec.load_subscriber(conn, msisdn, lock=self.db.for_update)
        sub.set(password_hash=hashed, pw_failures=0, pw_fail_day=None)
        rec.save_subscriber(conn, sub)
        rec.write_audit(conn, self.clock.now(), actor.channel, actor.id, action, msisdn, sub.id)

    # ------------------------------------------------------------------ usage (from the network)
    async def record_usage(self, msisdn: str, kind: str, quantity: int, *, at: dt.datetime | None = None,
                           other_party: str = "", direction: str = "out", location: str = "") -> dict[str, Any]:
        """Rate one call (seconds), message (count) or data session (KB) and charge any overage."""
        check_usage_quantity(kind, quantity)   # bounded per record: no overflow, no absurd charge
        msisdn = normalize_msisdn(msisdn)
        return await self.db.run(self._usage_job, msisdn, kind, quantity, at or self.clock.now(),
                                 other_party, direction, location)

    def _usage_job(self, conn: Connection, msisdn: str, kind: str, quantity: int, at: dt.datetime,
                   other_party: str, direction: str, location: str) -> dict[str, Any]:
        sub = rec.load_subscriber(conn, msisdn, lock=self.db.for_update)
        if sub.status is not Status.ACTIVE:
            raise NotEligible(f"号码处于“{sub.status.name_zh}”状态，无法使用通信服务。",
                              f"The number is {sub.status.name_en}; service is barred.")
        holdings = rec.load_holdings(conn, sub.id, sub.cycle)
        bucket, units = {"call": ("voice_min", -(-quantity // 60)), "sms": ("sms", quantity),
                         "data": ("data_mb", -(-quantity // 1024))}[kind]
        if kind != "data" and direction == "in":
            units = 0  # incoming calls and messages are free in mainland China
        allowance = self._allowances(sub, holdings)[bucket]
        used = self._used(conn, sub.id, sub.cycle).get(bucket, 0)
        over = max(0, used + units - max(allowance, used))
        fee = {"voice_min": over * TARIFF.voice_per_min, "sms": over * TARIFF.sms_each,
               "data_mb": TARIFF.data_fee(over)}[bucket]
        fx = Effects(now=at, cycle=sub.cycle)
        if fee:
            fx.money(sub, "usage", -fee, {"voice_min": "语音通话费", "sms": "短信费", "data_mb": "上网流量费"}[bucket])
            if sub.in_arrears and sub.payment_type is PaymentType.PREPAID:
                sub.transition(Status.SUSPENDED_ARREARS)
                fx.audit.append(("status.arrears_suspension", {"balance_fen": sub.balance_fen}))
        self._add_usage(conn, sub.id, sub.cycle, bucket, units)
        conn.execute(insert(usage_records).values(
            subscriber_id=sub.id, cycle=sub.cycle, kind=kind, started_at=at,
            direction=None if kind == "data" else direction,
            other_party=None if kind == "data" else other_party, duration_s=quantity if kind == "call" else 0,
            volume_kb=quantity if kind == "data" else 0, location=location or sub.city, fee_fen=fee))
        rec.apply_effects(conn, sub, fx, None, "network", "network")
        return {"bucket": bucket, "units": units, "fee_fen": fee, "balance_fen": sub.balance_fen,
                "status": sub.status.value}

    def _add_usage(self, conn: Connection, sub_id: int, cycle: int, bucket: str, units: int) -> None:
        updated = conn.execute(usage_counters.update().where(
            usage_counters.c.subscriber_id == sub_id, usage_counters.c.cycle == cycle,
            usage_counters.c.bucket == bucket).values(used=usage_counters.c.used + units)).rowcount
        if not updated:
            conn.execute(insert(usage_counters).values(subscriber_id=sub_id, cycle=cycle, bucket=bucket,
                                                       used=units))

    def _used(self, conn: Connection, sub_id: int, cycle: int) -> dict[str, int]:
        rows = conn.execute(select(usage_counters.c.bucket, usage_counters.c.used).where(
            usage_counters.c.subscriber_id == sub_id, usage_counters.c.cycle == cycle))
        return {b: u for b, u in rows}

    def _allowances(self, sub: Subscriber, holdings: list[Holding]) -> dict[str, int]:
        plan = self.products.get(sub.plan_code)
        total = {"voice_min": plan.voice_min, "data_mb": plan.data_mb, "sms": plan.sms}
        for h in holdings:
            p = self.products.by_code.get(h.product_code)
            if p and h.active_in(sub.cycle) and p.kind in (ProductKind.DATA_PACK, ProductKind.VOICE_PACK):
                total["voice_min"] += p.voice_min
                total["data_mb"] += p.data_mb
                total["sms"] += p.sms
        return total

    # ------------------------------------------------------------------ views
    async def get_subscriber(self, msisdn: str) -> Subscriber:
        """The whole record, secrets included: for the back end's own use and the desk's audited unmasking."""
        return await self.db.run(rec.load_subscriber, normalize_msisdn(msisdn), write=False)

    async def subscriber(self, msisdn: str) -> SubscriberRecord:
        """What a channel may know: brand, tier, language, status, plan; no personal data or secrets."""
        return SubscriberRecord.of(await self.get_subscriber(msisdn))

    async def profile(self, msisdn: str, actor: Actor, *, unmask: bool = False,
                      reason: str = "") -> dict[str, Any]:
        """The subscriber's 360° view. Name and ID number are masked unless ``unmask`` with a reason."""
        msisdn = normalize_msisdn(msisdn)
        if unmask and len(reason.strip()) < 2:
            raise InvalidInput("查看完整个人信息须填写原因。", "A reason is required to see unmasked personal data.")
        return await self.db.run(self._profile_job, msisdn, actor, unmask, reason.strip())

    def _profile_job(self, conn: Connection, msisdn: str, actor: Actor, unmask: bool,
                     reason: str) -> dict[str, Any]:
        sub = rec.load_subscriber(conn, msisdn)
        view = self._account_view(conn, sub)
        last_orders = conn.execute(
            select(orders.c.id, orders.c.kind, orders.c.product_code, orders.c.status, orders.c.amount_fen,
                   orders.c.channel, orders.c.created_at)
            .where(orders.c.subscriber_id == sub.id).order_by(desc(orders.c.id)).limit(5)).all()
        rec.write_audit(conn, self.clock.now(), actor.channel, actor.id,
                        "profile.unmask" if unmask else "profile.view", msisdn, sub.id,
                        {"reason": reason} if unmask else None)
        return {
            "msisdn": sub.msisdn,
            "name": sub.name if unmask else mask_name(sub.name),
            "id_number": sub.id_number if unmask else mask_id_number(sub.id_number),
            "masked": not unmask,
            **{k: v for k, v in view.items() if k != "msisdn"},
            "recent_orders": [
                {"id": o.id, "kind": o.kind, "product": o.product_code, "status": o.status,
                 "amount_fen": o.amount_fen, "channel": o.channel, "at": o.created_at.isoformat()}
                for o in last_orders],
            "password": {"set": bool(sub.password_hash),
                         "locked_today": pw.failures_today(sub.pw_failures, sub.pw_fail_day,
                                                           self.clock.today()) >= self.max_password_failures},
        }

    async def account(self, msisdn: str) -> dict[str, Any]:
        """The subscriber's own account, without personal data: what self-service queries answer from.

        Read-only and not audited, since it shows nothing that identifies the person.
        """
        msisdn = normalize_msisdn(msisdn)
        return await self.db.run(lambda c: self._account_view(c, rec.load_subscriber(c, msisdn)), write=False)

    def _account_view(self, conn: Connection, sub: Subscriber) -> dict[str, Any]:
        holdings = rec.load_holdings(conn, sub.id, sub.cycle)
        plan = self.products.get(sub.plan_code)
        used = self._used(conn, sub.id, sub.cycle)
        allowance = self._allowances(sub, holdings)
        province = province_by_code(sub.province)
        recent = conn.execute(select(bills.c.cycle, bills.c.total_fen).where(bills.c.subscriber_id == sub.id)
                              .order_by(desc(bills.c.cycle)).limit(3)).all()
        next_plan = self.products.get(sub.next_plan_code) if sub.next_plan_code else None
        return {
            "msisdn": sub.msisdn,
            "brand": {"code": sub.brand.value, "name_zh": sub.brand.name_zh, "name_en": sub.brand.name_en},
            "payment_type": sub.payment_type.value,
            "star_level": {"level": int(sub.star_level), "name_zh": sub.star_level.name_zh,
                           "name_en": sub.star_level.name_en, "vip": sub.star_level.is_vip},
            "province": {"code": province.code, "name_zh": province.name_zh, "name_en": province.name_en},
            "city": sub.city,
            "join_date": sub.join_date.isoformat(),
            "language": sub.language,
            "status": {"code": sub.status.value, "name_zh": sub.status.name_zh, "name_en": sub.status.name_en},
            "plan": _product_view(plan),
            "next_plan": _product_view(next_plan) if next_plan else None,
            "balance_fen": sub.balance_fen,
            "credit_limit_fen": sub.credit_limit_fen,
            "available_fen": sub.available_fen,
            "points": sub.points,
            "marketing_opt_out": sub.marketing_opt_out,
            "cycle": sub.cycle,
            "charges_this_cycle_fen": rec.charges_in_cycle(conn, sub.id, sub.cycle),
            "usage": {b: {"used": used.get(b, 0), "included": allowance[b]} for b in BUCKETS},
            "subscriptions": [
                {**_product_view(self.products.get(h.product_code)), "in_plan": h.in_plan,
                 "start_cycle": h.start_cycle, "end_cycle": h.end_cycle}
                for h in holdings if h.product_code in self.products.by_code],
            "bills": [{"cycle": c, "total_fen": t} for c, t in recent],
        }

    async def set_marketing_opt_out(self, msisdn: str, opt_out: bool, *, actor: Actor) -> bool:
        """Opt the number out of (or back into) marketing messages; returns whether it changed."""
        msisdn = normalize_msisdn(msisdn)

        def job(conn: Connection) -> bool:
            sub = rec.load_subscriber(conn, msisdn, lock=self.db.for_update)
            if sub.marketing_opt_out == opt_out:
                return False
            sub.set(marketing_opt_out=opt_out)
            rec.save_subscriber(conn, sub)
            rec.write_audit(conn, self.clock.now(), actor.channel, actor.id,
                            "marketing.opt_out" if opt_out else "marketing.opt_in", msisdn, sub.id)
            return True
        return await self.db.run(job)

    async def verify_identity(self, msisdn: str, name: str, id_number: str, *, actor: Actor) -> None:
        """Check a name and ID number against the registration (real-name rules); every attempt is audited."""
        msisdn = normalize_msisdn(msisdn)

        def job(conn: Connection) -> bool:
            sub = rec.load_subscriber(conn, msisdn)
            ok = name.strip() == sub.name and id_number.strip().upper() == sub.id_number.upper()
            rec.write_audit(conn, self.clock.now(), actor.channel, actor.id, "identity.verify", msisdn, sub.id,
                            {"ok": ok})
            return ok
        if not await self.db.run(job):
            raise IdentityMismatch("姓名或证件号码与登记信息不符。",
                                   "The name or ID number does not match our records.")

    async def bills(self, msisdn: str, actor: Actor) -> list[dict[str, Any]]:
        msisdn = normalize_msisdn(msisdn)

        def job(conn: Connection) -> list[dict[str, Any]]:
            sub = rec.load_subscriber(conn, msisdn)
            rows = conn.execute(select(bills).where(bills.c.subscriber_id == sub.id)
                                .order_by(desc(bills.c.cycle))).all()
            items = conn.execute(select(bill_items).where(bill_items.c.bill_id.in_([r.id for r in rows]))
                                 .order_by(bill_items.c.id)).all() if rows else []
            rec.write_audit(conn, self.clock.now(), actor.channel, actor.id, "bills.view", msisdn, sub.id)
            return [{"cycle": r.cycle, "total_fen": r.total_fen,
                     "items": [{"category": i.category, "description": i.description, "amount_fen": i.amount_fen}
                               for i in items if i.bill_id == r.id]} for r in rows]
        return await self.db.run(job)

    async def usage_records(self, msisdn: str, cycle: int | None, kind: str | None,
                            actor: Actor) -> list[dict[str, Any]]:
        msisdn = normalize_msisdn(msisdn)
        if kind not in (None, "call", "sms", "data"):
            raise InvalidInput("详单类型须为 call、sms 或 data。", "Record kind must be call, sms or data.")

        def job(conn: Connection) -> list[dict[str, Any]]:
            sub = rec.load_subscriber(conn, msisdn)
            q = select(usage_records).where(usage_records.c.subscriber_id == sub.id,
                                            usage_records.c.cycle == (cycle or sub.cycle))
            if kind:
                q = q.where(usage_records.c.kind == kind)
            rows = conn.execute(q.order_by(usage_records.c.started_at)).all()
            rec.write_audit(conn, self.clock.now(), actor.channel, actor.id, "records.view", msisdn, sub.id,
                            {"cycle": cycle or sub.cycle, "kind": kind})
            return [{"kind": r.kind, "started_at": r.started_at.isoformat(), "direction": r.direction,
                     "other_party": r.other_party, "duration_s": r.duration_s, "volume_kb": r.volume_kb,
                     "location": r.location, "fee_fen": r.fee_fen} for r in rows]
        return await self.db.run(job)

    async def orders(self, msisdn: str, actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
        msisdn = normalize_msisdn(msisdn)

        def job(conn: Connection) -> list[dict[str, Any]]:
            sub = rec.load_subscriber(conn, msisdn)
            rows = conn.execute(select(orders).where(orders.c.subscriber_id == sub.id)
                                .order_by(desc(orders.c.id)).limit(limit)).all()
            rec.write_audit(conn, self.clock.now(), actor.channel, actor.id, "orders.view", msisdn, sub.id,
                            {"limit": limit})
            return [{"id": r.id, "kind": r.kind, "product": r.product_code, "status": r.status,
                     "amount_fen": r.amount_fen, "channel": r.channel, "actor": r.actor,
                     "params": r.params, "result": r.result, "created_at": r.created_at.isoformat()}
                    for r in rows]
        return await self.db.run(job)

    async def audit_trail(self, msisdn: str, limit: int = 100, actor: Actor | None = None) -> list[dict[str, Any]]:
        """The number's audit trail, newest first; reading it is itself audited when an actor is named."""
        msisdn = normalize_msisdn(msisdn)

        def job(conn: Connection) -> list[dict[str, Any]]:
            trail = audit.trail(conn, msisdn, limit)
            if actor is not None:
                sub = rec.load_subscriber(conn, msisdn)
                rec.write_audit(conn, self.clock.now(), actor.channel, actor.id, "audit.view", msisdn, sub.id,
                                {"limit": limit})
            return trail
        return await self.db.run(job, write=actor is not None)

    async def rollover(self, target_cycle: int | None = None) -> int:
        from hotline.bss.rollover import rollover_all
        return await rollover_all(self, target_cycle)


def _product_view(p: Product) -> dict[str, Any]:
    return {"code": p.code, "kind": p.kind.value, "name_zh": p.name_zh, "name_en": p.name_en,
            "fee_fen": p.fee_fen, "billing": p.billing.value, "provider": p.provider, "sp_port": p.sp_port,
            "voice_min": p.voice_min, "data_mb": p.data_mb, "sms": p.sms}


def _replay(row: Any) -> OrderResult:
    if row.status == "failed":
        err = row.result["error"]
        cls = next((c for c in _error_classes() if c.__name__ == row.result.get("error_type")), DomainError)
        raise cls(err["message_zh"], err["message_en"], **(err.get("detail") or {}), replayed=True)
    return OrderResult(row.id, row.kind, row.status, row.amount_fen, row.result, replayed=True)


def _error_classes() -> list[type[DomainError]]:
    out, todo = [], [DomainError]
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(c.__subclasses__())
    return out


def _illegal(current: Status, name_zh: str, name_en: str) -> DomainError:
    return IllegalTransition(f"号码当前状态为“{current.name_zh}”，不能办理{name_zh}。",
                             f"The number is {current.name_en}; {name_en} is not possible.",
                             current=current.value)


def _locked() -> PasswordLocked:
    return PasswordLocked("服务密码今日已连续输错3次，需密码验证的业务已锁定，请明天再试，或凭有效证件重置密码。",
                          "The service password was entered wrongly 3 times today; password-protected "
                          "services are locked until tomorrow, or reset the password with your ID.")
