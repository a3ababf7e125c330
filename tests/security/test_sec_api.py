"""The API closed by default (issue 11, §4 and the audit log of §6), as an attacker and a client see it.

Anonymous reads and writes, keys without the scope, forged actor headers, a password reset that answered
with the password, a rollover into the future, the audit trail after desk activity, and `serve` on a
public address with demo credentials: each refused politely, and nothing changed.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from typing import Any

import httpx
from sqlalchemy import func, select

from factories import DEFAULT_PASSWORD, make_subscriber
from hotline.api.app import create_app
from hotline.bss.port import SYSTEM
from hotline.desk.accounts import Accounts
from hotline.routing.model import Channel, NewContact
from hotline.store.sql.tables import audit_log, bills, ledger, orders, sms_outbox, subscribers

ZHAO = "13812345678"
ZHAO_ID = "11010519491231002X"
ALL = ("read", "write", "billing", "admin")

# Every route that reads personal data or changes something, with the scope it needs.
GUARDED: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", f"/api/v1/subscribers/{ZHAO}", None, "read"),
    ("GET", f"/api/v1/subscribers/{ZHAO}/bills", None, "read"),
    ("GET", f"/api/v1/subscribers/{ZHAO}/records", None, "read"),
    ("GET", f"/api/v1/subscribers/{ZHAO}/orders", None, "read"),
    ("GET", f"/api/v1/subscribers/{ZHAO}/audit", None, "read"),
    ("POST", f"/api/v1/subscribers/{ZHAO}/subscriptions", {"product": "vas.weather"}, "write"),
    ("POST", f"/api/v1/subscribers/{ZHAO}/subscriptions/vas.weather/cancel", None, "write"),
    ("POST", f"/api/v1/subscribers/{ZHAO}/plan", {"plan": "plan.smart_5g_58"}, "write"),
    ("POST", f"/api/v1/subscribers/{ZHAO}/status", {"action": "close"}, "write"),
    ("POST", f"/api/v1/subscribers/{ZHAO}/points/redemptions", {"reward": "balance", "points": 100}, "write"),
    ("POST", f"/api/v1/subscribers/{ZHAO}/password/verify", {"password": DEFAULT_PASSWORD}, "write"),
    ("POST", f"/api/v1/subscribers/{ZHAO}/password/change", {"old": DEFAULT_PASSWORD, "new": "739251"}, "write"),
    ("POST", "/api/v1/sms/inbound", {"from": ZHAO, "to": "10086", "text": "YE"}, "write"),
    ("POST", f"/api/v1/subscribers/{ZHAO}/recharges", {"amount_fen": 5000}, "billing"),
    ("POST", f"/api/v1/subscribers/{ZHAO}/usage", {"kind": "data", "quantity": 1024}, "billing"),
    ("POST", "/api/v1/billing/rollover", {}, "billing"),
    ("POST", f"/api/v1/subscribers/{ZHAO}/password/reset", {"id_number": ZHAO_ID}, "admin"),
    ("GET", f"/api/v1/subscribers/{ZHAO}?unmask=true&reason=test", None, "admin"),
]


def client(hl, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hl)), base_url="http://hotline.test",
                             headers=headers or {})


def snapshot(hl) -> tuple:
    """Everything a request could have changed: the subscriber's row and the rows written beside it."""
    def job(c):
        sub = c.execute(select(subscribers).where(subscribers.c.msisdn == ZHAO)).one()
        counts = [c.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in (orders, ledger, audit_log, bills, sms_outbox)]
        return tuple(sub), tuple(counts)
    return hl.db.run_sync(job, write=False)


