"""Tickets: what an agent files for someone to follow up after the contact ends.

A stub for the agent desktop: create and list. The care issue adds SLAs, assignment, updates and
closing. A ticket gets a reference the customer is told (``T`` + the day + six digits); a retried
create (same idempotency key) returns the first ticket instead of filing twice.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, desc, insert, select
from sqlalchemy.exc import IntegrityError

from hotline.domain.billing import Clock
from hotline.domain.errors import InvalidInput
from hotline.domain.msisdn import normalize_msisdn
from hotline.store.sql.database import Database
from hotline.store.sql.tables import tickets

CATEGORIES: dict[str, tuple[str, str]] = {
    "complaint": ("投诉", "Complaint"), "fault": ("故障", "Fault"),
    "suggestion": ("建议", "Suggestion"), "inquiry": ("咨询", "Inquiry"),
}
PRIORITIES: dict[str, tuple[str, str]] = {"normal": ("普通", "Normal"), "high": ("较高", "High"),
                                          "urgent": ("紧急", "Urgent")}
STATUSES: dict[str, tuple[str, str]] = {"open": ("处理中", "Open")}
MAX_SUMMARY = 200
MAX_DETAIL = 4000


@dataclass(frozen=True)
class Ticket:
    id: int
    reference: str
    msisdn: str | None
    contact_id: str | None
    conversation_id: str | None
    category: str
    summary: str
    detail: str
    priority: str
    status: str
    created_by: str
    created_at: dt.datetime
    replayed: bool = False       # this idempotency key had filed it already

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "reference": self.reference, "msisdn": self.msisdn, "contact_id": self.contact_id,
                "conversation_id": self.conversation_id, "category": self.category,
                "category_zh": CATEGORIES[self.category][0] if self.category in CATEGORIES else self.category,
                "category_en": CATEGORIES[self.category][1] if self.category in CATEGORIES else self.category,
                "summary": self.summary, "detail": self.detail, "priority": self.priority,
                "status": self.status,
                "status_zh": STATUSES.get(self.status, (self.status,))[0],
                "status_en": STATUSES.get(self.status, (self.status, self.status))[1],
                "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "replayed": self.replayed}


class Tickets:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(self, *, category: str, summary: str, created_by: str, msisdn: str | None = None,
                     detail: str = "", priority: str = "normal", contact_id: str | None = None,
                     conversation_id: str | None = None, key: str | None = None) -> Ticket:
        """File a ticket (status open). ``key`` makes a retry return the first ticket."""
        if category not in CATEGORIES:
            raise InvalidInput("工单类别须为投诉、故障、建议或咨询。",
                               "The category must be complaint, fault, suggestion or inquiry.",
                               allowed=list(CATEGORIES))
        if priority not in PRIORITIES:
            raise InvalidInput("优先级须为普通、较高或紧急。", "The priority must be normal, high or urgent.",
                               allowed=list(PRIORITIES))
        summary = " ".join((summary or "").split())
        if len(summary) < 2 or len(summary) > MAX_SUMMARY:
            raise InvalidInput(f"请填写工单摘要（2至{MAX_SUMMARY}个字）。",
                               f"Give the ticket a summary of 2 to {MAX_SUMMARY} characters.")
        detail = (detail or "").strip()
        if len(detail) > MAX_DETAIL:
            raise InvalidInput(f"工单详情不能超过{MAX_DETAIL}个字。", f"The detail is limited to {MAX_DETAIL} characters.")
        number = normalize_msisdn(msisdn) if msisdn else None
        now = self.clock.now()
        stamp = now.astimezone(dt.timezone.utc)          # stored as UTC on both databases

        def job(conn: Connection) -> Ticket:
            if key:
                row = conn.execute(select(tickets).where(tickets.c.idempotency_key == key)).first()
                if row is not None:
                    return _ticket(row, replayed=True)
            ref = f"T{now:%Y%m%d}{secrets.randbelow(10**6):06d}"   # the operator's calendar day
            new_id = conn.execute(insert(tickets).values(
                reference=ref, msisdn=number, contact_id=contact_id, conversation_id=conversation_id,
                category=category, summary=summary, detail=detail, priority=priority, status="open",
                created_by=created_by, idempotency_key=key, created_at=stamp)).inserted_primary_key[0]
            return Ticket(new_id, ref, number, contact_id, conversation_id, category, summary, detail, priority,
                          "open", created_by, stamp)

        for _ in range(3):
            try:
                return await self.db.run(job)
            except IntegrityError:
                continue   # a racing twin with the same key, or the reference collided: look again
        return await self.db.run(job)

    async def of(self, msisdn: str, limit: int = 20) -> list[Ticket]:
        """The number's tickets, newest first."""
        number = normalize_msisdn(msisdn)

        def job(conn: Connection) -> list[Ticket]:
            q = select(tickets).where(tickets.c.msisdn == number).order_by(desc(tickets.c.id)).limit(limit)
            return [_ticket(r) for r in conn.execute(q)]
        return await self.db.run(job, write=False)

    async def get(self, reference: str) -> Ticket | None:
        def job(conn: Connection) -> Ticket | None:
            row = conn.execute(select(tickets).where(tickets.c.reference == reference)).first()
            return _ticket(row) if row else None
        return await self.db.run(job, write=False)


def _ticket(row: Any, replayed: bool = False) -> Ticket:
    at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.timezone.utc)
    return Ticket(row.id, row.reference, row.msisdn, row.contact_id, row.conversation_id, row.category,
                  row.summary, row.detail, row.priority, row.status, row.created_by, at, replayed)
