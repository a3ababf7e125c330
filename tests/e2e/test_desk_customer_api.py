"""The customer panel's HTTP API as the desk page drives it: a signed-in agent (session cookie), serving a
contact, views the masked customer, unmasks with a reason, verifies, runs a business once per form key,
opens tickets; without a session nothing is answered."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from desk_contacts import serve
from factories import DEFAULT_PASSWORD, make_subscriber
from hotline.api.app import create_app
from hotline.api.routes import desk_customer
from hotline.desk.accounts import Accounts
from hotline.desk.auth import COOKIE
from hotline.services import audit
from hotline.store.sql.tables import audit_log
from hotline.store.sql.tables import orders as orders_t

ZHAO = "13812345678"
BASE = f"/api/v1/desk/customers/{ZHAO}"


def app_for(hl):
    app = create_app(hl)
    if not any(getattr(r, "path", "").startswith("/api/v1/desk/customers") for r in app.routes):
        app.include_router(desk_customer.router, prefix="/api/v1")   # until app.py includes it
    return app


@pytest.fixture
async def client(hl):
    make_subscriber(hl, ZHAO)
    accounts = Accounts(hl.db, hl.services.clock, kdf_n=hl.settings.password_kdf_n)
    await accounts.create("a1001", "王芳", "desk-pass-1")
    session = await accounts.login("a1001", "desk-pass-1")
    contact = serve(hl, "a1001", ZHAO)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_for(hl)), base_url="http://hotline.test",
                                 cookies={COOKIE: session.token}, params={"contact_id": contact}) as c:
        c.contact = contact
        yield c


def bilingual(resp, status, code=None):
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert re.search(r"[\u4e00-\u9fff]", err["message_zh"]) and err["message_en"]
    if code:
        assert err["code"] == code
    return err


async def test_without_a_desk_session_nothing_is_answered(hl):
    make_subscriber(hl, ZHAO)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_for(hl)),
                                 base_url="http://hotline.test") as anonymous:
        for method, path, body in (("GET", BASE, None), ("POST", f"{BASE}/unmask",
                                   {"field": "name", "reason": "identity_check"}),
                                   ("POST", f"{BASE}/businesses/order.data_pack/run", {"key": "k"}),
                                   ("GET", f"/api/v1/desk/tickets?msisdn={ZHAO}", None)):
            bilingual(await anonymous.request(method, path, json=body), 401)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_for(hl)), base_url="http://hotline.test",
                                 cookies={COOKIE: "forged-session"}) as forged:
        bilingual(await forged.get(BASE), 401)
    assert not hl.db.run_sync(lambda c: c.execute(select(audit_log).where(
        audit_log.c.action.in_(["profile.view", "profile.unmask"]))).all(), write=False)


async def test_view_is_masked_unmask_needs_a_reason_and_both_are_audited(client, hl):
    r = await client.get(BASE)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    view = r.json()
    assert view["name"] == "赵*" and view["id_number"] == "110105********002X"
    c = client.contact
    bilingual(await client.post(f"{BASE}/unmask", json={"field": "name", "contact_id": c}), 422)
    bilingual(await client.post(f"{BASE}/unmask", json={"field": "name", "reason": "other", "note": "x",
                                                         "contact_id": c}), 422)
    r = await client.post(f"{BASE}/unmask", json={"field": "name", "reason": "complaint", "contact_id": c})
    assert r.json()["value"] == "赵六"
    trail = hl.db.run_sync(lambda conn: audit.trail(conn, ZHAO), write=False)
    assert [(a["action"], a["channel"], a["actor"]) for a in trail[:2]] == [
        ("profile.unmask", "desk", "a1001"), ("profile.view", "desk", "a1001")]
    assert trail[0]["detail"]["field"] == "name" and trail[0]["detail"]["reason"] == "complaint"
    assert trail[0]["detail"]["contact_id"] == c


async def test_verify_then_run_a_protected_business_once(client, hl):
    run = f"{BASE}/businesses/feature.idd_on/run"
    c = client.contact
    bilingual(await client.post(run, json={"key": "form-1", "contact_id": c}), 403, "verification_required")
    bilingual(await client.post(f"{BASE}/verification", json={"method": "password", "secret": "000000",
                                                               "contact_id": c}), 403, "wrong_password")
    r = await client.post(f"{BASE}/verification", json={"method": "password", "secret": DEFAULT_PASSWORD,
                                                         "contact_id": c})
    assert r.json()["verified"] and (await client.get(f"{BASE}/verification")).json()["method"] == "password"
    first = (await client.post(run, json={"key": "form-1", "contact_id": c})).json()
    second = (await client.post(run, json={"key": "form-1", "contact_id": c})).json()
    assert first["order_id"] == second["order_id"] and first["texts"]
    orders = hl.db.run_sync(lambda conn: conn.execute(select(orders_t.c.channel, orders_t.c.actor)).all(),
                            write=False)
    assert [tuple(o) for o in orders] == [("desk", "a1001")]


async def test_a_paid_pack_from_the_form_is_charged_once(client):
    form = (await client.get(f"{BASE}/businesses/order.data_pack")).json()
    assert any(c["value"] == "pack.data_1g_month" for c in form["slots"][0]["choices"])
    body = {"params": {"product": "pack.data_1g_month"}, "key": "pack-form-7", "contact_id": client.contact}
    preview = (await client.post(f"{BASE}/businesses/order.data_pack/preview", json=body)).json()
    assert "10.00元" in preview["confirm_zh"]
    for _ in range(2):
        assert (await client.post(f"{BASE}/businesses/order.data_pack/run", json=body)).status_code == 200
    assert (await client.get(BASE)).json()["balance_fen"] == 9_000
    bilingual(await client.post(f"{BASE}/businesses/order.data_pack/run",
                                json={"params": {}, "key": "k2", "contact_id": client.contact}), 422, "missing_slot")
    bilingual(await client.get(f"{BASE}/businesses/no.such_business"), 404)


async def test_one_time_code_over_http(client, hl):
    here = {"contact_id": client.contact}
    r = await client.post(f"{BASE}/verification/code", json=here)
    assert r.json()["sent_to"] == "138****5678"
    again = (await client.post(f"{BASE}/verification/code", json=here)).json()
    assert again["reused"]         # within the minute: the code just sent stays the one to type
    [sms] = hl.outbox.inbox_sync(ZHAO)       # what the customer's phone shows
    text = sms["text"]
    code = re.search(r"验证码为(\d{6})", text).group(1)
    r = await client.post(f"{BASE}/verification", json={"method": "otp", "secret": code, **here})
    assert r.json()["method"] == "otp"


async def test_tickets_over_http(client):
    body = {"msisdn": ZHAO, "category": "fault", "summary": "家中无信号", "detail": "自昨天起", "key": "t-1",
            "contact_id": client.contact}
    r = await client.post("/api/v1/desk/tickets", json=body)
    assert r.status_code == 201 and r.json()["reference"].startswith("T20261115")
    assert (await client.post("/api/v1/desk/tickets", json=body)).json()["reference"] == r.json()["reference"]
    listed = (await client.get("/api/v1/desk/tickets", params={"msisdn": ZHAO, "contact_id": client.contact})).json()
    assert [t["summary"] for t in listed] == ["家中无信号"] and listed[0]["created_by"] == "a1001"
    bilingual(await client.post("/api/v1/desk/tickets", json={**body, "category": "rant"}), 422)
    options = (await client.get("/api/v1/desk/tickets/options")).json()
    assert [c["code"] for c in options["categories"]] == ["complaint", "fault", "suggestion", "inquiry",
                                                          "billing_dispute", "praise", "order"]   # as customers file
