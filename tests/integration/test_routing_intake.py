"""From 小贝 to the queues (on SQLite and PostgreSQL): a customer's hand-off becomes one contact in the
right queue, with its context, tier and priority, however often the intake polls."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from conftest import TEST_KDF_N
from factories import ManualClock
from hotline.bss.seed import seed_demo_if_empty
from hotline.routing.engine import build_router
from hotline.routing.intake import Intake
from hotline.routing.model import ContactStatus
from hotline.store.sql.tables import handoffs

ZHANG = "13800138000"   # 神州行, unrated: a normal customer
LI = "13900139000"      # 全球通 five-star gold: VIP


@pytest.fixture
def demo(hl, clock):
    seed_demo_if_empty(hl.db, hl.bss.products, clock=clock, kdf_n=TEST_KDF_N, synthetic=0)
    return hl


@pytest.fixture
def router():
    return build_router(None, clock=ManualClock())


async def say(hl, msisdn: str, *texts: str, conversation_id: str | None = None) -> str:
    secret = None
    for text in texts:
        turn = await hl.assistant.handle(text, conversation_id=conversation_id, msisdn=msisdn, verified=True,
                                         channel="web", secret=secret)
        conversation_id, secret = turn.conversation_id, turn.secret or secret
    assert conversation_id is not None
    return conversation_id


async def test_a_handoff_becomes_one_contact_in_the_queue_of_its_business(demo, router):
    conv = await say(demo, ZHANG, "查一下上个月的账单", "账单看不懂，转人工")
    intake = Intake(demo.db, router, demo.catalog, demo.bss)
    assert await intake.poll() == 1
    assert await intake.poll() == 0           # taken once: the row is marked
    [contact] = router.waiting()
    assert contact.queue == "billing" and contact.tier == "normal" and not contact.urgent
    assert contact.msisdn == ZHANG and contact.business == "query.bill" and contact.category == "query"
    ctx = contact.context
    assert ctx["conversation_id"] == conv and ctx["slots"].get("month") == 202610
    assert [m["role"] for m in ctx["transcript"]][:2] == ["customer", "assistant"]
    status = await demo.db.run(lambda c: c.execute(select(handoffs.c.status)).scalar_one(), write=False)
    assert status == "queued"


async def test_a_row_polled_twice_by_two_processes_is_queued_once(demo, router):
    """Two intakes read the same waiting row before either marks it: the contact id is the row's, so the
    second enqueue is the same contact, not a second one."""
    await say(demo, ZHANG, "转人工")
    a, b = Intake(demo.db, router, demo.catalog, demo.bss), Intake(demo.db, router, demo.catalog, demo.bss)
    rows = await demo.db.run(a._waiting, write=False)
    for intake in (a, b):
        for row in rows:
            router.enqueue(await intake._contact(row))
    assert len(router.waiting()) == 1


async def test_a_gotone_customer_goes_to_the_vip_queue_and_an_angry_one_is_an_urgent_complaint(demo, router):
    await say(demo, ZHANG, "转人工")                          # first, normal
    await say(demo, LI, "转人工")                             # 全球通: the VIP queue
    await say(demo, "13800138000", "你们这什么破移动，又乱扣我话费，骗子！")   # angry: urgent
    await Intake(demo.db, router, demo.catalog, demo.bss).poll()
    by_msisdn = {(c.msisdn, c.urgent): c for c in router.waiting()}
    assert by_msisdn[(LI, False)].queue == "vip" and by_msisdn[(LI, False)].tier == "vip"
    urgent = by_msisdn[(ZHANG, True)]
    assert urgent.queue == "complaints" and urgent.status == ContactStatus.WAITING
    assert urgent.context["reason"] == "angry" and urgent.context["sentiment"]["label"] == "angry"
