"""Wallboard figures: live metrics per queue and overall, and interval reports (15/30/60 min) with CSV.

"Now" figures (waiting, longest wait, agents by state, agents short) come from the router; "today so far",
"last 30 minutes" and the interval reports come from the records (`contacts`, `agent_states`, written by
``records.py``), aggregated in SQL so a busy day costs one indexed scan. Every figure carries its formula
(zh + en) in ``METRICS``; docs/wallboard.md explains the choices.

Conventions (as Amazon Connect and Genesys Cloud define them; variants in docs/wallboard.md):

- A contact counts in the queue it entered and in the interval (and business day) it entered the queue.
- Service level = answered within T ÷ (answered + abandoned after T): abandons within the threshold
  ("short abandons") are left out. Callbacks are excluded from service level, speed of answer and
  abandonment (the customer chose to be called back instead of waiting).
- Handle time = talk + after-contact work (wrap-up), over contacts whose wrap-up has ended.
- Occupancy = (busy + wrap-up) ÷ (busy + wrap-up + available + offered) time of logged-in agents; break and
  offline time are outside it.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Float, Integer, and_, case, cast, extract, func, literal, literal_column, or_, select

from hotline.routing.records import aware, ts
from hotline.store.sql.database import Database
from hotline.store.sql.tables import agent_states, contacts

UTC = dt.UTC
DEFAULT_SL_SECONDS = 20.0
INTERVALS = (15, 30, 60)
LAST_MINUTES = 30
STATES = ("available", "offered", "busy", "wrap_up", "break", "offline")
WORKING = ("busy", "wrap_up")
STAFFED = ("available", "offered", "busy", "wrap_up")     # logged in and taking contacts

SL_VARIANT = {
    "zh": "服务水平 = T秒内接通数 ÷ (接通数 + 超过T秒后放弃数)；T秒内放弃（短放弃）不计入，回拨不计入。",
    "en": "Service level = answered within T s ÷ (answered + abandoned after T s); abandons within T "
          "(short abandons) and callbacks are left out.",
}


@dataclass(frozen=True)
class Metric:
    zh: str
    en: str
    formula_zh: str
    formula_en: str
    unit: str                      # count | seconds | ratio


METRICS: dict[str, Metric] = {
    "waiting": Metric("排队数", "Waiting", "当前在队列中等待（含已振铃未接听）的联系数。",
                      "Contacts in queue now, including those being offered to an agent.", "count"),
    "longest": Metric("最长等待", "Longest wait", "当前排队联系中最早入队者的已等待时长：现在 − 入队时间。",
                      "How long the oldest contact in queue has waited: now − its enqueue time.", "seconds"),
    "sl": Metric("服务水平", "Service level",
                 "T秒内接通数 ÷ (接通数 + T秒后放弃数)。T为队列目标（如20秒）；T秒内放弃不计入分母，回拨不计入。",
                 "Answered within T s ÷ (answered + abandoned after T s). T is the queue's target (e.g. 20 s); "
                 "abandons within T are left out of the denominator; callbacks are excluded.", "ratio"),
    "asa": Metric("平均应答速度", "Average speed of answer",
                  "Σ(接通时间 − 入队时间) ÷ 接通数（不含回拨）。",
                  "Σ(answered at − enqueued at) ÷ answered contacts (callbacks excluded).", "seconds"),
    "aht": Metric("平均处理时长", "Average handle time",
                  "Σ(通话时长 + 话后处理时长) ÷ 已完成处理的联系数。",
                  "Σ(talk time + after-contact work) ÷ contacts whose wrap-up has ended.", "seconds"),
    "abandon": Metric("放弃率", "Abandonment rate", "放弃数 ÷ 进入队列数（回拨不算放弃）。",
                      "Abandoned ÷ contacts queued (a callback request is not an abandon).", "ratio"),
    "occupancy": Metric("座席占用率", "Occupancy",
                        "(通话 + 话后处理)时长 ÷ (通话 + 话后处理 + 空闲 + 振铃)时长，"
                        "仅统计已登录座席；小休与离线不计。",
                        "(busy + wrap-up) time ÷ (busy + wrap-up + available + offered) time of logged-in agents; "
                        "break and offline time are outside it.", "ratio"),
    "handled": Metric("已处理", "Handled", "话后处理已结束的联系数。",
                      "Contacts whose after-contact work has ended.", "count"),
    "offered": Metric("进线数", "Offered", "进入队列的联系数（因队列满被拒绝的不计）。",
                      "Contacts that entered the queue (those refused because it was full are not).", "count"),
    "answered": Metric("接通数", "Answered", "被座席接起的联系数（不含回拨）。",
                       "Contacts an agent answered (callbacks excluded).", "count"),
    "abandoned": Metric("放弃数", "Abandoned", "客户在排队（或振铃）中挂断的联系数。",
                        "Contacts the customer left while waiting or being offered.", "count"),
    "max_wait": Metric("最长等待", "Maximum wait", "接通或放弃前等待时长的最大值。",
                       "The longest wait before an answer or an abandon.", "seconds"),
    "agents": Metric("座席状态", "Agents by state", "各状态的座席人数（空闲、振铃、通话、话后处理、小休）。",
                     "Agents in each state (available, offered, busy, wrap-up, break).", "count"),
    "agents_short": Metric("当前缺员", "Agents short now",
                           "Erlang C 所需座席数 − 当前在岗座席数（不小于0）。所需数按最近30分钟进线量、平均处理时长、"
                           "队列服务水平目标计算；在岗 = 以该队列为首选、处于空闲/振铃/通话/话后处理的座席。",
                           "Agents required by Erlang C − agents serving now (at least 0). Required from the last "
                           "30 minutes' arrivals, the average handle time and the queue's service-level goal; "
                           "serving = agents whose first queue it is, available, offered, busy or in wrap-up.",
                           "count"),
}


def metric_texts() -> dict[str, dict[str, str]]:
    return {k: asdict(m) for k, m in METRICS.items()}


# ------------------------------------------------------------------------------------------- arithmetic

@dataclass
class Counts:
    """Additive counts over a set of contacts; the rates derive from them (so totals add up exactly)."""

    offered: int = 0
    refused: int = 0
    callbacks: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_in_sl: int = 0
    handled: int = 0
    wait_s: float = 0.0            # Σ waits of answered contacts
    handle_s: float = 0.0          # Σ (talk + wrap-up) of handled contacts
    max_wait_s: float | None = None

    def add(self, other: Counts) -> Counts:
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "max_wait_s":
                setattr(self, f.name, b if a is None else a if b is None else max(a, b))
            else:
                setattr(self, f.name, a + b)
        return self

    @property
    def sl(self) -> float | None:
        denominator = self.answered + self.abandoned - self.abandoned_in_sl
        return self.answered_in_sl / denominator if denominator else None

    @property
    def asa_s(self) -> float | None:
        return self.wait_s / self.answered if self.answered else None

    @property
    def aht_s(self) -> float | None:
        return self.handle_s / self.handled if self.handled else None

    @property
    def abandon_rate(self) -> float | None:
        return self.abandoned / self.offered if self.offered else None

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.update(sl=_r(self.sl), asa_s=_r(self.asa_s), aht_s=_r(self.aht_s), abandon_rate=_r(self.abandon_rate),
                   wait_s=_r(self.wait_s), handle_s=_r(self.handle_s), max_wait_s=_r(self.max_wait_s))
        return out


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def counts_of_rows(rows: Iterable[Mapping[str, Any]], sl_seconds: float) -> Counts:
    """The same arithmetic as the SQL below, over contact rows in Python (for tests and small sets)."""
    c = Counts()
    for r in rows:
        if r.get("enqueued_at") is None:
            continue
        if r.get("outcome") == "refused":
            c.refused += 1
            continue
        c.offered += 1
        enq = r["enqueued_at"]
        if r.get("callback_at") is not None:
            c.callbacks += 1
        else:
            wait = None
            if r.get("answered_at") is not None:
                wait = (r["answered_at"] - enq).total_seconds()
                c.answered += 1
                c.answered_in_sl += wait <= sl_seconds
                c.wait_s += wait
            if r.get("abandoned_at") is not None:
                aw = (r["abandoned_at"] - enq).total_seconds()
                c.abandoned += 1
                c.abandoned_in_sl += aw <= sl_seconds
                wait = aw if wait is None else max(wait, aw)
            if wait is not None:
                c.max_wait_s = wait if c.max_wait_s is None else max(c.max_wait_s, wait)
        if r.get("wrapped_at") is not None:
            c.handled += 1
            c.handle_s += ((r.get("talk_ms") or 0) + (r.get("wrap_ms") or 0)) / 1000
    return c


def occupancy(seconds_by_state: Mapping[str, float]) -> float | None:
    """(busy + wrap-up) ÷ (busy + wrap-up + available + offered)."""
    work = sum(seconds_by_state.get(s, 0.0) for s in WORKING)
    staffed = sum(seconds_by_state.get(s, 0.0) for s in STAFFED)
    return work / staffed if staffed > 0 else None


def state_seconds(rows: Iterable[Mapping[str, Any]], start: dt.datetime, end: dt.datetime,
                  now: dt.datetime) -> dict[str, float]:
    """Seconds spent in each state within [start, end); a state still open runs until ``now``."""
    out: dict[str, float] = {}
    for r in rows:
        s = max(r["started_at"], start)
        e = min(r["ended_at"] or now, end, now)
        if e > s:
            out[r["state"]] = out.get(r["state"], 0.0) + (e - s).total_seconds()
    return out


# ------------------------------------------------------------------------------------------- time

def day_bounds(day: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """The business day ``day`` in zone ``tz`` as [start, end) in UTC."""
    z = ZoneInfo(tz)
    start = dt.datetime.combine(day, dt.time(0), z)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), z)
    return start.astimezone(UTC), end.astimezone(UTC)


def business_day(now: float, tz: str) -> dt.date:
    return dt.datetime.fromtimestamp(now, ZoneInfo(tz)).date()


def buckets(date_from: dt.date, date_to: dt.date, minutes: int, tz: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """Interval boundaries [start, end) in UTC, wall-clock aligned in ``tz`` from each day's midnight."""
    if minutes not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS} minutes")
    out = []
    day = date_from
    while day <= date_to:
        start, end = day_bounds(day, tz)
        t = start
        while t < end:
            nxt = min(t + dt.timedelta(minutes=minutes), end)
            out.append((t, nxt))
            t = nxt
        day += dt.timedelta(days=1)
    return out


