"""The desk's customer panel on a real database (SQLite and PostgreSQL), as an agent uses it: the masked
360° view and audited unmasking, verifying the customer three ways, running catalogue businesses for
them exactly once per form, and opening tickets."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from factories import DEFAULT_PASSWORD, make_subscriber
from hotline.assistant.store import Conversation, ConversationStore, TurnWrite
from hotline.care.tickets import Tickets
from hotline.desk.customer import VERIFIED_TTL, CustomerDesk, VerificationFailed, VerificationRequired
from hotline.desk.scope import OutOfScope, Scope
from hotline.domain.errors import InvalidInput, PasswordLocked, WrongPassword
from hotline.services.flow import Assurance, FlowState, Level
from hotline.services.identity import CodeError, CodeLocked, WrongCode
from hotline.store.sql.tables import audit_log, orders

ZHAO = "13812345678"
ID_NUMBER = "11010519491231002X"


@pytest.fixture
def desk(hl):
    make_subscriber(hl, ZHAO)
    return CustomerDesk(hl.services, hl.db)


def here(agent: str = "a1001", contact: str | None = "c-1", number: str = ZHAO,
         conversation: str | None = None) -> Scope:
    """What the routes hand the desk once ``hotline.desk.scope`` has checked the contact."""
    return Scope(agent, number, contact, conversation)


def audit(hl, action=None):
    def job(c):
        q = select(audit_log).order_by(audit_log.c.id)
        if action:
            q = q.where(audit_log.c.action == action)
        return [r._mapping for r in c.execute(q)]
    return hl.db.run_sync(job, write=False)


def outbox(hl, purpose):
    """The system's records of this purpose, oldest first, each with what the phone showed (the demo inbox)."""
    phone = {m["outbox_id"]: m["text"] for m in hl.outbox.inbox_sync(limit=1000)}
    return [{**r, "record": r["text"], "text": phone[r["id"]]} for r in hl.outbox.records_sync()
            if r["purpose"] == purpose]


def order_count(hl):
    return len(hl.db.run_sync(lambda c: c.execute(select(orders.c.id)).all(), write=False))


async def test_the_view_masks_name_and_id_number_and_is_audited(desk, hl):
    view = await desk.view(here())
    assert view["name"] == "赵*" and view["id_number"] == "110105********002X" and view["masked"]
    assert "赵六" not in json.dumps(view, ensure_ascii=False) and ID_NUMBER not in json.dumps(view)
    assert view["balance_fen"] == 10_000 and view["brand"]["name_zh"] and view["plan"]["code"] == "plan.easyown_18"
    assert view["star_level"]["level"] == 1 and view["status"]["code"] == "active"
    assert {"usage", "subscriptions", "bills", "recent_orders", "service_requests", "tickets", "conversations",
            "handoffs"} <= set(view)
    assert view["verification"]["verified"] is False
    row = audit(hl, "profile.view")[-1]
    assert (row["channel"], row["actor"], row["msisdn"]) == ("desk", "a1001", ZHAO)


async def test_unmasking_needs_a_reason_and_is_audited_field_by_field(desk, hl):
    for reason, note in (("", ""), ("because", ""), ("other", "ok")):
        with pytest.raises(InvalidInput):
            await desk.unmask(here(), "name", reason, note)
    assert audit(hl, "profile.unmask") == []

    got = await desk.unmask(here(), "id_number", "identity_check")
    assert got == {"field": "id_number", "value": ID_NUMBER, "masked": "110105********002X"}
    got = await desk.unmask(here(), "name", "other", "客户来电要求核对实名登记姓名")
    assert got["value"] == "赵六"
    rows = audit(hl, "profile.unmask")
    assert [(r["channel"], r["actor"]) for r in rows] == [("desk", "a1001")] * 2
    details = [json.loads(r["detail"]) for r in rows]
    assert details[0] == {"field": "id_number", "reason": "identity_check", "note": "", "contact_id": "c-1"}
    assert details[1]["field"] == "name" and details[1]["note"] == "客户来电要求核对实名登记姓名"


