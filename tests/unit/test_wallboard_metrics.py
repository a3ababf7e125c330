"""Wallboard arithmetic on hand-made event sequences driven by a manual clock (no database).

Events are folded into contact rows exactly as the records writer does, then counted as the SQL does
(``counts_of_rows`` is the Python twin of the SQL aggregation; the integration test checks they agree).
"""

from __future__ import annotations

import datetime as dt

import pytest

from hotline.routing.model import Event
from hotline.routing.records import chain_states, fold, ts
from hotline.routing.reports import (
    METRICS,
    Counts,
    bucket_state_seconds,
    buckets,
    business_day,
    counts_of_rows,
    day_bounds,
    intervals_csv,
    occupancy,
    state_seconds,
)

SH = "Asia/Shanghai"
T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def at(self, seconds: float) -> float:
        return T0 + seconds


def ev(kind: str, at: float, cid: str | None = "c1", agent: str | None = None, queue: str = "billing", **data):
    return Event(kind, at, cid, agent, queue, "voice", data)


def call(cid: str, enq: float, *, answer: float | None = None, finish: float | None = None,
         wrap: float | None = None, abandon: float | None = None, agent: str = "a1", queue: str = "billing"):
    """A contact's events at offsets (seconds after T0)."""
    out = [ev("enqueued", T0 + enq, cid, queue=queue, msisdn="13800138000", tier="normal")]
    if answer is not None:
        out += [ev("offered", T0 + answer - 1, cid, agent, queue), ev("accepted", T0 + answer, cid, agent, queue)]
    if finish is not None:
        out.append(ev("finished", T0 + finish, cid, agent, queue))
    if wrap is not None:
        out.append(ev("wrapped_up", T0 + wrap, cid, agent, queue, code="resolved", notes=""))
    if abandon is not None:
        out.append(ev("abandoned", T0 + abandon, cid, queue=queue))
    return out


def counts(events, sl=20.0) -> Counts:
    rows: dict = {}
    fold(rows, events)
    return counts_of_rows(rows.values(), sl)


def test_service_level_counts_answers_within_the_threshold_inclusive():
    events = (call("a", 0, answer=5, finish=65, wrap=75) + call("b", 0, answer=20, finish=80, wrap=90)
              + call("c", 0, answer=21, finish=81, wrap=91) + call("d", 0, answer=40, finish=100, wrap=110))
    c = counts(events)
    assert (c.offered, c.answered, c.answered_in_sl) == (4, 4, 2)        # 5 s and exactly 20 s are in
    assert c.sl == pytest.approx(0.5)
    assert c.asa_s == pytest.approx((5 + 20 + 21 + 40) / 4)
    assert c.max_wait_s == pytest.approx(40)


def test_short_abandons_leave_service_level_but_count_as_abandoned():
    events = (call("a", 0, answer=10, finish=70, wrap=80)      # in SL
              + call("b", 0, answer=30, finish=90, wrap=100)   # answered late
              + call("s", 0, abandon=15)                       # short abandon: out of SL, counted as abandon
              + call("l", 0, abandon=45))                      # abandoned after the threshold: counts against SL
    c = counts(events)
    assert (c.answered, c.abandoned, c.abandoned_in_sl) == (2, 2, 1)
    assert c.sl == pytest.approx(1 / 3)                        # 1 ÷ (2 answered + 1 late abandon)
    assert c.abandon_rate == pytest.approx(2 / 4)
    assert c.max_wait_s == pytest.approx(45)


def test_a_queue_with_its_own_threshold():
    events = call("a", 0, answer=25, finish=30, wrap=31)
    assert counts(events, sl=20).sl == 0.0
    assert counts(events, sl=30).sl == 1.0


def test_handle_time_is_talk_plus_wrap_up_of_finished_contacts_only():
    events = (call("a", 0, answer=10, finish=130, wrap=160)       # 120 talk + 30 wrap
              + call("b", 0, answer=10, finish=70, wrap=80)       # 60 + 10
              + call("c", 0, answer=10, finish=50))               # still in wrap-up: not handled yet
    c = counts(events)
    assert c.handled == 2
    assert c.aht_s == pytest.approx((150 + 70) / 2)