# ------------------------------------------------------------------------------------------- SQL

def _epoch(col, pg: bool):
    """Seconds since the epoch of a stored UTC time, portable (SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff')."""
    if pg:
        return cast(extract("epoch", col), Float)
    return cast(func.strftime("%s", col), Float) + cast(func.substr(col, 20), Float)


def _bucket(offset, pg: bool):
    """floor(offset) for offsets ≥ 0 (SQLite may lack floor(); its CAST to INTEGER truncates)."""
    return cast(func.floor(offset), Integer) if pg else cast(offset, Integer)


def _sum_if(cond, value=1):
    return func.sum(case((cond, value), else_=0))


def _contact_select(pg: bool, sl_of: Mapping[str, float], default_sl: float):
    """Columns of Counts, aggregated by SQL: the arithmetic of ``counts_of_rows``."""
    c = contacts.c
    enq = _epoch(c.enqueued_at, pg)
    wait_a = _epoch(c.answered_at, pg) - enq
    wait_ab = _epoch(c.abandoned_at, pg) - enq
    threshold = case(*[(c.queue == q, float(s)) for q, s in sl_of.items()], else_=float(default_sl)) \
        if sl_of else literal(float(default_sl))
    refused = func.coalesce(c.outcome, "") == "refused"          # NULL-safe: ~refused must be true for NULL
    live = and_(~refused, c.callback_at.is_(None))
    answered = and_(live, c.answered_at.isnot(None))
    abandoned = and_(live, c.abandoned_at.isnot(None))
    # SQLite's strftime is exact to the microsecond, PostgreSQL's epoch too: 1 µs of slack for float sums
    eps = 1e-6
    return [
        _sum_if(~refused).label("offered"),
        _sum_if(refused).label("refused"),
        _sum_if(and_(~refused, c.callback_at.isnot(None))).label("callbacks"),
        _sum_if(answered).label("answered"),
        _sum_if(and_(answered, wait_a <= threshold + eps)).label("answered_in_sl"),
        _sum_if(abandoned).label("abandoned"),
        _sum_if(and_(abandoned, wait_ab <= threshold + eps)).label("abandoned_in_sl"),
        _sum_if(and_(~refused, c.wrapped_at.isnot(None))).label("handled"),
        _sum_if(answered, wait_a).label("wait_s"),
        _sum_if(and_(~refused, c.wrapped_at.isnot(None)), c.talk_ms + c.wrap_ms).label("handle_ms"),
        func.max(case((answered, wait_a), else_=None)).label("max_wait_a"),
        func.max(case((abandoned, wait_ab), else_=None)).label("max_wait_ab"),
    ]