async def test_a_protected_business_is_refused_until_the_customer_is_verified(desk, hl):
    form = await desk.describe(here(), "feature.idd_on")
    assert form["protected"] and form["verification"]["verified"] is False
    with pytest.raises(VerificationRequired) as err:
        await desk.run(here(), "feature.idd_on", {}, "k-1")
    assert "验证" in err.value.message_zh and "verified" in err.value.message_en
    assert order_count(hl) == 0


async def test_with_the_service_password_it_runs_once_per_form_key(desk, hl):
    v = await desk.verify_password(here(), DEFAULT_PASSWORD)
    assert v["verified"] and v["method"] == "password"
    first = await desk.run(here(), "feature.idd_on", {}, "form-1")
    again = await desk.run(here(), "feature.idd_on", {}, "form-1")   # a double click
    assert first["texts"] and first["texts"] == again["texts"] and first["order_id"] == again["order_id"]
    assert order_count(hl) == 1
    made = hl.db.run_sync(lambda c: c.execute(select(orders)).one()._mapping, write=False)
    assert (made["channel"], made["actor"], made["status"]) == ("desk", "a1001", "completed")
    # The verification belongs to this contact: not a colleague's, not another contact's, and it runs out.
    with pytest.raises(VerificationRequired):
        await desk.run(here("a1002"), "query.itemized", {}, "form-2")
    with pytest.raises(VerificationRequired):
        await desk.run(here(contact="c-2"), "query.itemized", {}, "form-2")
    hl.services.clock.advance(seconds=VERIFIED_TTL.total_seconds() + 1)
    with pytest.raises(VerificationRequired):
        await desk.run(here(), "query.itemized", {}, "form-3")
    assert [json.loads(r["detail"])["method"] for r in audit(hl, "desk.verify")] == ["password"]


async def test_a_paid_pack_is_charged_once_however_often_the_form_is_sent(desk, hl):
    form = await desk.describe(here(), "order.data_pack")
    choice = next(c for c in form["slots"][0]["choices"] if c["value"] == "pack.data_1g_month")
    assert "10.00元" in choice["label_zh"] and choice["fee_fen"] == 1000
    shown = await desk.preview(here(), "order.data_pack", {"product": "pack.data_1g_month"})
    assert "10.00元" in shown["confirm_zh"] and "¥10.00" in shown["confirm_en"]
    for _ in range(3):
        result = await desk.run(here(), "order.data_pack", {"product": "pack.data_1g_month"}, "pack-1",
                                lang="en")
    assert (await hl.bss.account(ZHAO))["balance_fen"] == 9_000
    assert result["changed"] and "1 GB" in result["texts"][0]


async def test_wrong_passwords_count_towards_the_back_ends_daily_lock(desk, hl):
    for left in (2, 1):
        with pytest.raises(WrongPassword) as err:
            await desk.verify_password(here(), "000000")
        assert f"{left}次" in err.value.message_zh
    with pytest.raises(PasswordLocked):
        await desk.verify_password(here(), "000000")
    with pytest.raises(PasswordLocked):   # locked for the day, even with the right one
        await desk.verify_password(here(), DEFAULT_PASSWORD)
    view = await desk.view(here())
    assert view["password"]["locked_today"] and not view["verification"]["verified"]
    tries = [json.loads(r["detail"]) for r in audit(hl, "password.verify")]
    assert [t["failures_today"] for t in tries] == [1, 2, 3]


async def test_a_one_time_code_goes_through_the_sms_outbox(desk, hl):
    sent = await desk.send_code(here())
    assert sent["sent_to"] == "138****5678" and not sent["reused"]
    assert (await desk.send_code(here()))["reused"]      # asked again at once: the same code, no second SMS
    [sms] = outbox(hl, "otp")
    assert sms["msisdn"] == ZHAO and sms["sender"] == "10086" and sms["status"] == "sent"
    code = re.search(r"验证码为(\d{6})", sms["text"]).group(1)
    assert sms["redacted"] and code not in sms["record"]     # the system keeps no copy of the code
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(WrongCode) as err:
        await desk.verify_code(here(), wrong)
    assert "4次" in err.value.message_zh
    v = await desk.verify_code(here(), code)
    assert v["verified"] and v["method"] == "otp"
    assert (await desk.run(here(), "query.itemized", {}, "xd-1"))["texts"]
    with pytest.raises(VerificationFailed):   # a code is used once
        await desk.verify_code(here(), code)
    assert code not in json.dumps([dict(r) for r in audit(hl)], default=str)


