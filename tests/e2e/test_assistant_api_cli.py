"""小贝 from outside: the REST API and the WebSocket, and `hotline nlu` / `hotline chat` from a shell."""

import json

import httpx
import pytest
from starlette.testclient import TestClient

from conftest import TEST_KDF_N
from hotline.api.app import create_app
from hotline.bss.seed import seed_demo_if_empty
from test_cli import cli_env, run_cli


@pytest.fixture
def demo(hl, clock):
    seed_demo_if_empty(hl.db, hl.bss.products, clock=clock, kdf_n=TEST_KDF_N, synthetic=0)
    return hl


@pytest.fixture
async def client(demo):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(demo)),
                                 base_url="http://hotline.test") as c:
        yield c


async def test_a_conversation_over_the_api_keeps_its_id_and_state(client):
    r = await client.post("/api/v1/assistant/messages", json={"text": "给我开个1G的流量包", "msisdn": "13800138000"})
    assert r.status_code == 200, r.text
    first = r.json()
    cid = first["conversation_id"]
    # a web visitor proves the number
    assert first["state"]["stage"] == "otp" and "验证码" in first["replies"][0]["text"]
    assert first["secret"]        # the conversation's secret, given once: needed to continue it
    r = await client.post("/api/v1/assistant/messages", json={"conversation_id": cid, "text": "我还是问问漫游资费吧",
                                                              "secret": first["secret"]})
    body = r.json()
    assert body["conversation_id"] == cid and body["replies"][0]["article"] and not body.get("secret")
    other = (await client.post("/api/v1/assistant/messages", json={"conversation_id": cid, "text": "你好"})).json()
    assert other["conversation_id"] != cid      # without the secret: a new conversation, nothing of this one
    view = (await client.get(f"/api/v1/assistant/conversations/{cid}")).json()
    assert [m["role"] for m in view["transcript"]] == ["customer", "assistant", "customer", "assistant"]


async def test_a_retried_api_message_is_answered_once(client):
    hello = (await client.post("/api/v1/assistant/messages", json={"text": "你好"})).json()
    cid = hello["conversation_id"]
    body = {"conversation_id": cid, "secret": hello["secret"], "text": "转人工", "message_id": "c-1"}
    first = (await client.post("/api/v1/assistant/messages", json=body)).json()
    second = (await client.post("/api/v1/assistant/messages", json=body)).json()
    assert first["replies"] == second["replies"]
    view = (await client.get(f"/api/v1/assistant/conversations/{cid}")).json()
    assert len(view["handoffs"]) == 1 and len(view["transcript"]) == 4


async def test_bad_requests_get_a_clear_refusal(client):
    r = await client.post("/api/v1/assistant/messages", json={"msisdn": "13800138000"})
    assert r.status_code == 422 and r.json()["error"]["message_zh"]
    assert (await client.get("/api/v1/assistant/conversations/nosuchconversation")).status_code == 404


def test_the_websocket_carries_a_live_chat(demo):
    with TestClient(create_app(demo)) as tc, tc.websocket_connect("/api/v1/assistant/ws") as ws:
        ws.send_json({"text": "你好"})
        hello = ws.receive_json()
        assert "小贝" in hello["replies"][0]["text"]
        ws.send_json({"text": "出国漫游怎么收费"})
        answer = ws.receive_json()
        assert answer["conversation_id"] == hello["conversation_id"] and answer["replies"][0]["article"]
        ws.send_json({"text": 42})
        assert "error" in ws.receive_json()


def test_hotline_nlu_prints_intent_confidence_and_slots(tmp_path, database_url):
    env = cli_env(tmp_path, database_url)
    out = json.loads(run_cli(env, "nlu", "查一下上个月的账单", "--json").stdout)
    assert out["intent"] == "query.bill" and 0 < out["confidence"] <= 1 and "month" in out["slots"]
    lines = "帮我充值三十块钱\n今天天气怎么样\n\n给我开个1G的流量包\n"
    proc = run_cli_stdin(env, lines, "nlu", "--json", "-")
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["帮我充值三十块钱", "今天天气怎么样", "给我开个1G的流量包"]
    assert rows[0]["intent"] == "payment.recharge" and rows[0]["slots"]["money"] == 3000
    assert rows[1]["intent"] == "out_of_scope"
    assert rows[2]["intent"].startswith("order.data_pack") and rows[2]["slots"]["product"]


def test_hotline_nlu_eval_reports_accuracy_f1_and_confusions(tmp_path, database_url):
    env = cli_env(tmp_path, database_url)
    f = tmp_path / "few.tsv"
    f.write_text("text\tintent\n查一下余额\tquery.balance\n讲个笑话吧\tout_of_scope\n办个流量包\tquery.balance\n",
                 encoding="utf-8")
    rep = json.loads(run_cli(env, "nlu", "eval", str(f), "--json").stdout)
    assert rep["total"] == 3 and abs(rep["accuracy"] - 2 / 3) < 1e-3 and rep["oos_recall"] == 1.0
    assert rep["confusions"][0]["expected"] == "query.balance"
    text = run_cli(env, "nlu", "eval", str(f)).stdout
    assert "accuracy 66.7%" in text and "most frequent confusions" in text


def test_hotline_chat_talks_in_the_terminal(tmp_path, database_url):
    env = cli_env(tmp_path, database_url)
    proc = run_cli_stdin(env, "我的话费还剩多少\n谢谢\n\n", "chat", "13800138000")
    assert "56.70" in proc.stdout and "不客气" in proc.stdout


def run_cli_stdin(env, stdin, *args):
    import subprocess

    from test_cli import CLI
    proc = subprocess.run([*CLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc
