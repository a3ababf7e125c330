"""Money survives kill -9: ``hotline serve`` is killed with SIGKILL in the middle of a burst of concurrent
orders, recharges, usage charges, card top-ups and payment notifications (some sent twice), on SQLite and
PostgreSQL; restarted, it is sent everything again (the clients' retries). After every kill and at the end:

- every balance equals the sum of its ledger (seeded accounts open with a balance-brought-forward row);
- no half orders: each completed order's ledger rows move exactly its amount, no ledger row points at a
  missing order, every failed order moved nothing;
- no double charge: every answered order is still there with the answer's id, a retry replays it, a
  card is credited at most once and a payment at most once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from hotline.services.payments import ReferenceProvider
from hotline.store.sql.tables import ledger, orders, payments, subscribers, topup_cards

CLI = [sys.executable, "-m", "hotline.cli"]
TOKEN = "kill9-master-token-0123456789abcdef"
SECRET = "kill9-payment-secret-0123456789abcdef0123"
CYCLES = 3
KILL_AFTER = (40, 110, 170)      # answers received before the kill, per cycle: early, middle, late
START_TIMEOUT = 90.0
CARDS = 24


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    sqlite = database_url.startswith("sqlite")
    env.update(HOTLINE_DATA_DIR=str(tmp_path / "var"), HOTLINE_DATABASE_URL="" if sqlite else database_url,
               HOTLINE_PASSWORD_KDF_N="1024", HOTLINE_DEMO_SUBSCRIBERS="30", HOTLINE_API_TOKEN=TOKEN,
               HOTLINE_PAYMENT_SECRET=SECRET, HOTLINE_DB_THREADS="8", HOTLINE_LOG_LEVEL="warning")
    return env


def db_url(tmp_path: Path, database_url: str) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'hotline.db'}" if database_url.startswith("sqlite") else database_url


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> str:
        self.port = free_port()
        with open(self.log, "a") as out:
            proc = subprocess.Popen([*CLI, "serve", "--port", str(self.port)], env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            self.proc = proc
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:   # poll until it answers, within a deadline
            assert proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start in time:\n" + self.log.read_text()[-3000:]
            time.sleep(0.2)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def make_cards(env: dict[str, str]) -> list[dict[str, Any]]:
    proc = subprocess.run([*CLI, "cards", "create", "--value", "500", "--count", str(CARDS), "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


def numbers(url: str) -> list[str]:
    eng = create_engine(url)
    with eng.connect() as c:
        rows = c.execute(select(subscribers.c.msisdn).where(subscribers.c.status == "active")
                         .order_by(subscribers.c.id).limit(8)).scalars().all()
    eng.dispose()
    return list(rows)


def plan(nums: list[str], cards: list[dict[str, Any]], refs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """The burst: every request with its idempotency key; a few sent twice at once (a client's double send)."""
    provider = ReferenceProvider(SECRET, "http://unused")
    reqs: list[dict[str, Any]] = []
    for i in range(60):
        n = nums[i % len(nums)]
        reqs.append({"path": f"/api/v1/subscribers/{n}/recharges", "json": {"amount_fen": 100 + i}, "key": f"rc-{i}"})
        reqs.append({"path": f"/api/v1/subscribers/{n}/subscriptions",
                     "json": {"product": ("pack.data_day_5g", "pack.data_1g_month", "vas.migu_music")[i % 3]},
                     "key": f"sub-{i}"})
        reqs.append({"path": f"/api/v1/subscribers/{n}/usage", "json": {"kind": "data", "quantity": 300_000 + i},
                     "key": None})
    for i, card in enumerate(cards):
        for j in range(2):   # the second one is another customer trying the same card
            reqs.append({"path": "/api/v1/cards/redeem", "key": f"card-{i}-{j}",
                         "json": {"msisdn": nums[(i + j) % len(nums)], "serial": card["serial"], "pin": card["pin"]}})
    for ref, fen in refs:
        body, headers = provider.notification(ref, fen)
        for _ in range(2):   # the provider retries
            reqs.append({"path": "/api/v1/payments/notify", "content": body, "headers": headers, "key": None})
    for i in range(0, 40, 4):  # double sends with one key
        reqs.append(dict(reqs[i]))
    order = list(range(len(reqs)))
    order.sort(key=lambda k: (k * 7919) % len(reqs))   # interleave kinds, deterministically
    return [reqs[k] for k in order]


async def fire(base: str, reqs: list[dict[str, Any]], kill_after: int | None, server: Server) -> list[Any]:
    """Send everything at once (bounded concurrency); kill the server after ``kill_after`` answers."""
    answers: list[Any] = [None] * len(reqs)
    done = 0
    slots = asyncio.Semaphore(48)
    killed = asyncio.Event()

    async def one(i: int, r: dict[str, Any], client: httpx.AsyncClient) -> None:
        nonlocal done
        headers = {"Authorization": f"Bearer {TOKEN}", **(r.get("headers") or {})}
        if r["key"]:
            headers["Idempotency-Key"] = r["key"]
        async with slots:
            if killed.is_set():
                return
            try:
                resp = await client.post(base + r["path"], json=r.get("json"), content=r.get("content"),
                                         headers=headers, timeout=30)
            except httpx.TransportError:
                return
        answers[i] = (resp.status_code, resp.json() if resp.headers.get("content-type", "").startswith(
            "application/json") else None)
        done += 1
        if kill_after is not None and done >= kill_after and not killed.is_set():
            killed.set()
            server.kill()

    async with httpx.AsyncClient() as client:
        await asyncio.gather(*[one(i, r, client) for i, r in enumerate(reqs)])
    return answers


def check_books(url: str) -> dict[str, Any]:
    """The money invariants, read straight from the database."""
    eng = create_engine(url)
    with eng.connect() as c:
        bal = dict(c.execute(select(subscribers.c.id, subscribers.c.balance_fen)).all())
        sums = dict(c.execute(select(ledger.c.subscriber_id, func.sum(ledger.c.amount_fen))
                              .group_by(ledger.c.subscriber_id)).all())
        wrong = {s: (b, sums.get(s)) for s, b in bal.items() if b != sums.get(s, 0)}
        assert not wrong, f"balance != sum(ledger): {wrong}"
        by_order: dict[int, int] = dict(c.execute(select(ledger.c.order_id, func.sum(ledger.c.amount_fen))
                                                  .where(ledger.c.order_id.is_not(None))
                                                  .group_by(ledger.c.order_id)).all())
        rows = c.execute(select(orders.c.id, orders.c.kind, orders.c.status, orders.c.amount_fen,
                                orders.c.idempotency_key, orders.c.params)).all()
        known = {o.id for o in rows}
        assert set(by_order) <= known, "ledger rows of orders that do not exist"
        for o in rows:
            moved = by_order.get(o.id, 0)
            if o.status == "completed":
                assert abs(moved) == o.amount_fen, f"half order {o.id} {o.kind}: moved {moved}, order {o.amount_fen}"
            else:
                assert moved == 0, f"failed order {o.id} moved money"
        credited: dict[str, int] = {}
        for o in rows:
            if o.kind == "topup_card" and o.status == "completed":
                serial = (o.params if isinstance(o.params, dict) else json.loads(o.params))["serial"]
                credited[serial] = credited.get(serial, 0) + 1
        assert all(v == 1 for v in credited.values()), f"a card credited twice: {credited}"
        used = set(c.execute(select(topup_cards.c.serial).where(topup_cards.c.status == "used")).scalars())
        assert used == set(credited), "a card used without its credit, or credited while still active"
        pay_orders = [o for o in rows if o.kind == "payment" and o.status == "completed"]
        refs = [(o.params if isinstance(o.params, dict) else json.loads(o.params))["ref"] for o in pay_orders]
        assert len(refs) == len(set(refs)), "a payment credited twice"
        paid = set(c.execute(select(payments.c.ref).where(payments.c.status == "paid")).scalars())
        assert paid <= set(refs), "a payment marked paid without its credit"
        out = {"orders": {o.idempotency_key: o.id for o in rows}, "balance": sum(bal.values())}
    eng.dispose()
    return out


def check_answers(reqs: list[dict[str, Any]], answers: list[Any], books: dict[str, Any]) -> int:
    """Every order the server acknowledged is in the database under the id it gave."""
    acknowledged = 0
    for r, a in zip(reqs, answers):
        if a is None or a[0] != 200 or not r["key"] or not isinstance(a[1], dict) or "order_id" not in a[1]:
            continue
        acknowledged += 1
        assert books["orders"].get(r["key"]) == a[1]["order_id"], f"acknowledged order lost: {r['key']}"
    return acknowledged


def test_kill9_mid_burst_keeps_every_balance_equal_to_its_ledger(tmp_path, database_url):
    env = env_for(tmp_path, database_url)
    url = db_url(tmp_path, database_url)
    server = Server(env, tmp_path / "server.log")
    try:
        base = server.start()                 # migrates and seeds the demo population
        nums = numbers(url)
        assert len(nums) >= 5
        cards = make_cards(env)
        refs = []
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as c:
            for i in range(16):
                fen = 1_000 + i
                r = c.post("/api/v1/payments", json={"msisdn": nums[i % len(nums)], "amount_fen": fen})
                assert r.status_code == 201, r.text
                refs.append((r.json()["ref"], fen))
        check_books(url)                      # balance = sum(ledger) from the start
        reqs = plan(nums, cards, refs)
        acknowledged = 0
        for cycle in range(CYCLES):
            answers = asyncio.run(fire(base, reqs, KILL_AFTER[cycle], server))
            server.kill()
            answered = sum(a is not None for a in answers)
            assert KILL_AFTER[cycle] <= answered < len(reqs), (cycle, answered)   # killed mid-burst
            books = check_books(url)
            acknowledged += check_answers(reqs, answers, books)
            base = server.start()             # recovers, and the clients retry everything
        answers = asyncio.run(fire(base, reqs, None, server))
        books = check_books(url)
        check_answers(reqs, answers, books)
        assert acknowledged > 0
        keyed = [(r, a) for r, a in zip(reqs, answers) if r["key"] and a and a[0] == 200]
        assert keyed and all(books["orders"][r["key"]] == a[1]["order_id"] for r, a in keyed)
        notified = [a for r, a in zip(reqs, answers) if r["path"].endswith("/notify")]
        assert all(a and a[0] == 200 and a[1]["status"] == "paid" for a in notified), notified
        assert {a[1]["ref"] for a in notified} == {ref for ref, _ in refs}   # every payment credited, once
    finally:
        server.kill()
