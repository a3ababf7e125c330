"""The billing-cycle rollover (月结): close a subscriber's cycle and open the next.

Per subscriber and in one transaction: bill the closed cycle from its ledger, award points,
apply a next-cycle plan change, let one-off packs expire, charge the new cycle's monthly fees, and
suspend for arrears when the credit has run out. Each subscriber is its own transaction, so a
crash half-way leaves every account either rolled or not, and a rerun carries on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, insert, select

from hotline.bss import records as rec
from hotline.bss.records import Effects
from hotline.domain.billing import (BILL_CATEGORIES, SUSPENSION_FEE_FEN, cycle_label_zh, cycle_of,
                                    next_cycle)
from hotline.domain.products import Billing
from hotline.domain.subscriber import Status
from hotline.store.sql.tables import bill_items, bills, ledger, subscribers

if TYPE_CHECKING:
    from hotline.bss.reference import ReferenceBSS

BATCH = 500


async def rollover_all(bss: "ReferenceBSS", target: int | None = None) -> int:
    """Roll every subscriber up to ``target`` (default: the clock's cycle). Returns accounts rolled."""
    target = target or cycle_of(bss.clock.today())
    rolled, after_id = 0, 0
    while True:
        ids = await bss.db.run(_pending_ids, target, after_id, write=False)
        if not ids:
            return rolled
        for sub_id in ids:
            while await bss.db.run(roll_one, bss, sub_id, target):
                rolled += 1
        after_id = ids[-1]


def _pending_ids(conn: Connection, target: int, after_id: int) -> list[int]:
    return list(conn.execute(select(subscribers.c.id).where(subscribers.c.cycle < target,
                                                            subscribers.c.id > after_id)
                             .order_by(subscribers.c.id).limit(BATCH)).scalars())


def roll_one(conn: Connection, bss: "ReferenceBSS", sub_id: int, target: int) -> bool:
    """Move one subscriber forward by one cycle if it is behind ``target``. True if it moved."""
    row = conn.execute(select(subscribers.c.msisdn, subscribers.c.cycle)
                       .where(subscribers.c.id == sub_id)).first()
    if row is None or row.cycle >= target:
        return False
    sub = rec.load_subscriber(conn, row.msisdn, lock=bss.db.for_update)
    closed, new = sub.cycle, next_cycle(sub.cycle)
    now = bss.clock.now()
    _bill(conn, sub.id, closed, now, skip_empty=sub.status is Status.CLOSED)
    billed = rec.charges_in_cycle(conn, sub.id, closed)
    fx = Effects(now=now, cycle=new)
    if sub.status is Status.CLOSED:
        sub.set(cycle=new)
        rec.apply_effects(conn, sub, fx, None, "system", "system")
        return True
    sub.set(points=sub.points + billed // 100, cycle=new)  # one point per yuan billed
    holdings = rec.load_holdings(conn, sub.id, new)
    if sub.next_plan_code:
        old, plan = bss.products.get(sub.plan_code), bss.products.get(sub.next_plan_code)
        for h in holdings:
            if h.in_plan and h.product_code in old.includes and h.end_cycle is None:
                fx.end(h, closed)
        sub.set(plan_code=plan.code, next_plan_code=None)
        for code in plan.includes:
            for h in holdings:  # now part of the plan: stop charging it separately
                if h.product_code == code and not h.in_plan and h.end_cycle is None:
                    fx.end(h, closed)
            fx.hold(code, in_plan=True, start=new)
        fx.audit.append(("plan.changed", {"from": old.code, "to": plan.code, "cycle": new}))
        holdings = [h for h in holdings if (h.id, closed) not in fx.end_holdings]
    if sub.status is Status.SUSPENDED_VOLUNTARY:
        fx.money(sub, "suspension_fee", -SUSPENSION_FEE_FEN, f"停机保号费（{cycle_label_zh(new)}）")
    else:
        plan = bss.products.get(sub.plan_code)
        fx.money(sub, "plan_fee", -plan.fee_fen, f"{plan.name_zh}月费（{cycle_label_zh(new)}）")
        for h in holdings:
            p = bss.products.by_code.get(h.product_code)
            if p and h.active_in(new) and not h.in_plan and p.billing is Billing.MONTHLY and p.fee_fen:
                fx.money(sub, p.kind.value + "_fee", -p.fee_fen, f"{p.name_zh}（{cycle_label_zh(new)}）")
    if sub.status is Status.ACTIVE and sub.in_arrears:
        sub.transition(Status.SUSPENDED_ARREARS)
        fx.audit.append(("status.arrears_suspension", {"balance_fen": sub.balance_fen, "cycle": new}))
    fx.audit.insert(0, ("cycle.rollover", {"closed": closed, "opened": new, "billed_fen": billed}))
    rec.apply_effects(conn, sub, fx, None, "system", "system")
    return True


def _bill(conn: Connection, sub_id: int, cycle: int, now, skip_empty: bool = False) -> None:
    """The monthly bill of a closed cycle: its debits grouped by category."""
    if conn.execute(select(bills.c.id).where(bills.c.subscriber_id == sub_id, bills.c.cycle == cycle)).first():
        return
    rows = conn.execute(select(ledger.c.kind, ledger.c.description, func.sum(ledger.c.amount_fen))
                        .where(ledger.c.subscriber_id == sub_id, ledger.c.cycle == cycle,
                               ledger.c.amount_fen < 0)
                        .group_by(ledger.c.kind, ledger.c.description).order_by(ledger.c.kind)).all()
    if not rows and skip_empty:
        return  # a closed number gets its final bill, then no more empty ones
    total = -sum(int(r[2]) for r in rows)
    bill_id = conn.execute(insert(bills).values(subscriber_id=sub_id, cycle=cycle, total_fen=total,
                                                created_at=now)).inserted_primary_key[0]
    if rows:
        conn.execute(insert(bill_items), [
            {"bill_id": bill_id, "category": BILL_CATEGORIES.get(k, k), "description": d, "amount_fen": -int(a)}
            for k, d, a in rows])
