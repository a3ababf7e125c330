"""One ticket store for every channel (SQLite and PostgreSQL), as a customer and an agent see it.

A complaint texted as ``TS#…``, a fault told to 小贝, a repair filed through the catalogue handler from
any channel and a ticket an agent opens at the desk are the same kind of record in the same store:
the desk's customer view lists what the customer filed, ``GDJD`` by SMS lists what the agent opened,
every reference comes from one number series and is found by whoever it is quoted to. Tickets filed
before the store was one (in ``service_requests``) are moved over by migration 0011 with their
references and idempotency keys, so nothing is filed twice.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest
from sqlalchemy import insert, select

from conftest import TEST_KDF_N
from hotline.bss.port import Actor
from hotline.bss.seed import seed_demo_if_empty
from hotline.channels.sms.message import InboundSms
from hotline.desk.customer import CustomerDesk
from hotline.desk.scope import Scope
from hotline.services.base import Request
from hotline.store.sql import migrate
from hotline.store.sql.database import Database
from hotline.store.sql.tables import service_requests, tickets

ZHANG = "13800138000"
MESSAGE_IDS = itertools.count(1)
REFERENCE = re.compile(r"T2026111\d{7}")     # one series: T + the operator's day + six digits


@pytest.fixture
def demo(hl, clock):
    seed_demo_if_empty(hl.db, hl.bss.products, clock=clock, kdf_n=TEST_KDF_N, synthetic=0)
    return hl


@pytest.fixture
def desk(demo):
    return CustomerDesk(demo.services, demo.db)


def in_contact(number: str = ZHANG) -> Scope:
    return Scope("a1001", number, "c-1", None)


async def sms(hl, text: str) -> str:
    replies = await hl.sms.handle(InboundSms(ZHANG, "10086", text, f"ticket-test-{next(MESSAGE_IDS)}"))
    return "\n".join(r.text for r in replies)


def one_reference(text: str) -> str:
    [ref] = REFERENCE.findall(text)
    return ref


async def test_a_complaint_texted_as_ts_shows_at_the_desk_and_the_agents_ticket_is_listed_by_sms(demo, desk):
    reply = await sms(demo, "TS#小区信号太差，通话老是断")
    by_sms = one_reference(reply)
    view = await desk.view(in_contact())
    [listed] = [t for t in view["tickets"] if t["reference"] == by_sms]
    assert listed["channel"] == "sms" and listed["category"] == "complaint" and listed["business"] == "care.complaint"
    assert "通话老是断" in listed["summary"] and listed["status"] == "open"

    opened = await desk.create_ticket(in_contact(), category="fault", summary="客户家中室内无信号，需上门测试",
                                      key="form-1")
    assert REFERENCE.fullmatch(opened.reference) and opened.reference != by_sms
    progress = await sms(demo, "GDJD")
    assert by_sms in progress and opened.reference in progress and "处理中" in progress
    assert (await demo.services.tickets.get(by_sms.lower())).channel == "sms"   # quoted in any case


async def test_a_complaint_told_to_xiaobei_is_the_same_ticket_the_desk_lists(demo, desk):
    chat = await demo.assistant.handle("我要投诉", msisdn=ZHANG, verified=True, channel="sms")
    told = await demo.assistant.handle("营业厅给我办了合约却没说清楚违约金，我要投诉", msisdn=ZHANG, verified=True,
                                       channel="sms", conversation_id=chat.conversation_id,
                                       secret=getattr(chat, "secret", None))
    ref = one_reference("\n".join(r.text for r in told.replies))
    ticket = await demo.services.tickets.get(ref)
    assert ticket is not None and ticket.msisdn == ZHANG and "违约金" in ticket.detail
    assert ref in [t["reference"] for t in (await desk.view(in_contact()))["tickets"]]


async def test_the_handler_files_once_per_key_from_any_channel_in_the_same_series(demo, desk):
    business = demo.catalog.get("broadband.fault")
    req = Request(business, ZHANG, {"content": "光猫红灯闪烁，无法上网"}, Actor("ivr", "subscriber"), "ivr-call-7:1")
    first = await demo.services.execute(req)
    again = await demo.services.execute(req)            # a retried request files nothing new
    assert first.changed and not again.changed and first.data["reference"] == again.data["reference"]
    ref = first.data["reference"]
    assert REFERENCE.fullmatch(ref)
    status = await demo.services.execute(Request(demo.catalog.get("care.progress"), ZHANG, {},
                                                 Actor("ivr", "subscriber"), "ivr-call-7:2"))
    assert ref in status.data["lines"] and "宽带报修" in status.data["lines"]
    by_desk = await desk.create_ticket(in_contact(), category="complaint", summary="装维迟到", key="form-2")
    refs = [t.reference for t in await demo.services.tickets.of(ZHANG)]
    assert sorted(refs) == sorted({ref, by_desk.reference}) and len(refs) == 2      # one store, no duplicates
    rows = await demo.db.run(lambda c: c.execute(select(service_requests)).all(), write=False)
    assert rows == []                                   # tickets are no longer filed as service requests


async def test_notes_follow_a_ticket_whoever_adds_them(demo, desk):
    ref = one_reference(await sms(demo, "KDBX#光猫亮红灯"))
    await demo.services.tickets.add(ref, "客户补充：晚上八点后在家", author="a1001", channel="desk")
    [note] = await demo.services.tickets.notes(ref)
    assert note.text == "客户补充：晚上八点后在家" and note.author == "a1001"


def test_migration_0011_moves_filed_complaints_into_the_ticket_store(database_url, clock):
    """A database at 0010 with a complaint and an invoice request filed the old way."""
    db = Database(database_url, threads=2)
    try:
        migrate.upgrade(db, "0010")
        at = dt.datetime(2026, 11, 14, 9, 0, tzinfo=dt.UTC)
        db.run_sync(lambda c: c.execute(insert(service_requests), [
            {"reference": "TS20261114123456", "kind": "complaint", "business": "care.complaint", "msisdn": ZHANG,
             "channel": "sms", "status": "open", "detail": {"content": "信号差"}, "idempotency_key": "sms:m-1",
             "created_at": at},
            {"reference": "FP20261114654321", "kind": "invoice", "business": "invoice.electronic", "msisdn": ZHANG,
             "channel": "sms", "status": "open", "detail": {"cycle": 202610}, "idempotency_key": "invoice:x",
             "created_at": at}]))
        migrate.upgrade(db)
        moved = db.run_sync(lambda c: c.execute(select(tickets)).all(), write=False)
        left = db.run_sync(lambda c: c.execute(select(service_requests.c.reference)).scalars().all(), write=False)
        assert [(t.reference, t.category, t.summary, t.channel, t.idempotency_key) for t in moved] == [
            ("TS20261114123456", "complaint", "信号差", "sms", "svc:sms:m-1")]
        assert left == ["FP20261114654321"]              # invoices are not tickets: they stay
        migrate.downgrade(db, "0010")                   # and back
        back = db.run_sync(lambda c: c.execute(select(service_requests.c.reference)).scalars().all(), write=False)
        assert sorted(back) == ["FP20261114654321", "TS20261114123456"]
    finally:
        db.dispose()
