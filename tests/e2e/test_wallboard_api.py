"""The wallboard API as a supervisor uses it: live figures, interval reports and their CSV, role checks.

A real Router (in memory, manual clock) feeds ContactRecords; the records are flushed as the server's
background loop would, and the figures are read over HTTP with desk sessions of each role.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import httpx
import pytest

from conftest import TEST_KDF_N
from factories import ManualClock
from hotline.api.app import create_app
from hotline.api.routes import wallboard
from hotline.desk.accounts import Accounts
from hotline.routing.engine import build_router
from hotline.routing.model import AgentProfile, Channel, NewContact, Presence
from hotline.routing.records import ContactRecords

pytestmark = pytest.mark.asyncio
SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 11, 15, 10, 0, tzinfo=SH).timestamp()       # conftest's clock: 10:00 in Shanghai


@pytest.fixture
async def board(hl):
    """The app with a router and records wired as bootstrap does, and a client per role."""
    clock = ManualClock(T0)
    hl.router = build_router(None, clock=clock)
    hl.records = ContactRecords(hl.db).attach(hl.router)
    app = create_app(hl)
    if "/api/v1/wallboard/live" not in {getattr(r, "path", "") for r in app.routes}:
        app.include_router(wallboard.router, prefix="/api/v1")      # as app.py wires it
    accounts = Accounts(hl.db, hl.services.clock, kdf_n=TEST_KDF_N)
    hl.desk_accounts = accounts
    tokens = {}
    for login, role in (("s9001", "supervisor"), ("m9001", "admin"), ("a9001", "agent")):
        await accounts.create(login, f"测试{role}", "Passw0rd!x", role, skills={"general": 5})
        tokens[role] = (await accounts.login(login, "Passw0rd!x")).token
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hotline.test") as c:
        yield clock, hl, c, tokens


def auth(tokens, role):
    return {"Authorization": f"Bearer {tokens[role]}"}


def work_a_morning(clock, router):
    """In billing: b1 answered after 5 s (talk 100, wrap 10); b2 answered after 40 s (talk 50, wrap 10);
    b3 abandons after 8 s (short); b4 abandons after 35 s; b5 still waiting. One agent, a1."""
    router.login(AgentProfile("a1", "王芳", {"billing": 8}))
    router.set_presence("a1", Presence.AVAILABLE)
    for cid in ("b1", "b2", "b3"):
        router.enqueue(NewContact(Channel.VOICE, queue="billing", contact_id=cid))
    clock.advance(5)
    router.dispatch()
    router.accept("a1", "b1")
    clock.advance(3)
    router.abandon("b3")                       # waited 8 s
    clock.advance(32)                          # t = 40
    router.enqueue(NewContact(Channel.VOICE, queue="billing", contact_id="b4"))
    clock.advance(35)                          # t = 75
    router.abandon("b4")                       # waited 35 s
    clock.advance(30)                          # t = 105
    router.finish("a1", "b1")                  # talk 100
    clock.advance(10)
    router.wrap_up("a1", "b1", "resolved")     # t = 115
    router.dispatch()
    router.accept("a1", "b2")                  # b2 waited 115 s
    clock.advance(50)
    router.finish("a1", "b2")
    clock.advance(10)
    router.wrap_up("a1", "b2", "resolved")     # t = 175
    router.enqueue(NewContact(Channel.VOICE, queue="billing", contact_id="b5"))
    router.set_presence("a1", Presence.BREAK, "meeting")
    clock.advance(20)                          # t = 195: b5 waited 20 s


async def test_live_figures_match_the_morning(board):
    clock, hl, client, tokens = board
    work_a_morning(clock, hl.router)
    assert await hl.records.flush_async() > 0 and hl.records.pending == 0    # as the background loop does
    r = await client.get("/api/v1/wallboard/live", headers=auth(tokens, "supervisor"))
    assert r.status_code == 200, r.text
    body = r.json()
    billing = next(q for q in body["queues"] if q["queue"] == "billing")
    today = billing["today"]
    assert (today["offered"], today["answered"], today["abandoned"], today["handled"]) == (5, 2, 2, 2)
    assert today["sl"] == pytest.approx(1 / 3, abs=1e-4)          # 1 in 20 s ÷ (2 answered + 1 late abandon)
    assert today["asa_s"] == pytest.approx((5 + 115) / 2)
    assert today["aht_s"] == pytest.approx((110 + 60) / 2)
    assert today["abandon_rate"] == pytest.approx(2 / 5)
    assert (billing["waiting"], billing["longest_wait_s"]) == (1, 20.0)
    assert billing["agents"]["break"] == 1 and body["overall"]["agents"]["break"] == 1
    assert billing["serving"] == 0 and billing["agents_short"] >= 1   # 5 calls in 30 min, nobody serving
    assert body["overall"]["waiting"] == 1 and body["overall"]["today"]["offered"] == 5
    # occupancy: busy 100 + 50, wrap 10 + 10 of 5 + 10 + 170 staffed seconds (the 20 s break is outside)
    assert body["overall"]["today"]["occupancy"] == pytest.approx(170 / 175, abs=1e-4)
    assert body["metrics"]["sl"]["formula_zh"] and body["metrics"]["occupancy"]["formula_en"]
    assert "short abandons" in body["sl_variant"]["en"]
    assert body["agents"][0]["agent_id"] == "a1" and body["agents"][0]["reason"] == "meeting"
    assert body["business_day"] == "2026-11-15" and body["at"].endswith("+08:00")


async def test_intervals_json_and_csv_agree(board):
    clock, hl, client, tokens = board
    work_a_morning(clock, hl.router)
    hl.records.flush()
    q = "/api/v1/wallboard/intervals?date=2026-11-15&minutes=30"
    js = (await client.get(q, headers=auth(tokens, "admin"))).json()
    assert len(js["totals"]) == 48 and js["timezone"] == "Asia/Shanghai"
    row = next(r for r in js["rows"] if r["queue"] == "billing" and r["start"] == "2026-11-15T10:00:00+08:00")
    assert (row["offered"], row["answered"], row["abandoned"], row["sl"], row["asa_s"], row["aht_s"],
            row["max_wait_s"]) == (5, 2, 2, 0.3333, 60.0, 85.0, 115.0)
    r = await client.get(q + "&format=csv", headers=auth(tokens, "supervisor"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="hotline-intervals-2026-11-15-30min.csv"'
    table = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert table[0][:4] == ["开始 start", "结束 end", "队列 queue", "进线 offered"]
    assert len(table) == 1 + len(js["rows"]) + len(js["totals"])
    line = next(t for t in table if t[2] == "billing" and t[0] == "2026-11-15T10:00:00+08:00")
    assert line[3:10] == ["5", "2", "2", "0.3333", "60.0", "85.0", "115.0"]
    empty = next(t for t in table if t[2] == "billing" and t[0] == "2026-11-15T11:00:00+08:00")
    assert empty[3:7] == ["0", "0", "0", ""]                     # no SL without a denominator


async def test_interval_requests_are_checked(board):
    clock, hl, client, tokens = board
    h = auth(tokens, "supervisor")
    bad = await client.get("/api/v1/wallboard/intervals?date=2026-11-15&minutes=20", headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["message_zh"]
    assert (await client.get("/api/v1/wallboard/intervals?date=2026-11-15&to=2026-11-14", headers=h)).status_code == 422
    two = (await client.get("/api/v1/wallboard/intervals?date=2026-11-15&to=2026-11-16&minutes=60", headers=h)).json()
    assert len(two["totals"]) == 48


async def test_only_supervisors_and_admins_see_the_wallboard(board):
    clock, hl, client, tokens = board
    for path in ("/api/v1/wallboard/live", "/api/v1/wallboard/intervals?format=csv"):
        assert (await client.get(path)).status_code == 401
        denied = await client.get(path, headers=auth(tokens, "agent"))
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
        assert (await client.get(path, headers=auth(tokens, "admin"))).status_code == 200


async def test_the_page_and_its_help_are_served(board):
    from pathlib import Path

    from fastapi.staticfiles import StaticFiles

    clock, hl, client, tokens = board
    page = Path(__file__).resolve().parents[2] / "hotline" / "ui" / "wallboard"
    app = client._transport.app
    if "/wallboard" not in {getattr(r, "path", "") for r in app.routes}:
        app.mount("/wallboard", StaticFiles(directory=page, html=True), name="wallboard")
    index = await client.get("/wallboard/")
    assert index.status_code == 200 and 'id="wb-sl"' in index.text and "wallboard.js" in index.text
    assert (await client.get("/wallboard/wallboard.js")).status_code == 200
    assert "服务水平" in (await client.get("/wallboard/help.html")).text
