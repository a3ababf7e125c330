"""The knowledge base's retrieval, the sentiment cues and the evaluation arithmetic."""

from pathlib import Path

import pytest

from hotline.assistant import sentiment
from hotline.assistant.evaluate import evaluate, matches, read_tsv
from hotline.assistant.knowledge import KnowledgeBase
from hotline.bss.products import load_products
from hotline.catalog.loader import load_catalog
from hotline.services.base import HANDLERS
from hotline.services.handlers import PORTAL


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    products = load_products()
    catalog = load_catalog(handlers=HANDLERS, products=[(p.code, p.kind.value) for p in products])
    return KnowledgeBase.from_catalog(catalog, {"portal": PORTAL})


def test_every_consultation_is_an_article_with_its_reply_as_body(kb):
    roaming = kb.by_id["consult.roaming"]
    assert roaming.title_zh == "漫游资费与境外服务"
    assert "KTMY" in roaming.body_zh and "{portal}" not in roaming.body_zh and PORTAL in roaming.body_zh
    assert "query.balance" not in kb.by_id   # a transaction is no article


@pytest.mark.parametrize("question, article", [
    ("出国以后打电话接电话都怎么收费", "consult.roaming"),
    ("手机卡丢了补一张要带什么", "consult.sim_replacement"),
    ("积分多久清零", "consult.points_rules"),
])
def test_questions_in_own_words_find_their_article(kb, question, article):
    hits = kb.search(question)
    assert hits and (hits[0][0].id == article or hits[0][0].id.startswith(article + "."))  # or a more specific one


def test_a_question_with_nothing_in_common_finds_nothing(kb):
    assert kb.search("的了吗") == []


@pytest.mark.parametrize("text, label", [
    ("你们这什么破服务，乱扣我话费，骗子！", "angry"),
    ("我要去工信部投诉你们", "angry"),
    ("扣费扣了好几次都没解决", "negative"),
    ("查一下话费", "neutral"),
    ("谢谢你，服务很好", "positive"),
])
def test_sentiment_labels(text, label):
    assert sentiment.analyse(text).label == label


def test_evaluation_counts_a_more_specific_code_as_right_and_reports_confusions(tmp_path: Path):
    f = tmp_path / "e.tsv"
    f.write_text("text\tintent\n开1G流量包\torder.data_pack\n查余额\tquery.balance|query.charges\n"
                 "讲个笑话\tout_of_scope\n查流量\tquery.data\n", encoding="utf-8")
    rows = read_tsv(f)
    assert rows[1] == ("查余额", ("query.balance", "query.charges"))
    guesses = {"开1G流量包": "order.data_pack.1g_month", "查余额": "query.charges",
               "讲个笑话": "query.data", "查流量": "query.data"}
    rep = evaluate(rows, guesses.__getitem__)
    assert rep.correct == 3 and rep.accuracy == 0.75
    assert rep.oos_recall == 0.0 and rep.confusions == [("out_of_scope", "query.data", 1)]
    assert rep.per_intent["query.data"]["precision"] == 0.5
    assert matches("order.data_pack.1g_month", ["order.data_pack"]) == "order.data_pack"
    assert matches("order.data_pack", ["order.data_pack.1g_month"]) is None
