"""The SMS business hall, flow by flow, as subscribers use it (on SQLite and PostgreSQL)."""

import pytest
from sqlalchemy import select

from conftest import TEST_KDF_N
from factories import make_subscriber
from hotline.bootstrap import bootstrap
from hotline.bss.port import SYSTEM
from hotline.bss.seed import seed_demo_if_empty
from hotline.store.sql.tables import service_requests, sms_inbound
from sms_phone import Phone

ZHANG = "13800138000"   # 神州行, ¥56.70, pw 369258; music + newspaper outside the plan, 和彩云 inside
LI = "13900139000"      # 全球通 postpaid, five-star gold, ¥300 + ¥500 credit
WANG = "13700137000"    # 动感地带, 停机保号, pw 517390


@pytest.fixture
def demo(hl, clock):
    seed_demo_if_empty(hl.db, hl.bss.products, clock=clock, kdf_n=TEST_KDF_N, synthetic=0)
    return hl


@pytest.fixture
def zhang(demo):
    return Phone(demo, ZHANG)


async def test_查余额_answers_the_real_balance(zhang):
    assert "账户余额为56.70元" in await zhang.say("YE")
    assert "账户余额为56.70元" in await zhang.say("查余额")


async def test_a_postpaid_customer_also_hears_the_credit(demo):
    text = await Phone(demo, LI).say("ye")
    assert "300.00元" in text and "信用额度500.00元" in text and "可用额度800.00元" in text


async def test_查流量_and_查话费_match_the_account(zhang):
    a = await zhang.account()
    used, included = a["usage"]["data_mb"]["used"], a["usage"]["data_mb"]["included"]
    text = await zhang.say("ｃｘｌｌ")
    assert f"已使用{used}MB" in text and f"剩余{included - used}MB" in text
    text = await zhang.say("查话费")
    assert f"{a['charges_this_cycle_fen'] // 100}." in text and "神州行18元套餐" in text


async def test_0000_lists_services_in_two_messages_from_10086977_and_serials_cancel_them(zhang):
    replies = await zhang.send("0000")
    assert [r.sender for r in replies] == ["10086977", "10086977"]
    outside, inside = replies[0].text, replies[1].text
    assert "1.手机报（早晚版）" in outside and "3.00元/月" in outside
    assert "2.咪咕音乐白金会员" in outside and "15.00元/月" in outside
    assert "3.和彩云基础版" in inside and "套餐内" in inside
    ask = await zhang.say("2，1", to="10086977")   # one confirmation for the serials picked
    assert "退订“咪咕音乐白金会员、手机报（早晚版）”" in ask and "回复“是”" in ask
    assert len((await zhang.account())["subscriptions"]) == 3   # nothing cancelled before the yes
    cancels = await zhang.send("是", to="10086977")
    assert len(cancels) == 2 and all(r.sender == "10086977" for r in cancels)
    assert "退订“咪咕音乐白金会员”" in cancels[0].text and "退订“手机报（早晚版）”" in cancels[1].text
    left = {s["code"] for s in (await zhang.account())["subscriptions"] if s["end_cycle"] is None}
    assert "vas.migu_music_vip" not in left and "vas.mobile_newspaper" not in left


async def test_00000_is_0000_and_there_is_no_cancel_all_and_in_plan_services_stay(zhang):
    assert [r.sender for r in await zhang.send("00000")] == ["10086977", "10086977"]
    assert "不支持一次性全部退订" in await zhang.say("全部退订", to="10086977")
    assert "包含在您的套餐中，不能单独退订" in await zhang.say("3", to="10086977")
    assert "没有序号“9”" in await zhang.say("9", to="10086977")


async def test_a_paid_order_asks_first_and_charges_once_after_是(zhang):
    ask = await zhang.say("KTLL1")
    assert "1GB流量包（当月有效）" in ask and "10.00元" in ask and "立即生效" in ask and "回复“是”确认办理" in ask
    assert (await zhang.account())["balance_fen"] == 5670  # nothing before the confirmation
    assert "成功办理" in await zhang.say("是")
    assert (await zhang.account())["balance_fen"] == 4670
    assert "没有待确认的业务" in await zhang.say("是")  # a second yes charges nothing
    assert (await zhang.account())["balance_fen"] == 4670


@pytest.mark.parametrize("yes", ["Y", "y", "1", "确认", "是"])
async def test_every_way_of_saying_yes_confirms(zhang, yes):
    await zhang.send("KTLL1")
    assert "成功办理" in await zhang.say(yes)


async def test_anything_else_cancels_politely_and_a_new_command_still_runs(zhang):
    await zhang.send("KTLL1")
    assert "已取消办理“1GB流量包（当月有效）”，未产生任何费用" in await zhang.say("算了")
    await zhang.send("KTLL1")
    text = await zhang.say("YE")
    assert "已取消办理" in text and "账户余额为56.70元" in text
    assert (await zhang.account())["balance_fen"] == 5670


