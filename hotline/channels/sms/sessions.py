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

from sqlalchemy import Connection, bindparam, case, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from hotline.store.sql.database import Database
from hotline.store.sql.tables import sms_inbound, sms_rate, sms_sessions

MAX_BATCH = 256
KEEP = dt.timedelta(days=1)  # an expired step is remembered this long, to say "timed out" rather than "what?"
RATE_WINDOW = dt.timedelta(minutes=1)


@dataclass
class Loaded:
    state: dict[str, Any]
    replies: list[dict] | None     # the stored replies when this message id was seen before
    recent: int                    # messages from this number before this one in its rate window


class SmsStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._saves = 0
        self._queue: list[_Save] = []
        self._writing = False
        self._loads: list[_Load] = []
        self._loading = False

    async def load(self, msisdn: str, message_key: str | None, now: dt.datetime,
                   window: dt.timedelta = RATE_WINDOW) -> Loaded:
        """The number's session and, unless this message id was seen before, its place in the rate window.

        The place is counted atomically, one upsert on the number's ``sms_rate`` row, so concurrent messages
        (in this process or another) cannot all read the same count and pass together. Loads that arrive
        while one is being written share the next transaction, as saves do.
        """
        item = _Load(msisdn, message_key, now, now - window, asyncio.get_running_loop().create_future())
        self._loads.append(item)
        if not self._loading:
            self._loading = True
            asyncio.get_running_loop().create_task(self._drain_loads())
        return await item.done

    async def _drain_loads(self) -> None:
        try:
            while self._loads:
                batch, self._loads = self._loads[:MAX_BATCH], self._loads[MAX_BATCH:]
                try:
                    results = await self.db.run(self._reserve, batch)
                except Exception as err:  # noqa: BLE001  every waiter hears of it
                    _answer(batch, error=err)
                    continue
                _answer(batch, results)
        finally:
            self._loading = False

    @staticmethod
    def _reserve(conn: Connection, batch: list[_Load]) -> list[Loaded]:
        upsert = _rate_upsert(conn.dialect.name)
        out: dict[int, Loaded] = {}
        # Row locks are taken in number order, so two processes' batches cannot deadlock.
        for i, item in sorted(enumerate(batch), key=lambda x: x[1].msisdn):
            replies = None
            if item.message_key:
                replies = conn.execute(select(sms_inbound.c.replies)
                                       .where(sms_inbound.c.message_key == item.message_key)).scalar()
            state = conn.execute(select(sms_sessions.c.state).where(sms_sessions.c.msisdn == item.msisdn)).scalar()
            recent = 0
            if replies is None:   # a redelivery is answered from the log and does not count again
                counted = conn.execute(upsert, {"p_msisdn": item.msisdn, "p_now": item.now,
                                                "p_since": item.since}).scalar_one()
                recent = int(counted) - 1
            out[i] = Loaded(state or {}, replies, recent)
        return [out[i] for i in range(len(batch))]

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
                    _answer(batch, error=err)
                    continue
                _answer(batch, results)
        finally:
            self._writing = False

    async def _save_alone(self, item: _Save) -> list[dict] | None:
        for attempt in (1, 2):
            try:
                return (await self.db.run(self._write, [item], False))[0]
            except IntegrityError:
                if attempt == 2:
                    raise
        return None

    @staticmethod
    def _write(conn: Connection, batch: list[_Save], purge: bool) -> list[list[dict] | None]:
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
            conn.execute(delete(sms_rate).where(sms_rate.c.window_start < batch[-1].now - KEEP))
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
    done: asyncio.Future[list[dict] | None]


@dataclass
class _Load:
    msisdn: str
    message_key: str | None
    now: dt.datetime
    since: dt.datetime
    done: asyncio.Future[Loaded]


_RATE_UPSERTS: dict[str, Any] = {}


def _rate_upsert(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE … RETURNING messages``: this message's number in its window (a new
    window when the last one began before ``p_since``). One statement, so the count cannot be raced."""
    stmt = _RATE_UPSERTS.get(dialect)
    if stmt is None:
        when = sms_rate.c.window_start.type
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(sms_rate).values(
            msisdn=bindparam("p_msisdn"), window_start=bindparam("p_now", type_=when), messages=1)
        ended = sms_rate.c.window_start < bindparam("p_since", type_=when)
        stmt = ins.on_conflict_do_update(
            index_elements=[sms_rate.c.msisdn],
            set_={"messages": case((ended, 1), else_=sms_rate.c.messages + 1),
                  "window_start": case((ended, ins.excluded.window_start), else_=sms_rate.c.window_start)},
        ).returning(sms_rate.c.messages)
        _RATE_UPSERTS[dialect] = stmt
    return stmt


def _answer(batch: list[Any], results: list[Any] | None = None, *, error: BaseException | None = None) -> None:
    """Wake every waiter of a batch with its own result, or all with the batch's error."""
    for i, item in enumerate(batch):
        if item.done.done():
            continue
        if error is not None:
            item.done.set_exception(error)
        else:
            assert results is not None
            item.done.set_result(results[i])
