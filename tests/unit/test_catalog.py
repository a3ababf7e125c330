"""The business catalogue: complete, consistent, and a bad one refused with a message that says where."""

import shutil
from pathlib import Path

import pytest

import hotline.services.service  # noqa: F401
from hotline.bss.products import load_products
from hotline.catalog.loader import DEFAULT_DIR, CatalogError, load_catalog
from hotline.channels.sms import grammar
from hotline.services.base import HANDLERS

PRODUCTS = load_products()
KINDS = [(p.code, p.kind.value) for p in PRODUCTS]
CATALOG = load_catalog(handlers=HANDLERS, products=KINDS)

CONTRACT = """query.balance query.charges query.data query.voice query.plan query.bill query.itemized query.points
query.subscriptions query.star_level query.account order.data_pack order.voice_pack change.plan subscribe.vas
cancel.vas cancel.data_pack feature.roaming_on feature.roaming_off feature.call_forwarding
feature.missed_call_alert points.redeem payment.recharge account.suspend account.resume account.report_lost
account.unreport_lost password.change password.reset invoice.electronic portability.check portability.auth_code
marketing.opt_out report.spam fraud.verify service.human care.complaint care.suggestion care.network_fault
store.locate consult.roaming broadband.fault broadband.order service.menu""".split()


def test_the_catalogue_holds_the_contract_codes_and_at_least_80_businesses_in_every_category():
    assert len(CATALOG) >= 80
    missing = [c for c in CONTRACT if c not in CATALOG]
    assert not missing
    for cat in CATALOG.categories:
        assert CATALOG.in_category(cat), f"category {cat} is empty"


def test_itemised_records_need_the_service_password_and_paid_orders_a_confirmation():
    assert CATALOG.get("query.itemized").auth.value == "password"
    for code in ("order.data_pack", "order.voice_pack", "change.plan", "subscribe.vas"):
        assert CATALOG.get(code).confirm, code


def test_specific_businesses_nest_under_generic_ones():
    assert CATALOG.get("cancel.vas.ringback_tone").parent == "cancel.vas"
    assert {b.code for b in CATALOG.children("cancel.vas")} >= {"cancel.vas.ringback_tone", "cancel.vas.newspaper"}


def test_every_sms_command_leads_back_to_its_business():
    for (port, cmd), business in CATALOG.commands.items():
        parsed = grammar.parse(CATALOG, PRODUCTS, port, cmd)
        assert parsed is not None and parsed.business.code == business.code, cmd


def test_summaries_carry_the_keys_tools_rely_on():
    for s in CATALOG.summaries():
        assert {"code", "name_zh", "name_en", "category", "sms_commands", "auth", "confirm"} <= set(s)
        assert isinstance(s["sms_commands"], list)


def _broken(tmp_path: Path, old: str, new: str, file: str = "query.toml") -> Path:
    d = tmp_path / "data"
    shutil.copytree(DEFAULT_DIR, d)
    text = (d / file).read_text(encoding="utf-8")
    assert old in text
    (d / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return d


@pytest.mark.parametrize("old,new,expected", [
    ('name_en = "Balance"\n', "", "query.toml: business query.balance: field name_en: Field required"),
    ('handler = "query.balance"', 'handler = "query.nope"', "business query.balance: field handler: no handler"),
    ('category = "query"', 'category = "nonsense"', "business query.balance: field category: unknown category"),
    ('auth = "password"', 'auth = "fingerprint"', "business query.itemized: field auth"),
    ('sms = { commands = ["YE",', 'sms = { commands = ["CXLL",', "business query.data: field sms.commands: 'CXLL'"),
    ('ivr = "1-1"', 'ivr = "first"', "business query.balance: field ivr"),
])
def test_a_bad_catalogue_is_refused_naming_file_business_and_field(tmp_path, old, new, expected):
    with pytest.raises(CatalogError) as err:
        load_catalog(_broken(tmp_path, old, new), handlers=HANDLERS, products=KINDS)
    assert expected in str(err.value)
    assert "query.toml" in str(err.value) or "data" in str(err.value)


def test_a_nested_business_without_its_parent_is_refused(tmp_path):
    d = _broken(tmp_path, 'code = "cancel.vas"\n', 'code = "cancel.services"\n', "cancel.toml")
    with pytest.raises(CatalogError, match=r"cancel.vas.\w+: field code: nests under cancel.vas"):
        load_catalog(d, handlers=HANDLERS, products=KINDS)


def test_a_preset_naming_an_unknown_product_is_refused(tmp_path):
    d = _broken(tmp_path, 'preset = { product = "vas.ringback_tone" }', 'preset = { product = "vas.nothing" }',
                "products.toml")
    with pytest.raises(CatalogError, match="products.toml: business subscribe.vas.ringback_tone: field preset.product"):
        load_catalog(d, handlers=HANDLERS, products=KINDS)


def test_invalid_toml_names_the_file(tmp_path):
    d = _broken(tmp_path, "[[business]]", "[[business", "broadband.toml")
    with pytest.raises(CatalogError, match="broadband.toml: not valid TOML"):
        load_catalog(d)


def test_400_businesses_each_say_how_customers_ask_and_every_consultation_answers():
    assert len(CATALOG) >= 400
    few = [b.code for b in CATALOG if len(set(b.examples)) < 12]
    assert few == []
    for b in CATALOG:
        if b.handler == "info":
            assert b.tags and b.reply["ok"].zh and b.reply["ok"].en, b.code


def test_the_nlu_model_is_rebuilt_when_the_catalogue_changes(tmp_path):
    from hotline.assistant.nlu import content_key

    f = tmp_path / "x.toml"
    f.write_text('[[business]]\ncode = "a.b"\n', encoding="utf-8")
    before = content_key([f])
    assert content_key([f]) == before
    f.write_text('[[business]]\ncode = "a.c"\n', encoding="utf-8")
    assert content_key([f]) != before