def _counts(row: Any) -> Counts:
    m = row._mapping
    waits = [float(w) for w in (m["max_wait_a"], m["max_wait_ab"]) if w is not None]
    return Counts(offered=int(m["offered"] or 0), refused=int(m["refused"] or 0), callbacks=int(m["callbacks"] or 0),
                  answered=int(m["answered"] or 0), answered_in_sl=int(m["answered_in_sl"] or 0),
                  abandoned=int(m["abandoned"] or 0), abandoned_in_sl=int(m["abandoned_in_sl"] or 0),
                  handled=int(m["handled"] or 0), wait_s=float(m["wait_s"] or 0),
                  handle_s=float(m["handle_ms"] or 0) / 1000, max_wait_s=max(waits) if waits else None)


def contact_counts(conn: Connection, start: dt.datetime, end: dt.datetime, sl_of: Mapping[str, float],
                   default_sl: float = DEFAULT_SL_SECONDS) -> dict[str, Counts]:
    """Counts per queue of the contacts that entered a queue in [start, end)."""
    pg = conn.dialect.name == "postgresql"
    c = contacts.c
    q = (select(c.queue, *_contact_select(pg, sl_of, default_sl))
         .where(c.enqueued_at >= start, c.enqueued_at < end).group_by(c.queue))
    return {r.queue or "": _counts(r) for r in conn.execute(q)}


