"""Durable contact records from the router's events: the `contacts` and `agent_states` tables.

The router calls its listeners synchronously on the hot path, so ``ContactRecords.__call__`` only
appends the event to an in-memory buffer (O(1), thread-safe). The server's background loop calls
``flush()`` (or ``await flush_async()``) about once a second; it writes the whole buffer in one
transaction. On failure the batch goes back to the front of the buffer and the next flush retries it.

Replaying events is harmless: every change an event makes is guarded by the time it happened (a talk
is counted once per leg, a transfer once per instant, an agent state once per start), so a batch that
is written twice — a retry after a lost commit acknowledgement, or events recovered from a log —
counts nothing twice. Events of one contact may come from several processes (the one that enqueued
it, the one whose agent accepted it); rows are locked while they are folded (``SELECT … FOR UPDATE`` on
PostgreSQL, the single writer on SQLite), and each agent's state history is serialised with an advisory
lock on PostgreSQL.

All times are stored in UTC; reports bucket them in the business time zone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hotline.store.sql.database import Database
from hotline.store.sql.tables import agent_states, contacts

log = logging.getLogger(__name__)

UTC = dt.UTC
_CHUNK = 500          # ids per IN (...) list


class EventLike(Protocol):
    kind: str
    at: float
    contact_id: str | None
    agent_id: str | None
    queue: str | None
    channel: str | None
    data: dict[str, Any]


def ts(at: float) -> dt.datetime:
    """An event time (epoch seconds) as an aware UTC datetime, to the microsecond (stable on replay)."""
    return dt.datetime.fromtimestamp(at, UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; ours are all UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _ms(later: dt.datetime, earlier: dt.datetime) -> int:
    return int(round((later - earlier).total_seconds() * 1000))


# ------------------------------------------------------------------------------------------- the fold

_FIELDS = [c.name for c in contacts.columns]


def new_row(contact_id: str, now: dt.datetime) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(_FIELDS)
    row.update(contact_id=contact_id, urgent=False, transfers=0, overflow_step=0, talk_ms=0, wrap_ms=0,
               updated_at=now)
    return row


def _leg_open(row: dict[str, Any]) -> bool:
    leg = row["leg_answered_at"]
    return leg is not None and (row["finished_at"] is None or row["finished_at"] < leg)


def _fill(row: dict[str, Any], ev: EventLike) -> None:
    """Descriptive fields from an enqueue (or refusal): the first value seen is kept."""
    d = ev.data or {}
    ctx = d.get("context") or {}
    if ev.queue:
        row["queue"] = ev.queue                     # the queue it entered
    if row["callback_at"] is None and (ev.channel or d.get("channel")):
        row["channel"] = str(ev.channel or d.get("channel"))
    for key in ("msisdn", "tier", "language", "business", "category"):
        if row[key] is None and d.get(key) is not None:
            row[key] = str(d[key])
    if d.get("urgent"):
        row["urgent"] = True
    handoff = d.get("handoff_id", ctx.get("handoff_id"))
    if row["handoff_id"] is None and handoff is not None:
        try:
            row["handoff_id"] = int(handoff)
        except (TypeError, ValueError):
            pass
    conversation = d.get("conversation_id", ctx.get("conversation_id"))
    if row["conversation_id"] is None and conversation:
        row["conversation_id"] = str(conversation)[:40]


def apply(row: dict[str, Any], ev: EventLike) -> bool:
    """Fold one event into a contact row in place; returns whether anything changed. Idempotent."""
    before = dict(row)
    at = ts(ev.at)
    d = ev.data or {}
    kind = ev.kind
    if kind in ("enqueued", "refused"):
        _fill(row, ev)
        if row["enqueued_at"] is None or at < row["enqueued_at"]:
            row["enqueued_at"] = at
        if kind == "refused" and row["outcome"] is None:
            row["outcome"] = "refused"
    elif kind == "offered":
        if row["queue"] is None and ev.queue:
            row["queue"] = ev.queue
        if row["first_offered_at"] is None or at < row["first_offered_at"]:
            row["first_offered_at"] = at
    elif kind == "accepted":
        if row["answered_at"] is None or at < row["answered_at"]:
            row["answered_at"] = at
        if row["leg_answered_at"] is None or at > row["leg_answered_at"]:
            row["leg_answered_at"] = at
            row["agent_id"] = ev.agent_id
            row["outcome"] = "callback" if row["callback_at"] is not None else "answered"
    elif kind == "abandoned":
        if row["abandoned_at"] is None:
            row["abandoned_at"] = at
            row["outcome"] = "abandoned"
    elif kind == "callback_requested":
        if row["callback_at"] is None or at < row["callback_at"]:
            row["callback_at"] = at
        row["channel"] = "callback"
    elif kind == "finished":
        if row["finished_at"] is None or at > row["finished_at"]:
            if _leg_open(row) and row["leg_answered_at"] <= at:
                row["talk_ms"] += _ms(at, row["leg_answered_at"])
            row["finished_at"] = at
    elif kind == "wrapped_up":
        if row["wrapped_at"] is None or at > row["wrapped_at"]:
            fin = row["finished_at"]
            if fin is not None and fin <= at and (row["wrapped_at"] is None or row["wrapped_at"] < fin):
                row["wrap_ms"] += _ms(at, fin)
            row["wrapped_at"] = at
            if d.get("code") is not None:
                row["wrap_code"] = str(d["code"])[:48]
            if d.get("notes") is not None:
                row["notes"] = str(d["notes"])
    elif kind == "transferred":
        if row["transferred_at"] is None or at > row["transferred_at"]:
            row["transfers"] += 1
            row["transferred_at"] = at
            if _leg_open(row) and row["leg_answered_at"] <= at:   # the talk with this agent ends here
                row["talk_ms"] += _ms(at, row["leg_answered_at"])
                row["finished_at"] = at
            if row["outcome"] not in ("abandoned", "refused"):
                row["outcome"] = "transferred"
    elif kind == "overflowed":
        step = d.get("step")
        if isinstance(step, int) and step > row["overflow_step"]:
            row["overflow_step"] = step
    changed = row != before
    if changed:
        row["updated_at"] = max(row["updated_at"] or at, at)
    return changed


def fold(rows: dict[str, dict[str, Any]], events: Iterable[EventLike]) -> set[str]:
    """Apply contact events (in time order) to ``rows`` (contact_id -> row), creating rows as needed.
    Returns the ids of rows that changed. Pure: the unit tests and ``flush`` share it."""
    changed: set[str] = set()
    for ev in sorted(events, key=lambda e: e.at):   # stable: same-instant events keep their order
        if not ev.contact_id or ev.kind == "agent_state":
            continue
        row = rows.get(ev.contact_id)
        if row is None:
            row = rows[ev.contact_id] = new_row(ev.contact_id, ts(ev.at))
            changed.add(ev.contact_id)
        if apply(row, ev):
            changed.add(ev.contact_id)
    return changed


def chain_states(existing: list[dict[str, Any]], events: list[EventLike],
                 skills: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Merge one agent's new state events into its stored history (rows from the earliest new event on).
    Each state ends when the next begins. Returns (rows to insert, rows whose ended_at changes)."""
    seen = {(r["started_at"], r["state"]) for r in existing}
    merged = [dict(r, _new=False) for r in existing]
    for ev in sorted(events, key=lambda e: e.at):
        d = ev.data or {}
        state = str(d.get("state") or "")
        if not state:
            continue
        key = (ts(ev.at), state)
        if key in seen:
            continue                                        # replayed
        seen.add(key)
        reason = d.get("reason")
        merged.append({"id": None, "agent_id": ev.agent_id, "state": state,
                       "reason": None if reason is None else str(reason)[:64], "skills": skills,
                       "started_at": key[0], "ended_at": None, "_new": True})
    # stored rows first among equal start times (they were there before), then arrival order
    merged.sort(key=lambda r: (r["started_at"], r["_new"], r["id"] or 0))
    inserts, updates = [], []
    for i, r in enumerate(merged):
        ended = merged[i + 1]["started_at"] if i + 1 < len(merged) else (None if r["_new"] else r["ended_at"])
        if r["_new"]:
            r["ended_at"] = ended
            inserts.append({k: v for k, v in r.items() if k not in ("id", "_new")})
        elif ended != r["ended_at"]:
            updates.append({"_id": r["id"], "ended_at": ended})
    return inserts, updates


