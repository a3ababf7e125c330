"""Orders: money moves once per idempotency key, and a refusal changes nothing."""

import asyncio

import pytest
from sqlalchemy import func, select

from factories import make_subscriber
from hotline.bss.port import Actor
from hotline.domain.errors import Conflict, InsufficientBalance, InvalidInput, NotEligible, UnknownProduct
from hotline.store.sql.tables import audit_log, ledger, orders, subscriptions

ME = Actor("test", "subscriber")


def count(hl, table, **where):
    def job(conn):
        q = select(func.count()).select_from(table)
        for k, v in where.items():
            q = q.where(table.c[k] == v)
        return conn.execute(q).scalar_one()
    return hl.db.run_sync(job, write=False)


async def balance(hl, msisdn):
    return (await hl.bss.get_subscriber(msisdn)).balance_fen


async def test_recharge_adds_money_and_writes_order_ledger_and_audit(hl):
    m = make_subscriber(hl, balance_fen=1000)
    r = await hl.bss.recharge(m, 5000, key="r-1", actor=ME)
    assert r.status == "completed" and r.result["balance_fen"] == 6000 and not r.replayed
    assert await balance(hl, m) == 6000
    assert count(hl, orders, kind="recharge") == 1
    assert count(hl, ledger, kind="recharge") == 1
    assert count(hl, audit_log, action="order.recharge") == 1


async def test_the_same_key_twice_charges_once(hl):
    m = make_subscriber(hl, balance_fen=10_000)
    first = await hl.bss.subscribe(m, "pack.data_1g_month", key="sms-msg-42", actor=ME)
    again = await hl.bss.subscribe(m, "pack.data_1g_month", key="sms-msg-42", actor=ME)
    assert again.replayed and again.order_id == first.order_id and again.result == first.result
    assert await balance(hl, m) == 9_000
    assert count(hl, subscriptions, product_code="pack.data_1g_month") == 1


async def test_the_same_key_racing_concurrently_charges_once(hl):
    m = make_subscriber(hl, balance_fen=10_000)
    results = await asyncio.gather(*[hl.bss.subscribe(m, "pack.data_1g_month", key="dup", actor=ME)
                                     for _ in range(12)])
    assert len({r.order_id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert await balance(hl, m) == 9_000
    assert count(hl, orders) == 1 and count(hl, ledger) == 1


async def test_different_keys_racing_never_overdraw_a_prepaid_account(hl):
    m = make_subscriber(hl, balance_fen=3_500)  # enough for three ¥10 packs
    outcomes = await asyncio.gather(*[hl.bss.subscribe(m, "pack.data_1g_month", key=f"k{i}", actor=ME)
                                      for i in range(8)], return_exceptions=True)
    done = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, InsufficientBalance)]
    assert len(done) == 3 and len(refused) == 5
    assert await balance(hl, m) == 500


async def test_a_refused_order_changes_nothing_and_its_retry_answers_the_same(hl):
    m = make_subscriber(hl, balance_fen=300)
    with pytest.raises(InsufficientBalance) as err:
        await hl.bss.subscribe(m, "vas.migu_music_vip", key="poor", actor=ME)
    assert "3.00元" in err.value.message_zh
    assert await balance(hl, m) == 300
    assert count(hl, subscriptions, product_code="vas.migu_music_vip") == 0
    assert count(hl, ledger) == 0
    await hl.bss.recharge(m, 5000, key="top-up", actor=ME)
    with pytest.raises(InsufficientBalance):  # same key: the recorded answer, not a new attempt
        await hl.bss.subscribe(m, "vas.migu_music_vip", key="poor", actor=ME)
    assert count(hl, orders, status="failed") == 1


async def test_monthly_service_charges_the_month_and_cannot_be_doubled(hl):
    m = make_subscriber(hl, balance_fen=5_000)
    r = await hl.bss.subscribe(m, "vas.migu_music_vip", key="a", actor=ME)
    assert r.amount_fen == 1500 and r.result["effective_cycle"] == 202611
    with pytest.raises(Conflict):
        await hl.bss.subscribe(m, "vas.migu_music_vip", key="b", actor=ME)
    assert await balance(hl, m) == 3_500


async def test_cancel_vas_stops_it_and_in_plan_services_cannot_be_cancelled_alone(hl):
    m = make_subscriber(hl, holdings=(("vas.weather", False),))
    r = await hl.bss.unsubscribe(m, "vas.weather", key="c1", actor=ME)
    assert r.result["valid_until_cycle"] == 202610
    view = await hl.bss.profile(m, ME)
    assert "vas.weather" not in {s["code"] for s in view["subscriptions"]}
    with pytest.raises(NotEligible) as err:  # plan.easyown_18 includes it
        await hl.bss.unsubscribe(m, "vas.hecaiyun_basic", key="c2", actor=ME)
    assert "套餐" in err.value.message_zh
    with pytest.raises(Conflict):
        await hl.bss.unsubscribe(m, "vas.weather", key="c3", actor=ME)