def bilingual(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert re.search(r"[\u4e00-\u9fff]", err["message_zh"]) and err["message_en"]
    if code:
        assert err["code"] == code
    return err


async def test_anonymous_and_forged_credentials_get_401_and_change_nothing(hl):
    make_subscriber(hl, ZHAO, cycle=202610)
    before = snapshot(hl)
    for headers in ({}, {"Authorization": "Bearer hlk_00000000_forged"}, {"Authorization": "Basic YTpi"},
                    {"X-Hotline-Actor": "admin", "X-Hotline-Channel": "desk"}):
        async with client(hl, headers) as c:
            for method, path, body, _ in GUARDED:
                r = await c.request(method, path, json=body)
                bilingual(r, 401)
                assert r.headers["www-authenticate"].lower().startswith("bearer"), path
    assert snapshot(hl) == before
    async with client(hl) as c:   # the public catalogue stays open
        assert (await c.get("/api/v1/products")).status_code == 200
        assert (await c.get("/api/v1/businesses")).status_code == 200


async def test_a_key_without_the_scope_gets_403_and_changes_nothing(hl, api_key):
    make_subscriber(hl, ZHAO, cycle=202610)
    before = snapshot(hl)
    for method, path, body, scope in GUARDED:
        others = api_key(*[s for s in ALL if s != scope])
        async with client(hl, others) as c:
            err = bilingual(await c.request(method, path, json=body), 403, "missing_scope")
            assert scope in err["message_en"], path
    assert snapshot(hl) == before
    async with client(hl, api_key("read")) as reader:   # the scope it has works
        view = (await reader.get(f"/api/v1/subscribers/{ZHAO}")).json()
        assert view["name"] == "赵*" and view["masked"]
        bilingual(await reader.post(f"/api/v1/subscribers/{ZHAO}/recharges", json={"amount_fen": 100}), 403)
        bilingual(await reader.get(f"/api/v1/subscribers/{ZHAO}", params={"unmask": "true"}), 403)


async def test_a_revoked_key_is_refused(hl, api_key):
    make_subscriber(hl, ZHAO)
    headers = api_key("read")
    async with client(hl, headers) as c:
        assert (await c.get(f"/api/v1/subscribers/{ZHAO}")).status_code == 200
        (key,) = hl.apikeys.list()
        hl.apikeys.revoke(key.prefix)
        bilingual(await c.get(f"/api/v1/subscribers/{ZHAO}"), 401)


async def test_the_audit_names_the_key_not_the_forged_actor_headers(hl, api_key):
    make_subscriber(hl, ZHAO)
    forged = {"X-Hotline-Actor": "A1001", "X-Hotline-Channel": "desk"}
    async with client(hl, {**api_key("read", "write", name="crm"), **forged}) as c:
        r = await c.post(f"/api/v1/subscribers/{ZHAO}/subscriptions", json={"product": "vas.weather"})
        assert r.status_code == 200, r.text
        await c.get(f"/api/v1/subscribers/{ZHAO}")
        trail = (await c.get(f"/api/v1/subscribers/{ZHAO}/audit")).json()
        order = (await c.get(f"/api/v1/subscribers/{ZHAO}/orders")).json()[0]
    (key,) = hl.apikeys.list()
    assert {(a["channel"], a["actor"]) for a in trail} == {("api", f"apikey:{key.id}")}
    assert {"order.subscribe", "profile.view"} <= {a["action"] for a in trail}
    assert (order["channel"], order["actor"]) == ("api", f"apikey:{key.id}")


async def test_every_personal_data_read_is_audited_with_the_key(hl, api_key):
    make_subscriber(hl, ZHAO)
    async with client(hl, api_key("read")) as c:
        for path in ("", "/bills", "/records", "/orders", "/audit"):
            assert (await c.get(f"/api/v1/subscribers/{ZHAO}{path}")).status_code == 200, path
    (key,) = hl.apikeys.list()
    trail = await hl.bss.audit_trail(ZHAO)
    assert sorted((a["action"], a["actor"]) for a in trail) == sorted(
        (action, f"apikey:{key.id}") for action in ("profile.view", "bills.view", "records.view", "orders.view",
                                                     "audit.view"))


async def test_the_master_token_has_every_scope_and_is_named_in_the_audit(hl):
    make_subscriber(hl, ZHAO)
    hl.settings.api_token = "a-long-master-token-for-tests"
    async with client(hl, {"Authorization": "Bearer a-long-master-token-for-tests"}) as c:
        assert (await c.post(f"/api/v1/subscribers/{ZHAO}/recharges", json={"amount_fen": 100})).status_code == 200
        trail = (await c.get(f"/api/v1/subscribers/{ZHAO}/audit")).json()
    assert trail[0]["actor"] == "apikey:master"
    async with client(hl) as anonymous:   # with a master token set, even the catalogue needs a credential
        bilingual(await anonymous.get("/api/v1/businesses"), 401)


async def test_password_reset_sends_the_password_by_sms_never_in_the_response(hl, api_key):
    make_subscriber(hl, ZHAO)
    async with client(hl, api_key("admin")) as c:
        wrong = await c.post(f"/api/v1/subscribers/{ZHAO}/password/reset", json={"id_number": "110105194912310021"})
        bilingual(wrong, 403, "identity_mismatch")
        r = await c.post(f"/api/v1/subscribers/{ZHAO}/password/reset", json={"id_number": ZHAO_ID})
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "sent_by_sms": True}
    inbox = await hl.outbox.inbox(ZHAO)
    assert len(inbox) == 1
    new = re.search(r"新密码为(\d{6})", inbox[0]["text"]).group(1)
    assert new not in r.text
    await hl.bss.verify_password(ZHAO, new, actor=SYSTEM)   # the password the phone got opens the account
    trail = await hl.bss.audit_trail(ZHAO)
    assert new not in str(trail)


