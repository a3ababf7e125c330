"""The billing-cycle rollover (月结): close a subscriber's cycle and open the next.

Per subscriber and in one transaction: bill the closed cycle from its ledger, award points,
apply a next-cycle plan change, let one-off packs expire, charge the new cycle's monthly fees, and
suspend for arrears when the credit has run out. Each subscriber is its own transaction, so a
crash half-way leaves every account either rolled or not, and a rerun carries on.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select

from hotline.bss import records as rec
from hotline.bss.records import Effects
from hotline.domain.billing import BILL_CATEGORIES, SUSPENSION_FEE_FEN, cycle_label_zh, cycle_of, next_cycle
from hotline.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from hotline.domain.products import Billing
from hotline.domain.subscriber import Status
from hotline.store.sql.tables import bill_items, bills, ledger, subscribers

if TYPE_CHECKING:
    from hotline.bss.reference import ReferenceBSS

BATCH = 500
log = logging.getLogger(__name__)


def check_target(bss: ReferenceBSS, target: int | None) -> int:
    """The cycle to roll up to: by default the current one. Only cycles that have ended can be closed, so a
    target after the current cycle is refused (it would bill months nobody has lived yet)."""
    current = cycle_of(bss.clock.today())
    if target is None:
        return current
    if not 1 <= target % 100 <= 12:
        raise InvalidInput("账期格式应为YYYYMM，例如202612。", "A cycle is YYYYMM, for example 202612.",
                           cycle=target)
    if target > current:
        raise InvalidInput(f"只能结算已结束的账期：目标账期{target}晚于当前账期{current}。",
                           f"Only cycles that have ended can be closed: {target} is after the current cycle "
                           f"{current}.", cycle=target, current=current)
    return target


async def pending_accounts(bss: ReferenceBSS, target: int) -> int:
    """How many accounts are behind ``target`` (the work a rollover has to do)."""
    def job(conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(subscribers)
                                .where(subscribers.c.cycle < target)).scalar_one())
    return await bss.db.run(job, write=False)


async def rollover_all(bss: ReferenceBSS, target: int | None = None,
                       progress: Callable[[int, int], None] | None = None) -> int:
    """Roll every subscriber up to ``target`` (default: the clock's cycle; never a later one). Returns
    account-cycles rolled; ``progress(accounts_done, account_cycles)`` is called after each account."""
    target = check_target(bss, target)
    rolled, done, after_id = 0, 0, 0
    while True:
        ids = await bss.db.run(_pending_ids, target, after_id, write=False)
        if not ids:
            return rolled
        for sub_id in ids:
            while await bss.db.run(roll_one, bss, sub_id, target):
                rolled += 1
            done += 1
            if progress is not None:
                progress(done, rolled)
        after_id = ids[-1]


@dataclass
class RolloverJob:
    """One rollover in the background: what was asked, by whom, and how far it got."""

    id: str
    target: int
    requested_by: str
    total: int                      # accounts behind the target when it started
    done: int = 0                   # accounts brought up to the target
    rolled: int = 0                 # account-cycles closed
    status: str = "running"         # running | done | failed
    started_at: str = ""
    finished_at: str | None = None
    error: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.id, "target_cycle": self.target, "status": self.status,
                "total_accounts": self.total, "done_accounts": self.done, "rolled": self.rolled,
                "progress": round(self.done / self.total, 4) if self.total else 1.0,
                "requested_by": self.requested_by, "started_at": self.started_at,
                "finished_at": self.finished_at, "error": self.error}


class RolloverJobs:
    """Rollovers started over the API: one at a time per process, the last ``KEEP`` remembered.

    Each account is its own transaction, so a job cut short (a restart) leaves every account rolled or
    not, and the next job carries on. Progress lives in the process that runs the job.
    """

    KEEP = 20

    def __init__(self, bss: ReferenceBSS) -> None:
        self.bss = bss
        self.jobs: dict[str, RolloverJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, target: int | None, requested_by: str) -> RolloverJob:
        chosen = check_target(self.bss, target)
        running = [j for j in self.jobs.values() if j.status == "running"]
        if running:
            raise Conflict("已有月结任务在运行，请等待其完成。", "A rollover is already running; wait for it to end.",
                           job_id=running[0].id)
        total = await pending_accounts(self.bss, chosen)
        job = RolloverJob(uuid.uuid4().hex[:16], chosen, requested_by, total,
                          started_at=self.bss.clock.now().isoformat())
        self.jobs[job.id] = job
        for old in [j.id for j in self.jobs.values() if j.status != "running"][:-self.KEEP]:
            del self.jobs[old]
        task = asyncio.create_task(self._run(job), name=f"rollover-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, job_id: str) -> RolloverJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound("没有找到该月结任务。", "There is no such rollover job.", job_id=job_id)
        return job

    async def wait(self) -> None:
        """Until every running job has ended (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, job: RolloverJob) -> None:
        def progress(done: int, rolled: int) -> None:
            job.done, job.rolled = done, rolled
        try:
            job.rolled = await rollover_all(self.bss, job.target, progress)
            job.done, job.status = max(job.done, job.total), "done"
        except DomainError as err:
            job.status, job.error = "failed", err.as_dict()
        except Exception as err:  # noqa: BLE001 (the job reports it; the server keeps running)
            log.exception("rollover %s failed", job.id)
            job.status, job.error = "failed", {"code": "internal_error", "message_en": type(err).__name__}
        finally:
            job.finished_at = self.bss.clock.now().isoformat()


def _pending_ids(conn: Connection, target: int, after_id: int) -> list[int]:
    return list(conn.execute(select(subscribers.c.id).where(subscribers.c.cycle < target,
                                                            subscribers.c.id > after_id)
                             .order_by(subscribers.c.id).limit(BATCH)).scalars())


def roll_one(conn: Connection, bss: ReferenceBSS, sub_id: int, target: int) -> bool:
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
                                                created_at=now).returning(bills.c.id)).scalar_one()
    if rows:
        conn.execute(insert(bill_items), [
            {"bill_id": bill_id, "category": BILL_CATEGORIES.get(k, k), "description": d, "amount_fen": -int(a)}
            for k, d, a in rows])
