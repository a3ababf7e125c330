"""No credit without payment, tried as an attacker would, through the public HTTP API, on SQLite and PostgreSQL:

- 小贝, with a verified customer, "recharges" only by handing out a pay link: the balance moves when the
  provider's signed notification arrives, once, however often it is replayed;
- the desk cannot recharge at all; an agent adjusts within limits, above them a supervisor approves;
- a top-up card credits once (also under concurrent redemptions), a used or expired card is refused
  politely, wrong PINs lock the card and the number for the day, counted before the PIN is checked;
- a notification with a bad signature, another amount or another payment's transaction credits nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conftest import TEST_KDF_N
from desk_contacts import serve
from hotline.api.app import create_app
from hotline.bss.seed import DEMO_CARDS, seed_demo_if_empty
from hotline.desk.accounts import Accounts
from hotline.services.payments import SIGNATURE_HEADER, canonical
from hotline.store.sql.tables import audit_log, ledger, orders, payments, subscribers, topup_cards

ZHANG = "13800138000"
LI = "13900139000"
HOST = "http://hotline.test"
AGENT_PW = "desk-pass-1"
CARD_10, CARD_30, CARD_50, CARD_100, CARD_100B, CARD_EXPIRED = DEMO_CARDS


@pytest.fixture
def demo(hl, clock):
    seed_demo_if_empty(hl.db, hl.bss.products, clock=clock, kdf_n=TEST_KDF_N, synthetic=0)
    return hl


@pytest.fixture
async def client(demo, api_key):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(demo)), base_url=HOST,
                                 headers=api_key("read", "write")) as c:
        yield c


def balance(hl, msisdn: str) -> int:
    return hl.db.run_sync(lambda c: c.execute(select(subscribers.c.balance_fen)
                                              .where(subscribers.c.msisdn == msisdn)).scalar_one(), write=False)


def ledger_sum(hl, msisdn: str) -> int:
    def job(c):
        sid = c.execute(select(subscribers.c.id).where(subscribers.c.msisdn == msisdn)).scalar_one()
        return c.execute(select(func.coalesce(func.sum(ledger.c.amount_fen), 0))
                         .where(ledger.c.subscriber_id == sid)).scalar_one()
    return hl.db.run_sync(job, write=False)


def count(hl, table, *where) -> int:
    return hl.db.run_sync(lambda c: c.execute(select(func.count()).select_from(table).where(*where)).scalar_one(),
                          write=False)


def polite(resp: httpx.Response, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, f"{resp.request.url}: {resp.status_code} {resp.text}"
    err = resp.json()["error"]
    assert re.search(r"[\u4e00-\u9fff]", err["message_zh"]) and err["message_en"], err
    if code:
        assert err["code"] == code, err
    return err


async def chat_to_the_end(hl, client: httpx.AsyncClient, text: str, msisdn: str,
                          confirmations: list[str] | None = None) -> list[str]:
    """A web-chat customer who proves the number with the code the phone receives and says 是 to every
    confirmation (whose texts go to ``confirmations``); the replies of the last turn."""
    r = (await client.post("/api/v1/assistant/messages", json={"text": text, "msisdn": msisdn})).json()
    cid, secret = r["conversation_id"], r.get("secret")
    for _ in range(6):
        stage = r["state"]["stage"]
        if stage == "otp":
            await hl.outbox.deliver_due()
            sms = hl.outbox.inbox_sync(msisdn)[0]["text"]
            found = re.search(r"(?<!\d)(\d{6})(?!\d)", sms)
            assert found, sms
            answer = found.group(1)
        elif stage == "confirm":
            answer = "是"
            if confirmations is not None:
                confirmations.extend(x["text"] for x in r["replies"])
        else:
            break
        r = (await client.post("/api/v1/assistant/messages",
                               json={"text": answer, "conversation_id": cid, "secret": secret})).json()
    return [x["text"] for x in r["replies"]]


# ---------------------------------------------------------------------------- 小贝: a pay link, not money
async def test_xiaobei_recharge_without_payment_credits_nothing_and_the_pay_link_credits_once(demo, client):
    before = balance(demo, ZHANG)
    asked: list[str] = []
    replies = await chat_to_the_end(demo, client, "帮我充值50元", ZHANG, asked)
    assert any("50.00元" in t for t in asked), asked            # the amount is part of what is confirmed
    assert balance(demo, ZHANG) == before, replies          # the attack: "recharged" by asking
    assert count(demo, orders, orders.c.kind.in_(("recharge", "payment"))) == 0
    link = re.search(r"https?://\S+/pay/(P[\w-]+)", " ".join(replies))
    assert link, replies
    ref = link.group(1)
    assert count(demo, payments, payments.c.ref == ref, payments.c.status == "pending",
                 payments.c.amount_fen == 5000) == 1

    # the customer pays on the provider's page: credited once, however often the button is pressed
    page = await client.get(f"/pay/{ref}")
    assert page.status_code == 200 and "50.00" in page.text and "138****8000" in page.text
    for _ in range(3):
        assert (await client.post(f"/pay/{ref}")).status_code == 200
    assert balance(demo, ZHANG) == before + 5000 == ledger_sum(demo, ZHANG)
    assert count(demo, orders, orders.c.kind == "payment") == 1
    await demo.outbox.deliver_due()
    assert any("成功缴费50.00元" in m["text"] for m in demo.outbox.inbox_sync(ZHANG))


async def test_xiaobei_tops_up_with_a_card_and_keeps_no_pin_in_the_transcript(demo, client):
    r = (await client.post("/api/v1/assistant/messages", json={"text": "我要用充值卡充值", "msisdn": ZHANG})).json()
    cid, secret = r["conversation_id"], r.get("secret")
    for _ in range(8):
        stage = r["state"]["stage"]
        if stage == "otp":
            await demo.outbox.deliver_due()
            answer = re.search(r"(?<!\d)(\d{6})(?!\d)", demo.outbox.inbox_sync(ZHANG)[0]["text"]).group(1)
        elif stage == "slot":
            answer = CARD_30[0] if "序列号" in r["replies"][-1]["text"] else CARD_30[1]
        elif stage == "confirm":
            answer = "是"
        else:
            break
        r = (await client.post("/api/v1/assistant/messages",
                               json={"text": answer, "conversation_id": cid, "secret": secret})).json()
    assert "30.00" in r["replies"][0]["text"], r
    assert balance(demo, ZHANG) == 5_670 + 3_000 == ledger_sum(demo, ZHANG)
    transcript = (await client.get(f"/api/v1/assistant/conversations/{cid}")).text
    assert CARD_30[1] not in transcript


async def test_the_pay_page_answers_this_machine_only(demo, api_key):
    link = await demo.services.payments.start(ZHANG, 1000, actor=__import__("hotline.bss.port").bss.port.SYSTEM)
    app = create_app(demo)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 5555)),
                                 base_url=HOST) as far:
        polite(await far.post(f"/pay/{link.ref}"), 403, "local_only")
    assert balance(demo, ZHANG) == 5670


# ---------------------------------------------------------------------------- the provider's notification
def signed(hl, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = canonical(payload)
    return body, {SIGNATURE_HEADER: hl.services.payments.provider.sign(body), "Content-Type": "application/json"}


async def start_payment(client: httpx.AsyncClient, msisdn: str, fen: int) -> str:
    r = await client.post("/api/v1/payments", json={"msisdn": msisdn, "amount_fen": fen})
    assert r.status_code == 201, r.text
    assert r.json()["url"].endswith(f"/pay/{r.json()['ref']}")
    return r.json()["ref"]


async def test_a_notification_with_a_bad_signature_is_refused_and_credits_nothing(demo, client):
    ref = await start_payment(client, LI, 10_000)
    notice = {"ref": ref, "txn": "T-1", "amount_fen": 10_000, "status": "paid"}
    anonymous = httpx.AsyncClient(transport=client._transport, base_url=HOST)   # no API key: the HMAC is it
    async with anonymous:
        body, headers = signed(demo, notice)
        forged = {**headers, SIGNATURE_HEADER: "0" * 64}
        polite(await anonymous.post("/api/v1/payments/notify", content=body, headers=forged), 401, "bad_signature")
        polite(await anonymous.post("/api/v1/payments/notify", content=body), 401, "bad_signature")
        tampered = canonical({**notice, "amount_fen": 100_000})   # signed for 100 yuan, claims 1000
        polite(await anonymous.post("/api/v1/payments/notify", content=tampered, headers=headers), 401)
        assert balance(demo, LI) == 30_000 and count(demo, orders) == 0

        r = await anonymous.post("/api/v1/payments/notify", content=body, headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    assert balance(demo, LI) == 40_000


async def test_a_replayed_notification_credits_once_even_concurrently(demo, client):
    ref = await start_payment(client, LI, 2_000)
    body, headers = signed(demo, {"ref": ref, "txn": "T-replay", "amount_fen": 2_000, "status": "paid"})
    answers = await asyncio.gather(*[client.post("/api/v1/payments/notify", content=body, headers=headers)
                                     for _ in range(8)])
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sum(not a.json()["replayed"] for a in answers) == 1
    assert balance(demo, LI) == 32_000 == ledger_sum(demo, LI)
    assert count(demo, orders, orders.c.kind == "payment") == 1


async def test_a_notification_for_another_amount_or_with_another_payments_txn_credits_nothing(demo, client):
    ref = await start_payment(client, LI, 1_000)
    body, headers = signed(demo, {"ref": ref, "txn": "T-9", "amount_fen": 500_000, "status": "paid"})
    polite(await client.post("/api/v1/payments/notify", content=body, headers=headers), 409, "payment_mismatch")
    assert balance(demo, LI) == 30_000

    body, headers = signed(demo, {"ref": ref, "txn": "T-9", "amount_fen": 1_000, "status": "paid"})
    assert (await client.post("/api/v1/payments/notify", content=body, headers=headers)).status_code == 200
    other = await start_payment(client, LI, 1_000)           # the same provider transaction for another payment
    body, headers = signed(demo, {"ref": other, "txn": "T-9", "amount_fen": 1_000, "status": "paid"})
    polite(await client.post("/api/v1/payments/notify", content=body, headers=headers), 409, "payment_mismatch")
    body, headers = signed(demo, {"ref": ref, "txn": "T-10", "amount_fen": 1_000, "status": "paid"})  # paid twice
    polite(await client.post("/api/v1/payments/notify", content=body, headers=headers), 409, "payment_mismatch")
    body, headers = signed(demo, {"ref": "Pnosuchpayment", "txn": "T-11", "amount_fen": 1_000, "status": "paid"})
    polite(await client.post("/api/v1/payments/notify", content=body, headers=headers), 404)
    assert balance(demo, LI) == 31_000 == ledger_sum(demo, LI)


async def test_a_payment_to_a_number_closed_meanwhile_is_kept_for_refund_not_credited(demo, client):
    from hotline.bss.port import SYSTEM
    ref = await start_payment(client, LI, 1_500)
    await demo.bss.change_status(LI, "close", key="close-li", actor=SYSTEM)
    body, headers = signed(demo, {"ref": ref, "txn": "T-closed", "amount_fen": 1_500, "status": "paid"})
    for _ in range(2):
        r = await client.post("/api/v1/payments/notify", content=body, headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "refund", r.text   # the provider stops retrying
    assert balance(demo, LI) == 30_000 == ledger_sum(demo, LI)
    assert count(demo, payments, payments.c.ref == ref, payments.c.status == "refund") == 1


async def test_starting_a_payment_needs_an_api_key_and_credits_nothing(demo, client):
    async with httpx.AsyncClient(transport=client._transport, base_url=HOST) as anonymous:
        assert (await anonymous.post("/api/v1/payments", json={"msisdn": LI, "amount_fen": 100})).status_code == 401
    await start_payment(client, LI, 100)
    assert balance(demo, LI) == 30_000


# ---------------------------------------------------------------------------- top-up cards
def redeem(client: httpx.AsyncClient, msisdn: str, card: tuple, *, pin: str | None = None, key: str):
    serial, right_pin = card[0], card[1]
    return client.post("/api/v1/cards/redeem", json={"msisdn": msisdn, "serial": serial, "pin": pin or right_pin},
                       headers={"Idempotency-Key": key})


async def test_a_card_credits_once_and_a_used_or_expired_card_is_refused_politely(demo, client):
    r = await redeem(client, ZHANG, CARD_50, key="card-1")
    assert r.status_code == 200 and r.json()["result"]["face_value_fen"] == 5_000, r.text
    again = await redeem(client, ZHANG, CARD_50, key="card-1")          # a retry: the same answer
    assert again.json()["replayed"] and again.json()["order_id"] == r.json()["order_id"]
    err = polite(await redeem(client, LI, CARD_50, key="card-2"), 409, "card_used")
    assert "已经使用过" in err["message_zh"]
    err = polite(await redeem(client, LI, CARD_EXPIRED, key="card-3"), 409, "card_expired")
    assert "过期" in err["message_zh"]
    assert balance(demo, ZHANG) == 5_670 + 5_000 == ledger_sum(demo, ZHANG)
    assert balance(demo, LI) == 30_000
    row = demo.db.run_sync(lambda c: c.execute(select(topup_cards).where(topup_cards.c.serial == CARD_50[0])).one(),
                           write=False)
    assert row.status == "used" and row.order_id == r.json()["order_id"] and CARD_50[1] not in row.pin_hash


async def test_one_card_redeemed_concurrently_from_many_numbers_credits_once(demo, client):
    answers = await asyncio.gather(*[redeem(client, number, CARD_100, key=f"race-{i}")
                                     for i, number in enumerate([ZHANG, LI] * 5)])
    statuses = sorted(a.status_code for a in answers)
    # one wins; the others are told the card is used, or (while up to 5 attempts are in flight, each counted
    # before its PIN is checked) to try later
    assert statuses[0] == 200 and set(statuses[1:]) <= {409, 423}, [a.text for a in answers]
    assert count(demo, orders, orders.c.kind == "topup_card", orders.c.status == "completed") == 1
    assert balance(demo, ZHANG) + balance(demo, LI) == 5_670 + 30_000 + 10_000
    assert ledger_sum(demo, ZHANG) == balance(demo, ZHANG) and ledger_sum(demo, LI) == balance(demo, LI)
    # right PINs do not stay counted: a wrong one now leaves the full budget but one
    err = polite(await redeem(client, ZHANG, CARD_10, pin="1" * 18, key="after-race"), 403, "wrong_card_pin")
    assert err["detail"]["tries_left"] == 4


async def test_wrong_pins_lock_the_card_counted_before_checking_even_concurrently(demo, client):
    wrong = "9" * 18
    answers = await asyncio.gather(*[redeem(client, number, CARD_100B, pin=wrong, key=f"guess-{i}")
                                     for i, number in enumerate([ZHANG, LI] * 10)])
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {403, 423} and statuses.count(423) >= 15, statuses   # 15 never checked at all
    evaluated = count(demo, audit_log, audit_log.c.action == "card.redeem.wrong_pin")
    assert evaluated == 5
    err = polite(await redeem(client, ZHANG, CARD_100B, key="right-but-locked"), 423, "card_locked")
    assert "明天" in err["message_zh"]
    assert balance(demo, ZHANG) == 5_670 and count(demo, orders, orders.c.kind == "topup_card") == 0
    assert CARD_100B[1] not in json.dumps([a.text for a in answers])


async def test_wrong_pins_on_many_cards_lock_the_number(demo, client):
    for i, card in enumerate((CARD_10, CARD_30, CARD_50, CARD_100, CARD_100B)):
        err = polite(await redeem(client, LI, card, pin="1" * 18, key=f"n-{i}"), 403 if i < 4 else 423)
        assert ("还可以再试" in err["message_zh"]) if i < 4 else ("锁定" in err["message_zh"])
    polite(await redeem(client, LI, CARD_10, key="n-right"), 423, "card_locked")
    r = await redeem(client, ZHANG, CARD_10, key="other-number")   # the cards themselves are not locked
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------------------- the desk
async def people(hl) -> dict[str, dict[str, str]]:
    accounts = Accounts(hl.db, hl.services.clock, kdf_n=hl.settings.password_kdf_n)
    out = {}
    for login, role in (("a1001", "agent"), ("s2001", "supervisor"), ("s2002", "supervisor")):
        await accounts.create(login, login, AGENT_PW, role)
        out[login] = {"Authorization": f"Bearer {(await accounts.login(login, AGENT_PW)).token}"}
    return out


@pytest.fixture
async def desk(demo):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(demo)), base_url=HOST) as c:
        yield c, await people(demo)


async def test_the_desk_cannot_recharge(demo, desk):
    c, who = desk
    contact = serve(demo, "a1001", ZHANG)
    listed = (await c.get(f"/api/v1/desk/customers/{ZHANG}/businesses", params={"q": "payment",
                          "contact_id": contact}, headers=who["a1001"])).json()
    codes = {b["code"] for group in listed for b in group.get("businesses", [group])} if listed else set()
    assert "payment.recharge" not in codes
    r = await c.post(f"/api/v1/desk/customers/{ZHANG}/businesses/payment.recharge/run", headers=who["a1001"],
                     json={"contact_id": contact, "params": {"amount": "500"}, "key": "desk-recharge-1"})
    assert r.status_code in (403, 409, 422), r.text
    assert re.search(r"[\u4e00-\u9fff]", r.json()["error"]["message_zh"])
    assert balance(demo, ZHANG) == 5_670 and count(demo, orders) == 0

    # a customer's own card, read out to the agent, is payment: that works at the desk
    r = await c.post(f"/api/v1/desk/customers/{ZHANG}/businesses/payment.redeem_card/run", headers=who["a1001"],
                     json={"contact_id": contact, "params": {"serial": CARD_30[0], "pin": CARD_30[1]},
                           "key": "desk-card-1"})
    assert r.status_code == 200 and "30.00" in " ".join(r.json()["texts"]), r.text
    assert balance(demo, ZHANG) == 5_670 + 3_000


async def test_adjustments_within_the_limit_apply_above_it_wait_for_another_supervisor(demo, desk):
    c, who = desk
    contact = serve(demo, "a1001", ZHANG)

    def adjust(fen: int, key: str, login: str = "a1001", contact_id: str | None = contact):
        return c.post("/api/v1/desk/adjustments", headers=who[login],
                      json={"contact_id": contact_id, "amount_fen": fen, "reason": "计费错误退还", "key": key})

    polite(await adjust(1_000, "no-contact", contact_id="no-such-contact"), 403, "not_in_contact")
    small = await adjust(3_000, "adj-1")
    assert small.status_code == 201 and small.json()["status"] == "applied", small.text
    assert balance(demo, ZHANG) == 8_670
    again = await adjust(3_000, "adj-1")                           # a double click
    assert again.json()["id"] == small.json()["id"] and balance(demo, ZHANG) == 8_670

    big = await adjust(8_000, "adj-2")                              # above ¥50: a supervisor decides
    assert big.status_code == 202 and big.json()["status"] == "pending", big.text
    assert balance(demo, ZHANG) == 8_670
    assert (await c.post(f"/api/v1/desk/adjustments/{big.json()['id']}/approve", json={},
                         headers=who["a1001"])).status_code == 403          # an agent is not a supervisor
    queue = (await c.get("/api/v1/desk/adjustments", params={"status": "pending"}, headers=who["s2001"])).json()
    assert [a["id"] for a in queue] == [big.json()["id"]]
    ok = await c.post(f"/api/v1/desk/adjustments/{big.json()['id']}/approve", json={"note": "核实无误"},
                      headers=who["s2001"])
    assert ok.status_code == 200 and ok.json()["status"] == "applied" and ok.json()["decided_by"] == "s2001"
    assert balance(demo, ZHANG) == 16_670 == ledger_sum(demo, ZHANG)
    polite(await c.post(f"/api/v1/desk/adjustments/{big.json()['id']}/approve", json={}, headers=who["s2002"]),
           409)                                                     # decided once

    # a supervisor cannot approve their own
    s_contact = serve(demo, "s2001", LI)
    mine = await adjust(9_000, "adj-s", login="s2001", contact_id=s_contact)
    assert mine.json()["status"] == "pending"
    polite(await c.post(f"/api/v1/desk/adjustments/{mine.json()['id']}/approve", json={}, headers=who["s2001"]),
           403, "self_approval")
    no = await c.post(f"/api/v1/desk/adjustments/{mine.json()['id']}/reject", json={"note": "no"},
                      headers=who["s2002"])
    assert no.json()["status"] == "rejected" and balance(demo, LI) == 30_000

    kinds = demo.db.run_sync(lambda x: [r.kind for r in x.execute(select(orders.c.kind))], write=False)
    assert kinds == ["adjustment", "adjustment"]
    acts = {r.action for r in demo.db.run_sync(lambda x: x.execute(select(audit_log.c.action)).all(), write=False)}
    assert {"adjustment.request", "adjustment.approve", "adjustment.reject", "order.adjustment"} <= acts


async def test_an_agents_daily_adjustment_limit_holds_under_concurrency(demo, desk):
    c, who = desk
    contact = serve(demo, "a1001", ZHANG)
    answers = await asyncio.gather(*[
        c.post("/api/v1/desk/adjustments", headers=who["a1001"],
               json={"contact_id": contact, "amount_fen": 5_000, "reason": "补偿网络故障", "key": f"day-{i}"})
        for i in range(10)])
    statuses = [a.json()["status"] for a in answers]
    assert statuses.count("applied") == 4 and statuses.count("pending") == 6, statuses   # ¥200 a day
    assert balance(demo, ZHANG) == 5_670 + 20_000 == ledger_sum(demo, ZHANG)