async def test_rollover_into_the_future_is_refused_and_changes_nothing(hl, api_key):
    make_subscriber(hl, ZHAO, cycle=202610)     # the clock is in 202611: 202610 has ended
    before = snapshot(hl)
    async with client(hl, api_key("billing")) as c:
        for cycle in (209912, 202612, 202613):
            err = bilingual(await c.post("/api/v1/billing/rollover", json={"cycle": cycle}), 422)
            assert "202611" in err["message_en"] or "YYYYMM" in err["message_en"]
        assert snapshot(hl) == before
        r = await c.post("/api/v1/billing/rollover", json={})
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"].endswith(job["job_id"]) and job["target_cycle"] == 202611
        await hl.rollovers.wait()
        done = (await c.get(f"/api/v1/billing/rollover/{job['job_id']}")).json()
        assert (done["status"], done["total_accounts"], done["done_accounts"], done["rolled"], done["progress"]) \
            == ("done", 1, 1, 1, 1.0)
        bilingual(await c.get("/api/v1/billing/rollover/nosuchjob"), 404)
    sub = hl.db.run_sync(lambda conn: conn.execute(select(subscribers.c.cycle).where(
        subscribers.c.msisdn == ZHAO)).scalar_one(), write=False)
    assert sub == 202611


async def test_the_audit_trail_reads_after_desk_activity(hl, api_key):
    make_subscriber(hl, ZHAO)
    accounts = Accounts(hl.db, hl.services.clock, kdf_n=hl.settings.password_kdf_n)
    await accounts.create("a1001", "王芳", "desk-pass-1", skills={"general": 8}, capacity={"chat": 3})
    async with client(hl) as desk:
        token = (await desk.post("/api/v1/desk/login", json={"login": "a1001", "password": "desk-pass-1",
                                                              "bearer": True})).json()["token"]
        desk.headers["Authorization"] = f"Bearer {token}"
        assert (await desk.put("/api/v1/desk/me/presence", json={"presence": "available"})).status_code == 200
        contact = hl.router.enqueue(NewContact(channel=Channel.CHAT, msisdn=ZHAO, queue="general"))
        hl.router.dispatch()
        r = await desk.post(f"/api/v1/desk/offers/{contact.contact_id}/accept")
        assert r.status_code == 200, r.text
    async with client(hl, api_key("read")) as c:
        r = await c.get(f"/api/v1/subscribers/{ZHAO}/audit")
    assert r.status_code == 200, r.text
    desk_rows = [a for a in r.json() if a["channel"] == "desk"]
    assert desk_rows and all(isinstance(a["detail"], dict) for a in r.json())
    assert any(a["detail"].get("contact_id") == contact.contact_id for a in desk_rows)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_refuses_a_public_address_while_demo_credentials_work(tmp_path, database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(HOTLINE_DATA_DIR=str(tmp_path / "var"), HOTLINE_DATABASE_URL=database_url,
               HOTLINE_PASSWORD_KDF_N="4096", HOTLINE_DEMO_SUBSCRIBERS="0")
    port = _free_port()
    proc = subprocess.run([sys.executable, "-m", "hotline.cli", "serve", "--host", "0.0.0.0", "--port", str(port)],
                          env=env, capture_output=True, text=True, timeout=180)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, out
    assert "Refusing to listen on 0.0.0.0" in out and "demo desk accounts" in out and "127.0.0.1" in out
    assert not (tmp_path / "var" / "demo-api-key").exists()    # no demo key made for a public bind