async def test_a_confirmation_is_valid_for_ten_minutes(zhang, clock):
    await zhang.send("KTLL1")
    clock.advance(minutes=11)
    assert "超过10分钟有效期" in await zhang.say("是")
    assert (await zhang.account())["balance_fen"] == 5670


async def test_itemised_records_need_the_password_and_wrong_ones_count_down(zhang):
    assert "需验证服务密码" in await zhang.say("XD")
    assert "还可以再试2次" in await zhang.say("111111")
    text = await zhang.say("369258")
    assert "通话详单共" in text and "139****5678" in text


async def test_three_wrong_passwords_lock_password_services_for_the_day(zhang):
    await zhang.send("XD")
    await zhang.send("111111")
    await zhang.send("111112")
    assert "已锁定" in await zhang.say("111113")
    await zhang.send("XD")
    assert "已锁定" in await zhang.say("369258")


async def test_a_short_password_needs_a_star_and_then_a_suggestion_to_lengthen_it(demo):
    phone = Phone(demo, make_subscriber(demo, "13812340000", password="1357"))
    await phone.send("XD")
    assert "不足6位请在密码前加“*”" in await phone.say("1357")
    text = await phone.say("*1357")
    assert "暂无通话记录" in text and "修改为6位密码" in text


async def test_password_then_confirmation_for_停机保号(demo):
    phone = Phone(demo, make_subscriber(demo, "13812340001", password="482916"))
    assert "需验证服务密码" in await phone.say("TJBH")
    assert "每月收取保号费5元" in await phone.say("482916")
    assert "停机保号" in await phone.say("是")
    assert (await phone.account())["status"]["code"] == "suspended_voluntary"


async def test_a_restart_in_the_middle_of_a_flow_continues(demo, settings, clock):
    await Phone(demo, ZHANG).send("KTLL3")
    await Phone(demo, WANG).send("FJ")
    demo.close()
    again = bootstrap(settings, clock=clock)
    try:
        assert "成功办理“3GB流量包（当月有效）”" in await Phone(again, ZHANG).say("是")
        assert "复机" in await Phone(again, WANG).say("517390")   # the password, then the confirmation
        assert "已复机" in await Phone(again, WANG).say("是")
    finally:
        again.close()


async def test_a_redelivered_message_gets_the_same_answer_and_charges_once(zhang):
    await zhang.send("KTLL1", message_id="m-1")
    first = await zhang.send("是", message_id="m-2")
    again = await zhang.send("是", message_id="m-2")
    assert [r.text for r in again] == [r.text for r in first] and "成功办理" in first[0].text
    assert (await zhang.account())["balance_fen"] == 4670


async def test_too_many_messages_in_a_minute_get_one_polite_refusal(zhang, clock):
    for _ in range(20):
        await zhang.send("YE")
    assert "过于频繁" in await zhang.say("YE")
    assert await zhang.send("YE") == []  # said once; then quiet
    clock.advance(minutes=2)
    assert "账户余额" in await zhang.say("YE")


async def test_the_menu_goes_deeper_and_every_leaf_runs_a_business(zhang):
    main = await zhang.say("10086")
    assert "1.查询" in main and "2.业务办理" in main
    assert "1.办理流量包 BLLL" in await zhang.say("2")
    packs = await zhang.say("1")
    assert "1.1GB流量包（当月有效） 10.00元（当月有效）" in packs
    assert "回复“是”确认办理" in await zhang.say("1")
    assert "成功办理" in await zhang.say("是")
    assert (await zhang.account())["balance_fen"] == 4670
    await zhang.send("?")
    await zhang.send("1")
    assert "账户余额为46.70元" in await zhang.say("1")


async def test_td_opts_out_of_marketing_once(zhang):
    assert "退订中国移动营销短信" in await zhang.say("TD")
    assert (await zhang.account())["marketing_opt_out"] is True
    assert "无需重复退订" in await zhang.say("td")


async def test_a_spam_report_to_10086999_is_recorded_and_acknowledged(zhang, demo):
    replies = await zhang.send("10659999*恭喜您中奖100万，点击领取", to="10086999")
    assert replies[0].sender == "10086999" and "举报已受理" in replies[0].text
    rows = await demo.db.run(lambda c: c.execute(select(service_requests)).all(), write=False)
    assert rows[0].kind == "spam_report" and rows[0].detail["number"] == "10659999"
    assert "恭喜您中奖" in rows[0].detail["content"]
    assert "号码*内容" in await zhang.say("没有号码的举报", to="10086999")


