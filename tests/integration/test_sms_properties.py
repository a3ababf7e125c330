"""Properties of the SMS hall over arbitrary input: always an answer, never an error, never a charge
without a confirmation."""

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TEST_KDF_N
from hotline.bss.seed import seed_demo_if_empty
from hotline.catalog.loader import load_catalog
from hotline.channels.sms import grammar
from sms_phone import Phone

COMMANDS = sorted({cmd for (_, cmd) in load_catalog().commands})
WORDS = ["0", "2", "3", "9", "1,2", "2，3", "*1234", "*369258", "369258", "842613", "10086", "?", "全部退订",
         "算了", "KT", "QX", "BGTC#", "#", "##", "*", "", " ", "🙂", "\x00", "\u200b"]

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(COMMANDS),
    st.sampled_from(WORDS),
    st.builds(lambda c, a: f"{c}#{a}", st.sampled_from(COMMANDS), st.text(max_size=12)),
    st.builds(lambda c, a: f"{c}{a}", st.sampled_from(["KT", "QX", "BGTC", "DH"]),
              st.text(alphabet="LYQDGSMCHFTX0123456789", max_size=6)),
).filter(lambda t: not grammar.is_yes(t))
ports = st.sampled_from(["10086", "10086977", "10086999"])


def _state(a: dict) -> dict:
    return {"balance": a["balance_fen"], "points": a["points"], "plan": a["plan"]["code"],
            "next_plan": (a["next_plan"] or {}).get("code"), "status": a["status"]["code"],
            "subs": {s["code"] for s in a["subscriptions"] if s["end_cycle"] is None}}


@pytest.fixture
def world(hl, clock):
    seed_demo_if_empty(hl.db, hl.bss.products, clock=clock, kdf_n=TEST_KDF_N, synthetic=0)
    hl.sms.rate_per_minute = 10**9
    return hl


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(st.tuples(texts, ports), min_size=1, max_size=6),
       msisdn=st.sampled_from(["13800138000", "13900139000"]))
def test_any_text_gets_an_answer_and_nothing_is_bought_without_a_yes(world, clock, messages, msisdn):
    async def run():
        phone = Phone(world, msisdn)
        clock.advance(minutes=11)  # start each example with no step pending from the last
        before = _state(await phone.account())
        for text, port in messages:
            replies = await phone.send(text, to=port)
            assert replies, (text, port)
            for r in replies:
                assert r.text and "系统繁忙" not in r.text, (text, r.text)
                assert 1 <= r.segments <= 4 and r.to == msisdn
        after = _state(await phone.account())
        assert after["balance"] == before["balance"] and after["points"] == before["points"]
        assert (after["plan"], after["next_plan"], after["status"]) == \
            (before["plan"], before["next_plan"], before["status"])
        assert after["subs"] <= before["subs"]  # cancelling by code is allowed; adding needs a yes
    asyncio.run(run())