async def test_a_code_verifies_only_in_the_contact_it_was_sent_in(desk, hl):
    await desk.send_code(here())
    code = re.search(r"验证码为(\d{6})", outbox(hl, "otp")[-1]["text"]).group(1)
    for elsewhere in (here(contact="c-2"), here("a1002")):
        with pytest.raises(VerificationFailed):
            await desk.verify_code(elsewhere, code)
    assert (await desk.verify_code(here(), code))["verified"]


async def test_a_code_expires_and_too_many_wrong_ones_lock_the_number(desk, hl):
    await desk.send_code(here())
    hl.services.clock.advance(minutes=6)
    with pytest.raises(CodeError) as err:
        await desk.verify_code(here(), "123456")
    assert "过期" in err.value.message_zh or "发送" in err.value.message_zh
    await desk.send_code(here())
    code = re.search(r"验证码为(\d{6})", outbox(hl, "otp")[-1]["text"]).group(1)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(WrongCode):
            await desk.verify_code(here(), wrong)
    with pytest.raises(CodeLocked):
        await desk.verify_code(here(), wrong)
    with pytest.raises(CodeLocked):   # locked for the day now, even the right one
        await desk.verify_code(here(), code)
    assert (await desk.verification(here()))["verified"] is False


async def test_xiaobeis_verification_of_the_conversation_carries_over(desk, hl):
    store = ConversationStore(hl.db)
    now = hl.services.clock.now()
    def flow(number: str, minutes: int) -> dict:        # what 小贝 stores once a code proved the number
        held = [Assurance(number, Level.POSSESSION, "assistant", now + dt.timedelta(minutes=minutes))]
        return {"msisdn": number, "flow": FlowState(number, held).as_dict()}
    for cid, state in (("conv-verified", flow(ZHAO, 10)),
                       ("conv-legacy", {"msisdn": ZHAO, "verified": True}),   # a flag, no proof bound to it
                       ("conv-unverified", {"msisdn": ZHAO, "verified": False}),
                       ("conv-other", {"msisdn": "13900139000", "verified": True}),
                       ("conv-flow", flow(ZHAO, 10)), ("conv-flow-expired", flow(ZHAO, -1)),
                       ("conv-flow-other", flow("13900139000", 10))):
        await store.save(Conversation(cid, "web", state["msisdn"], state), TurnWrite(), now,
                         now + dt.timedelta(minutes=30))
    assert (await desk.verify_conversation(here(conversation="conv-flow")))["method"] == "conversation"
    for cid in ("conv-unverified", "conv-other", "conv-missing", "conv-flow-expired", "conv-flow-other",
                "conv-legacy"):
        with pytest.raises(VerificationFailed):
            await desk.verify_conversation(here(conversation=cid))
    with pytest.raises(VerificationFailed):       # only the contact's own conversation counts
        await desk.verify_conversation(here(conversation="conv-unverified"), "conv-verified")
    view = await desk.view(here(conversation="conv-verified"))
    assert view["conversation_verified"] and view["conversations"][0]["channel"] == "web"
    v = await desk.verify_conversation(here(conversation="conv-verified"))
    assert v["method"] == "conversation"
    assert (await desk.run(here(conversation="conv-verified"), "query.itemized", {}, "xd-2"))["texts"]


async def test_a_new_password_goes_to_the_customers_phone_not_the_agents_screen(desk, hl):
    result = await desk.run(here(), "password.reset", {"id_number": ID_NUMBER}, "reset-1")
    assert result["secret_sent"] and "短信" in result["texts"][0]
    [notice] = outbox(hl, "notice")
    assert notice["msisdn"] == ZHAO and re.search(r"\d{6}", notice["text"])
    assert notice["redacted"] and re.search(r"\d{6}", notice["record"]) is None
    assert re.search(r"\d{6}", result["texts"][0]) is None


