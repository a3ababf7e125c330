"""Hand-offs into the routing engine: the assistant's `handoffs` rows become contacts in a queue.

The assistant (and any channel that hands off) only writes a durable row with status ``waiting``; this
module turns each into a contact once. The contact id is derived from the row (``h<id>``) and the
router's enqueue is idempotent on it, so two processes polling at once, or a crash between enqueueing
and marking the row, never queue a customer twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from hotline.assistant import store as conversation_store
from hotline.bss.port import SubscriberRecord
from hotline.catalog.catalog import Catalog
from hotline.domain.errors import DomainError
from hotline.domain.subscriber import Brand, Subscriber
from hotline.routing.engine import Router
from hotline.routing.model import Channel, ContactStatus, NewContact
from hotline.store.sql.database import Database

# The channel a hand-off came from → the contact's channel at the desk.
_CHANNELS = {"web": Channel.CHAT, "chat": Channel.CHAT, "app": Channel.CHAT, "sms": Channel.SMS,
             "voice": Channel.VOICE, "video": Channel.VIDEO}


def tier_of(sub: Subscriber | SubscriberRecord) -> str:
    """全球通 customers and five-star (gold and diamond) customers are served first."""
    return "vip" if sub.brand is Brand.GOTONE or sub.star_level.is_vip else "normal"


def contact_id_for(handoff_id: int) -> str:
    return f"h{handoff_id}"


@dataclass
class Intake:
    db: Database
    router: Router
    catalog: Catalog
    bss: Any                 # the BSS port: tier and language come from the subscriber
    batch: int = 100

    async def poll(self) -> int:
        """Queue every waiting hand-off (oldest first, up to ``batch``); returns how many were taken."""
        rows = await self.db.run(self._waiting, write=False)
        for row in rows:
            contact = self.router.enqueue(await self._contact(row))
            status = "queued" if contact.status != ContactStatus.REFUSED else "refused"
            await self.db.run(self._mark, row["id"], status)
        return len(rows)

    def _waiting(self, conn: Connection) -> list[dict[str, Any]]:
        return conversation_store.waiting_handoffs(conn, self.batch)

    @staticmethod
    def _mark(conn: Connection, handoff_id: int, status: str) -> None:
        conversation_store.take_handoff(conn, handoff_id, status)

    async def _contact(self, row: dict[str, Any]) -> NewContact:
        state = row.get("conversation_state") or {}
        tier, language = "normal", state.get("lang") or "zh"
        if row["msisdn"]:
            try:
                sub = await self.bss.subscriber(row["msisdn"])
            except DomainError:
                sub = None
            if sub is not None:
                tier = tier_of(sub)
                language = state.get("lang") or sub.language or "zh"
        business = row["business"]
        category = self.catalog.by_code[business].category if business in self.catalog.by_code else None
        return NewContact(
            channel=_CHANNELS.get(row["channel"], Channel.CHAT), msisdn=row["msisdn"], tier=tier,
            language=language, business=business, category=category, urgent=bool(row["priority"]),
            contact_id=contact_id_for(row["id"]),
            context={"handoff_id": row["id"], "conversation_id": row["conversation_id"],
                     "reason": row["reason"], "transcript": row["transcript"], "slots": row["slots"],
                     "sentiment": row["sentiment"], "channel": row["channel"]})
