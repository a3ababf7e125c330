"""The agent desktop over HTTP and WebSocket, as agents and a customer drive it.

A real server (uvicorn on a free 127.0.0.1 port, in a thread of this process) over a fresh database of
each backend, wired as ``hotline serve`` wires it, with the demo desk agents seeded. Its Router (in memory)
reads the test's fixed clock, which moves only when the test says; the test runs a routing pass itself
(intake, ``tick()``, ``dispatch()``) rather than wait for the server's own every 0.2 s.
Customers reach the queue as the assistant hands them off: a ``handoffs`` row, picked up by the intake.
Every wait is bounded; the server stops at the end of each test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import select
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect as ws_connect

from conftest import TEST_KDF_N, need
from hotline.api.app import create_app
from hotline.assistant.dialogue import _digest
from hotline.assistant.store import Conversation, ConversationStore, Message, TurnWrite
from hotline.bootstrap import bootstrap
from hotline.desk.accounts import seed_demo_agents
from hotline.desk.hub import ChatEvent, MemoryHub, RedisHub
from hotline.domain.billing import FixedClock
from hotline.store.sql.tables import audit_log, conversation_messages, conversations, handoffs
from live_server import ThreadedServer

AGENT_PW = "desk10086!"
ADMIN_PW = "admin10086!"
WAIT = 10.0
REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


class LiveDesk(ThreadedServer):
    """hotline's app as ``hotline serve`` wires it (its Router in memory, the routing pass every 0.2 s),
    over the test's fixed clock, served by uvicorn on 127.0.0.1 in a thread; ``hub`` replaces the hub."""

    def __init__(self, hl, hub, clock: FixedClock) -> None:
        self.hl = hl
        self.clock = clock
        self.router = hl.router                  # built over hl.services.clock: the test's clock
        self.secrets: dict[str, str] = {}        # conversation id -> the secret its web client holds
        hl.hub = hub
        hl.__dict__.pop("desk", None)
        super().__init__(create_app(hl), name="desk-server")


    # the routing pass, at once (the server also runs it every 0.2 s)
    def route(self) -> None:
        asyncio.run(self.hl.intake.poll())
        self.router.tick()
        self.router.dispatch()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)

    def agent(self, login: str, password: str = AGENT_PW) -> AgentClient:
        return AgentClient(self, login, password)

    def customer(self, conversation_id: str) -> CustomerSocket:
        return CustomerSocket(self, conversation_id)

    def hand_off(self, business: str | None = "order.data_pack", msisdn: str | None = "13800138000",
                 said: tuple[str, ...] = ("我想办个流量包", "转人工")) -> tuple[str, str]:
        """A conversation 小贝 handed off (as the assistant stores it), queued by the intake:
        (conversation id, contact id)."""
        cid = f"web-{uuid.uuid4().hex[:16]}"
        store = ConversationStore(self.hl.db)
        now = dt.datetime.now(dt.UTC)
        msgs = []
        transcript = []
        for text in said:
            msgs += [Message("customer", text), Message("assistant", f"小贝答：{text}")]
            transcript += [{"role": "customer", "text": text}, {"role": "assistant", "text": f"小贝答：{text}"}]
        write = TurnWrite(messages=msgs, handoff={
            "msisdn": msisdn, "channel": "web", "reason": "asked", "priority": False, "business": business,
            "slots": {"product": "pack.data_1g_month"}, "transcript": transcript,
            "sentiment": {"label": "neutral", "score": 0.1, "cues": []}})
        secret = secrets.token_urlsafe(24)           # a web conversation is resumed only with its secret
        self.secrets[cid] = secret
        conv = Conversation(cid, "web", msisdn, {"msisdn": msisdn, "lang": "zh", "secret": _digest(secret),
                                                "handoff": {"reason": "asked", "priority": False}})
        asyncio.run(store.save(conv, write, now, now + dt.timedelta(minutes=30)))
        self.route()
        hid = self.hl.db.run_sync(lambda c: c.execute(select(handoffs.c.id).where(
            handoffs.c.conversation_id == cid)).scalar(), write=False)
        return cid, f"h{hid}"

    def rows(self, query) -> list[dict]:
        return self.hl.db.run_sync(lambda c: [dict(r._mapping) for r in c.execute(query)], write=False)