async def test_unknown_product_and_bad_amounts_are_refused(hl):
    m = make_subscriber(hl)
    with pytest.raises(UnknownProduct) as err:
        await hl.bss.subscribe(m, "vas.nope", key="x", actor=ME)
    assert "vas.nope" in err.value.message_zh
    for bad in (0, -100, 10**9, 12.5):
        with pytest.raises(InvalidInput):
            await hl.bss.recharge(m, bad, key=f"bad{bad}", actor=ME)
    assert await balance(hl, m) == 10_000 and count(hl, orders) == 0


async def test_points_redeem_for_balance_and_for_a_pack(hl):
    m = make_subscriber(hl, points=2_500, balance_fen=0)
    r = await hl.bss.redeem_points(m, "balance", 500, key="p1", actor=ME)
    assert r.result["points"] == 2_000 and await balance(hl, m) == 500
    r = await hl.bss.redeem_points(m, "pack.data_1g_month", 0, key="p2", actor=ME)
    assert r.result["points"] == 1_000
    view = await hl.bss.profile(m, ME)
    assert view["usage"]["data_mb"]["included"] == 1024 + 1024
    with pytest.raises(NotEligible):
        await hl.bss.redeem_points(m, "balance", 1_100, key="p3", actor=ME)
    with pytest.raises(InvalidInput):
        await hl.bss.redeem_points(m, "balance", 150, key="p4", actor=ME)


async def test_usage_within_allowance_is_free_and_overage_is_rated(hl):
    m = make_subscriber(hl, balance_fen=1_000)  # plan.easyown_18: 100 min, 1 GB, 50 SMS
    r = await hl.bss.record_usage(m, "call", 100 * 60, other_party="13900139000")
    assert r["fee_fen"] == 0
    r = await hl.bss.record_usage(m, "call", 61, other_party="13900139000")  # 2 started minutes over
    assert r["fee_fen"] == 38
    r = await hl.bss.record_usage(m, "call", 600, direction="in")  # incoming is free
    assert r["fee_fen"] == 0
    r = await hl.bss.record_usage(m, "data", 1024 * 1024 + 2048)  # 1 GB + 2 MB
    assert r["fee_fen"] == 1  # ¥5/GB, rounded up to the fen
    records = await hl.bss.usage_records(m, None, "call", ME)
    assert [x["fee_fen"] for x in records] == [0, 38, 0]
    assert await balance(hl, m) == 1_000 - 39


async def test_prepaid_running_out_mid_cycle_is_suspended_for_arrears_then_resumed_by_recharge(hl):
    m = make_subscriber(hl, balance_fen=10)
    await hl.bss.record_usage(m, "call", 100 * 60)
    r = await hl.bss.record_usage(m, "call", 120)
    assert r["status"] == "suspended_arrears" and r["balance_fen"] == 10 - 38
    with pytest.raises(NotEligible):
        await hl.bss.subscribe(m, "vas.weather", key="w", actor=ME)
    r = await hl.bss.recharge(m, 1_000, key="pay", actor=ME)
    assert r.result["status"] == "active"


async def test_profile_masks_personal_data_and_audits_every_access(hl):
    m = make_subscriber(hl, name="欧阳娜娜", id_number="11010519491231002X")
    view = await hl.bss.profile(m, Actor("agent", "A1001"))
    assert view["name"] == "欧***" and view["id_number"] == "110105********002X" and view["masked"]
    with pytest.raises(InvalidInput):
        await hl.bss.profile(m, Actor("agent", "A1001"), unmask=True)
    full = await hl.bss.profile(m, Actor("agent", "A1001"), unmask=True, reason="客户来电核实身份")
    assert full["name"] == "欧阳娜娜"
    trail = await hl.bss.audit_trail(m)
    assert [t["action"] for t in trail[:2]] == ["profile.unmask", "profile.view"]
    assert trail[0]["actor"] == "A1001" and trail[0]["detail"]["reason"] == "客户来电核实身份"


async def test_a_key_reused_for_another_subscriber_or_business_is_refused_not_replayed(hl):
    a = make_subscriber(hl, "13800000001")
    b = make_subscriber(hl, "13800000002")
    await hl.bss.recharge(a, 1000, key="shared", actor=ME)
    with pytest.raises(Conflict):
        await hl.bss.recharge(b, 1000, key="shared", actor=ME)
    with pytest.raises(Conflict):
        await hl.bss.subscribe(a, "vas.weather", key="shared", actor=ME)
    assert await balance(hl, b) == 10_000
