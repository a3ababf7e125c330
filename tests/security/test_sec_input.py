"""Bad input and races, as an attacker sends them to a running server (issue 11, section 7).

A real server (uvicorn on a free 127.0.0.1 port, in a thread of this process) over a fresh database of
each backend with the demo subscribers; requests go over HTTP and WebSockets. Every attack must be
refused politely and change nothing: no 500, no charge, no second order, no traceback in the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from conftest import TEST_KDF_N
from hotline.api.app import create_app
from hotline.bss.seed import seed_demo_if_empty
from hotline.desk.accounts import seed_demo_agents
from live_server import ThreadedServer

ZHANG = "13800138000"   # 神州行, ¥56.70; 手机报 and 咪咕音乐 outside the plan (0000 serials 1 and 2)
WAIT = 10.0
AGENT_PW = "desk10086!"


def credentials(hl: Any) -> dict[str, str]:
    """The Authorization header of an API key with every scope, where the API has keys."""
    if getattr(type(hl), "apikeys", None) is None:
        return {}
    _, token = hl.apikeys.create(("read", "write", "billing", "admin"), name="sec-input")
    return {"Authorization": f"Bearer {token}"}


class Live(ThreadedServer):
    """The app over the test's ``hl``, served by uvicorn in a thread. Its log goes to the root logger
    (``log_config=None``), so ``caplog`` sees any traceback the server would print."""

    def __init__(self, hl: Any) -> None:
        self.hl = hl
        super().__init__(create_app(hl), name="sec-input-server", log_config=None)
        self.headers = credentials(hl)


    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=WAIT, headers=self.headers)

    def ahttp(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=WAIT, headers=self.headers)

    def balance(self, msisdn: str = ZHANG) -> int:
        with self.http() as c:
            return int(c.get(f"/api/v1/subscribers/{msisdn}").json()["balance_fen"])

    def orders(self, msisdn: str = ZHANG) -> list[dict[str, Any]]:
        with self.http() as c:
            return list(c.get(f"/api/v1/subscribers/{msisdn}/orders").json())

    def active(self, msisdn: str = ZHANG) -> set[str]:
        with self.http() as c:
            subs = c.get(f"/api/v1/subscribers/{msisdn}").json()["subscriptions"]
        return {s["code"] for s in subs if s["end_cycle"] is None}


@pytest.fixture
def live(hl, clock) -> Iterator[Live]:
    seed_demo_if_empty(hl.db, hl.bss.products, clock=clock, kdf_n=TEST_KDF_N, synthetic=0)
    with Live(hl) as server:
        yield server


def assert_polite(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err["message_zh"]) and err["message_en"]
    return dict(err)


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()
           or "Exception in ASGI" in r.getMessage()]
    assert not bad, [r.getMessage() for r in bad]


# ------------------------------------------------------------------------------------------ quantities

def test_usage_beyond_what_one_record_can_hold_is_refused_and_charges_nothing(live, caplog):
    before = live.balance()
    with live.http() as c:
        for kind, quantity in (("data", 2**63), ("sms", 2**40), ("data", 2**45), ("call", 24 * 3600 + 1),
                               ("sms", 101), ("data", 100 * 1024 * 1024 + 1), ("call", 2**63 - 1)):
            r = c.post(f"/api/v1/subscribers/{ZHANG}/usage", json={"kind": kind, "quantity": quantity})
            assert_polite(r, 422)
        assert live.balance() == before
        with live.http() as c2:
            records = c2.get(f"/api/v1/subscribers/{ZHANG}/records").json()
        ok = c.post(f"/api/v1/subscribers/{ZHANG}/usage", json={"kind": "call", "quantity": 24 * 3600})
        assert ok.status_code == 200, ok.text
    assert live.balance() >= before - 24 * 60 * 19   # a whole day on the phone, at ¥0.19 a minute at most
    with live.http() as c:
        assert len(c.get(f"/api/v1/subscribers/{ZHANG}/records").json()) == len(records) + 1
    no_traceback(caplog)


def test_points_and_amounts_out_of_range_are_refused(live):
    before = live.balance()
    with live.http() as c:
        r = c.post(f"/api/v1/subscribers/{ZHANG}/points/redemptions",
                   json={"reward": "balance", "points": 2**63 + 100}, headers={"Idempotency-Key": "p-1"})
        assert r.status_code == 422, r.text
        r = c.post(f"/api/v1/subscribers/{ZHANG}/points/redemptions",
                   json={"reward": "balance", "points": 10**15}, headers={"Idempotency-Key": "p-2"})
        assert_polite(r, 422)
        r = c.post(f"/api/v1/subscribers/{ZHANG}/recharges", json={"amount_fen": 2**63},
                   headers={"Idempotency-Key": "r-1"})
        assert r.status_code == 422
    assert live.balance() == before


async def test_slots_typed_by_a_customer_are_bounded_and_refused_politely(live):
    with live.http() as c:
        before = c.get(f"/api/v1/subscribers/{ZHANG}").json()["points"]
    async with live.ahttp() as c:
        async def sms(text: str, mid: str) -> str:
            r = await c.post("/api/v1/sms/inbound", json={"from": ZHANG, "text": text, "id": mid})
            assert r.status_code == 200, r.text
            return "\n".join(x["text"] for x in r.json())
        assert "不能超过" in await sms("DHHF#100000000000", "slot-1")        # an INT beyond any balance of points
        assert "不是有效的数字" in await sms("DHHF#٣٠٠", "slot-2")            # digits of another script
        assert "内容过长" in await sms("TS#" + "信号差" * 200, "slot-3")      # a text slot: refused, not cut
    with live.http() as c:
        assert c.get(f"/api/v1/subscribers/{ZHANG}").json()["points"] == before


def test_a_huge_body_is_refused_with_413_before_it_is_read_whole(live):
    before = live.balance()
    big = json.dumps({"amount_fen": 100, "pad": "x" * (1 << 20)})
    with live.http() as c:
        r = c.post(f"/api/v1/subscribers/{ZHANG}/recharges", content=big,
                   headers={"Content-Type": "application/json", "Idempotency-Key": "big-1"})
        assert_polite(r, 413)

        def chunks() -> Iterator[bytes]:    # no Content-Length: the limit counts what arrives
            yield b'{"amount_fen": 100, "pad": "'
            for _ in range(64):
                yield b"x" * 16384
            yield b'"}'
        r = c.post(f"/api/v1/subscribers/{ZHANG}/recharges", content=chunks(),
                   headers={"Content-Type": "application/json", "Idempotency-Key": "big-2"})
        assert_polite(r, 413)
        small = c.post(f"/api/v1/subscribers/{ZHANG}/recharges", json={"amount_fen": 100},
                       headers={"Idempotency-Key": "small-1"})
        assert small.status_code == 200, small.text
    assert live.balance() == before + 100


# ------------------------------------------------------------------------------------------ idempotency

def test_an_idempotency_key_reused_with_another_body_is_a_409_and_runs_nothing(live):
    before = live.balance()
    with live.http() as c:
        first = c.post(f"/api/v1/subscribers/{ZHANG}/recharges", json={"amount_fen": 1000},
                       headers={"Idempotency-Key": "pay-1"})
        assert first.status_code == 200 and not first.json()["replayed"]
        again = c.post(f"/api/v1/subscribers/{ZHANG}/recharges", json={"amount_fen": 1000},
                       headers={"Idempotency-Key": "pay-1"})
        assert again.status_code == 200 and again.json()["replayed"]
        assert again.json()["order_id"] == first.json()["order_id"]
        other = c.post(f"/api/v1/subscribers/{ZHANG}/recharges", json={"amount_fen": 500000},
                       headers={"Idempotency-Key": "pay-1"})
        err = assert_polite(other, 409)
        assert err["code"] == "idempotency_conflict"
        assert live.balance() == before + 1000

        pack = c.post(f"/api/v1/subscribers/{ZHANG}/subscriptions", json={"product": "pack.data_1g_month"},
                      headers={"Idempotency-Key": "buy-1"})
        assert pack.status_code == 200, pack.text
        orders = len(live.orders())
        swapped = c.post(f"/api/v1/subscribers/{ZHANG}/subscriptions",
                         json={"product": "pack.data_3g_month"}, headers={"Idempotency-Key": "buy-1"})
        assert_polite(swapped, 409)
        # a refused order is kept for its retry: the same key with another request is still a conflict
        refused = c.post(f"/api/v1/subscribers/{ZHANG}/subscriptions/pack.data_10g_month/cancel",
                         headers={"Idempotency-Key": "buy-2"})
        assert assert_polite(refused, 409)["code"] == "conflict"     # not held: nothing to cancel
        orders += 1                                                     # kept as a failed order
        assert_polite(c.post(f"/api/v1/subscribers/{ZHANG}/subscriptions", json={"product": "pack.data_1g_month"},
                             headers={"Idempotency-Key": "buy-2"}), 409)
    assert "pack.data_3g_month" not in live.active()
    assert len(live.orders()) == orders
    assert live.balance() == before + 1000 - pack.json()["amount_fen"]


async def test_concurrent_requests_with_one_key_and_different_bodies_run_once(live):
    before = live.balance()
    async with live.ahttp() as c:
        answers = await asyncio.gather(*[
            c.post(f"/api/v1/subscribers/{ZHANG}/recharges", json={"amount_fen": 100 * (1 + i % 2)},
                   headers={"Idempotency-Key": "race-1"}) for i in range(20)])
    codes = sorted(a.status_code for a in answers)
    assert set(codes) <= {200, 409} and 409 in codes, codes
    won = {a.json()["order_id"] for a in answers if a.status_code == 200}
    assert len(won) == 1
    amount = next(a.json()["amount_fen"] for a in answers if a.status_code == 200)
    assert live.balance() == before + amount


# ------------------------------------------------------------------------------------------ SMS rate

async def test_sixty_concurrent_texts_from_one_number_get_the_limit_answered_and_one_refusal(live):
    limit = live.hl.sms.rate_per_minute
    assert limit == 20
    async with live.ahttp() as c:
        answers = await asyncio.gather(*[
            c.post("/api/v1/sms/inbound", json={"from": ZHANG, "to": "10086", "text": "YE", "id": f"burst-{i}"})
            for i in range(60)])
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    texts = [[r["text"] for r in a.json()] for a in answers]
    answered = [t for t in texts if t and "余额" in t[0]]
    refused = [t for t in texts if t and "过于频繁" in t[0]]
    assert len(answered) == limit and len(refused) == 1
    assert sum(1 for t in texts if not t) == 60 - limit - 1
    # another number is not held back by this one
    async with live.ahttp() as c:
        other = await c.post("/api/v1/sms/inbound", json={"from": "13900139000", "text": "YE", "id": "other-1"})
    assert "余额" in other.json()[0]["text"]


async def test_the_limit_window_passes_and_a_redelivery_does_not_count(live, clock):
    async with live.ahttp() as c:
        async def text(i: int | str) -> list[dict]:
            r = await c.post("/api/v1/sms/inbound", json={"from": ZHANG, "text": "YE", "id": f"w-{i}"})
            return list(r.json())
        first = await text(0)
        for _ in range(5):   # the gateway redelivers: the same answer, not counted again
            assert await text(0) == first
        for i in range(1, 20):
            assert "余额" in (await text(i))[0]["text"]
        assert "过于频繁" in (await text(20))[0]["text"]
        assert await text(21) == []
        clock.advance(seconds=61)
        assert "余额" in (await text(22))[0]["text"]


# ------------------------------------------------------------------------------------------ 0000 serials

async def test_0000_serials_are_answered_only_on_10086977(live):
    async with live.ahttp() as c:
        async def sms(text: str, to: str, mid: str) -> list[dict]:
            r = await c.post("/api/v1/sms/inbound", json={"from": ZHANG, "to": to, "text": text, "id": mid})
            assert r.status_code == 200, r.text
            return list(r.json())
        listing = await sms("0000", "10086", "s-1")
        assert {r["from"] for r in listing} == {"10086977"} and "1.手机报" in listing[0]["text"]
        held = live.active()
        assert {"vas.mobile_newspaper", "vas.migu_music_vip"} <= held
        for mid, text in (("s-2", "1"), ("s-3", "2"), ("s-4", "1,2")):
            replies = await sms(text, "10086", mid)
            assert not any("退订" in r["text"] for r in replies), replies   # no cancellation starts
            for reply in await sms("是", "10086", mid + "-yes"):        # and a yes finds nothing to confirm
                assert "退订" not in reply["text"], reply
        assert live.active() == held
        assert not [o for o in live.orders() if o["kind"] == "unsubscribe"]
        asked = await sms("1", "10086977", "s-5")
        assert asked[0]["from"] == "10086977" and "手机报" in asked[0]["text"]
        if "成功" not in asked[0]["text"]:                                  # confirmed first, where asked
            done = await sms("是", asked[0]["from"], "s-6")
            assert "手机报" in done[0]["text"]
    assert "vas.mobile_newspaper" not in live.active()


# ------------------------------------------------------------------------------------------ WebSockets

def closed_with(ws: Any, send: str | bytes) -> int | None:
    """Send one frame and read until the server closes; the close code it gave."""
    ws.send(send)
    deadline = time.monotonic() + WAIT
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=deadline - time.monotonic())
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None
    return None


@pytest.mark.parametrize("frame", ["hello, not JSON", b"\x00\x01binary", "{\"text\": ", "[1, 2"])
def test_a_non_json_frame_on_the_chat_socket_closes_it_with_1003_and_no_traceback(live, caplog, frame):
    with ws_connect(live.ws_url + "/api/v1/assistant/ws", open_timeout=WAIT, close_timeout=2) as ws:
        assert closed_with(ws, frame) == 1003
    with ws_connect(live.ws_url + "/api/v1/assistant/ws", open_timeout=WAIT, close_timeout=2) as ws:
        ws.send(json.dumps({"text": 42}))          # JSON of the wrong shape: an error, the socket stays
        assert "error" in json.loads(ws.recv(timeout=WAIT))
        assert closed_with(ws, json.dumps({"text": "x" * 200_000})) == 1009   # far beyond any message
    no_traceback(caplog)


@pytest.fixture
def agent_cookie(live, hl, clock) -> str:
    seed_demo_agents(hl.db, kdf_n=TEST_KDF_N, clock=clock)
    with live.http() as c:
        r = c.post("/api/v1/desk/login", json={"login": "a1001", "password": AGENT_PW})
        assert r.status_code == 200, r.text
        return f"hotline_desk={c.cookies.get('hotline_desk')}"


@pytest.mark.parametrize("frame", ["not json at all", b"\xff\xfe", "{\"type\": "])
def test_a_non_json_frame_on_the_desk_socket_closes_it_with_1003(live, caplog, agent_cookie, frame):
    url = live.ws_url + "/api/v1/desk/ws"
    with ws_connect(url, additional_headers={"Cookie": agent_cookie}, open_timeout=WAIT, close_timeout=2) as ws:
        ws.send("ping")                           # the page's keep-alive still works
        deadline = time.monotonic() + WAIT
        while json.loads(ws.recv(timeout=WAIT)).get("type") != "pong":
            assert time.monotonic() < deadline
        assert closed_with(ws, frame) == 1003
    no_traceback(caplog)


@pytest.fixture(autouse=True)
def _warnings_only(caplog):
    caplog.set_level(logging.WARNING)