async def test_unknown_text_suggests_the_closest_commands_and_the_menu(zhang):
    text = await zhang.say("cxlll")
    assert "暂未能识别" in text and "CXLL" in text and "10086" in text


async def test_password_change_works_and_no_password_is_logged(zhang, demo):
    assert "修改成功" in await zhang.say("BGMM#369258#258147#258147")
    await demo.bss.verify_password(ZHANG, "258147", actor=SYSTEM)
    logged = await demo.db.run(lambda c: c.execute(select(sms_inbound.c.text)).scalars().all(), write=False)
    assert not any("258147" in t or "369258" in t for t in logged)


async def test_password_reset_sends_the_new_password_but_keeps_no_copy(zhang, demo):
    from hotline.bss.seed import DEMO_ID_NUMBERS
    text = await zhang.say(f"CZMM#{DEMO_ID_NUMBERS[ZHANG]}")
    assert "已重置为" in text
    new = text.split("已重置为")[1][:6]
    rows = await demo.db.run(lambda c: c.execute(select(sms_inbound.c.text, sms_inbound.c.replies)).all(),
                             write=False)
    assert not any(new in r.text or new in str(r.replies) for r in rows)
    assert not any(DEMO_ID_NUMBERS[ZHANG] in r.text for r in rows)


async def test_an_english_speaking_subscriber_is_answered_in_english(demo):
    phone = Phone(demo, make_subscriber(demo, "13812340002", language="en"))
    assert "your balance is ¥100.00" in await phone.say("YE")


async def test_a_number_that_is_not_ours_is_told_politely(demo):
    assert "不是本网有效用户" in await Phone(demo, "13812349999").say("YE")
    assert "不是本网有效用户" in await Phone(demo, "not-a-number").say("YE")


async def test_recharge_by_sms_explains_where_to_pay(zhang):
    assert "短信无法直接付款" in await zhang.say("充值")


async def test_every_business_with_a_command_answers_without_error_or_blank_fields(demo):
    phone = Phone(demo, LI)
    demo.sms.rate_per_minute = 10**6  # two messages per business, far beyond a person's rate
    for business in demo.catalog:
        if business.sms.catch_all:
            continue
        command = business.sms.commands[0] if business.sms.commands else None
        if command is None:
            continue
        text = await phone.say(command)
        assert text and "系统繁忙" not in text, business.code
        assert "{" not in text, (business.code, text)
        await phone.send("不")  # leave any pending step


async def test_concurrent_messages_are_all_logged_and_a_racing_duplicate_charges_once(demo):
    import asyncio
    phones = [Phone(demo, make_subscriber(demo, f"138123410{i:02d}")) for i in range(30)]
    answers = await asyncio.gather(*(p.say("YE") for p in phones))
    assert all("账户余额为100.00元" in a for a in answers)
    zhang = Phone(demo, ZHANG)
    await zhang.send("KTLL1", message_id="race-1")
    first, second = await asyncio.gather(zhang.send("是", message_id="race-2"), zhang.send("是", message_id="race-2"))
    assert [r.text for r in first] == [r.text for r in second] and "成功办理" in first[0].text
    assert (await zhang.account())["balance_fen"] == 4670
    logged = await demo.db.run(lambda c: c.execute(select(sms_inbound.c.message_key)).scalars().all(), write=False)
    assert len(logged) == len(set(logged)) == 32


async def test_sending_10086_inside_a_submenu_shows_the_main_menu_again(zhang):
    await zhang.send("10086")
    await zhang.send("2")
    assert "1.查询" in await zhang.say("10086")


async def test_an_id_number_in_free_text_is_kept_masked(demo):
    await Phone(demo, ZHANG).send("我的身份证号是110101199003071234，帮我查一下话费")
    kept = await demo.db.run(lambda c: c.execute(select(sms_inbound.c.text)).scalars().all(), write=False)
    assert kept and not any("110101199003071234" in t for t in kept)


async def test_a_porting_code_is_sent_but_never_kept_in_clear(demo):
    from hotline.bss.seed import DEMO_ID_NUMBERS
    from hotline.store.sql.tables import service_requests as requests
    phone = Phone(demo, ZHANG)
    text = await phone.say(f"SQXZW#张三#{DEMO_ID_NUMBERS[ZHANG]}")
    assert "授权码为" in text
    code = text.split("授权码为")[1][:6]
    again = await phone.say(f"SQXZW#张三#{DEMO_ID_NUMBERS[ZHANG]}")
    assert code in again                                   # asked again the same day: the same code
    def kept(c):
        return [str(r) for r in c.execute(select(requests.c.detail)).scalars()] + \
            [str(r) for r in c.execute(select(sms_inbound.c.replies)).scalars()]
    assert not any(code in row for row in await demo.db.run(kept, write=False))
