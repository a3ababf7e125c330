"""Desk accounts and sessions on a real database (SQLite and PostgreSQL): passwords are hashed, sessions
expire and end at logout, repeated wrong passwords lock the account for a while, roles nest."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from conftest import TEST_KDF_N
from hotline.desk.accounts import (
    DEMO_AGENTS,
    Accounts,
    AgentExists,
    LoginFailed,
    LoginLocked,
    seed_demo_agents,
    token_hash,
)
from hotline.domain.billing import FixedClock
from hotline.domain.errors import InvalidInput
from hotline.store.sql import migrate
from hotline.store.sql.database import Database
from hotline.store.sql.tables import audit_log, desk_agents, desk_sessions

PW = "s3cret-pass"


@pytest.fixture
def db(database_url):
    database = Database(database_url, threads=2)
    migrate.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def accounts(db, clock):
    return Accounts(db, clock, kdf_n=TEST_KDF_N)


def rows(db, query):
    return db.run_sync(lambda c: [r._mapping for r in c.execute(query)], write=False)


async def test_a_password_is_stored_hashed_and_logs_in(accounts, db):
    agent = await accounts.create("a1", "王芳", PW, skills={"billing": 8}, languages=["zh", "en"],
                                  capacity={"chat": 2})
    assert agent.capacity["chat"] == 2 and agent.capacity["voice"] == 1
    stored = rows(db, select(desk_agents))[0]
    assert stored["password_hash"].startswith("scrypt$") and PW not in stored["password_hash"]

    session = await accounts.login("a1", PW)
    assert session.agent.name == "王芳" and session.agent.languages == ("zh", "en")
    assert (await accounts.resolve(session.token)).login == "a1"
    # Only the token's hash is kept.
    kept = rows(db, select(desk_sessions))[0]
    assert kept["token_hash"] == token_hash(session.token) and session.token not in str(dict(kept))
    profile = session.agent.profile()
    assert profile.agent_id == "a1" and profile.skills == {"billing": 8} and profile.capacity["chat"] == 2
    actions = [r["action"] for r in rows(db, select(audit_log).order_by(audit_log.c.id))]
    assert actions == ["desk_agent_create", "desk_login"]
    assert all(PW not in str(dict(r)) for r in rows(db, select(audit_log)))


async def test_wrong_passwords_unknown_logins_and_weak_passwords_are_refused(accounts):
    await accounts.create("a1", "王芳", PW)
    with pytest.raises(LoginFailed) as err:
        await accounts.login("a1", "wrong-pass1")
    assert "工号或密码错误" in err.value.message_zh
    with pytest.raises(LoginFailed):
        await accounts.login("nobody", PW)
    with pytest.raises(AgentExists):
        await accounts.create("a1", "又一个", PW)
    for weak in ("short1", "12345678", "abcdefgh"):
        with pytest.raises(InvalidInput):
            await accounts.create("a2", "李娜", weak)
    with pytest.raises(InvalidInput):
        await accounts.create("a2", "李娜", PW, role="root")
    assert await accounts.resolve("not-a-token") is None and await accounts.resolve(None) is None


async def test_sessions_expire_after_eight_hours_and_logout_revokes(accounts, clock: FixedClock):
    await accounts.create("a1", "王芳", PW)
    first = await accounts.login("a1", PW)
    second = await accounts.login("a1", PW)
    clock.advance(hours=7, minutes=59)
    assert await accounts.resolve(first.token) is not None
    assert await accounts.logout(first.token) == "a1"
    assert await accounts.resolve(first.token) is None          # logged out
    assert await accounts.logout(first.token) is None           # twice is harmless
    assert await accounts.resolve(second.token) is not None     # the other session lives on
    clock.advance(minutes=2)
    assert await accounts.resolve(second.token) is None         # expired


async def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(accounts, clock: FixedClock):
    await accounts.create("a1", "王芳", PW)
    for _ in range(4):
        with pytest.raises(LoginFailed):
            await accounts.login("a1", "wrong-pass1")
    with pytest.raises(LoginLocked) as err:
        await accounts.login("a1", "wrong-pass1")
    assert "15分钟" in err.value.message_zh and "15 minutes" in err.value.message_en
    clock.advance(minutes=10)
    with pytest.raises(LoginLocked) as err:                     # even the right password waits
        await accounts.login("a1", PW)
    assert "5分钟" in err.value.message_zh
    clock.advance(minutes=5, seconds=1)
    assert (await accounts.login("a1", PW)).agent.login == "a1"
    # A success clears the count: four more failures do not lock.
    for _ in range(4):
        with pytest.raises(LoginFailed):
            await accounts.login("a1", "wrong-pass1")
    await accounts.login("a1", PW)


async def test_disabling_an_account_ends_its_sessions(accounts):
    await accounts.create("a1", "王芳", PW)
    session = await accounts.login("a1", PW)
    assert not (await accounts.set_active("a1", False, actor="admin")).active
    assert await accounts.resolve(session.token) is None
    with pytest.raises(LoginFailed):
        await accounts.login("a1", PW)
    await accounts.set_active("a1", True, actor="admin")
    assert (await accounts.login("a1", PW)).agent.active


async def test_roles_nest(accounts):
    agent = await accounts.create("a1", "王芳", PW)
    sup = await accounts.create("s1", "孙主管", PW, role="supervisor")
    admin = await accounts.create("root", "管理员", PW, role="admin")
    assert agent.has_role("agent") and not agent.has_role("supervisor")
    assert sup.has_role("supervisor") and not sup.has_role("admin")
    assert admin.has_role("agent") and admin.has_role("supervisor") and admin.has_role("admin")


async def test_demo_agents_are_seeded_once_with_their_documented_passwords(db, clock):
    assert seed_demo_agents(db, kdf_n=TEST_KDF_N, clock=clock) >= 12
    assert seed_demo_agents(db, kdf_n=TEST_KDF_N, clock=clock) == 0
    accounts = Accounts(db, clock, kdf_n=TEST_KDF_N)
    agents = {a.login: a for a in await accounts.list()}
    roles = {a.role for a in agents.values()}
    assert roles == {"agent", "supervisor", "admin"}
    assert any("vip" in a.skills for a in agents.values() if a.role == "agent")
    assert any("en" in a.languages for a in agents.values())
    documented = DEMO_AGENTS.read_text()
    for login, password in (("a1001", "desk10086!"), ("s2001", "super10086!"), ("admin", "admin10086!")):
        assert password in documented
        assert (await accounts.login(login, password)).agent.login == login


async def test_a_new_password_ends_every_session_of_the_account(accounts):
    await accounts.create("a1", "王芳", PW)
    desk, phone = await accounts.login("a1", PW), await accounts.login("a1", PW)
    await accounts.set_password("a1", "n3w-secret-pass", actor="admin")
    assert await accounts.resolve(desk.token) is None and await accounts.resolve(phone.token) is None
    with pytest.raises(LoginFailed):
        await accounts.login("a1", PW)
    assert (await accounts.login("a1", "n3w-secret-pass")).agent.login == "a1"


async def test_an_address_is_locked_after_many_failures_whatever_the_logins(db, clock: FixedClock):
    accounts = Accounts(db, clock, kdf_n=TEST_KDF_N, max_address_failures=3)
    await accounts.create("a1", "王芳", PW)
    for i in range(3):
        with pytest.raises(LoginFailed):
            await accounts.login(f"nobody{i}", "wrong-pass1", address="203.0.113.7")
    with pytest.raises(LoginLocked):                       # the right password too, from that address
        await accounts.login("a1", PW, address="203.0.113.7")
    assert (await accounts.login("a1", PW, address="198.51.100.9")).agent.login == "a1"
    clock.advance(minutes=15, seconds=1)
    assert (await accounts.login("a1", PW, address="203.0.113.7")).agent.login == "a1"
    # After the lock the count starts afresh: one wrong password is just wrong.
    with pytest.raises(LoginFailed):
        await accounts.login("a1", "wrong-pass1", address="203.0.113.7")