# ------------------------------------------------------------------------------------------- the listener

class ContactRecords:
    """A router listener that records its events durably. Register the instance itself as a listener."""

    def __init__(self, db: Database, *, max_buffer: int = 500_000,
                 skills_of: Callable[[str], Mapping[str, int] | Iterable[str] | None] | None = None,
                 contact_of: Callable[[str], Any] | None = None) -> None:
        self.db = db
        self.max_buffer = max_buffer
        self.skills_of = skills_of          # agent_id -> skills, stored with its states (per-queue occupancy)
        self.contact_of = contact_of        # contact_id -> Contact: the details an enqueued event lacks
        self.dropped = 0                    # events dropped because the buffer was full (database down)
        self.written = 0
        self._buffer: deque[EventLike] = deque()
        self._skills_cache: dict[str, str | None] = {}
        self._flushes = 0

    def attach(self, router: Any) -> ContactRecords:
        """Listen to ``router`` and read agents' skills and contacts' details from it at flush time."""
        def skills(agent_id: str):
            view = router.agent(agent_id)
            return view.profile.skills if view is not None else None
        self.skills_of = skills
        self.contact_of = router.contact
        if self not in router.listeners:
            router.add_listener(self)
        return self

    def __call__(self, event: EventLike) -> None:
        """The router's listener: O(1), never touches the database."""
        if len(self._buffer) >= self.max_buffer:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(event)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def _take(self, limit: int) -> list[EventLike]:
        batch: list[EventLike] = []
        buf = self._buffer
        while buf and len(batch) < limit:
            batch.append(buf.popleft())
        return batch

    def _give_back(self, batch: list[EventLike]) -> None:
        self._buffer.extendleft(reversed(batch))

    def flush(self, limit: int = 20_000) -> int:
        """Write up to ``limit`` buffered events in one transaction (blocking); returns how many."""
        batch = self._take(limit)
        if not batch:
            return 0
        skills, enriched = self._skills(batch), self._enrich(batch)
        try:
            self.db.run_sync(write_events, (enriched, skills))
        except Exception:
            self._give_back(batch)
            raise
        self.written += len(batch)
        return len(batch)

    async def flush_async(self, limit: int = 20_000) -> int:
        """``flush`` for the event loop: the transaction runs on a database thread."""
        batch = self._take(limit)
        if not batch:
            return 0
        try:
            # reading skills and contact details may go to Redis: off the event loop
            skills, enriched = await asyncio.to_thread(lambda: (self._skills(batch), self._enrich(batch)))
            await self.db.run(write_events, enriched, skills)
        except BaseException:               # cancelled at shutdown too: the next flush writes them
            self._give_back(batch)
            raise
        self.written += len(batch)
        return len(batch)

    def _skills(self, batch: list[EventLike]) -> dict[str, str]:
        self._flushes += 1
        if self._flushes % 300 == 0:        # skills change at a re-login: refresh now and then
            self._skills_cache.clear()
        out: dict[str, str] = {}
        for ev in batch:
            if ev.kind != "agent_state" or not ev.agent_id or ev.agent_id in out:
                continue
            found = (ev.data or {}).get("skills")
            text_: str | None
            if found:
                text_ = skills_text(found)
            elif ev.agent_id in self._skills_cache:
                text_ = self._skills_cache[ev.agent_id]
            else:
                text_ = None
                if self.skills_of is not None:
                    try:
                        got = self.skills_of(ev.agent_id)
                    except Exception:       # a logged-out agent may be gone: no skills then
                        got = None
                    text_ = skills_text(got) if got else None
                if text_ is not None:
                    self._skills_cache[ev.agent_id] = text_
            if text_:
                out[ev.agent_id] = text_
        return out

    def _enrich(self, batch: list[EventLike]) -> list[EventLike]:
        """Enqueue and refusal events with the contact's details (number, business, hand-off ids) added
        from the router, read here at flush time rather than on the hot path."""
        if self.contact_of is None:
            return batch
        out: list[EventLike] = []
        for ev in batch:
            if ev.kind in ("enqueued", "refused") and ev.contact_id and "msisdn" not in (ev.data or {}):
                try:
                    c = self.contact_of(ev.contact_id)
                except Exception:
                    c = None
                if c is not None:
                    ctx = getattr(c, "context", None) or {}
                    extra = {"msisdn": c.msisdn, "tier": c.tier, "language": c.language, "business": c.business,
                             "category": c.category, "urgent": c.urgent,
                             "handoff_id": ctx.get("handoff_id"), "conversation_id": ctx.get("conversation_id")}
                    ev = _Event(ev.kind, ev.at, ev.contact_id, ev.agent_id, ev.queue, ev.channel,
                                {**extra, **(ev.data or {})})
            out.append(ev)
        return out


