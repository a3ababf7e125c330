"""One-time codes and the service password as an attacker meets them (issue 11, section 2).

Found on the old code: 1,093 codes queued to one number in 15 s and 215 guesses a second; a code sent to one's
own phone verified another number; two validities and two digests. Here ``Codes`` (``hl.codes``) is driven
directly on SQLite and PostgreSQL, the code read from the Outbox's demo inbox as the phone shows it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import threading
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, text, update

from factories import DEFAULT_PASSWORD, make_subscriber
from hotline.bss.port import Actor
from hotline.domain import password as pw
from hotline.domain.errors import InvalidInput, PasswordLocked, WrongPassword
from hotline.services.identity import (
    CodeExpired,
    CodeLimited,
    CodeLimits,
    CodeLocked,
    Codes,
    CodeTooSoon,
    NoCodePending,
    WrongCode,
)
from hotline.store.sql.tables import audit_log, otp_codes, otp_sends, subscribers

A, B = "13800138000", "13900139000"
CLIENT = "203.0.113.9"


def inbox(hl: Any, msisdn: str) -> list[dict[str, Any]]:
    return hl.outbox.inbox_sync(msisdn, limit=1000)


def last_code(hl: Any, msisdn: str) -> str:
    """The code in the newest SMS the phone received."""
    msgs = inbox(hl, msisdn)
    assert msgs, f"no SMS to {msisdn}"
    m = re.search(r"(?:验证码为|code is )(\d{6})", msgs[0]["text"])
    assert m, msgs[0]["text"]
    return m.group(1)


def other(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


# ---------------------------------------------------------------------------------------------- flooding
async def test_one_number_gets_one_code_a_minute_five_an_hour_ten_a_day(hl, clock):
    codes = hl.codes
    sent = await codes.send(A, "verify", client=CLIENT)
    assert (sent.masked, sent.expires_in_s, sent.reused) == ("138****8000", 300, False)
    first = last_code(hl, A)

    clock.advance(seconds=20)   # "send it again": the code just sent is still the one; no second SMS
    again = await codes.send(A, "verify", client=CLIENT)
    assert again.reused and again.expires_in_s == 280 and again.resend_in_s == 40
    assert len(inbox(hl, A)) == 1
    with pytest.raises(CodeTooSoon) as err:   # another purpose within the minute is refused politely
        await codes.send(A, "login", client=CLIENT)
    assert err.value.status == 429 and err.value.detail["retry_after_s"] == 40
    assert "秒后再试" in err.value.message_zh and "seconds" in err.value.message_en

    clock.advance(seconds=41)   # after a minute a new code replaces the old one, which stops working
    assert not (await codes.send(A, "verify", client=CLIENT)).reused
    second = last_code(hl, A)
    if second != first:
        with pytest.raises(WrongCode):
            await codes.check(A, "verify", first)
    for _ in range(3):
        clock.advance(seconds=61)
        await codes.send(A, "verify", client=CLIENT)
    assert len(inbox(hl, A)) == 5
    clock.advance(seconds=61)
    with pytest.raises(CodeLimited) as err:   # the sixth in the hour
        await codes.send(A, "verify", client=CLIENT)
    assert err.value.status == 429 and 0 < err.value.detail["retry_after_s"] <= 3600
    clock.advance(seconds=err.value.detail["retry_after_s"])
    for _ in range(5):
        await codes.send(A, "verify", client=CLIENT)
        clock.advance(seconds=61)
    assert len(inbox(hl, A)) == 10
    clock.advance(hours=1)
    with pytest.raises(CodeLimited) as err:   # the eleventh today (10:00 + ~1h20 … Shanghai): until midnight
        await codes.send(A, "verify", client=CLIENT)
    until_midnight = (dt.datetime.combine(clock.now().date() + dt.timedelta(days=1), dt.time(),
                                          tzinfo=clock.tz) - clock.now()).total_seconds()
    assert abs(err.value.detail["retry_after_s"] - until_midnight) <= 1 and "明天" in err.value.message_zh
    assert len(inbox(hl, A)) == 10
    clock.advance(seconds=until_midnight)
    await codes.send(A, "verify", client=CLIENT)
    assert len(inbox(hl, A)) == 11


async def test_one_client_cannot_flood_many_numbers(hl, clock):
    numbers = [f"1390000{i:04d}" for i in range(25)]
    for n in numbers[:20]:
        await hl.codes.send(n, "verify", client=CLIENT)
    with pytest.raises(CodeLimited) as err:
        await hl.codes.send(numbers[20], "verify", client=CLIENT)
    assert err.value.status == 429 and 0 < err.value.detail["retry_after_s"] <= 3600
    assert inbox(hl, numbers[20]) == []
    await hl.codes.send(numbers[21], "verify", client="198.51.100.7")   # another client is not held up
    clock.advance(seconds=err.value.detail["retry_after_s"])
    await hl.codes.send(numbers[20], "verify", client=CLIENT)


async def test_fifty_concurrent_sends_stay_within_the_limits(hl):
    got = await asyncio.gather(*(hl.codes.send(A, "verify", client=f"10.0.0.{i}") for i in range(50)),
                               return_exceptions=True)
    assert [type(g) for g in got if isinstance(g, BaseException)] == []
    assert sum(not g.reused for g in got) == 1 and len(inbox(hl, A)) == 1   # one SMS, 49 told it is on its way

    numbers = [f"1390000{i:04d}" for i in range(50)]
    got = await asyncio.gather(*(hl.codes.send(n, "verify", client=CLIENT) for n in numbers),
                               return_exceptions=True)
    refused = [g for g in got if isinstance(g, BaseException)]
    assert len(refused) == 30 and all(isinstance(g, CodeLimited) for g in refused)
    assert sum(len(inbox(hl, n)) for n in numbers) == 20


# ---------------------------------------------------------------------------------------------- guessing
async def test_guess_budget_then_locked_until_tomorrow_even_for_the_right_code(hl, clock):
    await hl.codes.send(A, "verify", client=CLIENT)
    right = last_code(hl, A)
    wrong = other(right)
    for left in (4, 3):
        with pytest.raises(WrongCode) as err:
            await hl.codes.check(A, "verify", wrong)
        assert err.value.detail["tries_left"] == left and f"再试{left}次" in err.value.message_zh
    clock.advance(seconds=61)   # a new code (another purpose) brings no new guesses
    await hl.codes.send(A, "login", client=CLIENT)
    for left in (2, 1):
        with pytest.raises(WrongCode) as err:
            await hl.codes.check(A, "login", other(last_code(hl, A)))
        assert err.value.detail["tries_left"] == left
    with pytest.raises(CodeLocked) as err:
        await hl.codes.check(A, "verify", wrong)
    assert err.value.status == 403 and "明天" in err.value.message_zh
    with pytest.raises(CodeLocked):   # the right code is refused while locked
        await hl.codes.check(A, "verify", right)
    clock.advance(seconds=61)
    with pytest.raises(CodeLocked):   # and no new code is sent
        await hl.codes.send(A, "verify", client=CLIENT)
    assert len(inbox(hl, A)) == 2 and await hl.codes.locked(A)

    clock.at = dt.datetime.combine(clock.now().date() + dt.timedelta(days=1), dt.time(0, 0, 1), tzinfo=clock.tz)
    with pytest.raises(NoCodePending):   # the lock voided the live codes
        await hl.codes.check(A, "verify", right)
    await hl.codes.send(A, "verify", client=CLIENT)
    await hl.codes.check(A, "verify", last_code(hl, A))


async def test_concurrent_guesses_spend_exactly_the_budget(hl):
    await hl.codes.send(A, "verify", client=CLIENT)
    right = last_code(hl, A)
    guesses = [f"{i:06d}" for i in range(100000, 100100) if f"{i:06d}" != right][:40]
    got = await asyncio.gather(*(hl.codes.check(A, "verify", g) for g in guesses), return_exceptions=True)
    assert sum(isinstance(g, WrongCode) for g in got) == 4
    assert sum(isinstance(g, CodeLocked) for g in got) == 36
    with pytest.raises(CodeLocked):
        await hl.codes.check(A, "verify", right)


async def test_a_code_proves_only_its_own_number_and_purpose(hl, clock):
    await hl.codes.send(A, "verify", client=CLIENT)
    code_a = last_code(hl, A)
    with pytest.raises(NoCodePending):   # A's code typed for B, who asked for none
        await hl.codes.check(B, "verify", code_a)
    with pytest.raises(NoCodePending):   # nor for another purpose
        await hl.codes.check(A, "desk", code_a)

    # Even A's stored code moved onto B, or onto another purpose, does not verify: the digest binds both.
    def move(**values: str) -> None:
        hl.db.run_sync(lambda c: c.execute(update(otp_codes).values(**values)))
    move(msisdn=B)
    with pytest.raises(WrongCode):
        await hl.codes.check(B, "verify", code_a)
    move(msisdn=A, purpose="desk")
    with pytest.raises(WrongCode):
        await hl.codes.check(A, "desk", code_a)

    clock.advance(seconds=61)
    await hl.codes.send(A, "verify", client=CLIENT)
    code = last_code(hl, A)
    await hl.codes.check(A, "verify", code)          # right number, right purpose
    with pytest.raises(NoCodePending):               # and only once
        await hl.codes.check(A, "verify", code)


async def test_a_code_expires_after_five_minutes(hl, clock):
    await hl.codes.send(A, "verify", client=CLIENT)
    code = last_code(hl, A)
    clock.advance(seconds=301)
    with pytest.raises(CodeExpired) as err:
        await hl.codes.check(A, "verify", code)
    assert "过期" in err.value.message_zh and "expired" in err.value.message_en
    with pytest.raises(NoCodePending):
        await hl.codes.check(A, "verify", code)
    with pytest.raises(InvalidInput):   # not a code at all: told so, not counted
        await hl.codes.check(A, "verify", "12ab")


async def test_the_sms_names_the_purpose_in_the_customers_language(hl, clock):
    await hl.codes.send(A, "verify", client=CLIENT)
    zh = inbox(hl, A)[0]
    assert zh["from"] == "10086" and "用于身份验证" in zh["text"] and "切勿告诉他人" in zh["text"]
    assert "5分钟" in zh["text"]
    clock.advance(seconds=61)
    await hl.codes.send(A, "desk", client="desk:agent1", lang="en")
    en = inbox(hl, A)[0]["text"]
    assert "10086 agent" in en and "valid for 5 minutes" in en and "Never tell it" in en


async def test_codes_are_stored_hashed_never_in_clear(hl, clock):
    sent = []
    for n in (A, B):
        await hl.codes.send(n, "verify", client=CLIENT)
        sent.append(last_code(hl, n))
    clock.advance(seconds=61)
    await hl.codes.send(A, "desk", client=CLIENT)
    sent.append(last_code(hl, A))
    with pytest.raises(WrongCode):
        await hl.codes.check(B, "verify", other(sent[1]))

    def dump(conn: Any) -> dict[str, str]:
        out = {}
        for name in inspect(conn).get_table_names():
            if name in ("demo_inbox", "alembic_version"):
                continue   # the demo inbox is the phone's screen: the one place a code is shown
            rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()
            out[name] = " ".join(str(v) for r in rows for v in r)
        return out
    tables = hl.db.run_sync(dump, write=False)
    assert "otp_codes" in tables and "sms_outbox" in tables
    for code in sent:   # the code as a token of its own (not inside a number or a hex digest)
        leaks = [name for name, content in tables.items() if re.search(rf"(?<![0-9a-f]){code}(?![0-9a-f])", content)]
        assert leaks == [], f"code {code} in clear in {leaks}"


async def test_hl_codes_uses_the_outbox_and_one_policy(hl, clock):
    assert isinstance(hl.codes, Codes) and hl.codes.outbox is hl.outbox
    from hotline.services import otp
    assert otp.OTP_TTL == dt.timedelta(seconds=hl.codes.limits.ttl_s)
    # Another instance (the desk builds its own) shares the same counters: the state is in the database.
    await hl.codes.send(A, "verify", client=CLIENT)
    clock.advance(seconds=30)
    with pytest.raises(CodeTooSoon):
        await Codes(hl.db, clock, hl.outbox).send(A, "desk", client="desk:agent1")


async def test_limits_are_one_policy_object(hl, clock):
    strict = Codes(hl.db, clock, hl.outbox, limits=CodeLimits(ttl_s=120, per_hour=2, wrong_per_day=1))
    sent = await strict.send(A, "verify", client=CLIENT)
    assert sent.expires_in_s == 120 and "2分钟" in inbox(hl, A)[0]["text"]
    clock.advance(seconds=61)
    await strict.send(A, "verify", client=CLIENT)
    clock.advance(seconds=61)
    with pytest.raises(CodeLimited):
        await strict.send(A, "verify", client=CLIENT)
    with pytest.raises(CodeLocked):   # a budget of one wrong guess
        await strict.check(A, "verify", other(last_code(hl, A)))


# ---------------------------------------------------------------------------------------------- password
async def test_concurrent_password_guesses_are_counted_before_they_are_evaluated(hl, monkeypatch):
    """20 wrong passwords at once: exactly 3 are evaluated and counted; then even the right one is refused."""
    m = make_subscriber(hl, A)
    evaluated: list[str] = []
    real = pw.verify_password
    lock = threading.Lock()

    def counting(password: str, stored: str) -> bool:   # the real scrypt check, counted
        with lock:
            evaluated.append(password)
        return real(password, stored)
    monkeypatch.setattr(pw, "verify_password", counting)

    channels = [Actor("sms", "subscriber"), Actor("assistant", "subscriber"), Actor("desk", "agent1"),
                Actor("api", "key-1")]   # one lockout whichever channel the guesses come through
    got = await asyncio.gather(*(hl.bss.verify_password(m, f"{700000 + i}", actor=channels[i % 4])
                                 for i in range(20)), return_exceptions=True)
    assert sum(isinstance(g, WrongPassword) for g in got) == 2
    assert sum(isinstance(g, PasswordLocked) for g in got) == 18
    assert len(evaluated) == 3
    failures = hl.db.run_sync(lambda c: c.execute(select(subscribers.c.pw_failures)
                                                  .where(subscribers.c.msisdn == m)).scalar_one(), write=False)
    assert failures == 3
    audited = hl.db.run_sync(lambda c: c.execute(select(func.count()).select_from(audit_log).where(
        audit_log.c.msisdn == m, audit_log.c.action == "password.verify")).scalar_one(), write=False)
    assert audited == 3
    with pytest.raises(PasswordLocked):
        await hl.bss.verify_password(m, DEFAULT_PASSWORD, actor=Actor("assistant", "subscriber"))
    assert len(evaluated) == 3


async def test_the_send_log_does_not_grow_without_bound(hl, clock):
    for n in (A, B, "13700137000"):
        await hl.codes.send(n, "verify", client=CLIENT)
    clock.advance(days=3)
    await hl.codes.send("13600136000", "verify", client=CLIENT)
    rows = hl.db.run_sync(lambda c: c.execute(select(otp_sends.c.msisdn)).scalars().all(), write=False)
    assert rows == ["13600136000"]
    assert await hl.codes.purge() >= 3   # the three expired codes
