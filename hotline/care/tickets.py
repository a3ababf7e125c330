"""Tickets: the one store of what a customer or an agent files for someone to follow up.

Every channel files here: a complaint texted as ``TS#…``, a fault told to 小贝, a ticket an agent opens
at the desk, and later the IVR and the portal. So a customer who quotes a reference is found whatever
channel took it, the desk sees what was filed by SMS, and ``GDJD`` by SMS lists what an agent opened.
One table, one number series: ``T`` + the operator's calendar day + six digits (references filed
before the store was one keep their old prefixes, and still resolve). A retried filing (the same
idempotency key) returns the first ticket instead of filing twice. Notes (:meth:`Tickets.add`) are the
follow-up trail; the care issue adds SLAs, assignment and closing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, desc, insert, select
from sqlalchemy.exc import IntegrityError

from hotline.domain.billing import Clock
from hotline.domain.errors import InvalidInput, NotFound
from hotline.domain.msisdn import normalize_msisdn
from hotline.store.sql.database import Database
from hotline.store.sql.tables import ticket_notes, tickets

CATEGORIES: dict[str, tuple[str, str]] = {   # the desk offers them in this order
    "complaint": ("投诉", "Complaint"), "fault": ("故障", "Fault"),
    "suggestion": ("建议", "Suggestion"), "inquiry": ("咨询", "Inquiry"),
    "billing_dispute": ("话费争议", "Billing dispute"), "praise": ("表扬", "Praise"),
    "order": ("业务预约", "Order request"),
}
PRIORITIES: dict[str, tuple[str, str]] = {"normal": ("普通", "Normal"), "high": ("较高", "High"),
                                          "urgent": ("紧急", "Urgent")}
STATUSES: dict[str, tuple[str, str]] = {"open": ("处理中", "Open"), "closed": ("已办结", "Closed")}
MAX_SUMMARY = 200
MAX_DETAIL = 4000
MAX_NOTE = 2000


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
    channel: str = "desk"        # where it was filed: sms, web, ivr, desk …
    business: str | None = None  # the catalogue business it was filed by (None: opened by an agent)

    def status_text(self, lang: str = "zh") -> str:
        return STATUSES.get(self.status, (self.status, self.status))[1 if lang.startswith("en") else 0]

    def category_text(self, lang: str = "zh") -> str:
        return CATEGORIES.get(self.category, (self.category, self.category))[1 if lang.startswith("en") else 0]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "reference": self.reference, "msisdn": self.msisdn, "contact_id": self.contact_id,
                "conversation_id": self.conversation_id, "category": self.category,
                "category_zh": self.category_text("zh"), "category_en": self.category_text("en"),
                "summary": self.summary, "detail": self.detail, "priority": self.priority,
                "status": self.status, "status_zh": self.status_text("zh"), "status_en": self.status_text("en"),
                "channel": self.channel, "business": self.business,
                "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "replayed": self.replayed}


@dataclass(frozen=True)
class Note:
    reference: str
    text: str
    author: str
    channel: str
    at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "text": self.text, "author": self.author, "channel": self.channel,
                "at": self.at.isoformat()}


class Tickets:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def open(self, *, category: str, summary: str, created_by: str, msisdn: str | None = None,
                   detail: str = "", priority: str = "normal", channel: str = "desk", business: str | None = None,
                   contact_id: str | None = None, conversation_id: str | None = None,
                   key: str | None = None) -> Ticket:
        """File a ticket (status open) from any channel. ``key`` makes a retry return the first ticket."""
        if category not in CATEGORIES:
            raise InvalidInput("工单类别不正确，请从列表中选择。", "Choose the category from the list.",
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
            raise InvalidInput(f"工单详情不能超过{MAX_DETAIL}个字。",
                               f"The detail is limited to {MAX_DETAIL} characters.")
        number = normalize_msisdn(msisdn) if msisdn else None
        now = self.clock.now()
        stamp = now.astimezone(dt.UTC)          # stored as UTC on both databases
        author = created_by[:64]

        def job(conn: Connection) -> Ticket:
            if key:
                row = conn.execute(select(tickets).where(tickets.c.idempotency_key == key)).first()
                if row is not None:
                    return _ticket(row, replayed=True)
            ref = f"T{now:%Y%m%d}{secrets.randbelow(10**6):06d}"   # the operator's calendar day
            inserted = conn.execute(insert(tickets).values(
                reference=ref, msisdn=number, contact_id=contact_id, conversation_id=conversation_id,
                category=category, summary=summary, detail=detail, priority=priority, status="open",
                channel=channel[:16], business=business, created_by=author, idempotency_key=key,
                created_at=stamp)).inserted_primary_key
            assert inserted is not None
            new_id = int(inserted[0])
            return Ticket(new_id, ref, number, contact_id, conversation_id, category, summary, detail, priority,
                          "open", author, stamp, channel=channel[:16], business=business)

        for _ in range(3):
            try:
                return await self.db.run(job)
            except IntegrityError:
                continue   # a racing twin with the same key, or the reference collided: look again
        return await self.db.run(job)

    async def create(self, **fields: Any) -> Ticket:
        """The desk's name for :meth:`open` (channel ``desk`` unless given)."""
        return await self.open(**fields)

    async def add(self, reference: str, text: str, *, author: str, channel: str) -> Note:
        """Add a note to a ticket's trail (more detail from the customer, an agent's follow-up)."""
        text = (text or "").strip()
        if not text or len(text) > MAX_NOTE:
            raise InvalidInput(f"备注须为1至{MAX_NOTE}个字。", f"A note is 1 to {MAX_NOTE} characters.")
        stamp = self.clock.now().astimezone(dt.UTC)

        def job(conn: Connection) -> Note:
            ticket_id = conn.execute(select(tickets.c.id).where(tickets.c.reference == reference)).scalar()
            if ticket_id is None:
                raise NotFound(f"未找到工单{reference}。", f"No ticket {reference}.")
            conn.execute(insert(ticket_notes).values(ticket_id=ticket_id, text=text, author=author[:64],
                                                     channel=channel[:16], at=stamp))
            return Note(reference, text, author[:64], channel[:16], stamp)
        return await self.db.run(job)

    async def of(self, msisdn: str, limit: int = 20) -> list[Ticket]:
        """The number's tickets from every channel, newest first."""
        number = normalize_msisdn(msisdn)

        def job(conn: Connection) -> list[Ticket]:
            q = (select(tickets).where(tickets.c.msisdn == number)
                 .order_by(desc(tickets.c.created_at), desc(tickets.c.id)).limit(limit))
            return [_ticket(r) for r in conn.execute(q)]
        return await self.db.run(job, write=False)

    async def get(self, reference: str) -> Ticket | None:
        """The ticket a customer or agent quotes, whatever channel filed it."""
        ref = (reference or "").strip().upper()

        def job(conn: Connection) -> Ticket | None:
            row = conn.execute(select(tickets).where(tickets.c.reference == ref)).first()
            return _ticket(row) if row else None
        return await self.db.run(job, write=False)

    async def notes(self, reference: str) -> list[Note]:
        """A ticket's trail, oldest first."""
        def job(conn: Connection) -> list[Note]:
            q = (select(ticket_notes).join(tickets, tickets.c.id == ticket_notes.c.ticket_id)
                 .where(tickets.c.reference == reference).order_by(ticket_notes.c.id))
            return [Note(reference, r.text, r.author, r.channel, _aware(r.at)) for r in conn.execute(q)]
        return await self.db.run(job, write=False)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _ticket(row: Any, replayed: bool = False) -> Ticket:
    return Ticket(row.id, row.reference, row.msisdn, row.contact_id, row.conversation_id, row.category,
                  row.summary, row.detail, row.priority, row.status, row.created_by, _aware(row.created_at),
                  replayed, channel=row.channel, business=row.business)