@dataclass
class _Event:
    kind: str
    at: float
    contact_id: str | None
    agent_id: str | None
    queue: str | None
    channel: str | None
    data: dict[str, Any]


def skills_text(skills: Mapping[str, int] | Iterable[str]) -> str:
    """Skill names as stored: ``,billing,general,`` (so ``LIKE '%,billing,%'`` finds them)."""
    names = sorted(skills.keys() if isinstance(skills, Mapping) else skills)
    return ("," + ",".join(names) + ",")[:255]


# ------------------------------------------------------------------------------------------- the write

def write_events(conn: Connection, events: list[EventLike], skills: Mapping[str, str] | None = None) -> None:
    """One transaction: contact rows and agent-state history from a batch of events."""
    contact_events = [e for e in events if e.contact_id and e.kind != "agent_state"]
    state_events = [e for e in events if e.kind == "agent_state" and e.agent_id]
    if contact_events:
        _write_contacts(conn, contact_events)
    if state_events:
        _write_states(conn, state_events, skills or {})


def _chunks(items: list, n: int = _CHUNK):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _write_contacts(conn: Connection, events: list[EventLike]) -> None:
    pg = conn.dialect.name == "postgresql"
    first: dict[str, dt.datetime] = {}
    for e in events:
        assert e.contact_id     # write_events passes only a contact's events
        first.setdefault(e.contact_id, ts(e.at))
    ids = sorted(first)                                             # sorted: locks in one order
    ins = pg_insert(contacts) if pg else sqlite_insert(contacts)
    stubs = [new_row(cid, first[cid]) for cid in ids]
    for part in _chunks(stubs):
        conn.execute(ins.on_conflict_do_nothing(index_elements=["contact_id"]), part)
    rows: dict[str, dict[str, Any]] = {}
    for part in _chunks(ids):
        q = select(contacts).where(contacts.c.contact_id.in_(part)).order_by(contacts.c.contact_id)
        if pg:
            q = q.with_for_update()
        for r in conn.execute(q):
            rows[r.contact_id] = {k: (aware(v) if isinstance(v, dt.datetime) else v) for k, v in r._mapping.items()}
    changed = fold(rows, events)
    if not changed:
        return
    cols = [c for c in _FIELDS if c != "contact_id"]
    stmt = (update(contacts).where(contacts.c.contact_id == bindparam("_id"))
            .values({c: bindparam(f"v_{c}") for c in cols}))
    params = [{"_id": cid, **{f"v_{c}": rows[cid][c] for c in cols}} for cid in sorted(changed)]
    conn.execute(stmt, params)