async def test_the_catalogue_is_searched_and_a_consultation_is_read_out(desk, hl):
    groups = desk.businesses("流量包")
    codes = {b["code"] for g in groups for b in g["businesses"]}
    assert "order.data_pack" in codes and all(g["name_zh"] and g["name_en"] for g in groups)
    assert [g["category"] for g in desk.businesses()][0] == "query"
    assert {b["code"] for g in desk.businesses("KTGJCT") for b in g["businesses"]} == {"feature.idd_on"}
    consult = next(b for g in desk.businesses(category="consult") for b in g["businesses"] if b["consultation"])
    article = await desk.describe(here(), consult["code"])
    assert article["consultation"] and article["article_zh"] and article["article_en"]
    assert "{" not in article["article_zh"]
    # A cancellation offers only what the customer has outside the plan.
    make_subscriber(hl, "13812345679", holdings=(("vas.migu_music_vip", False), ("vas.weather", False)))
    cancel = await desk.describe(here(number="13812345679"), "cancel.vas")
    assert {c["value"] for c in cancel["slots"][0]["choices"]} == {"vas.migu_music_vip", "vas.weather"}
    with pytest.raises(InvalidInput):   # the form's key is required
        await desk.run(here(), "order.data_pack", {"product": "pack.data_1g_month"}, "")


async def test_tickets_are_opened_once_per_form_and_listed_by_number(desk, hl):
    scope = here(conversation="conv-1")
    t = await desk.create_ticket(scope, category="complaint", summary="信号差，通话经常中断",
                                 detail="家中客厅信号一格", priority="high", key="tk-1")
    again = await desk.create_ticket(scope, category="complaint", summary="信号差，通话经常中断", key="tk-1")
    assert again.reference == t.reference and again.replayed
    assert re.fullmatch(r"T20261115\d{6}", t.reference) and t.status == "open" and t.created_by == "a1001"
    assert (t.msisdn, t.contact_id, t.conversation_id) == (ZHAO, "c-1", "conv-1")   # all from the contact
    await desk.create_ticket(scope, category="suggestion", summary="希望增加夜间流量包")
    listed = await Tickets(hl.db, hl.services.clock).of(ZHAO)
    assert [x.category for x in listed] == ["suggestion", "complaint"]
    assert listed[1].as_dict()["category_zh"] == "投诉" and listed[1].priority == "high"
    assert [x["reference"] for x in (await desk.view(here()))["tickets"]][1] == t.reference
    for bad in ({"category": "rant", "summary": "xx"}, {"category": "fault", "summary": " "}):
        with pytest.raises(InvalidInput):
            await desk.create_ticket(scope, **bad)


async def test_a_supervisors_look_up_views_but_acts_on_nothing(desk, hl):
    look = here("s2001", contact=None)
    assert (await desk.view(look))["name"] == "赵*"
    for act in (desk.unmask(look, "name", "complaint"), desk.verify_password(look, DEFAULT_PASSWORD),
                desk.send_code(look), desk.run(look, "query.itemized", {}, "k-1"),
                desk.create_ticket(look, category="fault", summary="无信号")):
        with pytest.raises(OutOfScope):
            await act


async def test_the_desk_offers_to_cancel_only_what_every_channel_knows_is_still_held(desk, hl):
    from hotline.bss.port import Actor
    for i, vas in enumerate(("vas.migu_music_vip", "vas.mobile_newspaper")):
        await hl.bss.subscribe(ZHAO, vas, key=f"setup-{i}", actor=Actor("sms", "subscriber"))
    held = {s["code"] for s in (await hl.bss.account(ZHAO))["subscriptions"] if not s["in_plan"]}
    form = await desk.describe(here(), "cancel.vas")
    offered = {c["value"] for c in form["slots"][0]["choices"]}
    assert offered and offered <= held
    gone = sorted(offered)[0]
    await hl.bss.unsubscribe(ZHAO, gone, key="elsewhere-1", actor=Actor("sms", "subscriber"))  # cancelled by SMS
    form = await desk.describe(here(), "cancel.vas")
    assert gone not in {c["value"] for c in form["slots"][0]["choices"]}


async def test_a_change_run_at_the_desk_is_confirmed_by_the_same_rule_as_every_channel(desk, hl):
    shown = await desk.preview(here(), "order.data_pack", {"product": "pack.data_1g_month"})
    assert shown["confirm"] and "请与客户确认后提交" in shown["confirm_zh"]
    cancel = next(b for b in hl.catalog if hl.catalog.policy(b).cancels and "agent" in b.channels)
    assert (await desk.describe(here(), cancel.code))["confirm"]   # a cancellation, free, is confirmed too