def contact_counts_by_bucket(conn: Connection, start: dt.datetime, end: dt.datetime, minutes: int,
                             sl_of: Mapping[str, float], default_sl: float = DEFAULT_SL_SECONDS
                             ) -> dict[tuple[int, str], Counts]:
    """Counts per (bucket index from ``start``, queue) of contacts that entered a queue in [start, end)."""
    pg = conn.dialect.name == "postgresql"
    c = contacts.c
    # constants inlined (not bound): PostgreSQL must see the same expression in SELECT and GROUP BY
    offset = (_epoch(c.enqueued_at, pg) - literal_column(repr(float(start.timestamp())))) \
        / literal_column(repr(float(minutes * 60)))
    bucket = _bucket(offset, pg).label("bucket")
    q = (select(bucket, c.queue, *_contact_select(pg, sl_of, default_sl))
         .where(c.enqueued_at >= start, c.enqueued_at < end).group_by(bucket, c.queue))
    return {(int(r.bucket), r.queue or ""): _counts(r) for r in conn.execute(q)}


def state_seconds_sql(conn: Connection, start: dt.datetime, end: dt.datetime, now: dt.datetime
                      ) -> dict[tuple[str, str], float]:
    """Seconds per (state, skills) within [start, end) from the state history, open states until ``now``."""
    pg = conn.dialect.name == "postgresql"
    a = agent_states.c
    stop = min(end, now)
    hi = _epoch(a.ended_at, pg)
    stop_e, start_e = float(stop.timestamp()), float(start.timestamp())
    least = func.least if pg else func.min          # scalar min/max of two values
    greatest = func.greatest if pg else func.max
    seconds = least(func.coalesce(hi, stop_e), stop_e) - greatest(_epoch(a.started_at, pg), start_e)
    q = (select(a.state, a.skills, func.sum(seconds).label("s"))
         .where(a.started_at < stop, or_(a.ended_at.is_(None), a.ended_at > start))
         .group_by(a.state, a.skills))
    return {(r.state, r.skills or ""): float(r.s or 0) for r in conn.execute(q)}


