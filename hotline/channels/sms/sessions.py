"""Where the SMS hall keeps its conversations and its inbound log (SQLite or PostgreSQL).

A session holds what the next message from a number means: a pending confirmation or password
prompt, the serial numbers of the last 0000 reply, or the menu position. It lives in the database,
so a restart in the middle of a flow continues where it was. The inbound log makes each gateway
message id count once and carries the per-number rate limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hotline.store.sql.database import Database
from hotline.store.sql.tables import sms_inbound, sms_sessions

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
                   now: dt.datetime) -> list[dict] | None:
        """Log the message with its replies and store the session, in one transaction.

        Returns the first replies instead when a twin of this message id was logged meanwhile.
        """
        self._saves += 1
        purge = self._saves % 1000 == 0

        def job(conn: Connection) -> None:
            conn.execute(insert(sms_inbound).values(message_key=message_key, msisdn=msisdn, port=port, text=text,
                                                    business=business, replies=replies, received_at=now))
            if not state:
                conn.execute(delete(sms_sessions).where(sms_sessions.c.msisdn == msisdn))
            else:
                expires = (until or now) + KEEP
                done = conn.execute(update(sms_sessions).where(sms_sessions.c.msisdn == msisdn)
                                    .values(state=state, expires_at=expires)).rowcount
                if not done:
                    conn.execute(insert(sms_sessions).values(msisdn=msisdn, state=state, expires_at=expires))
            if purge:
                conn.execute(delete(sms_sessions).where(sms_sessions.c.expires_at < now))

        for attempt in (1, 2):
            try:
                await self.db.run(job)
                return None
            except IntegrityError:
                first = await self.db.run(lambda c: c.execute(select(sms_inbound.c.replies).where(
                    sms_inbound.c.message_key == message_key)).scalar(), write=False)
                if first is not None:
                    return first  # a twin of this message won
                if attempt == 2:
                    raise
                # another message from the number created the session row first: update it instead
        return None
