"""Identity over 小贝's public web-chat socket, attacked as an outsider would (no credential needed there).

Each test is an attack that worked before the business flow bound identity to the number it was proven
for: a code swapped onto another number, a confirmation re-targeted, a conversation resumed by its id,
an SMS conversation reached from the web, an ID number kept in clear, codes flooded to one phone.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from conftest import TEST_KDF_N
from hotline.api.app import create_app
from hotline.bss.seed import seed_demo_if_empty
from hotline.channels.sms.message import InboundSms
from hotline.store.sql.tables import conversation_messages, conversations

ZHANG = "13800138000"   # the victim
LISI = "13900139000"    # the attacker's own number


@pytest.fixture
def demo(hl, clock):
    seed_demo_if_empty(hl.db, hl.bss.products, clock=clock, kdf_n=TEST_KDF_N, synthetic=0)
    return hl


def _portal(tc: TestClient):
    """The client's event-loop portal (there inside ``with TestClient(...)``)."""
    assert tc.portal is not None
    return tc.portal


def texts(reply: dict) -> str:
    return "\n".join(r["text"] for r in reply.get("replies", []))


def balance(tc: TestClient, hl, msisdn: str) -> int:
    return _portal(tc).call(hl.bss.account, msisdn)["balance_fen"]


def last_code(tc: TestClient, hl, msisdn: str) -> str:
    sent = _portal(tc).call(hl.assistant.store.outbox, msisdn)
    return sent[-1]["text"].split("验证码为")[1][:6]


def codes_sent(tc: TestClient, hl, msisdn: str) -> int:
    return sum("验证码" in m["text"] for m in _portal(tc).call(hl.assistant.store.outbox, msisdn))


def prove_own_number(ws, tc, hl) -> dict:
    """The attacker proves their own number the honest way."""
    ws.send_json({"text": "查一下我的话费余额", "msisdn": LISI})
    ask = ws.receive_json()
    assert "验证码" in texts(ask)
    ws.send_json({"text": last_code(tc, hl, LISI)})
    return ws.receive_json()


def test_a_code_sent_to_ones_own_phone_does_not_verify_another_number(demo):
    with TestClient(create_app(demo)) as tc, tc.websocket_connect("/api/v1/assistant/ws") as ws:
        ws.send_json({"text": "查一下我的话费余额", "msisdn": LISI})
        assert "验证码" in texts(ws.receive_json())
        ws.send_json({"text": last_code(tc, demo, LISI), "msisdn": ZHANG})   # the swap
        reply = ws.receive_json()
        assert "56.70" not in texts(reply) and not reply["state"]["verified"]
        ws.send_json({"text": "查一下我的话费余额", "msisdn": ZHANG})
        assert "56.70" not in texts(ws.receive_json())


def test_a_pending_confirmation_never_runs_for_another_number(demo):
    with TestClient(create_app(demo)) as tc, tc.websocket_connect("/api/v1/assistant/ws") as ws:
        before = balance(tc, demo, ZHANG)
        prove_own_number(ws, tc, demo)
        ws.send_json({"text": "给我开个1G的流量包"})
        assert "是" in texts(ws.receive_json())        # confirm? — for the attacker's own number
        ws.send_json({"text": "是", "msisdn": ZHANG})   # re-targeted at the victim
        ws.receive_json()
        assert balance(tc, demo, ZHANG) == before
        held = {s["code"] for s in tc.portal.call(demo.bss.account, ZHANG)["subscriptions"]}
        assert not any(code.startswith("pack.data_1g") for code in held)


def test_a_web_conversation_is_not_resumed_by_its_id_alone(demo):
    with TestClient(create_app(demo)) as tc:
        with tc.websocket_connect("/api/v1/assistant/ws") as victim:
            victim.send_json({"text": "查一下我的话费余额", "msisdn": ZHANG})
            cid = victim.receive_json()["conversation_id"]
            victim.send_json({"text": last_code(tc, demo, ZHANG)})
            assert "56.70" in texts(victim.receive_json())
        with tc.websocket_connect("/api/v1/assistant/ws") as attacker:
            attacker.send_json({"type": "resume", "conversation_id": cid})
            attacker.send_json({"text": "查一下我的话费余额", "conversation_id": cid})
            got = attacker.receive_json()
            while "replies" not in got:          # a refused resume answers first
                got = attacker.receive_json()
            assert "56.70" not in texts(got) and got["conversation_id"] != cid


def test_an_sms_conversation_is_never_reachable_from_the_web(demo):
    with TestClient(create_app(demo)) as tc:
        tc.portal.call(demo.sms.handle, InboundSms(ZHANG, "10086", "我想查一下话费还有多少", "gw-1"))
        ids = tc.portal.call(demo.db.run, lambda c: c.execute(
            select(conversations.c.id).where(conversations.c.channel == "sms")).scalars().all())
        assert ids
        with tc.websocket_connect("/api/v1/assistant/ws") as ws:
            for cid in {*ids, f"sms-{ZHANG}"}:
                ws.send_json({"text": "查一下我的话费余额", "conversation_id": cid})
                got = ws.receive_json()
                assert "56.70" not in texts(got) and got["conversation_id"] not in ids


def test_an_id_number_typed_in_the_chat_is_not_kept_in_clear(demo):
    id_number = "110101199003071234"
    with TestClient(create_app(demo)) as tc, tc.websocket_connect("/api/v1/assistant/ws") as ws:
        ws.send_json({"text": f"我的身份证号是{id_number}，帮我重置密码", "msisdn": ZHANG})
        ws.receive_json()
        stored = tc.portal.call(demo.db.run, lambda c: c.execute(select(conversation_messages.c.text)).scalars().all())
        assert stored and not any(id_number in t for t in stored)


def test_codes_cannot_be_flooded_to_one_phone(demo):
    with TestClient(create_app(demo)) as tc:
        for _ in range(8):    # a new conversation each time, as a script would
            with tc.websocket_connect("/api/v1/assistant/ws") as ws:
                ws.send_json({"text": "查一下我的话费余额", "msisdn": ZHANG})
                ws.receive_json()
        assert codes_sent(tc, demo, ZHANG) == 1


def test_one_address_cannot_drive_the_open_chat_without_limit(demo):
    with TestClient(create_app(demo)) as tc, tc.websocket_connect("/api/v1/assistant/ws") as ws:
        answers = []
        for _ in range(61):
            ws.send_json({"text": "你好"})
            answers.append(ws.receive_json())
        assert all("replies" in a for a in answers[:60])
        assert answers[60].get("error") == "rate limited" and "过于频繁" in answers[60]["detail"]


async def test_racing_turns_on_one_conversation_never_fail_with_a_server_error(demo, api_key):
    import asyncio

    import httpx
    headers = api_key("write")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(demo)), base_url="http://t",
                                 headers=headers) as c:
        first = (await c.post("/api/v1/assistant/messages", json={"text": "你好"})).json()
        body = {"conversation_id": first["conversation_id"], "secret": first["secret"]}
        answers = await asyncio.gather(*(c.post("/api/v1/assistant/messages", json={**body, "text": text})
                                         for text in ["出国漫游怎么收费", "你好", "谢谢", "积分怎么兑换"] * 5))
    assert {r.status_code for r in answers} <= {200, 409}
    assert any(r.status_code == 200 for r in answers)
    assert all(r.json()["error"]["message_zh"] for r in answers if r.status_code == 409)
