"""The monthly rollover: bills, monthly fees, pack expiry, next-cycle plan changes, arrears."""

import datetime as dt

import pytest

from factories import make_subscriber
from hotline.bss.port import Actor
from hotline.domain.errors import Conflict, NotEligible

ME = Actor("test", "subscriber")


async def roll(hl, cycle: int) -> int:
    """Roll up to ``cycle`` on its first day: only cycles that have ended can be closed."""
    hl.bss.clock.at = dt.datetime(cycle // 100, cycle % 100, 1, 0, 5, tzinfo=hl.bss.clock.tz)
    return await hl.bss.rollover(cycle)


async def test_bill_fees_and_points_at_rollover(hl):
    m = make_subscriber(hl, balance_fen=20_000, holdings=(("vas.migu_music_vip", False),))
    await hl.bss.subscribe(m, "pack.data_1g_month", key="pack", actor=ME)   # ¥10 one-off this month
    assert await roll(hl, 202612) == 1
    bills = await hl.bss.bills(m, ME)
    assert bills[0]["cycle"] == 202611 and bills[0]["total_fen"] == 1000
    view = await hl.bss.profile(m, ME)
    assert view["cycle"] == 202612
    # December: plan ¥18 + music ¥15 charged up front
    assert view["charges_this_cycle_fen"] == 1800 + 1500
    assert view["balance_fen"] == 20_000 - 1000 - 1800 - 1500
    assert view["points"] == 10  # one point per yuan billed


async def test_one_off_packs_expire_monthly_packs_renew(hl):
    m = make_subscriber(hl, balance_fen=20_000)
    await hl.bss.subscribe(m, "pack.data_1g_month", key="one-off", actor=ME)
    await hl.bss.subscribe(m, "pack.data_5g_monthly", key="monthly", actor=ME)
    before = await hl.bss.profile(m, ME)
    assert before["usage"]["data_mb"]["included"] == 1024 + 1024 + 5120
    await roll(hl, 202612)
    after = await hl.bss.profile(m, ME)
    codes = {s["code"] for s in after["subscriptions"]}
    assert "pack.data_1g_month" not in codes and "pack.data_5g_monthly" in codes
    assert after["usage"]["data_mb"] == {"used": 0, "included": 1024 + 5120}


async def test_cancelled_monthly_pack_runs_out_the_paid_month_and_is_not_charged_again(hl):
    m = make_subscriber(hl, balance_fen=20_000)
    await hl.bss.subscribe(m, "pack.data_5g_monthly", key="buy", actor=ME)
    r = await hl.bss.unsubscribe(m, "pack.data_5g_monthly", key="cancel", actor=ME)
    assert r.result["valid_until_cycle"] == 202611
    assert (await hl.bss.profile(m, ME))["usage"]["data_mb"]["included"] == 1024 + 5120
    await roll(hl, 202612)
    view = await hl.bss.profile(m, ME)
    assert view["usage"]["data_mb"]["included"] == 1024
    assert view["charges_this_cycle_fen"] == 1800


async def test_plan_change_applies_next_cycle_with_its_included_services(hl):
    m = make_subscriber(hl, balance_fen=20_000, brand="gotone", payment_type="postpaid", star_level=4,
                        plan_code="plan.gotone_5g_128")
    r = await hl.bss.change_plan(m, "plan.gotone_5g_198", key="up", actor=ME)
    assert r.result["effective_cycle"] == 202612 and r.amount_fen == 0
    now = await hl.bss.profile(m, ME)
    assert now["plan"]["code"] == "plan.gotone_5g_128" and now["next_plan"]["code"] == "plan.gotone_5g_198"
    with pytest.raises(Conflict):
        await hl.bss.change_plan(m, "plan.gotone_5g_198", key="again", actor=ME)
    await roll(hl, 202612)
    view = await hl.bss.profile(m, ME)
    assert view["plan"]["code"] == "plan.gotone_5g_198" and view["next_plan"] is None
    in_plan = {s["code"] for s in view["subscriptions"] if s["in_plan"]}
    assert in_plan == {"feature.caller_id", "vas.hecaiyun_basic", "vas.migu_video"}
    assert view["charges_this_cycle_fen"] == 19_800
    assert view["usage"]["voice_min"]["included"] == 800


async def test_plan_for_another_brand_is_refused(hl):
    m = make_subscriber(hl)
    with pytest.raises(NotEligible):
        await hl.bss.change_plan(m, "plan.gotone_5g_128", key="x", actor=ME)


async def test_running_out_of_credit_at_rollover_suspends_for_arrears(hl):
    prepaid = make_subscriber(hl, "13800000001", balance_fen=1_000)         # plan ¥18 > ¥10
    postpaid = make_subscriber(hl, "13800000002", balance_fen=-4_000, payment_type="postpaid",
                               credit_limit_fen=5_000)                       # -40 - 18 < -50
    rich = make_subscriber(hl, "13800000003", balance_fen=100_000)
    await roll(hl, 202612)
    statuses = {m: (await hl.bss.get_subscriber(m)).status.value for m in (prepaid, postpaid, rich)}
    assert statuses == {prepaid: "suspended_arrears", postpaid: "suspended_arrears", rich: "active"}
    r = await hl.bss.recharge(prepaid, 500, key="not-enough", actor=ME)
    assert r.result["status"] == "suspended_arrears"  # still -¥3
    r = await hl.bss.recharge(prepaid, 500, key="enough", actor=ME)
    assert r.result["status"] == "active"


async def test_voluntary_suspension_pays_the_keep_number_fee_instead_of_the_plan(hl):
    m = make_subscriber(hl, balance_fen=10_000, status="suspended_voluntary",
                        holdings=(("vas.migu_music_vip", False),))
    await roll(hl, 202612)
    view = await hl.bss.profile(m, ME)
    assert view["charges_this_cycle_fen"] == 500 and view["balance_fen"] == 9_500


async def test_rollover_is_idempotent_and_catches_up_several_months(hl):
    m = make_subscriber(hl, balance_fen=100_000)
    assert await roll(hl, 202702) == 3
    assert await roll(hl, 202702) == 0
    bills = await hl.bss.bills(m, ME)
    assert [b["cycle"] for b in bills] == [202701, 202612, 202611]
    assert (await hl.bss.get_subscriber(m)).balance_fen == 100_000 - 3 * 1800


async def test_a_closed_number_gets_no_more_empty_bills(hl):
    m = make_subscriber(hl, balance_fen=0, status="closed")
    await roll(hl, 202702)
    assert await hl.bss.bills(m, ME) == []
