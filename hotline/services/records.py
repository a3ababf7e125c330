"""Service requests: what self-service takes in for systems to act on (not tickets).

Electronic invoices, portability codes and spam reports each get a reference the customer is told.
Complaints, faults, suggestions and other follow-ups are tickets and live in the one ticket store
(:mod:`hotline.care.tickets`). A retried request (same idempotency key) returns the first reference
instead of filing twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, desc, insert, select
from sqlalchemy.exc import IntegrityError

from hotline.domain.billing import Clock
from hotline.store.sql.database import Database
from hotline.store.sql.tables import service_requests

PREFIXES = {"spam_report": "JB", "portability_code": "XZ", "invoice": "FP"}


@dataclass(frozen=True)
class ServiceRequest:
    reference: str
    kind: str
    business: str
    status: str
    detail: dict[str, Any]
    created_at: Any
    replayed: bool = False


class ServiceRecords:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def file(self, kind: str, business: str, msisdn: str, channel: str, detail: dict[str, Any], *,
                   key: str) -> ServiceRequest:
        now = self.clock.now()

        def job(conn: Connection) -> ServiceRequest:
            row = conn.execute(select(service_requests).where(service_requests.c.idempotency_key == key)).first()
            if row is not None:
                return _from_row(row, replayed=True)
            ref = f"{PREFIXES.get(kind, 'FW')}{now:%Y%m%d}{secrets.randbelow(10**6):06d}"
            conn.execute(insert(service_requests).values(
                reference=ref, kind=kind, business=business, msisdn=msisdn, channel=channel, status="open",
                detail=detail, idempotency_key=key, created_at=now))
            return ServiceRequest(ref, kind, business, "open", detail, now)

        for _ in range(3):
            try:
                return await self.db.run(job)
            except IntegrityError:
                continue  # a racing twin filed it (same key) or the reference collided: look again
        return await self.db.run(job)

    async def of(self, msisdn: str, kinds: tuple[str, ...] = (), limit: int = 5) -> list[ServiceRequest]:
        def job(conn: Connection) -> list[ServiceRequest]:
            q = select(service_requests).where(service_requests.c.msisdn == msisdn)
            if kinds:
                q = q.where(service_requests.c.kind.in_(kinds))
            return [_from_row(r) for r in conn.execute(q.order_by(desc(service_requests.c.id)).limit(limit))]
        return await self.db.run(job, write=False)


def _from_row(row: Any, replayed: bool = False) -> ServiceRequest:
    return ServiceRequest(row.reference, row.kind, row.business, row.status, row.detail, row.created_at, replayed)
