"""The live-chat hub: chat events of a conversation, from whoever says something to whoever is listening.

A customer's web-chat socket and the agent's desk socket may sit in different ``hotline`` processes, so
events travel through a hub: in memory for the embedded default, Redis pub/sub in production (same
interface). The hub only relays; what is said is also written to ``conversation_messages`` (roles
``customer``, ``agent``, ``system``) by ``ChatLog`` so the transcript stays complete.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, func, insert, select, update

from hotline.store.sql.database import Database
from hotline.store.sql.tables import conversation_messages, conversations

CONVERSATION_TTL = dt.timedelta(minutes=30)   # as the assistant's: a live chat keeps its conversation alive


@dataclass
class ChatEvent:
    """One thing that happened in a live chat.

    kind: ``message`` (role customer/agent), ``joined`` (an agent took the chat), ``waiting`` (back in a
    queue, e.g. after a transfer), ``ended`` (the agent finished: 小贝 takes over again).
    """

    conversation_id: str
    kind: str
    role: str = "system"
    text: str = ""
    name: str | None = None          # the agent's display name
    agent_id: str | None = None
    contact_id: str | None = None
    seq: int | None = None           # the message's place in conversation_messages
    at: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> ChatEvent:
        return cls(**json.loads(raw))


class Subscription(Protocol):
    async def add(self, conversation_id: str) -> None: ...
    async def remove(self, conversation_id: str) -> None: ...
    async def get(self, timeout: float | None = None) -> ChatEvent | None: ...
    async def close(self) -> None: ...


class Hub(Protocol):
    async def publish(self, event: ChatEvent) -> None: ...
    async def subscribe(self, *conversation_ids: str) -> Subscription: ...
    async def close(self) -> None: ...


# ---------------------------------------------------------------------------------------- in memory

class MemorySubscription:
    def __init__(self, hub: MemoryHub) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[ChatEvent] = asyncio.Queue(maxsize=1000)
        self.topics: set[str] = set()

    async def add(self, conversation_id: str) -> None:
        self.topics.add(conversation_id)
        self._hub._subs[conversation_id].add(self)

    async def remove(self, conversation_id: str) -> None:
        self.topics.discard(conversation_id)
        subs = self._hub._subs.get(conversation_id)
        if subs is not None:
            subs.discard(self)
            if not subs:
                del self._hub._subs[conversation_id]

    async def get(self, timeout: float | None = None) -> ChatEvent | None:
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def _put(self, event: ChatEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:      # a listener that stopped reading loses the oldest, not the process
            self._queue.get_nowait()
            self._queue.put_nowait(event)

    async def close(self) -> None:
        for topic in list(self.topics):
            await self.remove(topic)


class MemoryHub:
    """One process: subscribers are queues in this event loop."""

    def __init__(self) -> None:
        self._subs: dict[str, set[MemorySubscription]] = defaultdict(set)

    async def publish(self, event: ChatEvent) -> None:
        for sub in list(self._subs.get(event.conversation_id, ())):
            sub._put(event)

    async def subscribe(self, *conversation_ids: str) -> MemorySubscription:
        sub = MemorySubscription(self)
        for cid in conversation_ids:
            await sub.add(cid)
        return sub

    async def close(self) -> None:
        self._subs.clear()


# ---------------------------------------------------------------------------------------- Redis

class RedisSubscription:
    """One pub/sub connection. Subscribing and reading share it, so they take turns (a lock, short reads)."""

    POLL = 0.2

    def __init__(self, hub: RedisHub) -> None:
        self._hub = hub
        self._pubsub = hub.redis.pubsub(ignore_subscribe_messages=True)
        self._lock = asyncio.Lock()
        self.topics: set[str] = set()

    async def add(self, conversation_id: str) -> None:
        async with self._lock:
            if conversation_id not in self.topics:
                await self._pubsub.subscribe(self._hub.channel(conversation_id))
                self.topics.add(conversation_id)

    async def remove(self, conversation_id: str) -> None:
        async with self._lock:
            if conversation_id in self.topics:
                await self._pubsub.unsubscribe(self._hub.channel(conversation_id))
                self.topics.discard(conversation_id)

    async def get(self, timeout: float | None = None) -> ChatEvent | None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            left = self.POLL if deadline is None else min(self.POLL, deadline - loop.time())
            if left <= 0:
                return None
            async with self._lock:
                if self.topics:
                    msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
                else:
                    msg = None
            if msg is None and not self.topics:
                await asyncio.sleep(left)
            if msg is not None and msg.get("type") == "message":
                try:
                    return ChatEvent.from_json(msg["data"])
                except (ValueError, TypeError):
                    continue

    async def close(self) -> None:
        async with self._lock:
            try:
                if self.topics:
                    await self._pubsub.unsubscribe()
            finally:
                self.topics.clear()
                await self._pubsub.aclose()


class RedisHub:
    """Several processes: each event is published on ``<prefix>chat:<conversation id>``."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "hotline:", client: Any = None) -> None:
        import redis.asyncio as aioredis
        self.redis = client if client is not None else aioredis.Redis.from_url(url)
        self.prefix = prefix

    def channel(self, conversation_id: str) -> str:
        return f"{self.prefix}chat:{conversation_id}"

    async def publish(self, event: ChatEvent) -> None:
        await self.redis.publish(self.channel(event.conversation_id), event.to_json())

    async def subscribe(self, *conversation_ids: str) -> RedisSubscription:
        sub = RedisSubscription(self)
        for cid in conversation_ids:
            await sub.add(cid)
        return sub

    async def close(self) -> None:
        await self.redis.aclose()


# ---------------------------------------------------------------------------------------- the transcript

class ChatLog:
    """Live-chat messages in ``conversation_messages``, after what 小贝 and the customer said before."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(self, conversation_id: str, role: str, text: str, *, now: dt.datetime,
                     client_id: str | None = None) -> int | None:
        """Store one message; its seq, or None when the client already sent this message (a retry).
        ``now`` is the operator's clock, as the assistant stores its turns."""

        def job(conn: Connection) -> int | None:
            # Lock the conversation: two writers never take the same seq (SQLite's writer lock already does).
            q = select(conversations.c.id).where(conversations.c.id == conversation_id)
            if self.db.for_update:
                q = q.with_for_update()
            if conn.execute(q).first() is None:
                return None
            if client_id and conn.execute(select(conversation_messages.c.id).where(
                    conversation_messages.c.conversation_id == conversation_id,
                    conversation_messages.c.client_id == client_id)).first():
                return None
            seq = (conn.execute(select(func.coalesce(func.max(conversation_messages.c.seq), 0)).where(
                conversation_messages.c.conversation_id == conversation_id)).scalar() or 0) + 1
            conn.execute(insert(conversation_messages).values(conversation_id=conversation_id, seq=seq, role=role,
                                                              text=text, client_id=client_id, at=now))
            conn.execute(update(conversations).where(conversations.c.id == conversation_id).values(
                version=conversations.c.version + 1, updated_at=now, expires_at=now + CONVERSATION_TTL))
            return seq
        return await self.db.run(job)

    async def since(self, conversation_id: str, after_seq: int = 0) -> list[dict[str, Any]]:
        """The messages after ``after_seq``, in order."""
        def job(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(select(conversation_messages).where(
                conversation_messages.c.conversation_id == conversation_id,
                conversation_messages.c.seq > after_seq).order_by(conversation_messages.c.seq))
            return [{"seq": r.seq, "role": r.role, "text": r.text, "intent": r.intent, "at": _iso(r.at)}
                    for r in rows]
        return await self.db.run(job, write=False)


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()
