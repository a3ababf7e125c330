"""The agent desktop as an attacker (or a careless colleague) would try it, on SQLite and PostgreSQL, through
the HTTP API and the desk WebSocket:

- an agent acts on a customer without a contact, in another agent's contact, or on another number than the
  contact's: refused (403), nothing read in clear, nothing run, no code sent, no password guess counted;
- a verification made in one contact does not hold in another contact or for another agent;
- 32 concurrent wrong passwords: at most 5 are evaluated, then even the right one is refused while locked;
  one client address guessing across many logins is locked too;
- a password change or a disabled account ends the sessions and closes the live socket (4401);
- a request or socket from another site (Origin) is refused; every page and API answer has security headers.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from desk_contacts import finish, serve, wrap_up
from factories import DEFAULT_PASSWORD, make_subscriber
from hotline.api.app import create_app
from hotline.api.routes import desk as desk_routes
from hotline.desk.accounts import Accounts
from hotline.desk.auth import COOKIE
from hotline.store.sql.tables import audit_log, orders, subscribers
from live_server import ThreadedServer

ZHAO = "13812345678"
QIAN = "13812340000"
AGENT_PW = "desk-pass-1"
ADMIN_PW = "admin-pass-1"
HOST = "http://hotline.test"
WAIT = 10.0
REVOKED = 4401     # the desk page signs out on this close code


def accounts_for(hl) -> Accounts:
    return Accounts(hl.db, hl.services.clock, kdf_n=hl.settings.password_kdf_n)


async def make_people(hl) -> dict[str, str]:
    """Two agents, a supervisor and an admin; their session tokens."""
    accounts = accounts_for(hl)
    tokens = {}
    for login, role, pw in (("a1001", "agent", AGENT_PW), ("a1002", "agent", AGENT_PW),
                            ("s2001", "supervisor", AGENT_PW), ("m3001", "admin", ADMIN_PW)):
        await accounts.create(login, login, pw, role)
        tokens[login] = (await accounts.login(login, pw)).token
    return tokens


def client_for(hl, token: str | None = None, **kw: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hl), **kw), base_url=HOST,
                             cookies={COOKIE: token} if token else None)


def refused(resp: httpx.Response, status: int = 403, code: str | None = "not_in_contact") -> dict:
    assert resp.status_code == status, f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    err = resp.json()["error"]
    assert re.search(r"[\u4e00-\u9fff]", err["message_zh"]) and err["message_en"]
    if code:
        assert err["code"] == code, err
    return err


def rows(hl, query) -> list[dict]:
    return hl.db.run_sync(lambda c: [dict(r._mapping) for r in c.execute(query)], write=False)


def actions(number: str, contact: str | None) -> list[tuple[str, str, dict | None]]:
    """Every desk action on a customer, as the page sends it (contact_id where the page puts it)."""
    base = f"/api/v1/desk/customers/{number}"
    q = f"?contact_id={contact}" if contact else ""
    body = {"contact_id": contact} if contact else {}
    return [
        ("GET", f"{base}{q}", None),
        ("POST", f"{base}/unmask", {"field": "id_number", "reason": "identity_check", **body}),
        ("GET", f"{base}/verification{q}", None),
        ("POST", f"{base}/verification", {"method": "password", "secret": "000000", **body}),
        ("POST", f"{base}/verification/code", body),
        ("GET", f"{base}/businesses/order.data_pack{q}", None),
        ("POST", f"{base}/businesses/order.data_pack/preview",
         {"params": {"product": "pack.data_1g_month"}, "key": "p-1", **body}),
        ("POST", f"{base}/businesses/order.data_pack/run",
         {"params": {"product": "pack.data_1g_month"}, "key": "r-1", **body}),
        ("POST", f"{base}/businesses/password.reset/run", {"params": {"id_number": "11010519491231002X"},
                                                            "key": "r-2", **body}),
        ("GET", f"{base}/tickets{q}", None),
        ("POST", "/api/v1/desk/tickets", {"msisdn": number, "category": "fault", "summary": "无信号", **body}),
    ]


def nothing_happened(hl) -> None:
    """No order, no SMS, no personal data read in clear, no service-password guess counted."""
    assert rows(hl, select(orders.c.id)) == []
    assert hl.outbox.inbox_sync(ZHAO) == [] and hl.outbox.inbox_sync(QIAN) == []
    acts = {r["action"] for r in rows(hl, select(audit_log.c.action))}
    assert not acts & {"profile.unmask", "profile.view", "password.verify", "desk.otp_send", "desk.verify"}, acts
    assert {r["pw_failures"] for r in rows(hl, select(subscribers.c.pw_failures))} == {0}


@pytest.fixture
async def people(hl) -> dict[str, str]:
    make_subscriber(hl, ZHAO)
    make_subscriber(hl, QIAN, name="钱七")
    return await make_people(hl)


# ------------------------------------------------------------------------------------------ contact scope

async def test_without_a_contact_an_agent_can_do_nothing_for_a_customer(hl, people):
    async with client_for(hl, people["a1001"]) as agent:
        for method, path, body in actions(ZHAO, None) + actions(ZHAO, "h-made-up"):
            refused(await agent.request(method, path, json=body))
    nothing_happened(hl)


async def test_another_agents_contact_or_another_number_is_refused(hl, people):
    theirs = serve(hl, "a1002", ZHAO)
    mine = serve(hl, "a1001", QIAN)
    async with client_for(hl, people["a1001"]) as agent:
        for method, path, body in actions(ZHAO, theirs):          # a colleague's contact
            refused(await agent.request(method, path, json=body))
        for method, path, body in actions(ZHAO, mine):            # my contact, another number than its own
            refused(await agent.request(method, path, json=body))
        ok = await agent.get(f"/api/v1/desk/customers/{QIAN}", params={"contact_id": mine})
        assert ok.status_code == 200 and ok.json()["name"] == "钱*"
    acts = [r["action"] for r in rows(hl, select(audit_log.c.action))]
    assert "profile.unmask" not in acts and "password.verify" not in acts
    assert rows(hl, select(orders.c.id)) == [] and hl.outbox.inbox_sync(ZHAO) == []


async def test_a_finished_contact_gives_no_more_scope(hl, people):
    cid = serve(hl, "a1001", ZHAO)
    finish(hl, "a1001", cid)
    async with client_for(hl, people["a1001"]) as agent:
        run = {"params": {"product": "pack.data_1g_month"}, "key": "late-1", "contact_id": cid}
        refused(await agent.post(f"/api/v1/desk/customers/{ZHAO}/businesses/order.data_pack/run", json=run))
        # Wrap-up is for notes and tickets: the masked view and a ticket still work, nothing else.
        assert (await agent.get(f"/api/v1/desk/customers/{ZHAO}", params={"contact_id": cid})).status_code == 200
        ticket = {"category": "fault", "summary": "家中无信号", "contact_id": cid}
        assert (await agent.post("/api/v1/desk/tickets", json=ticket)).json()["msisdn"] == ZHAO
        wrap_up(hl, "a1001", cid)
        refused(await agent.post("/api/v1/desk/tickets", json=ticket))
    assert rows(hl, select(orders.c.id)) == []


async def test_a_verification_stays_in_its_contact(hl, people):
    first = serve(hl, "a1001", ZHAO)
    idd = f"/api/v1/desk/customers/{ZHAO}/businesses/feature.idd_on/run"
    async with client_for(hl, people["a1001"]) as a1, client_for(hl, people["a1002"]) as a2:
        r = await a1.post(f"/api/v1/desk/customers/{ZHAO}/verification",
                          json={"method": "password", "secret": DEFAULT_PASSWORD, "contact_id": first})
        assert r.json()["verified"]
        # A colleague serving the same customer in a contact of their own is not verified by it.
        second = serve(hl, "a1002", ZHAO)
        refused(await a2.post(idd, json={"key": "k-2", "contact_id": second}), 403, "verification_required")
        # Nor is the same agent in the customer's next contact.
        finish(hl, "a1001", first)
        wrap_up(hl, "a1001", first)
        third = serve(hl, "a1001", ZHAO)
        refused(await a1.post(idd, json={"key": "k-3", "contact_id": third}), 403, "verification_required")
        state = (await a1.get(f"/api/v1/desk/customers/{ZHAO}/verification", params={"contact_id": third})).json()
        assert state["verified"] is False
    assert rows(hl, select(orders.c.id)) == []


async def test_a_supervisor_looks_a_number_up_only_with_a_reason_and_is_audited(hl, people):
    view = f"/api/v1/desk/customers/{ZHAO}"
    async with client_for(hl, people["s2001"]) as sup, client_for(hl, people["a1001"]) as agent:
        refused(await sup.get(view))                                               # no contact, no reason
        refused(await agent.get(view, params={"reason": "quality"}))              # agents cannot look up
        got = await sup.get(view, params={"reason": "complaint"})
        assert got.status_code == 200 and got.json()["name"] == "赵*" and got.json()["in_contact"] is False
        assert (await sup.get("/api/v1/desk/tickets", params={"msisdn": ZHAO, "reason": "quality"})).status_code == 200
        # A look-up views only: acting still needs a contact.
        for method, path, body in actions(ZHAO, None)[1:]:
            if method == "POST":
                refused(await sup.request(method, path, json=body))
    trail = rows(hl, select(audit_log).where(audit_log.c.action == "desk.supervisor_search"))
    assert [(r["actor"], r["msisdn"], json.loads(r["detail"])["reason"]) for r in trail] == [
        ("s2001", ZHAO, "complaint"), ("s2001", ZHAO, "quality")]
    assert rows(hl, select(orders.c.id)) == []


# ------------------------------------------------------------------------------------------ login race

async def test_concurrent_wrong_passwords_are_not_evaluated_past_the_limit(hl):
    accounts = accounts_for(hl)
    await accounts.create("a1001", "王芳", AGENT_PW)
    async with client_for(hl) as anon:
        async def attempt(i: int) -> int:
            r = await anon.post("/api/v1/desk/login", json={"login": "a1001", "password": f"wrong-pass-{i}"})
            return r.status_code
        codes = await asyncio.gather(*(attempt(i) for i in range(32)))
        evaluated = rows(hl, select(audit_log.c.id).where(audit_log.c.action == "desk_login_failed"))
        assert len(evaluated) <= 5, f"{len(evaluated)} wrong passwords were checked"
        assert codes.count(401) <= 5 and set(codes) <= {401, 429}
        right = await anon.post("/api/v1/desk/login", json={"login": "a1001", "password": AGENT_PW})
        refused(right, 429, "login_locked")
        assert COOKIE not in right.cookies


async def test_one_address_guessing_across_logins_is_locked(hl):
    accounts = accounts_for(hl)
    await accounts.create("a1001", "王芳", AGENT_PW)
    async with client_for(hl, client=("203.0.113.7", 4000)) as guesser:
        statuses = [(await guesser.post("/api/v1/desk/login",
                                        json={"login": f"u{i}", "password": "wrong-pass-1"})).status_code
                    for i in range(accounts.max_address_failures + 1)]
        assert statuses[-1] == 429 and statuses.count(401) == accounts.max_address_failures
        refused(await guesser.post("/api/v1/desk/login", json={"login": "a1001", "password": AGENT_PW}),
                429, "login_locked")
    async with client_for(hl, client=("198.51.100.9", 4000)) as elsewhere:     # the agent at their own desk
        assert (await elsewhere.post("/api/v1/desk/login",
                                     json={"login": "a1001", "password": AGENT_PW})).status_code == 200


# ------------------------------------------------------------------------------------------ revoked sessions

class Server(ThreadedServer):
    """The app served by uvicorn on 127.0.0.1 in a thread (real WebSockets)."""

    def __init__(self, hl) -> None:
        super().__init__(create_app(hl), name="sec-desk-server")


    def socket(self, token: str, origin: str | None = None):
        headers = {"Cookie": f"{COOKIE}={token}"}
        if origin:
            headers["Origin"] = origin
        return ws_connect(self.url.replace("http", "ws") + "/api/v1/desk/ws", additional_headers=headers,
                          open_timeout=WAIT, close_timeout=2)


def first_view(ws) -> dict:
    msg = json.loads(ws.recv(timeout=WAIT))
    assert msg["type"] == "view"
    return msg


def closed_with(ws, code: int, *, ping: bool) -> ConnectionClosed:
    """Wait (bounded) for the server to close the socket; ``ping`` sends a message first."""
    deadline = time.monotonic() + WAIT
    try:
        if ping:
            ws.send("ping")
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv(timeout=deadline - time.monotonic()))
            assert msg["type"] != "pong", "a revoked session was still answered"
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == code, closed
        return closed
    except TimeoutError:
        pass
    pytest.fail(f"the socket was not closed within {WAIT:.0f} s")


@pytest.fixture
def tokens(hl) -> dict[str, str]:
    return asyncio.run(make_people(hl))


@pytest.mark.parametrize("how", ["password", "disable"])
def test_a_password_change_or_a_disabled_account_ends_sessions_and_the_socket(hl, tokens, how):
    body = {"password": "new-pass-22"} if how == "password" else {"active": False}
    with Server(hl) as server, httpx.Client(base_url=server.url, timeout=WAIT) as http:
        with server.socket(tokens["a1001"]) as ws:
            first_view(ws)
            admin = {"Cookie": f"{COOKIE}={tokens['m3001']}"}
            assert http.patch("/api/v1/desk/accounts/a1001", json=body, headers=admin).status_code == 200
            closed = closed_with(ws, REVOKED, ping=True)
            assert "revoked" in closed.rcvd.reason
        me = http.get("/api/v1/desk/me", headers={"Cookie": f"{COOKIE}={tokens['a1001']}"})
        assert me.status_code == 401
        with pytest.raises(InvalidStatus):
            with server.socket(tokens["a1001"]) as ws:    # the old session opens no socket either
                ws.recv(timeout=WAIT)


def test_a_silent_socket_is_closed_when_its_session_is_revoked(hl, tokens, monkeypatch):
    monkeypatch.setattr(desk_routes, "SESSION_CHECK_EVERY", 0.2, raising=False)
    with Server(hl) as server, httpx.Client(base_url=server.url, timeout=WAIT) as http:
        with server.socket(tokens["a1002"]) as ws:
            first_view(ws)
            admin = {"Cookie": f"{COOKIE}={tokens['m3001']}"}
            assert http.patch("/api/v1/desk/accounts/a1002", json={"password": "new-pass-33"},
                              headers=admin).status_code == 200
            closed_with(ws, REVOKED, ping=False)


# ------------------------------------------------------------------------------------------ origin, headers

async def test_requests_from_another_site_are_refused(hl, people):
    evil = {"Origin": "https://evil.example"}
    async with client_for(hl, people["a1001"]) as agent:
        r = await agent.put("/api/v1/desk/me/presence", json={"presence": "available"}, headers=evil)
        refused(r, 403, "cross_origin")
        assert hl.router.agent("a1001") is None or str(hl.router.agent("a1001").presence) != "available"
        refused(await agent.post("/api/v1/desk/logout", headers=evil), 403, "cross_origin")
        assert (await agent.get("/api/v1/desk/me")).status_code == 200          # still signed in
        refused(await agent.post("/api/v1/desk/login", json={"login": "a1002", "password": AGENT_PW},
                                 headers={"Origin": "null"}), 403, "cross_origin")
        sibling = {"Origin": "https://desk.hotline.test.evil.example", "Sec-Fetch-Site": "same-site"}
        refused(await agent.put("/api/v1/desk/me/presence", json={"presence": "available"}, headers=sibling),
                403, "cross_origin")
        refused(await agent.put("/api/v1/desk/me/presence", json={"presence": "available"},
                                headers={"Sec-Fetch-Site": "cross-site"}), 403, "cross_origin")
        # The page itself (same origin) and API clients without an Origin work.
        same = await agent.put("/api/v1/desk/me/presence", json={"presence": "available"},
                               headers={"Origin": HOST})
        assert same.status_code == 200 and same.json()["presence"] == "available"


def test_a_socket_from_another_site_is_refused(hl, tokens):
    with Server(hl) as server:
        with pytest.raises(InvalidStatus) as err:
            with server.socket(tokens["a1001"], origin="https://evil.example") as ws:
                ws.recv(timeout=WAIT)
        assert err.value.response.status_code == 403
        with server.socket(tokens["a1001"], origin=server.url) as ws:       # the desk page itself
            assert first_view(ws)["agent"]["login"] == "a1001"


def security_headers(resp: httpx.Response) -> dict[str, str]:
    csp = resp.headers.get("content-security-policy", "")
    policy = {p.split(" ", 1)[0]: p.split(" ", 1)[1] if " " in p else "" for p in
              (x.strip() for x in csp.split(";")) if p}
    assert policy.get("frame-ancestors") == "'none'", (resp.url, csp)
    assert resp.headers.get("x-content-type-options") == "nosniff", resp.url
    assert resp.headers.get("referrer-policy"), resp.url
    return policy


async def test_every_page_and_api_answer_has_security_headers(hl, people):
    async with client_for(hl) as anon:
        for path in ("/desk/", "/chat/", "/wallboard/", "/wallboard/help.html", "/desk/desk.js"):
            r = await anon.get(path)
            assert r.status_code == 200, path
            policy = security_headers(r)
            assert "'unsafe-inline'" not in policy.get("script-src", "") and "'self'" in policy["script-src"]
            assert "'unsafe-inline'" not in policy.get("style-src", policy.get("default-src", ""))
            assert "<script>" not in r.text and "<style>" not in r.text and " onclick=" not in r.text
        for method, path in (("GET", "/healthz"), ("GET", "/api/v1/desk/me"), ("POST", "/api/v1/desk/login"),
                             ("GET", "/no/such/page")):
            security_headers(await anon.request(method, path, json={} if method == "POST" else None))
