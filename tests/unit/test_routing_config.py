"""The queue file: every catalogue category reaches a queue, rules come from the data, bad files are refused."""

from __future__ import annotations

import tomllib

import pytest

from hotline.catalog.loader import DEFAULT_DIR
from hotline.routing.config import ConfigError, load_routing_config, parse_config

MINIMAL = {"queue": [{"name": "general", "title_zh": "综合", "title_en": "General", "skill": "general"}]}


def catalogue_categories() -> list[str]:
    with open(DEFAULT_DIR / "categories.toml", "rb") as fh:
        return [c["code"] for c in tomllib.load(fh)["category"]]


def test_every_catalogue_category_has_a_queue():
    cfg = load_routing_config()
    cats = catalogue_categories()
    assert set(cats) == {"query", "order", "cancel", "care", "account", "payment", "broadband", "consult"}
    for cat in cats:
        assert cfg.select_queue(cat) in cfg.queues
    assert {cfg.select_queue(c) for c in cats} >= {"general", "billing", "orders", "broadband", "complaints"}


def test_rules_are_read_in_order_from_the_file():
    cfg = load_routing_config()
    assert cfg.select_queue("query", tier="vip") == "vip"
    assert cfg.select_queue("care", tier="vip") == "vip"          # the VIP rule comes before complaints
    assert cfg.select_queue("query", language="en", tier="vip") == "english"
    assert cfg.select_queue(None, business="broadband.fault") == "broadband"
    assert cfg.select_queue(None) == cfg.default_queue
    custom = parse_config({**MINIMAL, "rule": [{"queue": "general", "channel": "sms"}]})
    assert custom.select_queue("query", channel="sms") == "general"


def test_overflow_steps_accumulate_and_boosts_add_up():
    cfg = load_routing_config()
    billing = cfg.queues["billing"]
    steps = billing.steps
    assert [s.after for s in steps] == [0, 30, 60]
    assert [s.min_level for s in steps] == [6, 3, 3]
    assert steps[2].skills == ("billing", "general")
    assert billing.step_at(29.9) == 0 and billing.step_at(30) == 1 and billing.step_at(600) == 2
    assert billing.qualification({"billing": 7}) == (0, 7)
    assert billing.qualification({"billing": 4}) == (1, 4)
    assert billing.qualification({"general": 2}) is None
    assert billing.boost_seconds("vip", False) == 90
    assert billing.boost_seconds("vip", True) == 150
    assert billing.boost_seconds("normal", False) == 0
    assert cfg.max_missed_offers == 2


@pytest.mark.parametrize("change, message", [
    ({"strategy": "random"}, "unknown strategy"),
    ({"overflow": [{"after": 30, "min_level": 5}]}, "only widen"),
    ({"overflow": [{"after": 30, "min_level": 1}, {"after": 20, "min_level": 1}]}, "only widen"),
    ({"max_length": 0}, "positive"),
])
def test_bad_queues_are_refused(change, message):
    doc = {"queue": [{**MINIMAL["queue"][0], "min_level": 3, **change}]}
    with pytest.raises(ConfigError, match=message):
        parse_config(doc)


def test_rules_must_name_known_queues():
    with pytest.raises(ConfigError, match="unknown queue"):
        parse_config({**MINIMAL, "rule": [{"queue": "nowhere", "category": "query"}]})
    with pytest.raises(ConfigError, match="default_queue"):
        parse_config({**MINIMAL, "routing": {"default_queue": "x"}})