def test_transfer_counts_talk_of_both_legs_and_answer_speed_once():
    e = call("x", 0, answer=10, agent="a1")
    e += [ev("transferred", T0 + 70, "x", "a1", to_queue="orders"),           # 60 s with a1
          ev("offered", T0 + 80, "x", "a2"), ev("accepted", T0 + 90, "x", "a2"),
          ev("finished", T0 + 150, "x", "a2"), ev("wrapped_up", T0 + 170, "x", "a2", code="done")]
    rows: dict = {}
    fold(rows, e)
    r = rows["x"]
    assert r["transfers"] == 1 and r["agent_id"] == "a2" and r["outcome"] == "answered"
    assert r["talk_ms"] == 120_000 and r["wrap_ms"] == 20_000
    assert r["answered_at"] == ts(T0 + 10) and r["queue"] == "billing"
    c = counts_of_rows(rows.values(), 20)
    assert (c.answered, c.asa_s, c.aht_s) == (1, 10.0, 140.0)


def test_replaying_events_changes_nothing():
    e = call("a", 0, answer=10, finish=70, wrap=80) + call("b", 0, abandon=30)
    e.append(ev("transferred", T0 + 40, "a", "a1"))
    rows: dict = {}
    fold(rows, e)
    snapshot = {k: dict(v) for k, v in rows.items()}
    assert fold(rows, e) == set()            # nothing changed
    assert fold(rows, list(reversed(e))) == set()
    assert rows == snapshot


def test_refused_and_callback_contacts():
    e = [ev("refused", T0, "r1")]
    e += call("cb", 0, answer=300, finish=360, wrap=370)
    e.insert(-4, ev("callback_requested", T0 + 20, "cb", number="13800138000"))
    rows: dict = {}
    fold(rows, e)
    assert rows["r1"]["outcome"] == "refused"
    assert rows["cb"]["outcome"] == "callback" and rows["cb"]["channel"] == "callback"
    c = counts_of_rows(rows.values(), 20)
    assert (c.offered, c.refused, c.callbacks, c.answered, c.handled) == (1, 1, 1, 0, 1)
    assert c.sl is None and c.abandon_rate == 0.0          # the callback neither hurts SL nor is an abandon


def test_occupancy_from_agent_states():
    clock = Clock()
    states = [ev("agent_state", clock.at(s), None, "a1", state=st) for s, st in
              [(0, "available"), (60, "offered"), (70, "busy"), (250, "wrap_up"), (280, "available"),
               (400, "break"), (500, "available")]]
    inserts, updates = chain_states([], states)
    assert updates == [] and [r["state"] for r in inserts][:3] == ["available", "offered", "busy"]
    now = ts(clock.at(600))
    secs = state_seconds(inserts, ts(T0), now, now)
    assert secs == {"available": 60 + 120 + 100, "offered": 10, "busy": 180, "wrap_up": 30, "break": 100}
    assert occupancy(secs) == pytest.approx(210 / 500)     # break is outside the denominator


def test_agent_state_replay_and_out_of_order_arrival():
    a = [ev("agent_state", T0 + s, None, "a1", state=st) for s, st in [(0, "available"), (100, "busy")]]
    stored, _ = chain_states([], a)
    for i, r in enumerate(stored):
        r["id"] = i + 1
    late = [ev("agent_state", T0 + 50, None, "a1", state="offered")]
    inserts, updates = chain_states(stored, a + late)           # a replay plus one late event
    assert [r["state"] for r in inserts] == ["offered"]
    assert inserts[0]["ended_at"] == ts(T0 + 100)
    assert updates == [{"_id": 1, "ended_at": ts(T0 + 50)}]


