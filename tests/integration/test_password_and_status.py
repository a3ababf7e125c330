"""Service password lockout, weak passwords, reset by ID; status changes and their legality."""


import pytest

from factories import DEFAULT_PASSWORD, make_subscriber
from hotline.bss.port import Actor
from hotline.domain.errors import (
    IdentityMismatch,
    IllegalTransition,
    NotEligible,
    PasswordLocked,
    WeakPassword,
    WrongPassword,
)

ME = Actor("test", "subscriber")


async def test_three_wrong_entries_lock_until_the_next_day(hl, clock):
    m = make_subscriber(hl)
    for left in (2, 1):
        with pytest.raises(WrongPassword) as err:
            await hl.bss.verify_password(m, "000001", actor=ME)
        assert err.value.detail["tries_left"] == left and f"再试{left}次" in err.value.message_zh
    with pytest.raises(PasswordLocked):
        await hl.bss.verify_password(m, "000001", actor=ME)
    with pytest.raises(PasswordLocked):  # even the right one, today
        await hl.bss.verify_password(m, DEFAULT_PASSWORD, actor=ME)
    assert (await hl.bss.profile(m, ME))["password"]["locked_today"]
    clock.advance(days=1)
    await hl.bss.verify_password(m, DEFAULT_PASSWORD, actor=ME)


async def test_a_right_password_resets_the_count(hl):
    m = make_subscriber(hl)
    for _ in range(2):
        with pytest.raises(WrongPassword):
            await hl.bss.verify_password(m, "000001", actor=ME)
    await hl.bss.verify_password(m, DEFAULT_PASSWORD, actor=ME)
    with pytest.raises(WrongPassword) as err:
        await hl.bss.verify_password(m, "000001", actor=ME)
    assert err.value.detail["tries_left"] == 2


async def test_change_password_refuses_weak_ones_and_needs_the_old(hl):
    m = make_subscriber(hl, "13812345678", id_number="11010519491231002X")
    for weak in ("888888", "123456", "345678", "123456"[::-1], "812345", "194912"):
        with pytest.raises(WeakPassword):
            await hl.bss.change_password(m, DEFAULT_PASSWORD, weak, actor=ME)
    with pytest.raises(WrongPassword):
        await hl.bss.change_password(m, "000001", "736251", actor=ME)
    await hl.bss.change_password(m, DEFAULT_PASSWORD, "736251", actor=ME)
    await hl.bss.verify_password(m, "736251", actor=ME)
    with pytest.raises(WrongPassword):
        await hl.bss.verify_password(m, DEFAULT_PASSWORD, actor=ME)


async def test_reset_by_id_check_unlocks(hl):
    m = make_subscriber(hl, id_number="11010519491231002X")
    for _ in range(3):
        with pytest.raises((WrongPassword, PasswordLocked)):
            await hl.bss.verify_password(m, "000001", actor=ME)
    with pytest.raises(IdentityMismatch):
        await hl.bss.reset_password(m, "110105194912310038", actor=ME)
    new = await hl.bss.reset_password(m, "11010519491231002x", actor=ME)
    assert len(new) == 6 and new.isdigit()
    await hl.bss.verify_password(m, new, actor=ME)
    actions = [a["action"] for a in await hl.bss.audit_trail(m)]
    assert "password.reset" in actions and "password.reset.refused" in actions
    assert all(new not in str(a) for a in await hl.bss.audit_trail(m))


async def test_suspend_resume_lost_unlost_close(hl):
    m = make_subscriber(hl)
    steps = [("suspend", "suspended_voluntary"), ("resume", "active"), ("report_lost", "lost"),
             ("unreport_lost", "active"), ("close", "closed")]
    for i, (action, status) in enumerate(steps):
        r = await hl.bss.change_status(m, action, key=f"s{i}", actor=ME)
        assert r.result["status"] == status
    with pytest.raises(IllegalTransition) as err:
        await hl.bss.change_status(m, "resume", key="s9", actor=ME)
    assert "已销户" in err.value.message_zh and "closed" in err.value.message_en
    with pytest.raises(NotEligible):
        await hl.bss.recharge(m, 100, key="s10", actor=ME)


@pytest.mark.parametrize("status,action", [("active", "resume"), ("active", "unreport_lost"),
                                           ("suspended_arrears", "resume"), ("lost", "suspend")])
async def test_illegal_status_changes_are_refused_and_change_nothing(hl, status, action):
    m = make_subscriber(hl, status=status, balance_fen=-100 if status == "suspended_arrears" else 100)
    with pytest.raises(IllegalTransition):
        await hl.bss.change_status(m, action, key="x", actor=ME)
    assert (await hl.bss.get_subscriber(m)).status.value == status


async def test_unreporting_a_loss_in_arrears_goes_to_arrears_suspension(hl):
    m = make_subscriber(hl, status="lost", balance_fen=-300)
    r = await hl.bss.change_status(m, "unreport_lost", key="x", actor=ME)
    assert r.result["status"] == "suspended_arrears"


async def test_closing_with_arrears_is_refused(hl):
    m = make_subscriber(hl, status="suspended_arrears", balance_fen=-300)
    with pytest.raises(NotEligible) as err:
        await hl.bss.change_status(m, "close", key="x", actor=ME)
    assert "3.00元" in err.value.message_zh
