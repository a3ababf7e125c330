"""Balance adjustments (调账) by agents: within a per-agent limit at once, above it with a supervisor's approval.

Agents cannot recharge (a recharge is money the customer paid). When a customer is owed money (a
wrong charge, a goodwill gesture) the agent makes an adjustment: a separate order kind with a reason,
inside a contact. One adjustment up to ``max_fen`` and up to ``daily_fen`` a day per agent (Asia/Shanghai,
counted atomically) applies at once; anything beyond waits as *pending* until a supervisor other than
the requester approves or rejects it. Every step is audited; the money moves only through the BSS
port's ``adjust`` with the idempotency key ``adj:<id>``, so a retried approval never credits twice.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Connection, desc, insert, select, update

from hotline.bss import cards
from hotline.bss.port import BSS, Actor
from hotline.desk.accounts import Agent
from hotline.desk.scope import Scope
from hotline.domain.billing import MAX_RECHARGE_FEN, Clock
from hotline.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from hotline.domain.products import yuan
from hotline.services import audit
from hotline.store.sql.database import Database
from hotline.store.sql.tables import adjustments

CHANNEL = "desk"
REASON_MIN = 4
_KEY = re.compile(r"[A-Za-z0-9:_-]{1,64}")


class SelfApproval(DomainError):
    code = "self_approval"
    status = 403


class Adjustments:
    """The desk's adjustments: request, approve, reject, list. Stateless: everything lives in the database."""

    def __init__(self, db: Database, clock: Clock, bss: BSS, *, max_fen: int, daily_fen: int) -> None:
        self.db = db
        self.clock = clock
        self.bss = bss
        self.max_fen = max_fen
        self.daily_fen = daily_fen

    def _utc(self) -> dt.datetime:
        return self.clock.now().astimezone(dt.UTC)

    async def request(self, scope: Scope, amount_fen: int, reason: str, *, key: str) -> dict[str, Any]:
        """An adjustment for the contact's customer: applied now when within the agent's limits, else pending."""
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen == 0 \
                or abs(amount_fen) > MAX_RECHARGE_FEN:
            raise InvalidInput(f"调账金额须为非零整数分，且不超过{yuan(MAX_RECHARGE_FEN)}元。",
                               f"An adjustment is a non-zero number of fen up to ¥{yuan(MAX_RECHARGE_FEN)}.")
        reason = " ".join(reason.split())
        if not REASON_MIN <= len(reason) <= 200:
            raise InvalidInput(f"请填写调账原因（{REASON_MIN}至200个字）。",
                               f"Give the reason for the adjustment ({REASON_MIN} to 200 characters).")
        if not _KEY.fullmatch(key):
            raise InvalidInput("缺少有效的请求编号。", "A request key of 1 to 64 letters, digits, ':', '_' or '-' "
                               "is required.")
        row = await self.db.run(self._request_job, scope, amount_fen, reason, f"desk-adj:{scope.agent}:{key}")
        if row.status == "approved":
            row = await self._apply(row)
        return _view(row)

    def _request_job(self, conn: Connection, scope: Scope, amount_fen: int, reason: str, key: str) -> Any:
        existing = conn.execute(select(adjustments).where(adjustments.c.idempotency_key == key)).first()
        if existing is not None:   # a retry (double click) answers with the first request
            if (existing.msisdn, existing.amount_fen) != (scope.msisdn, amount_fen):
                raise Conflict("该请求编号已用于另一笔调账。", "This request key was used for another adjustment.")
            return existing
        today = self.clock.today()
        counter_key = f"adjust:{scope.agent}"
        spent = cards.counter(conn, counter_key, today, lock=self.db.for_update)
        within = abs(amount_fen) <= self.max_fen and spent + abs(amount_fen) <= self.daily_fen
        if within:
            cards.add(conn, counter_key, today, abs(amount_fen))
        now = self._utc()
        status = "approved" if within else "pending"
        inserted = conn.execute(insert(adjustments).values(
            msisdn=scope.msisdn, amount_fen=amount_fen, reason=reason, agent=scope.agent,
            contact_id=scope.contact_id, status=status, idempotency_key=key, created_at=now,
            decided_by=None if not within else scope.agent, decided_at=now if within else None,
            decision_note=None if within else "above the agent's limit")).inserted_primary_key
        assert inserted is not None
        adj_id = inserted[0]
        audit.record(conn, at=self.clock.now(), channel=CHANNEL, actor=scope.agent, action="adjustment.request",
                     msisdn=scope.msisdn, detail={"adjustment": adj_id, "amount_fen": amount_fen, "reason": reason,
                                                  "status": status, "contact_id": scope.contact_id,
                                                  "spent_today_fen": spent})
        return conn.execute(select(adjustments).where(adjustments.c.id == adj_id)).one()

    async def _apply(self, row: Any) -> Any:
        actor = Actor(CHANNEL, row.agent)
        result = await self.bss.adjust(row.msisdn, row.amount_fen, row.reason, key=f"adj:{row.id}", actor=actor)

        def job(conn: Connection) -> Any:
            conn.execute(update(adjustments).where(adjustments.c.id == row.id)
                         .values(status="applied", order_id=result.order_id))
            return conn.execute(select(adjustments).where(adjustments.c.id == row.id)).one()
        return await self.db.run(job)

    async def decide(self, supervisor: Agent, adjustment_id: int, *, approve: bool, note: str = "") -> dict[str, Any]:
        """A supervisor approves (it is applied at once) or rejects a pending adjustment; never their own."""
        note = " ".join(note.split())[:200]

        def job(conn: Connection) -> Any:
            stmt = select(adjustments).where(adjustments.c.id == adjustment_id)
            row = conn.execute(stmt.with_for_update() if self.db.for_update else stmt).first()
            if row is None:
                raise NotFound("没有找到这笔调账。", "No such adjustment.")
            if row.status != "pending":
                raise Conflict(f"这笔调账已处理（{row.status}）。", f"This adjustment is already {row.status}.")
            if row.agent == supervisor.login:
                raise SelfApproval("不能审批自己提交的调账，请由其他班长审批。",
                                   "You cannot decide your own adjustment; another supervisor must.")
            status = "approved" if approve else "rejected"
            conn.execute(update(adjustments).where(adjustments.c.id == row.id).values(
                status=status, decided_by=supervisor.login, decided_at=self._utc(), decision_note=note or None))
            audit.record(conn, at=self.clock.now(), channel=CHANNEL, actor=supervisor.login,
                         action=f"adjustment.{'approve' if approve else 'reject'}", msisdn=row.msisdn,
                         detail={"adjustment": row.id, "amount_fen": row.amount_fen, "requested_by": row.agent,
                                 "note": note})
            return conn.execute(select(adjustments).where(adjustments.c.id == row.id)).one()

        row = await self.db.run(job)
        if row.status == "approved":
            row = await self._apply(row)
        return _view(row)

    async def list(self, *, status: str | None = None, agent: str | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        def job(conn: Connection) -> list[Any]:
            q = select(adjustments)
            if status:
                q = q.where(adjustments.c.status == status)
            if agent:
                q = q.where(adjustments.c.agent == agent)
            return list(conn.execute(q.order_by(desc(adjustments.c.id)).limit(max(1, min(limit, 500)))).all())
        return [_view(r) for r in await self.db.run(job, write=False)]


def _view(row: Any) -> dict[str, Any]:
    def iso(v: dt.datetime | None) -> str | None:
        if v is None:
            return None
        return (v if v.tzinfo else v.replace(tzinfo=dt.UTC)).isoformat()
    return {"id": row.id, "msisdn": row.msisdn, "amount_fen": row.amount_fen, "amount": yuan(row.amount_fen),
            "reason": row.reason, "agent": row.agent, "contact_id": row.contact_id, "status": row.status,
            "decided_by": row.decided_by, "decision_note": row.decision_note, "order_id": row.order_id,
            "created_at": iso(row.created_at), "decided_at": iso(row.decided_at)}
