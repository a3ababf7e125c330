"""Where 小贝 keeps conversations: state with expiry, the transcript, hand-offs, and codes sent by SMS.

One turn is one transaction: the customer's message, the replies, the new state and any hand-off are
written together, so a restart never loses a conversation nor keeps half a turn. The state carries a
version; a turn that lost a race with another turn of the same conversation is refused (``Conflict``)
and the caller answers it again from the newer state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, overload

from sqlalchemy import Connection, func, insert, select, update

from hotline.services.outbox import Outbox
from hotline.store.sql.database import Database
from hotline.store.sql.tables import conversation_messages, conversations, handoffs


class Conflict(Exception):
    """Another turn of this conversation was stored first."""


@dataclass
class Conversation:
    id: str
    channel: str
    msisdn: str | None
    state: dict[str, Any]
    version: int = 0
    created_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    seq: int = 0                                 # messages so far
    new: bool = True
    replayed: list[dict] | None = None          # the stored answer to a retried client message id


@dataclass
class Message:
    role: str
    text: str
    intent: str | None = None
    confidence: float | None = None
    client_id: str | None = None


@dataclass
class TurnWrite:
    messages: list[Message] = field(default_factory=list)
    handoff: dict[str, Any] | None = None
    outbox: list[tuple[str, str, str, str]] = field(default_factory=list)   # msisdn, sender, text, purpose


class ConversationStore:
    def __init__(self, db: Database, outbox: Outbox | None = None) -> None:
        self.db = db
        self.sms = outbox   # codes go out through the one Outbox, in the turn's transaction

    async def load(self, conversation_id: str, client_id: str | None = None) -> Conversation | None:
        def job(conn: Connection) -> Conversation | None:
            row = conn.execute(select(conversations).where(conversations.c.id == conversation_id)).first()
            if row is None:
                return None
            seq = conn.execute(select(func.coalesce(func.max(conversation_messages.c.seq), 0))
                               .where(conversation_messages.c.conversation_id == conversation_id)).scalar()
            conv = Conversation(row.id, row.channel, row.msisdn, dict(row.state), row.version,
                                _aware(row.created_at), _aware(row.expires_at), seq or 0, new=False)
            if client_id:
                asked = conn.execute(select(conversation_messages.c.seq).where(
                    conversation_messages.c.conversation_id == conversation_id,
                    conversation_messages.c.client_id == client_id)).scalar()
                if asked is not None:   # the answer given then: the replies up to the next message
                    conv.replayed = []
                    for r in conn.execute(select(conversation_messages.c.role, conversation_messages.c.text)
                                          .where(conversation_messages.c.conversation_id == conversation_id,
                                                 conversation_messages.c.seq > asked)
                                          .order_by(conversation_messages.c.seq)):
                        if r.role != "assistant":
                            break
                        conv.replayed.append({"text": r.text})
            return conv
        return await self.db.run(job, write=False)

    async def save(self, conv: Conversation, write: TurnWrite, now: dt.datetime, expires: dt.datetime) -> None:
        def job(conn: Connection) -> None:
            if conv.new:
                conn.execute(insert(conversations).values(
                    id=conv.id, msisdn=conv.msisdn, channel=conv.channel, state=conv.state, version=1,
                    created_at=now, updated_at=now, expires_at=expires))
            else:
                done = conn.execute(update(conversations).where(
                    conversations.c.id == conv.id, conversations.c.version == conv.version).values(
                    msisdn=conv.msisdn, state=conv.state, version=conv.version + 1,
                    updated_at=now, expires_at=expires)).rowcount
                if not done:
                    raise Conflict(conv.id)
            seq = conv.seq
            for m in write.messages:
                seq += 1
                conn.execute(insert(conversation_messages).values(
                    conversation_id=conv.id, seq=seq, role=m.role, text=m.text, intent=m.intent,
                    confidence=None if m.confidence is None else int(round(m.confidence * 1000)),
                    client_id=m.client_id, at=now))
            if write.handoff is not None:
                conn.execute(insert(handoffs).values(conversation_id=conv.id, created_at=now, status="waiting",
                                                     **write.handoff))
            for msisdn, sender, text, purpose in write.outbox:
                if self.sms is None:
                    raise RuntimeError("this ConversationStore has no Outbox to send SMS with")
                self.sms.enqueue(conn, msisdn, text, sender=sender, purpose=purpose, secret=purpose == "otp")
        await self.db.run(job)

    async def transcript(self, conversation_id: str) -> list[dict[str, Any]]:
        def job(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(select(conversation_messages).where(
                conversation_messages.c.conversation_id == conversation_id).order_by(conversation_messages.c.seq))
            return [{"role": r.role, "text": r.text, "intent": r.intent,
                     "confidence": None if r.confidence is None else r.confidence / 1000,
                     "at": _aware(r.at).isoformat()} for r in rows]
        return await self.db.run(job, write=False)

    async def handoffs(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        def job(conn: Connection) -> list[dict[str, Any]]:
            q = select(handoffs).order_by(handoffs.c.id)
            if conversation_id:
                q = q.where(handoffs.c.conversation_id == conversation_id)
            return [{k: (_aware(v).isoformat() if isinstance(v, dt.datetime) else v)
                     for k, v in r._mapping.items()} for r in conn.execute(q)]
        return await self.db.run(job, write=False)

    async def outbox(self, msisdn: str) -> list[dict[str, Any]]:
        """What the number's phone received (the Outbox's demo inbox), oldest first."""
        if self.sms is None:
            return []
        return [{"sender": m["from"], "text": m["text"]} for m in reversed(await self.sms.inbox(msisdn, limit=100))]


@overload
def _aware(value: dt.datetime) -> dt.datetime: ...
@overload
def _aware(value: None) -> None: ...
def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:   # SQLite hands back naive UTC
        return value.replace(tzinfo=dt.UTC)
    return value


# ---------------------------------------------------------------------- for the desk and routing
# Conversations and hand-offs are this module's: others read and change them only through these.

def proven_for(conv: Conversation | None, number: str, now: dt.datetime) -> bool:
    """Whether the conversation (still live) holds a proof that its customer holds ``number``."""
    from hotline.services.flow import FlowState, Level
    if conv is None or (conv.expires_at is not None and conv.expires_at <= now):
        return False
    flow = FlowState.of(conv.state.get("flow"))
    return flow.msisdn == number and any(a.msisdn == number and a.level >= Level.POSSESSION and a.until > now
                                         for a in flow.assurances)


def waiting_handoffs(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """Hand-offs not yet taken by routing, oldest first, each with its conversation's state."""
    q = (select(handoffs, conversations.c.state.label("conversation_state"))
         .join(conversations, conversations.c.id == handoffs.c.conversation_id)
         .where(handoffs.c.status == "waiting").order_by(handoffs.c.id).limit(limit))
    return [dict(r._mapping) for r in conn.execute(q)]