def _write_states(conn: Connection, events: list[EventLike], skills: Mapping[str, str]) -> None:
    pg = conn.dialect.name == "postgresql"
    by_agent: dict[str, list[EventLike]] = {}
    for e in events:
        assert e.agent_id       # write_events passes only an agent's events
        by_agent.setdefault(e.agent_id, []).append(e)
    agents = sorted(by_agent)
    if pg:   # one history per agent at a time, whichever process flushes it
        conn.execute(text("SELECT count(pg_advisory_xact_lock(hashtext(a))) FROM "
                          "(SELECT unnest(CAST(:agents AS text[])) AS a ORDER BY 1) s"), {"agents": agents})
    since = ts(min(e.at for e in events))
    existing: dict[str, list[dict[str, Any]]] = {a: [] for a in agents}
    for part in _chunks(agents):
        q = (select(agent_states).where(agent_states.c.agent_id.in_(part),
                                        or_(agent_states.c.ended_at.is_(None), agent_states.c.ended_at >= since))
             .order_by(agent_states.c.agent_id, agent_states.c.started_at, agent_states.c.id))
        for r in conn.execute(q):
            m = dict(r._mapping)
            m["started_at"], m["ended_at"] = aware(m["started_at"]), aware(m["ended_at"])
            existing[r.agent_id].append(m)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for agent in agents:
        ins_, upd_ = chain_states(existing[agent], by_agent[agent], skills.get(agent))
        inserts += ins_
        updates += upd_
    if updates:
        conn.execute(update(agent_states).where(agent_states.c.id == bindparam("_id"))
                     .values(ended_at=bindparam("ended_at")), updates)
    for part in _chunks(inserts):
        conn.execute(insert(agent_states), part)
