"""Contact records and agent-state history written from a real Router's events, on SQLite and PostgreSQL.

The router runs in memory with a manual clock; its events go to ``ContactRecords`` and are flushed into
the database, then read back by the wallboard's SQL. Replayed events count nothing twice, and the SQL
arithmetic agrees with the Python arithmetic the unit tests check.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from factories import ManualClock
from hotline.routing.engine import build_router
from hotline.routing.model import AgentProfile, Channel, NewContact, Presence
from hotline.routing.records import ContactRecords, aware, write_events
from hotline.routing.reports import Reports, counts_of_rows, load_queue_infos
from hotline.store.sql import migrate
from hotline.store.sql.database import Database
from hotline.store.sql.tables import agent_states, contacts

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 11, 24, 9, 50, tzinfo=SH).timestamp()     # 09:50 Shanghai


@pytest.fixture
def db(database_url):
    d = Database(database_url, threads=2)
    migrate.upgrade(d)
    yield d
    d.dispose()


@pytest.fixture
def world(db):
    clock = ManualClock(T0)
    router = build_router(None, clock=clock)
    seen: list = []
    records = ContactRecords(db).attach(router)
    router.add_listener(seen.append)
    return clock, router, records, seen


def rows(db, table):
    def job(conn):
        return [{k: (aware(v) if isinstance(v, dt.datetime) else v) for k, v in r._mapping.items()}
                for r in conn.execute(select(table))]
    return db.run_sync(job, (), write=False)


def serve(clock, router, agent, cid, *, talk=60.0, wrap_code="resolved"):
    """The agent takes the contact offered to them, talks, wraps up."""
    offers = router.dispatch()
    assert any(o.contact_id == cid and o.agent_id == agent for o in offers), offers
    router.accept(agent, cid)
    clock.advance(talk)
    router.finish(agent, cid)
    clock.advance(5)
    router.wrap_up(agent, cid, wrap_code, "ok")


def test_a_day_of_contacts_is_recorded_once_even_when_replayed(db, world):
    clock, router, records, seen = world
    router.login(AgentProfile("a1", "王芳", {"billing": 8, "general": 5}))
    router.set_presence("a1", Presence.AVAILABLE)
    # c1 answered at once; c2 waits 30 s (beyond SL), c3 abandons after 10 s (short), c4 after 40 s
    router.enqueue(NewContact(Channel.CHAT, msisdn="13800138000", business="query.balance", category="query",
                              queue="billing", contact_id="c1",
                              context={"handoff_id": 7, "conversation_id": "conv-7"}))
    clock.advance(2)
    serve(clock, router, "a1", "c1", talk=120)                    # accepted at +2 s, 120 s talk, 5 s wrap
    router.enqueue(NewContact(Channel.VOICE, queue="billing", contact_id="c3"))
    router.enqueue(NewContact(Channel.VOICE, queue="billing", contact_id="c4"))
    router.set_presence("a1", Presence.BREAK, "lunch")
    clock.advance(10)
    router.abandon("c3")
    clock.advance(30)
    router.abandon("c4")
    router.enqueue(NewContact(Channel.VOICE, queue="billing", contact_id="c2"))
    clock.advance(30)
    router.set_presence("a1", Presence.AVAILABLE)
    serve(clock, router, "a1", "c2", talk=60)
    assert records.pending == len(seen) > 0

    assert records.flush() == len(seen) and records.pending == 0
    write_events_twice = list(seen)
    db.run_sync(write_events, (write_events_twice, {}))          # a replay of the whole day
    for ev in seen[:5]:                                          # and again, through the listener
        records(ev)
    records.flush()

    got = {r["contact_id"]: r for r in rows(db, contacts)}
    assert set(got) == {"c1", "c2", "c3", "c4"}
    c1 = got["c1"]
    assert (c1["queue"], c1["channel"], c1["msisdn"], c1["business"], c1["outcome"]) == \
        ("billing", "chat", "13800138000", "query.balance", "answered")
    assert (c1["handoff_id"], c1["conversation_id"], c1["agent_id"], c1["wrap_code"]) == (7, "conv-7", "a1", "resolved")
    assert (c1["talk_ms"], c1["wrap_ms"]) == (120_000, 5_000)
    assert c1["answered_at"] - c1["enqueued_at"] == dt.timedelta(seconds=2)
    assert c1["enqueued_at"].utcoffset() == dt.timedelta(0)
    assert [got[c]["outcome"] for c in ("c2", "c3", "c4")] == ["answered", "abandoned", "abandoned"]

    counts = counts_of_rows(got.values(), 20)
    assert (counts.offered, counts.answered, counts.answered_in_sl, counts.abandoned, counts.abandoned_in_sl) == \
        (4, 2, 1, 2, 1)
    assert counts.sl == pytest.approx(1 / 3) and counts.asa_s == pytest.approx((2 + 30) / 2)

    states = sorted(rows(db, agent_states), key=lambda r: (r["started_at"], r["id"]))
    assert [s["state"] for s in states] == ["offline", "available", "offered", "busy", "wrap_up", "available", "break",
                                            "available", "offered", "busy", "wrap_up", "available"]
    assert states[0]["skills"] == ",billing,general,"
    assert all(a["ended_at"] == b["started_at"] for a, b in zip(states, states[1:]))
    assert states[-1]["ended_at"] is None and states[6]["reason"] == "lunch"

    # the wallboard's SQL agrees with the Python arithmetic
    reports = Reports(db, "Asia/Shanghai", load_queue_infos())
    win = db.run_sync(reports.windows, (clock(),), write=False)
    sql = win["today"]["counts"]["billing"]
    assert sql == counts
    secs = win["today"]["states"]
    assert secs["busy"] == pytest.approx(180) and secs["wrap_up"] == pytest.approx(10)
    assert secs["break"] == pytest.approx(70)
    assert win["today"]["queue_states"]["billing"] == secs and win["today"]["queue_states"]["vip"] == {}


def test_interval_report_from_the_records_crosses_a_bucket_boundary(db, world):
    clock, router, records, seen = world
    router.login(AgentProfile("a1", "王芳", {"general": 5}))
    router.set_presence("a1", Presence.AVAILABLE)
    clock.t = dt.datetime(2026, 11, 24, 9, 59, 50, tzinfo=SH).timestamp()
    router.enqueue(NewContact(Channel.CHAT, queue="general", contact_id="x1"))   # arrives 09:59:50
    clock.advance(25)                                                             # answered 10:00:15
    serve(clock, router, "a1", "x1", talk=300)                                    # busy until 10:05:15
    router.enqueue(NewContact(Channel.CHAT, queue="general", contact_id="x2"))    # arrives 10:05:20
    clock.advance(3)
    serve(clock, router, "a1", "x2", talk=60)
    clock.t = dt.datetime(2026, 11, 24, 10, 30, tzinfo=SH).timestamp()
    records.flush()
    reports = Reports(db, "Asia/Shanghai", load_queue_infos())
    rep = db.run_sync(lambda c: reports.intervals(c, dt.date(2026, 11, 24), dt.date(2026, 11, 24), 30, clock()),
                      (), write=False)
    by = {(r["start"], r["queue"]): r for r in rep["rows"]}
    early = by[("2026-11-24T09:30:00+08:00", "general")]
    late = by[("2026-11-24T10:00:00+08:00", "general")]
    assert (early["offered"], early["answered"], early["sl"], early["asa_s"]) == (1, 1, 0.0, 25.0)
    assert (late["offered"], late["answered"], late["sl"], late["asa_s"]) == (1, 1, 1.0, 3.0)
    assert early["aht_s"] == 305.0 and late["aht_s"] == 65.0
    # the agent's busy time is split at 10:00: occupancy in each half hour from the state history
    assert early["occupancy"] == 0.0                        # available from 09:50, first offer at 10:00:15
    assert late["occupancy"] == pytest.approx((300 + 5 + 60 + 5) / 1800, abs=1e-4)
    totals = {r["start"]: r for r in rep["totals"]}
    assert totals["2026-11-24T10:00:00+08:00"]["offered"] == 1 and len(rep["totals"]) == 48
    assert by[("2026-11-24T11:00:00+08:00", "general")]["sl"] is None


def test_a_contact_arriving_before_midnight_in_shanghai_belongs_to_that_day(db, world):
    clock, router, records, seen = world
    clock.t = dt.datetime(2026, 11, 24, 23, 59, 59, tzinfo=SH).timestamp()   # 15:59:59 UTC
    router.enqueue(NewContact(Channel.CHAT, queue="general", contact_id="late"))
    clock.advance(2)                                                          # 00:00:01 on the 25th
    router.enqueue(NewContact(Channel.CHAT, queue="general", contact_id="early"))
    records.flush()
    reports = Reports(db, "Asia/Shanghai", load_queue_infos())
    for day, expected in ((dt.date(2026, 11, 24), "23:30"), (dt.date(2026, 11, 25), "00:00")):
        rep = db.run_sync(lambda c, day=day: reports.intervals(c, day, day, 30, clock()), (), write=False)
        hit = [r for r in rep["totals"] if r["offered"]]
        assert len(hit) == 1 and hit[0]["start"][11:16] == expected
    win = db.run_sync(reports.windows, (clock(),), write=False)
    assert win["today"]["counts"]["general"].offered == 1                     # only the 25th's contact


def test_two_processes_flushing_the_same_contacts_at_once_agree(db, database_url):
    """One process enqueued the contacts, another's agents served them: both flush at the same moment,
    over their own connection pools, in either order; every contact ends up whole, counted once."""
    import threading

    clock = ManualClock(T0)
    router = build_router(None, clock=clock)
    front, desk = [], []                      # the events each "process" saw
    router.add_listener(lambda e: (front if e.kind in ("enqueued", "refused") else desk).append(e))
    router.login(AgentProfile("a1", "王芳", {"general": 5}, capacity={"chat": 200}))
    router.set_presence("a1", Presence.AVAILABLE)
    for i in range(150):
        router.enqueue(NewContact(Channel.CHAT, queue="general", contact_id=f"p{i}"))
    clock.advance(4)
    while offers := router.dispatch():        # one offer at a time per agent
        for o in offers:
            router.accept("a1", o.contact_id)
    clock.advance(30)
    for i in range(150):
        router.wrap_up("a1", f"p{i}", "ok")
    other = Database(database_url, threads=2)
    try:
        a, b = ContactRecords(db), ContactRecords(other)
        for e in front:
            a(e)
        for e in desk:
            b(e)
        gate = threading.Barrier(2)
        errors = []

        def run(rec):
            try:
                gate.wait(5)
                rec.flush()
            except Exception as exc:   # pragma: no cover - reported below
                errors.append(exc)
        threads = [threading.Thread(target=run, args=(r,)) for r in (b, a)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors and a.pending == b.pending == 0
    finally:
        other.dispose()
    got = rows(db, contacts)
    assert len(got) == 150
    assert all(r["queue"] == "general" and r["enqueued_at"] is not None and r["talk_ms"] == 30_000
               and r["outcome"] == "answered" for r in got)
    counts = counts_of_rows(got, 20)
    assert (counts.offered, counts.answered, counts.answered_in_sl, counts.handled) == (150, 150, 150, 150)
    states = rows(db, agent_states)
    assert sum(1 for s in states if s["ended_at"] is None) == 1