def take_handoff(conn: Connection, handoff_id: int, status: str) -> None:
    """Routing took a waiting hand-off (queued or refused); a hand-off is taken once."""
    conn.execute(update(handoffs).where(handoffs.c.id == handoff_id, handoffs.c.status == "waiting")
                 .values(status=status))


def latest_handoff(conn: Connection, conversation_id: str) -> Any:
    return conn.execute(select(handoffs.c.id, handoffs.c.status).where(handoffs.c.conversation_id == conversation_id)
                        .order_by(handoffs.c.id.desc()).limit(1)).first()


def set_handoff_status(conn: Connection, handoff_id: int | None, status: str) -> None:
    if handoff_id is not None:
        conn.execute(update(handoffs).where(handoffs.c.id == int(handoff_id)).values(status=status))


def release_handoff(conn: Connection, conversation_id: str, now: dt.datetime) -> None:
    """The conversation is 小贝's again: forget the hand-off so a new 转人工 queues afresh."""
    row = conn.execute(select(conversations.c.state, conversations.c.version)
                       .where(conversations.c.id == conversation_id)).first()
    if row is None or "handoff" not in (row.state or {}):
        return
    state = {k: v for k, v in row.state.items() if k != "handoff"}
    if (state.get("pending") or {}).get("type") == "offer_complaint":
        state.pop("pending")
    conn.execute(update(conversations).where(conversations.c.id == conversation_id).values(
        state=state, version=row.version + 1, updated_at=now))


def recent_for(conn: Connection, number: str, limit: int = 5) -> dict[str, Any]:
    """The number's recent conversations and hand-offs, for an agent (no transcripts, no secrets)."""
    convs = conn.execute(select(conversations.c.id, conversations.c.channel, conversations.c.state,
                                conversations.c.created_at, conversations.c.updated_at)
                         .where(conversations.c.msisdn == number)
                         .order_by(conversations.c.updated_at.desc()).limit(limit)).all()
    hos = conn.execute(select(handoffs.c.id, handoffs.c.conversation_id, handoffs.c.channel, handoffs.c.reason,
                              handoffs.c.priority, handoffs.c.business, handoffs.c.status, handoffs.c.created_at)
                       .where(handoffs.c.msisdn == number).order_by(handoffs.c.id.desc()).limit(limit)).all()
    return {
        "conversations": [{"id": c.id, "channel": c.channel, "created_at": _iso(c.created_at),
                           "updated_at": _iso(c.updated_at),
                           "business": ((c.state or {}).get("last") or {}).get("business"),
                           "handed_off": bool((c.state or {}).get("handoff"))} for c in convs],
        "handoffs": [{"id": h.id, "conversation_id": h.conversation_id, "channel": h.channel, "reason": h.reason,
                      "priority": bool(h.priority), "business": h.business, "status": h.status,
                      "created_at": _iso(h.created_at)} for h in hos],
    }


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value


def cancel_handoff(conn: Connection, handoff_id: int) -> None:
    """The customer left before routing took the hand-off."""
    conn.execute(update(handoffs).where(handoffs.c.id == handoff_id, handoffs.c.status == "waiting")
                 .values(status="cancelled"))
