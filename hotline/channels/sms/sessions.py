"""Where the SMS hall keeps its conversations and its inbound log (SQLite or PostgreSQL).

A session holds what the next message from a number means: a pending confirmation or password
prompt, the serial numbers of the last 0000 reply, or the menu position. It lives in the database,
so a restart in the middle of a flow continues where it was. The inbound log makes each gateway
message id count once and carries the per-number rate limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hotline.store.sql.database import Database
from hotline.store.sql.tables import sms_inbound, sms_sessions

MAX_BATCH = 256
KEEP = dt.timedelta(days=1)  # an expired step is remembered this long, to say "timed out" rather than "what?"


@dataclass
class Loaded:
    state: dict[str, Any]
    replies: list[dict] | None     # the stored replies when this message id was seen before
    recent: int                    # messages from this number within the rate window


class SmsStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._saves = 0
        self._queue: list[_Save] = []
        self._writing = False

    async def load(self, msisdn: str, message_key: str | None, since: dt.datetime) -> Loaded:
        def job(conn: Connection) -> Loaded:
            replies = None
            if message_key:
                replies = conn.execute(select(sms_inbound.c.replies)
                                       .where(sms_inbound.c.message_key == message_key)).scalar()
            state = conn.execute(select(sms_sessions.c.state).where(sms_sessions.c.msisdn == msisdn)).scalar()
            recent = conn.execute(select(func.count()).select_from(sms_inbound).where(
                sms_inbound.c.msisdn == msisdn, sms_inbound.c.received_at >= since)).scalar()
            return Loaded(state or {}, replies, recent or 0)
        return await self.db.run(job, write=False)

    async def save(self, *, msisdn: str, message_key: str, port: str, text: str, business: str | None,
                   replies: list[dict], state: dict[str, Any], until: dt.datetime | None,
                   now: dt.datetime, had_state: bool = True) -> list[dict] | None:
        """Log the message with its replies and store the session, durably, before the replies go out.

        Saves that arrive while a write is under way are committed together in the next one (group
        commit): each caller still waits for its own commit, but many share one fsync. Returns the
        first replies instead when a twin of this message id was logged first.
        """
        item = _Save(msisdn, message_key, port, text, business, replies, state, until, now, had_state,
                     asyncio.get_running_loop().create_future())
        self._queue.append(item)
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._drain())
        return await item.done

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                self._saves += len(batch)
                purge = self._saves // 1000 != (self._saves - len(batch)) // 1000
                try:
                    results = await self.db.run(self._write, batch, purge)
                except IntegrityError:
                    results = [await self._save_alone(item) for item in batch]  # isolate the racing twin
                except Exception as err:  # noqa: BLE001  every waiter hears of it
                    for item in batch:
                        if not item.done.done():
                            item.done.set_exception(err)
                    continue
                for item, result in zip(batch, results):
                    if not item.done.done():
                        item.done.set_result(result)
        finally:
            self._writing = False

    async def _save_alone(self, item: "_Save") -> list[dict] | None:
        for attempt in (1, 2):
            try:
                return (await self.db.run(self._write, [item], False))[0]
            except IntegrityError:
                if attempt == 2:
                    raise
        return None

    @staticmethod
    def _write(conn: Connection, batch: list["_Save"], purge: bool) -> list[list[dict] | None]:
        results: list[list[dict] | None] = []
        seen: dict[str, list[dict]] = {}
        for item in batch:
            first = seen.get(item.message_key)
            if first is None:
                first = conn.execute(select(sms_inbound.c.replies)
                                     .where(sms_inbound.c.message_key == item.message_key)).scalar()
            if first is not None:
                results.append(first)  # a twin of this message won: its session change is dropped too
                continue
            conn.execute(insert(sms_inbound).values(
                message_key=item.message_key, msisdn=item.msisdn, port=item.port, text=item.text,
                business=item.business, replies=item.replies, received_at=item.now))
            seen[item.message_key] = item.replies
            if not item.state:
                if item.had_state:  # most messages neither start nor end a flow: nothing to delete
                    conn.execute(delete(sms_sessions).where(sms_sessions.c.msisdn == item.msisdn))
            else:
                expires = (item.until or item.now) + KEEP
                done = conn.execute(update(sms_sessions).where(sms_sessions.c.msisdn == item.msisdn)
                                    .values(state=item.state, expires_at=expires)).rowcount
                if not done:
                    conn.execute(insert(sms_sessions).values(msisdn=item.msisdn, state=item.state,
                                                             expires_at=expires))
            results.append(None)
        if purge:
            conn.execute(delete(sms_sessions).where(sms_sessions.c.expires_at < batch[-1].now))
        return results


@dataclass
class _Save:
    msisdn: str
    message_key: str
    port: str
    text: str
    business: str | None
    replies: list[dict]
    state: dict[str, Any]
    until: dt.datetime | None
    now: dt.datetime
    had_state: bool
    done: "asyncio.Future[list[dict] | None]"