def test_interval_buckets_follow_the_shanghai_day():
    b = buckets(dt.date(2026, 11, 24), dt.date(2026, 11, 24), 30, SH)
    assert len(b) == 48
    assert b[0][0] == dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC)   # 00:00 in Shanghai
    assert day_bounds(dt.date(2026, 11, 24), SH)[1] == b[-1][1]
    assert len(buckets(dt.date(2026, 11, 24), dt.date(2026, 11, 25), 15, SH)) == 192
    # 23:59:59 on the 23rd UTC is already the 24th in Shanghai; 15:59:59 UTC is still the 24th
    assert business_day(dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC).timestamp(), SH) == dt.date(2026, 11, 24)
    assert business_day(dt.datetime(2026, 11, 23, 15, 59, 59, tzinfo=dt.UTC).timestamp(), SH) == dt.date(2026, 11, 23)
    with pytest.raises(ValueError):
        buckets(dt.date(2026, 11, 24), dt.date(2026, 11, 24), 20, SH)


def test_state_time_is_split_at_a_bucket_boundary():
    rows = [{"state": "busy", "started_at": ts(T0 + 25 * 60), "ended_at": ts(T0 + 35 * 60)}]
    first = state_seconds(rows, ts(T0), ts(T0 + 1800), ts(T0 + 3600))
    second = state_seconds(rows, ts(T0 + 1800), ts(T0 + 3600), ts(T0 + 3600))
    assert first == {"busy": 300} and second == {"busy": 300}
    rows[0]["skills"] = ",billing,"
    overall, per_queue = bucket_state_seconds(rows, [(ts(T0), ts(T0 + 1800)), (ts(T0 + 1800), ts(T0 + 3600))],
                                              {"billing": "billing", "vip": "vip"}, ts(T0 + 3600))
    assert overall == [{"busy": 300}, {"busy": 300}]
    assert per_queue == [{"billing": {"busy": 300}}, {"billing": {"busy": 300}}]


def test_counts_add_up_and_every_metric_has_both_formulas():
    a, b = Counts(offered=3, answered=2, answered_in_sl=1, max_wait_s=30), Counts(offered=1, answered=1,
                                                                                answered_in_sl=1, max_wait_s=5)
    total = Counts().add(a).add(b)
    assert (total.offered, total.answered, total.answered_in_sl, total.max_wait_s) == (4, 3, 2, 30)
    for m in METRICS.values():
        assert m.formula_zh and m.formula_en and any("\u4e00" <= ch <= "\u9fff" for ch in m.formula_zh)


def test_csv_has_bilingual_headers_and_empty_cells_for_undefined_rates():
    report = {"rows": [{"start": "s", "end": "e", "queue": "billing", "offered": 0, "answered": 0,
                        "abandoned": 0, "sl": None, "asa_s": None, "aht_s": None, "max_wait_s": None,
                        "occupancy": None, "handled": 0}], "totals": []}
    text = intervals_csv(report)
    header, line = text.lstrip("\ufeff").splitlines()
    assert header.startswith("开始 start,结束 end,队列 queue")
    assert line == "s,e,billing,0,0,0,,,,,,0"


def test_the_page_has_every_stable_id_and_the_help_page_every_formula():
    import html
    from pathlib import Path

    ui = Path(__file__).resolve().parents[2] / "hotline" / "ui" / "wallboard"
    index, js, help_ = ((ui / f).read_text(encoding="utf-8") for f in ("index.html", "wallboard.js", "help.html"))
    for wid in ("wb-waiting", "wb-longest", "wb-sl", "wb-asa", "wb-aht", "wb-abandon", "wb-occupancy",
                "wb-handled", "wb-queues", "wb-agents", "wb-intervals", "wb-csv"):
        assert f'id="{wid}"' in index and f"#{wid}" in js.split("*/")[0]
    for key, m in METRICS.items():
        assert f'id="{key}"' in help_
        assert html.escape(m.formula_zh) in help_ and html.escape(m.formula_en) in help_
