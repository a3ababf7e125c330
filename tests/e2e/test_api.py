"""The HTTP API as a client sees it: clear bilingual errors, nothing changed by bad input."""

import httpx
import pytest

from factories import make_subscriber
from hotline.api.app import create_app

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def client(hl, api_key):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hl)),
                                 base_url="http://hotline.test", headers=api_key()) as c:
        yield c


def assert_bilingual(resp, status, code=None):
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["message_zh"] and err["message_en"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err["message_zh"])
    if code:
        assert err["code"] == code
    return err


async def test_health_docs_and_openapi(client):
    assert (await client.get("/healthz")).json()["status"] == "ok"
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/api/v1/subscribers/{msisdn}" in paths


async def test_profile_is_masked_and_accepts_any_spelling_of_the_number(client, hl):
    make_subscriber(hl, "13800138000", name="张三")
    r = await client.get("/api/v1/subscribers/+86 138-0013-8000")
    assert r.status_code == 200
    body = r.json()
    assert body["msisdn"] == "13800138000" and body["name"] == "张*" and body["balance_fen"] == 10_000
    audit = (await client.get("/api/v1/subscribers/13800138000/audit")).json()
    (key,) = hl.apikeys.list()
    assert audit[0]["action"] == "profile.view" and audit[0]["actor"] == f"apikey:{key.id}"


@pytest.mark.parametrize("number,code", [("1380013800", "invalid_msisdn"), ("13012345678", "invalid_msisdn"),
                                         ("abc", "invalid_msisdn")])
async def test_invalid_numbers(client, number, code):
    assert_bilingual(await client.get(f"/api/v1/subscribers/{number}"), 422, code)


async def test_unknown_subscriber(client):
    assert_bilingual(await client.get("/api/v1/subscribers/13900000000"), 404, "subscriber_not_found")


async def test_unknown_product_changes_nothing(client, hl):
    m = make_subscriber(hl)
    r = await client.post(f"/api/v1/subscribers/{m}/subscriptions", json={"product": "vas.nothing"})
    assert_bilingual(r, 404, "unknown_product")
    assert (await client.get(f"/api/v1/subscribers/{m}/orders")).json() == []


@pytest.mark.parametrize("body", [{"amount_fen": -100}, {"amount_fen": 0}, {"amount_fen": "100"},
                                  {"amount_fen": 10.5}, {}, {"amount_fen": 10**12}])
async def test_bad_amounts_are_422_and_change_nothing(client, hl, body):
    m = make_subscriber(hl)
    err = assert_bilingual(await client.post(f"/api/v1/subscribers/{m}/recharges", json=body), 422,
                           "invalid_input")
    assert "amount_fen" in err["message_en"]
    assert (await client.get(f"/api/v1/subscribers/{m}")).json()["balance_fen"] == 10_000


async def test_malformed_json(client, hl):
    m = make_subscriber(hl)
    r = await client.post(f"/api/v1/subscribers/{m}/recharges", content=b'{"amount_fen": 1',
                          headers={"Content-Type": "application/json"})
    assert_bilingual(r, 400, "malformed_json")
    assert (await client.get(f"/api/v1/subscribers/{m}")).json()["balance_fen"] == 10_000


async def test_idempotency_key_header_makes_retries_safe(client, hl):
    m = make_subscriber(hl)
    h = {"Idempotency-Key": "pay-7f3a"}
    a = await client.post(f"/api/v1/subscribers/{m}/recharges", json={"amount_fen": 3000}, headers=h)
    b = await client.post(f"/api/v1/subscribers/{m}/recharges", json={"amount_fen": 3000}, headers=h)
    assert a.status_code == b.status_code == 200
    assert not a.json()["replayed"] and b.json()["replayed"]
    assert (await client.get(f"/api/v1/subscribers/{m}")).json()["balance_fen"] == 13_000


async def test_order_flow_over_http(client, hl):
    m = make_subscriber(hl)
    r = await client.post(f"/api/v1/subscribers/{m}/subscriptions", json={"product": "vas.weather"})
    assert r.status_code == 200 and r.json()["amount_fen"] == 300
    r = await client.post(f"/api/v1/subscribers/{m}/subscriptions", json={"product": "vas.weather"})
    assert_bilingual(r, 409, "conflict")
    r = await client.post(f"/api/v1/subscribers/{m}/subscriptions/vas.weather/cancel")
    assert r.status_code == 200
    r = await client.post(f"/api/v1/subscribers/{m}/status", json={"action": "fly"})
    assert_bilingual(r, 422, "invalid_input")
    r = await client.post(f"/api/v1/subscribers/{m}/status", json={"action": "resume"})
    assert_bilingual(r, 409, "illegal_status_transition")
    r = await client.post(f"/api/v1/subscribers/{m}/password/verify", json={"password": "000001"})
    assert_bilingual(r, 403, "wrong_password")
    r = await client.post(f"/api/v1/subscribers/{m}/password/change", json={"old": "482916", "new": "111111"})
    assert_bilingual(r, 422, "weak_password")


async def test_products_listing(client):
    plans = (await client.get("/api/v1/products", params={"kind": "plan"})).json()
    assert plans and all(p["kind"] == "plan" for p in plans)
    assert_bilingual(await client.get("/api/v1/products/plan.nope"), 404, "unknown_product")
    assert_bilingual(await client.get("/api/v1/nowhere"), 404)


async def test_api_token_when_configured(hl, api_key):
    hl.settings.api_token = "s3cret"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hl)), base_url="http://t") as c:
        assert_bilingual(await c.get("/api/v1/products"), 401)
        ok = await c.get("/api/v1/products", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert (await c.get("/api/v1/products", headers=api_key("read"))).status_code == 200