def state_rows(conn: Connection, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    a = agent_states.c
    q = (select(a.agent_id, a.state, a.skills, a.started_at, a.ended_at)
         .where(a.started_at < end, or_(a.ended_at.is_(None), a.ended_at > start)))
    return [{"agent_id": r.agent_id, "state": r.state, "skills": r.skills or "",
             "started_at": aware(r.started_at), "ended_at": aware(r.ended_at)} for r in conn.execute(q)]


def _by_queue(seconds: Mapping[tuple[str, str], float], skill_of: Mapping[str, str]
              ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Overall seconds per state, and per queue (agents having the queue's skill)."""
    overall: dict[str, float] = {}
    per_queue: dict[str, dict[str, float]] = {q: {} for q in skill_of}
    for (state, skills), secs in seconds.items():
        overall[state] = overall.get(state, 0.0) + secs
        for q, skill in skill_of.items():
            if skill and f",{skill}," in skills:
                per_queue[q][state] = per_queue[q].get(state, 0.0) + secs
    return overall, per_queue


# ------------------------------------------------------------------------------------------- reports

@dataclass(frozen=True)
class QueueInfo:
    name: str
    title_zh: str
    title_en: str
    skill: str
    sl_seconds: float = DEFAULT_SL_SECONDS
    sl_target: float = 0.8
    initial_aht: float = 240.0


def queue_infos(config: Any | None) -> dict[str, QueueInfo]:
    """The queues of a RoutingConfig (``.queues: name -> QueueConfig``), in their configured order."""
    if config is None:
        return {}
    return {name: QueueInfo(name, q.title_zh, q.title_en, q.skill, float(q.sl_seconds), float(q.sl_target),
                            float(getattr(q, "initial_aht", 240.0)))
            for name, q in config.queues.items()}


def load_queue_infos() -> dict[str, QueueInfo]:
    """The configured queues when no router is running (reports still need names and SL thresholds)."""
    try:
        from hotline.routing.config import load_routing_config
        return queue_infos(load_routing_config())
    except Exception:      # no queue file: reports still work, with the default threshold
        return {}


class Reports:
    """Figures from the records, in business time zone ``tz``."""

    def __init__(self, db: Database, tz: str, queues: Mapping[str, QueueInfo] | None = None) -> None:
        self.db = db
        self.tz = tz
        self.queues = dict(queues or {})

    @property
    def sl_of(self) -> dict[str, float]:
        return {q: i.sl_seconds for q, i in self.queues.items()}

    # -- windows (today so far, last 30 minutes)

    def windows(self, conn: Connection, now: float) -> dict[str, Any]:
        """Counts and occupancy per queue for today so far and for the last 30 minutes."""
        now_dt = ts(now)
        day_start, _ = day_bounds(business_day(now, self.tz), self.tz)
        last_start = now_dt - dt.timedelta(minutes=LAST_MINUTES)
        skill_of = {q: i.skill for q, i in self.queues.items()}
        out: dict[str, Any] = {}
        for name, start in (("today", day_start), ("last_30", last_start)):
            counts = contact_counts(conn, start, now_dt + dt.timedelta(microseconds=1), self.sl_of)
            overall_s, per_queue_s = _by_queue(state_seconds_sql(conn, start, now_dt, now_dt), skill_of)
            out[name] = {"start": start, "counts": counts, "states": overall_s, "queue_states": per_queue_s}
        return out

    # -- intervals

    def intervals(self, conn: Connection, date_from: dt.date, date_to: dt.date, minutes: int, now: float,
                  queue: str | None = None) -> dict[str, Any]:
        """Per interval and queue: offered, answered, abandoned, SL, ASA, AHT, max wait, occupancy."""
        if date_to < date_from:
            raise ValueError("the end date is before the start date")
        if (date_to - date_from).days > 31:
            raise ValueError("at most 31 days per report")
        now_dt = ts(now)
        bounds = buckets(date_from, date_to, minutes, self.tz)
        names = [queue] if queue else list(self.queues)
        skill_of = {q: i.skill for q, i in self.queues.items()}
        counts: dict[tuple[int, str], Counts] = {}
        day = date_from
        base = 0
        while day <= date_to:                      # per day: buckets align on each local midnight
            start, end = day_bounds(day, self.tz)
            for (b, q), c in contact_counts_by_bucket(conn, start, end, minutes, self.sl_of).items():
                counts[(base + b, q)] = c
                if not queue and q not in names:
                    names.append(q)                # a queue no longer configured still shows
            base += sum(1 for s, _ in bounds if start <= s < end)
            day += dt.timedelta(days=1)
        states = state_rows(conn, bounds[0][0], bounds[-1][1]) if bounds else []
        overall_secs, queue_secs = bucket_state_seconds(states, bounds, skill_of, now_dt)
        rows, totals = [], []
        local = ZoneInfo(self.tz)
        for i, (s, e) in enumerate(bounds):
            total = Counts()
            for q in names:
                c = counts.get((i, q), Counts())
                total.add(c)
                rows.append(_interval_row(s, e, local, q, c, occupancy(queue_secs[i].get(q, {}))))
            totals.append(_interval_row(s, e, local, "ALL", total, occupancy(overall_secs[i])))
        return {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "minutes": minutes,
                "timezone": self.tz, "sl_variant": SL_VARIANT, "queues": names, "rows": rows, "totals": totals,
                "metrics": {k: asdict(METRICS[k]) for k in ("offered", "answered", "abandoned", "sl", "asa",
                                                             "aht", "max_wait", "occupancy")}}

    async def intervals_async(self, *args: Any, **kw: Any) -> dict[str, Any]:
        return await self.db.run(lambda conn: self.intervals(conn, *args, **kw), write=False)

    async def windows_async(self, now: float) -> dict[str, Any]:
        return await self.db.run(self.windows, now, write=False)


def bucket_state_seconds(states: list[dict[str, Any]], bounds: list[tuple[dt.datetime, dt.datetime]],
                         skill_of: Mapping[str, str], now: dt.datetime
                         ) -> tuple[list[dict[str, float]], list[dict[str, dict[str, float]]]]:
    """Seconds per state in each interval, overall and per queue: each state row is split over the
    intervals it spans (found by bisection), so a day costs O(rows + intervals)."""
    starts = [b[0] for b in bounds]
    overall: list[dict[str, float]] = [{} for _ in bounds]
    per_queue: list[dict[str, dict[str, float]]] = [{} for _ in bounds]
    for r in states:
        queues = [q for q, skill in skill_of.items() if skill and f",{skill}," in r["skills"]]
        end = min(r["ended_at"] or now, now)
        i = max(0, bisect.bisect_right(starts, r["started_at"]) - 1)
        while i < len(bounds) and bounds[i][0] < end:
            s, e = bounds[i]
            secs = (min(end, e) - max(r["started_at"], s)).total_seconds()
            if secs > 0:
                st = r["state"]
                overall[i][st] = overall[i].get(st, 0.0) + secs
                for q in queues:
                    d = per_queue[i].setdefault(q, {})
                    d[st] = d.get(st, 0.0) + secs
            i += 1
    return overall, per_queue


def _interval_row(s: dt.datetime, e: dt.datetime, local: ZoneInfo, queue: str, c: Counts,
                  occ: float | None) -> dict[str, Any]:
    return {"start": s.astimezone(local).isoformat(), "end": e.astimezone(local).isoformat(), "queue": queue,
            "offered": c.offered, "answered": c.answered, "abandoned": c.abandoned,
            "answered_in_sl": c.answered_in_sl, "abandoned_in_sl": c.abandoned_in_sl,
            "sl": _r(c.sl), "asa_s": _r(c.asa_s, 1), "aht_s": _r(c.aht_s, 1), "max_wait_s": _r(c.max_wait_s, 1),
            "handled": c.handled, "occupancy": _r(occ)}


CSV_COLUMNS = [
    ("start", "开始 start"), ("end", "结束 end"), ("queue", "队列 queue"), ("offered", "进线 offered"),
    ("answered", "接通 answered"), ("abandoned", "放弃 abandoned"), ("sl", "服务水平 SL"),
    ("asa_s", "平均应答速度 ASA (s)"), ("aht_s", "平均处理时长 AHT (s)"), ("max_wait_s", "最长等待 max wait (s)"),
    ("occupancy", "占用率 occupancy"), ("handled", "已处理 handled"),
]


def intervals_csv(report: Mapping[str, Any]) -> str:
    """The report as CSV (UTF-8 with BOM so spreadsheet programs read the Chinese headers); rows per queue,
    then the ALL totals of each interval. Empty cells where a rate has no denominator."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([h for _, h in CSV_COLUMNS])
    for row in list(report["rows"]) + list(report["totals"]):
        w.writerow(["" if row[k] is None else row[k] for k, _ in CSV_COLUMNS])
    return buf.getvalue()


def csv_filename(report: Mapping[str, Any]) -> str:
    span = report["date_from"] if report["date_from"] == report["date_to"] else \
        f"{report['date_from']}_{report['date_to']}"
    return f"hotline-intervals-{span}-{report['minutes']}min.csv"


# ------------------------------------------------------------------------------------------- live

def _window_dict(counts: Counts, states: Mapping[str, float]) -> dict[str, Any]:
    out = counts.as_dict()
    out["occupancy"] = _r(occupancy(states))
    out["state_seconds"] = {k: round(v, 1) for k, v in states.items()}
    return out


def agents_short(calls: int, aht_s: float | None, info: QueueInfo, serving: int) -> tuple[int | None, int | None]:
    """(agents required by Erlang C, agents short) for the last 30 minutes' arrivals; (None, None) when
    the staffing model cannot say (no handle time known)."""
    if not aht_s or aht_s <= 0:
        return None, None
    from hotline.routing import staffing
    interval = LAST_MINUTES * 60.0
    sl = min(max(info.sl_target, 0.01), 0.99)
    if calls <= 0:
        return 0, 0
    required = staffing.required_agents(calls, interval, aht_s, sl, info.sl_seconds).raw_agents
    return required, staffing.shortfall(calls, interval, aht_s, sl, info.sl_seconds, serving)


def live(router: Any | None, windows: Mapping[str, Any], queues: Mapping[str, QueueInfo], now: float,
         tz: str, max_agents: int = 500) -> dict[str, Any]:
    """The wallboard: "now" from the router (if one runs here), "today" and "last_30" from the records."""
    local = ZoneInfo(tz)
    snap: dict[str, Any] = router.snapshot() if router is not None else {"queues": {}, "agents": {}, "logged_in": 0}
    views = router.agents() if router is not None else []
    today, last = windows["today"], windows["last_30"]
    names = list(queues) + [q for q in list(today["counts"]) + list(last["counts"]) if q and q not in queues]
    names = list(dict.fromkeys(names))
    rows = []
    total_today, total_last = Counts(), Counts()
    total_short: int | None = 0
    total_required: int | None = 0
    for name in names:
        info = queues.get(name) or QueueInfo(name, name, name, "")
        s = snap["queues"].get(name, {})
        ct, cl = today["counts"].get(name, Counts()), last["counts"].get(name, Counts())
        total_today.add(ct)
        total_last.add(cl)
        serving = sum(1 for v in views if v.queues.get(name) == 0 and str(v.state) in STAFFED)
        aht = cl.aht_s or ct.aht_s or s.get("aht_s") or info.initial_aht
        required, short = agents_short(cl.offered, aht, info, serving)
        if short is None:
            total_short = total_required = None
        elif total_short is not None and total_required is not None:
            total_short += short
            total_required += required or 0
        rows.append({
            "queue": name, "title_zh": info.title_zh, "title_en": info.title_en,
            "sl_seconds": info.sl_seconds, "sl_target": info.sl_target,
            "waiting": int(s.get("waiting", 0)) + int(s.get("offered", 0)),
            "longest_wait_s": _r(s.get("longest_wait_s", 0.0), 1),
            "agents": dict(s.get("agents", {})), "logged_in": int(s.get("logged_in", 0)), "serving": serving,
            "aht_model_s": _r(aht, 1), "agents_required": required, "agents_short": short,
            "today": _window_dict(ct, today["queue_states"].get(name, {})),
            "last_30": _window_dict(cl, last["queue_states"].get(name, {})),
        })
    by_state = {s: 0 for s in STATES}
    by_state.update(snap.get("agents", {}))
    agents = sorted(views, key=lambda v: (STATES.index(str(v.state)) if str(v.state) in STATES else 9, v.agent_id))
    return {
        "at": dt.datetime.fromtimestamp(now, local).isoformat(),
        "business_day": business_day(now, tz).isoformat(), "timezone": tz,
        "router": router is not None, "sl_variant": SL_VARIANT, "metrics": metric_texts(),
        "overall": {
            "waiting": sum(r["waiting"] for r in rows),
            "longest_wait_s": max((r["longest_wait_s"] or 0.0 for r in rows), default=0.0),
            "agents": by_state, "logged_in": int(snap.get("logged_in", 0)),
            "agents_required": total_required, "agents_short": total_short,
            "today": _window_dict(total_today, today["states"]),
            "last_30": _window_dict(total_last, last["states"]),
        },
        "queues": rows,
        "agents": [{"agent_id": v.agent_id, "name": v.name, "state": str(v.state), "reason": v.reason,
                    "since_s": round(max(0.0, now - v.state_since), 1), "contacts": len(v.contacts),
                    "queues": sorted(q for q, step in v.queues.items() if step == 0)}
                   for v in agents[:max_agents]],
    }