class Socket:
    """A WebSocket client whose every wait is bounded."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self._cm = ws_connect(url, additional_headers=headers or {}, open_timeout=WAIT, close_timeout=2)
        self.ws = self._cm.__enter__()
        self.seen: list[dict] = []

    def until(self, what: str, check: Callable[[dict], bool], timeout: float = WAIT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"{what}: not within {timeout:.0f} s; got {self.seen[-8:]}")
            try:
                msg = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                continue
            self.seen.append(msg)
            if check(msg):
                return msg

    def send(self, obj: dict) -> None:
        self.ws.send(json.dumps(obj, ensure_ascii=False))

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


class AgentClient:
    def __init__(self, live: LiveDesk, login: str, password: str) -> None:
        self.live = live
        self.login_name = login
        self.http = httpx.Client(base_url=live.url, timeout=WAIT)
        r = self.http.post("/api/v1/desk/login", json={"login": login, "password": password})
        assert r.status_code == 200, r.text
        self.me = r.json()["agent"]
        self.socket: Socket | None = None

    def cookie(self) -> str:
        return f"hotline_desk={self.http.cookies.get('hotline_desk')}"

    def connect(self) -> Socket:
        self.socket = Socket(self.live.url.replace("http", "ws") + "/api/v1/desk/ws", {"Cookie": self.cookie()})
        self.view(lambda v: True)
        return self.socket

    def view(self, check: Callable[[dict], bool], what: str = "a view") -> dict:
        assert self.socket is not None, "connect() first"
        return self.socket.until(what, lambda m: m.get("type") == "view" and check(m))

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, "/api/v1/desk" + path, **kw)
        assert r.status_code in (200, 201), f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    def available(self) -> dict:
        return self.ok("PUT", "/me/presence", json={"presence": "available"})

    def close(self) -> None:
        if self.socket:
            self.socket.close()
        self.http.close()


class CustomerSocket(Socket):
    def __init__(self, live: LiveDesk, conversation_id: str) -> None:
        super().__init__(live.url.replace("http", "ws") + "/api/v1/assistant/ws")
        self.conversation_id = conversation_id
        self.send({"type": "resume", "conversation_id": conversation_id,
                   "secret": live.secrets.get(conversation_id)})

    def say(self, text: str) -> dict:
        mid = uuid.uuid4().hex[:12]
        self.send({"text": text, "conversation_id": self.conversation_id, "message_id": mid})
        return self.until(f"the ack of {text!r}", lambda m: m.get("type") == "ack" and m.get("message_id") == mid)

    def live_event(self, event: str, what: str | None = None) -> dict:
        return self.until(what or f"the live event {event}", lambda m: m.get("type") == "live" and m["event"] == event)


@pytest.fixture
def hl(settings, clock):
    app = bootstrap(settings, clock=clock)
    seed_demo_agents(app.db, kdf_n=TEST_KDF_N, clock=clock)
    yield app
    app.close()


@pytest.fixture
def live(hl, clock):
    with LiveDesk(hl, MemoryHub(), clock) as server:
        yield server


# ------------------------------------------------------------------------------------------ tests

def test_the_desk_needs_a_session_and_the_right_role(live):
    anon = httpx.Client(base_url=live.url, timeout=WAIT)
    for method, path in (("GET", "/me"), ("PUT", "/me/presence"), ("GET", "/accounts"), ("GET", "/queues"),
                         ("POST", "/offers/x/accept")):
        r = anon.request(method, "/api/v1/desk" + path, json={})
        assert r.status_code == 401, (path, r.text)
        assert r.json()["error"]["message_zh"]
    bad = anon.post("/api/v1/desk/login", json={"login": "a1001", "password": "wrong-pass1"})
    assert bad.status_code == 401 and "工号或密码错误" in bad.json()["error"]["message_zh"]
    with pytest.raises(WebSocketException):    # the desk socket refuses a visitor without a session
        Socket(live.url.replace("http", "ws") + "/api/v1/desk/ws").until("anything", lambda m: True, 2)

    agent = live.agent("a1001")
    assert agent.me["role"] == "agent" and agent.me["name"] == "王芳"
    set_cookie = agent.http.post("/api/v1/desk/login",
                                 json={"login": "a1001", "password": AGENT_PW}).headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie.replace("Strict", "strict")
    r = agent.http.post("/api/v1/desk/accounts", json={"login": "a2001", "name": "新人", "password": "welcome-1"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert agent.http.get("/api/v1/desk/accounts").status_code == 403

    admin = live.agent("admin", ADMIN_PW)
    made = admin.ok("POST", "/accounts", json={"login": "a2001", "name": "新人", "password": "welcome-1",
                                               "skills": {"general": 4}, "capacity": {"chat": 2}})
    assert made["role"] == "agent" and made["capacity"]["chat"] == 2
    newbie = live.agent("a2001", "welcome-1")
    assert newbie.ok("GET", "/me")["agent"]["skills"] == {"general": 4}
    admin.ok("PATCH", "/accounts/a2001", json={"active": False})
    assert newbie.http.get("/api/v1/desk/me").status_code == 401          # disabled: its session ended
    refused = httpx.post(live.url + "/api/v1/desk/login", json={"login": "a2001", "password": "welcome-1"})
    assert refused.status_code == 401
    actions = {r["action"] for r in live.rows(select(audit_log).where(audit_log.c.channel == "desk"))}
    assert {"desk_login", "desk_login_failed", "desk_agent_create", "desk_agent_disable"} <= actions


def test_a_bearer_token_works_and_logout_signs_out_of_routing(live):
    r = httpx.post(live.url + "/api/v1/desk/login", json={"login": "a1002", "password": AGENT_PW, "bearer": True})
    token = r.json()["token"]
    api = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"}, timeout=WAIT)
    assert api.get("/api/v1/desk/me").json()["agent"]["login"] == "a1002"
    assert live.router.agent("a1002") is not None                           # known to routing, offline
    assert api.put("/api/v1/desk/me/presence", json={"presence": "break"}).status_code == 422   # needs a reason
    view = api.put("/api/v1/desk/me/presence", json={"presence": "break", "reason": "meal"}).json()
    assert view["state"] == "break" and view["reason"] == "meal"
    assert api.post("/api/v1/desk/logout").status_code == 200
    assert live.router.agent("a1002") is None
    assert api.get("/api/v1/desk/me").status_code == 401


@pytest.mark.parametrize("hub_kind", ["memory", "redis"])
def test_an_agent_serves_a_chat_from_offer_to_wrap_up(hl, clock, hub_kind):
    if hub_kind == "redis":
        need(redis_up(), "Redis is not reachable at 127.0.0.1:6379")
        hub = RedisHub(REDIS_URL, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    else:
        hub = MemoryHub()
    with LiveDesk(hl, hub, clock) as live:
        agent = live.agent("a1003")                  # 张伟: orders 9
        agent.connect()
        assert agent.available()["state"] == "available"
        agent.view(lambda v: v["state"] == "available")

        cid, contact = live.hand_off()
        customer = live.customer(cid)
        waiting = customer.live_event("waiting", "the queue position")
        assert waiting["position"] == 1

        # The offer arrives over the socket, with its deadline.
        live.route()
        view = agent.view(lambda v: v["offers"], "the offer")
        offer = view["offers"][0]
        assert offer["contact_id"] == contact and offer["queue"] == "orders" and view["state"] == "offered"
        assert offer["expires_at"] - view["server_time"] == pytest.approx(15.0)
        assert offer["business_name_zh"] == "办理流量包" and offer["msisdn_masked"] == "138****8000"

        # Accepting shows the transcript (marked as 小贝's), the business, slots and sentiment.
        ctx = agent.ok("POST", f"/offers/{contact}/accept")
        assert ctx["status"] == "active" and ctx["conversation_id"] == cid
        assert [m["role"] for m in ctx["transcript"]][:4] == ["customer", "assistant", "customer", "assistant"]
        assert ctx["transcript"][0]["text"] == "我想办个流量包"
        assert ctx["slots"] == {"product": "pack.data_1g_month"} and ctx["sentiment"]["label"] == "neutral"
        assert ctx["business"] == "order.data_pack" and ctx["business_name_en"]
        joined = customer.live_event("joined")
        assert joined["text"] == "人工客服 张伟 为您服务。"
        agent.view(lambda v: v["state"] == "busy" and v["contacts"] and v["contacts"][0]["contact_id"] == contact)

        # Both ways.
        customer.say("我办的流量包没生效")
        got = agent.socket.until("the customer's message", lambda m: m.get("type") == "message"
                                 and m["role"] == "customer")
        assert got["text"] == "我办的流量包没生效" and got["contact_id"] == contact
        sent = agent.ok("POST", f"/contacts/{contact}/messages", json={"text": "您好，我来帮您查一下。"})
        heard = customer.live_event("message")
        assert heard["text"] == "您好，我来帮您查一下。" and heard["name"] == "张伟" and heard["seq"] == sent["seq"]

        # Canned replies come filled in for this customer.
        canned = {c["id"]: c for c in agent.ok("GET", "/canned", params={"contact_id": contact})}
        assert "张伟" in canned["greet"]["text"] and "办理流量包" in canned["greet"]["text"]

        # Finish: the customer is told and goes back to 小贝; the agent wraps up.
        view = agent.ok("POST", f"/contacts/{contact}/finish")
        assert view["state"] == "wrap_up"
        ended = customer.live_event("ended")
        assert ended["text"].startswith("本次人工服务已结束")
        codes = [c["code"] for c in agent.ok("GET", "/codes")["wrapup"]]
        assert "resolved" in codes
        bad = agent.http.post(f"/api/v1/desk/contacts/{contact}/wrapup", json={"code": "nonsense"})
        assert bad.status_code == 422
        view = agent.ok("POST", f"/contacts/{contact}/wrapup", json={"code": "resolved", "notes": "流量包已生效"})
        assert view["state"] == "available" and not view["contacts"]
        done = live.router.contact(contact)
        assert done.status == "done" and done.wrap_code == "resolved" and done.wrap_notes == "流量包已生效"

        # The transcript is complete, and the conversation is 小贝's again.
        stored = live.rows(select(conversation_messages.c.role, conversation_messages.c.text)
                           .where(conversation_messages.c.conversation_id == cid)
                           .order_by(conversation_messages.c.seq))
        roles = [r["role"] for r in stored]
        assert roles[4:] == ["system", "customer", "agent", "system"], stored
        state = live.rows(select(conversations.c.state).where(conversations.c.id == cid))[0]["state"]
        assert "handoff" not in state
        assert live.rows(select(handoffs.c.status).where(handoffs.c.conversation_id == cid))[0]["status"] == "done"
        customer.close()
        agent.close()
    if hub_kind == "redis":   # every socket unsubscribed when it closed
        check = redis.Redis.from_url(REDIS_URL)
        try:
            deadline = time.monotonic() + WAIT
            while check.pubsub_channels(hub.prefix + "*") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not check.pubsub_channels(hub.prefix + "*")
        finally:
            check.close()


def test_a_rejected_offer_goes_to_another_agent(live):
    first, second = live.agent("a1003"), live.agent("a1006")   # both serve orders
    for a in (first, second):
        a.connect()
        a.available()
    cid, contact = live.hand_off()
    live.route()
    offered = next(a for a in (first, second) if a.ok("GET", "/me")["view"]["offers"])
    other = second if offered is first else first
    view = offered.ok("POST", f"/offers/{contact}/reject")
    assert not view["offers"] and view["state"] == "available"
    live.route()
    view = other.view(lambda v: v["offers"], "the offer, now to the other agent")
    assert view["offers"][0]["contact_id"] == contact
    # The one who rejected cannot take it any more.
    r = offered.http.post(f"/api/v1/desk/offers/{contact}/accept")
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_offered"
    assert other.ok("POST", f"/offers/{contact}/accept")["agent_id"] == other.login_name
    # An offer not answered in time goes back to the queue.
    cid2, contact2 = live.hand_off()
    offered.available()
    live.route()
    offered.view(lambda v: v["offers"] and v["offers"][0]["contact_id"] == contact2, "the second offer")
    live.advance(16)
    live.route()
    view = offered.view(lambda v: not v["offers"], "the offer withdrawn after its timeout")
    assert view["missed"] == 1


def test_a_waiting_customer_asks_for_a_callback_and_keeps_the_place(live):
    """No agent is free: the customer replies 回电; the contact keeps its place (it is still first), becomes a
    callback to the number, and the first agent to go available gets it as a callback to make."""
    cid, contact = live.hand_off()
    later_cid, later = live.hand_off()
    customer = live.customer(cid)
    customer.say("回电")
    told = customer.live_event("callback")
    assert "138****8000" in told["text"] and "保留" in told["text"]
    first = live.router.contact(contact)
    assert first.channel == "callback" and first.callback_number == "13800138000"
    assert live.router.position(contact)[0] == 1 and live.router.position(later)[0] == 2
    agent = live.agent("a1003")    # orders 9; a callback is one at a time
    agent.connect()
    agent.available()
    live.route()
    view = agent.view(lambda v: v["offers"], "the callback offer")
    assert view["offers"][0]["contact_id"] == contact and view["offers"][0]["channel"] == "callback"
    customer.close()
    agent.close()


def test_transfer_to_a_queue_and_to_an_agent(live):
    first, second = live.agent("a1003"), live.agent("a1001")  # a1001 王芳: general 8, billing 7, orders 6
    for a in (first, second):
        a.connect()
    first.available()
    cid, contact = live.hand_off()
    customer = live.customer(cid)
    live.route()
    first.view(lambda v: v["offers"])
    first.ok("POST", f"/offers/{contact}/accept")
    customer.live_event("joined")

    queues = {q["name"]: q for q in first.ok("GET", "/queues")}
    assert {"general", "billing", "orders", "vip", "english"} <= set(queues)
    bad = first.http.post(f"/api/v1/desk/contacts/{contact}/transfer", json={"queue": "nowhere"})
    assert bad.status_code == 422
    view = first.ok("POST", f"/contacts/{contact}/transfer", json={"queue": "billing"})
    assert not view["contacts"]
    moved = customer.live_event("transferred")
    assert "转接" in moved["text"]
    assert live.router.contact(contact).queue == "billing"
    customer.live_event("waiting", "the position in the new queue")

    second.available()
    live.route()
    second.view(lambda v: v["offers"] and v["offers"][0]["contact_id"] == contact, "the transferred contact")
    ctx = second.ok("POST", f"/offers/{contact}/accept")
    assert ctx["transfers"] == 1 and ctx["transcript"][0]["text"] == "我想办个流量包"
    assert customer.live_event("joined")["name"] == "王芳"

    # To a person: the named agent gets the offer directly.
    first.available()
    agents = {a["login"] for a in second.ok("GET", "/agents")}
    assert {"a1003", "a1001"} <= agents
    second.ok("POST", f"/contacts/{contact}/transfer", json={"agent": "a1003"})
    view = first.view(lambda v: v["offers"] and v["offers"][0]["contact_id"] == contact, "the offer by name")
    assert view["offers"][0]["transfers"] == 2
    customer.close()


async def test_hubs_relay_events_to_subscribers_only():
    """The same behaviour in memory and on Redis: subscribers of a conversation hear its events, in order."""
    hubs = [MemoryHub()]
    if redis_up():
        hubs.append(RedisHub(REDIS_URL, prefix=f"test-{uuid.uuid4().hex[:8]}:"))
    else:
        need(False, "Redis is not reachable at 127.0.0.1:6379")
    for hub in hubs:
        a = await hub.subscribe("c1")
        b = await hub.subscribe("c2")
        await b.add("c1")
        await b.remove("c2")
        for i in range(3):
            await hub.publish(ChatEvent("c1", "message", "customer", f"m{i}", seq=i))
        await hub.publish(ChatEvent("c2", "message", "customer", "not for a"))
        for sub in (a, b):
            got = [await sub.get(2.0) for _ in range(3)]
            assert [e.text for e in got] == ["m0", "m1", "m2"], hub
        assert await a.get(0.3) is None and await b.get(0.3) is None
        await a.close()
        await b.close()
        await hub.close()
