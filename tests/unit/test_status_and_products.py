import datetime as dt
from typing import Any

import pytest

from hotline.bss.products import CatalogError, load_products
from hotline.domain.errors import Conflict, IllegalTransition, InsufficientBalance, NotEligible
from hotline.domain.products import check_affordable, check_eligible, yuan
from hotline.domain.subscriber import TRANSITIONS, Brand, PaymentType, StarLevel, Status, Subscriber, check_transition

CATALOG = load_products()


def sub(**kw) -> Subscriber:
    base: dict[str, Any]
    base = dict(id=1, msisdn="13800138000", name="张三", id_number="11010519491231002X", brand=Brand.EASYOWN,
                payment_type=PaymentType.PREPAID, star_level=StarLevel.TWO, province="BJ", city="北京",
                join_date=dt.date(2010, 1, 1), language="zh", status=Status.ACTIVE,
                plan_code="plan.easyown_18", balance_fen=5670)
    base.update(kw)
    return Subscriber(**base)


@pytest.mark.parametrize("current,target", [
    (Status.CLOSED, Status.ACTIVE), (Status.CLOSED, Status.LOST),
    (Status.SUSPENDED_VOLUNTARY, Status.SUSPENDED_ARREARS), (Status.LOST, Status.SUSPENDED_VOLUNTARY),
    (Status.ACTIVE, Status.ACTIVE)])
def test_illegal_transitions_are_refused_with_both_languages(current, target):
    with pytest.raises(IllegalTransition) as err:
        check_transition(current, target)
    assert current.name_zh in err.value.message_zh and current.name_en in err.value.message_en


def test_closed_is_final_and_every_other_status_can_close():
    assert TRANSITIONS[Status.CLOSED] == frozenset()
    for status in Status:
        if status is not Status.CLOSED:
            check_transition(status, Status.CLOSED)


def test_brand_only_plans_refuse_other_brands():
    with pytest.raises(NotEligible) as err:
        check_eligible(CATALOG.get("plan.gotone_5g_128"), sub(), set(), CATALOG)
    assert "全球通" in err.value.message_zh


def test_star_level_rule():
    with pytest.raises(NotEligible) as err:
        check_eligible(CATALOG.get("feature.roaming_intl"), sub(star_level=StarLevel.NONE), set(), CATALOG)
    assert "一星级" in err.value.message_zh
    check_eligible(CATALOG.get("feature.roaming_intl"), sub(star_level=StarLevel.ONE), set(), CATALOG)


def test_mutually_exclusive_monthly_packs():
    with pytest.raises(Conflict) as err:
        check_eligible(CATALOG.get("pack.data_10g_monthly"), sub(), {"pack.data_5g_monthly"}, CATALOG)
    assert "5GB流量月包" in err.value.message_zh


def test_a_monthly_service_cannot_be_ordered_twice_but_one_off_packs_stack():
    with pytest.raises(Conflict):
        check_eligible(CATALOG.get("vas.weather"), sub(), {"vas.weather"}, CATALOG)
    check_eligible(CATALOG.get("pack.data_1g_month"), sub(), {"pack.data_1g_month"}, CATALOG)


def test_only_active_numbers_order():
    with pytest.raises(NotEligible):
        check_eligible(CATALOG.get("vas.weather"), sub(status=Status.SUSPENDED_VOLUNTARY), set(), CATALOG)


def test_prepaid_cannot_overdraw_postpaid_uses_credit():
    with pytest.raises(InsufficientBalance) as err:
        check_affordable(sub(balance_fen=500), 1000, "流量包", "a data pack")
    assert "5.00元" in err.value.message_zh and "10.00元" in err.value.message_zh
    check_affordable(sub(balance_fen=500, payment_type=PaymentType.POSTPAID, credit_limit_fen=10_000), 1000,
                     "流量包", "a data pack")


def test_yuan_formatting():
    assert (yuan(5670), yuan(5), yuan(-120), yuan(0)) == ("56.70", "0.05", "-1.20", "0.00")


def test_catalogue_covers_every_kind_with_effective_modes():
    kinds = {p.kind.value for p in CATALOG}
    assert kinds == {"plan", "data_pack", "voice_pack", "vas", "feature"}
    assert all(p.effective.value == "next_cycle" for p in CATALOG if p.kind.value == "plan")
    assert {"feature.roaming_intl", "feature.call_forwarding", "feature.missed_call_alert", "feature.caller_id",
            "vas.ringback_tone"} <= set(CATALOG.by_code)
    assert all(p.sp_port and p.provider for p in CATALOG if p.kind.value == "vas")


def test_a_bad_product_file_names_file_product_and_field(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('[[product]]\ncode = "vas.x"\nkind = "vas"\nname_zh = "某业务"\nname_en = "X"\nfee_fen = -5\n',
                   encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_products(bad)
    assert str(bad) in str(err.value) and "vas.x" in str(err.value) and "fee_fen" in str(err.value)
