"""The SMS hall and the catalogue from outside: over HTTP, and from a shell with `hotline sms`."""

import json

import httpx
import pytest

from conftest import TEST_KDF_N
from hotline.api.app import create_app
from hotline.bss.seed import seed_demo_if_empty
from test_cli import cli_env, run_cli


@pytest.fixture
async def client(hl, clock, api_key):
    seed_demo_if_empty(hl.db, hl.bss.products, clock=clock, kdf_n=TEST_KDF_N, synthetic=0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hl)),
                                 base_url="http://hotline.test", headers=api_key("write")) as c:
        yield c


async def test_inbound_sms_returns_the_replies_with_ports_and_segments(client):
    r = await client.post("/api/v1/sms/inbound", json={"from": "13800138000", "to": "10086", "text": "0000",
                                                        "id": "gw-1"})
    assert r.status_code == 200, r.text
    replies = r.json()
    assert [x["from"] for x in replies] == ["10086977", "10086977"]
    assert all(x["to"] == "13800138000" and x["segments"] >= 1 for x in replies)
    assert "咪咕音乐白金会员" in replies[0]["text"]
    again = await client.post("/api/v1/sms/inbound", json={"from": "13800138000", "text": "0000", "id": "gw-1"})
    assert again.json() == replies


async def test_inbound_sms_refuses_a_malformed_request_clearly(client):
    r = await client.post("/api/v1/sms/inbound", json={"to": "10086", "text": "YE"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["message_zh"] and err["message_en"]


async def test_businesses_are_served_with_the_keys_tools_rely_on(client):
    items = (await client.get("/api/v1/businesses")).json()
    assert len(items) >= 80
    by_code = {b["code"]: b for b in items}
    assert by_code["query.itemized"]["auth"] == "password" and by_code["order.data_pack"]["confirm"] is True
    assert "YE" in by_code["query.balance"]["sms_commands"]
    one = (await client.get("/api/v1/businesses/query.balance")).json()
    assert one["name_zh"] == "余额查询"
    assert (await client.get("/api/v1/businesses/query.nothing")).status_code == 404


def test_catalog_cli_prints_the_same_catalogue(tmp_path, database_url):
    env = cli_env(tmp_path, database_url)
    items = json.loads(run_cli(env, "catalog", "--json").stdout)
    assert len(items) >= 80 and {"code", "name_zh", "name_en", "category", "sms_commands", "auth",
                                 "confirm"} <= set(items[0])
    assert "query.balance" in run_cli(env, "catalog").stdout


def test_a_whole_order_flow_from_the_shell(tmp_path, database_url):
    env = cli_env(tmp_path, database_url)
    ask = json.loads(run_cli(env, "sms", "13800138000", "KTLL1", "--json").stdout)
    assert ask[0]["from"] == "10086" and "回复“是”确认办理" in ask[0]["text"]
    done = json.loads(run_cli(env, "sms", "13800138000", "是", "--json").stdout)
    assert "成功办理" in done[0]["text"] and "当前余额46.70元" in done[0]["text"]
    protected = run_cli(env, "sms", "13800138000", "XD").stdout
    assert "需验证服务密码" in protected
    assert "通话详单" in run_cli(env, "sms", "13800138000", "369258").stdout
    zero = json.loads(run_cli(env, "sms", "13800138000", "0000", "--json").stdout)
    assert [r["from"] for r in zero] == ["10086977", "10086977"]
    assert "退订" in run_cli(env, "sms", "13800138000", "1", "--to", "10086977").stdout
