"""Desk accounts: the people who work in the agent desktop, their roles, password logins and sessions.

A session is a random token handed to the browser (an HttpOnly cookie) or an API client (a bearer
token); the database keeps only its SHA-256, so reading the table opens no session. Sessions last 8
hours, end at logout, and end when the account is disabled or its password changes. Five wrong
passwords for a login (fifty from one client address) lock it for 15 minutes, which makes guessing
passwords over the network useless. Each attempt is counted *before* its password is checked, in one
transaction with the lock check, so concurrent guesses cannot be evaluated past the limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import math
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, case, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hotline.domain.billing import Clock
from hotline.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from hotline.domain.password import hash_password, verify_password
from hotline.services import audit
from hotline.store.sql.database import Database
from hotline.store.sql.tables import desk_agents, desk_login_attempts, desk_sessions

if TYPE_CHECKING:
    from hotline.routing.model import AgentProfile

ROLES = ("agent", "supervisor", "admin")          # each role can do what the ones before it can
CHANNELS = ("voice", "chat", "video", "callback", "sms")
DEFAULT_CAPACITY = {"voice": 1, "chat": 3, "video": 1, "callback": 1, "sms": 3}
SESSION_HOURS = 8
MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 50    # one address may be a whole call centre behind NAT
LOCK_MINUTES = 15
MIN_PASSWORD = 8
DEMO_AGENTS = Path(__file__).with_name("data") / "demo_agents.toml"
T = TypeVar("T")
LoginKeys = list[tuple[str, int]]   # (attempt key, its failure limit); an alias: ``Accounts.list`` shadows list


class LoginFailed(DomainError):
    code = "login_failed"
    status = 401


class LoginLocked(DomainError):
    code = "login_locked"
    status = 429


class AgentExists(Conflict):
    code = "agent_exists"


class AgentNotFound(NotFound):
    code = "agent_not_found"


@dataclass(frozen=True)
class Agent:
    """A desk account as the desk sees it (never its password hash)."""

    login: str
    name: str
    role: str
    skills: dict[str, int] = field(default_factory=dict)
    languages: tuple[str, ...] = ("zh",)
    capacity: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    active: bool = True

    def has_role(self, role: str) -> bool:
        """Whether this account may act as ``role`` (an admin may do what a supervisor may, and so on)."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def profile(self) -> AgentProfile:
        """What the router needs to route to this agent."""
        from hotline.routing.model import AgentProfile
        return AgentProfile(agent_id=self.login, name=self.name, skills=dict(self.skills),
                            languages=tuple(self.languages), capacity=dict(self.capacity))

    def as_dict(self) -> dict[str, Any]:
        return {"login": self.login, "name": self.name, "role": self.role, "skills": dict(self.skills),
                "languages": list(self.languages), "capacity": dict(self.capacity), "active": self.active}


@dataclass(frozen=True)
class Session:
    token: str            # give it to the client once; only its hash is stored
    agent: Agent
    expires_at: dt.datetime


class Accounts:
    """Agent accounts and sessions over the SQL database."""

    def __init__(self, db: Database, clock: Clock | None = None, *, kdf_n: int = 2**14,
                 session_hours: float = SESSION_HOURS, max_failures: int = MAX_FAILURES,
                 lock_minutes: float = LOCK_MINUTES, max_address_failures: int = MAX_ADDRESS_FAILURES) -> None:
        self.db = db
        self.clock = clock or Clock()
        self.kdf_n = kdf_n
        self.session_ttl = dt.timedelta(hours=session_hours)
        self.max_failures = max_failures
        self.max_address_failures = max_address_failures
        self.lock = dt.timedelta(minutes=lock_minutes)
        self._dummy_hash: str | None = None

    def _now(self) -> dt.datetime:
        return self.clock.now().astimezone(dt.UTC)   # stored as UTC on both databases

    # ------------------------------------------------------------------ accounts
    async def create(self, login: str, name: str, password: str, role: str = "agent", *,
                     skills: dict[str, int] | None = None, languages: tuple[str, ...] | list[str] = ("zh",),
                     capacity: dict[str, int] | None = None, actor: str = "system") -> Agent:
        agent = _validated(login, name, role, skills, languages, capacity)
        check_password(password)
        pw_hash = await asyncio.to_thread(hash_password, password, self.kdf_n)
        now = self._now()

        def job(conn: Connection) -> Agent:
            if conn.execute(select(desk_agents.c.login).where(desk_agents.c.login == login)).first():
                raise AgentExists(f"工号 {login} 已存在。", f"The login {login} already exists.", login=login)
            conn.execute(insert(desk_agents).values(_row(agent, pw_hash, now)))
            _audit(conn, self.clock.now(), actor, "desk_agent_create", f"{login} role={role}")
            return agent
        return await self.db.run(job)

    async def get(self, login: str) -> Agent | None:
        def job(conn: Connection) -> Agent | None:
            row = conn.execute(select(desk_agents).where(desk_agents.c.login == login)).first()
            return _agent(row) if row else None
        return await self.db.run(job, write=False)

    async def list(self) -> list[Agent]:
        def job(conn: Connection) -> list[Agent]:
            return [_agent(r) for r in conn.execute(select(desk_agents).order_by(desk_agents.c.login))]
        return await self.db.run(job, write=False)

    async def set_active(self, login: str, active: bool, *, actor: str = "system") -> Agent:
        """Enable or disable an account; disabling ends its sessions at once."""
        now = self._now()

        def job(conn: Connection) -> Agent:
            done = conn.execute(update(desk_agents).where(desk_agents.c.login == login)
                                .values(active=active, failed_logins=0, locked_until=None)).rowcount
            if not done:
                raise AgentNotFound(f"没有工号 {login}。", f"No agent {login}.", login=login)
            if not active:
                _revoke(conn, login, now)
            _forget_attempts(conn, login)
            _audit(conn, self.clock.now(), actor, "desk_agent_enable" if active else "desk_agent_disable", login)
            return _agent(conn.execute(select(desk_agents).where(desk_agents.c.login == login)).one())
        return await self.db.run(job)

    async def set_password(self, login: str, password: str, *, actor: str = "system") -> None:
        """Set a new password; every session of the account ends (whoever knew the old one is out)."""
        check_password(password)
        pw_hash = await asyncio.to_thread(hash_password, password, self.kdf_n)
        now = self._now()

        def job(conn: Connection) -> None:
            done = conn.execute(update(desk_agents).where(desk_agents.c.login == login)
                                .values(password_hash=pw_hash, failed_logins=0, locked_until=None)).rowcount
            if not done:
                raise AgentNotFound(f"没有工号 {login}。", f"No agent {login}.", login=login)
            _revoke(conn, login, now)
            _forget_attempts(conn, login)
            _audit(conn, self.clock.now(), actor, "desk_password_set", login)
        await self.db.run(job)

    # ------------------------------------------------------------------ sessions
    async def login(self, login: str, password: str, *, address: str | None = None) -> Session:
        """A new session for the right password; wrong ones count towards a lock of the login and of the
        client ``address``. While locked, even the right password is refused without being checked."""
        login = (login or "").strip()[:32]
        now = self._now()
        keys = [(f"login:{login}", self.max_failures)]
        if address:
            keys.append((f"addr:{address[:64]}", self.max_address_failures))
        wait = await self._retrying(self._reserve, keys, now)
        if wait is not None:
            raise _locked(wait)     # not audited one by one: a flood of guesses would flood the audit log

        def read(conn: Connection) -> Any:
            return conn.execute(select(desk_agents).where(desk_agents.c.login == login)).first()
        row = await self.db.run(read, write=False)
        # Unknown logins cost the same scrypt as known ones: timing tells nothing about which exist.
        stored = row.password_hash if row is not None else self._dummy()
        ok = await asyncio.to_thread(verify_password, password or "", stored)
        if row is None or not row.active or not ok:
            if await self.db.run(self._failed, login, keys, now):
                raise _locked(self.lock)
            raise LoginFailed("工号或密码错误，或账号已停用。", "Wrong login or password, or the account is disabled.")
        token = secrets.token_urlsafe(32)
        expires = now + self.session_ttl

        def start(conn: Connection) -> None:
            _settle(conn, keys, now)
            conn.execute(delete(desk_sessions).where(desk_sessions.c.login == login,   # old ones, not kept forever
                                                     desk_sessions.c.expires_at < now - dt.timedelta(days=30)))
            conn.execute(insert(desk_sessions).values(token_hash=token_hash(token), login=login, created_at=now,
                                                      expires_at=expires))
            _audit(conn, self.clock.now(), login, "desk_login", "")
        await self.db.run(start)
        return Session(token, _agent(row), expires)

    def _reserve(self, conn: Connection, keys: LoginKeys, now: dt.datetime) -> dt.timedelta | None:
        """Count this attempt against every key before the password is looked at; how long to wait
        instead when a key is locked or its budget is taken (by failures or by attempts in flight)."""
        rows = []
        for key, limit in keys:
            q = select(desk_login_attempts).where(desk_login_attempts.c.key == key)
            row = conn.execute(q.with_for_update() if self.db.for_update else q).first()
            if row is None:
                conn.execute(insert(desk_login_attempts).values(key=key, failures=0, updated_at=now))
                failures, locked = 0, None
            else:
                failures, locked = row.failures, _aware(row.locked_until) if row.locked_until else None
                if locked is not None and locked > now:
                    return locked - now
                if locked is not None or now - _aware(row.updated_at) > self.lock:
                    failures, locked = 0, None        # the lock is over, or the failures are old
            if failures >= limit:
                return self.lock                      # attempts in flight hold the whole budget
            rows.append((key, failures))
        for key, failures in rows:
            conn.execute(update(desk_login_attempts).where(desk_login_attempts.c.key == key)
                         .values(failures=failures + 1, locked_until=None, updated_at=now))
        return None

    def _failed(self, conn: Connection, login: str, keys: LoginKeys, now: dt.datetime) -> bool:
        """A wrong password (already counted): lock the keys it filled; whether the login is now locked."""
        _audit(conn, self.clock.now(), login or "-", "desk_login_failed", "")
        locked_login = False
        for key, limit in keys:
            failures = conn.execute(select(desk_login_attempts.c.failures)
                                    .where(desk_login_attempts.c.key == key)).scalar() or 0
            if failures >= limit:
                conn.execute(update(desk_login_attempts).where(desk_login_attempts.c.key == key)
                             .values(locked_until=now + self.lock, updated_at=now))
                _audit(conn, self.clock.now(), login or "-", "desk_login_locked", f"{key} {failures} failures")
                locked_login = locked_login or key.startswith("login:")
        return locked_login

    async def _retrying(self, job: Callable[..., T], *args: Any) -> T:
        for _ in range(3):
            try:
                return await self.db.run(job, *args)
            except IntegrityError:
                continue   # a racing first attempt created the row: it exists now
        return await self.db.run(job, *args)

    async def resolve(self, token: str | None) -> Agent | None:
        """The active agent a live session token belongs to, or None (expired, revoked, disabled)."""
        if not token:
            return None
        now = self._now()

        def job(conn: Connection) -> Agent | None:
            row = conn.execute(select(desk_agents).join(desk_sessions, desk_sessions.c.login == desk_agents.c.login)
                               .where(desk_sessions.c.token_hash == token_hash(token),
                                      desk_sessions.c.revoked_at.is_(None),
                                      desk_sessions.c.expires_at > now,
                                      desk_agents.c.active.is_(True))).first()
            return _agent(row) if row else None
        return await self.db.run(job, write=False)

    async def logout(self, token: str | None) -> str | None:
        """End the session; the login it belonged to (None if it was not live)."""
        if not token:
            return None
        now = self._now()

        def job(conn: Connection) -> str | None:
            login = conn.execute(select(desk_sessions.c.login).where(
                desk_sessions.c.token_hash == token_hash(token), desk_sessions.c.revoked_at.is_(None))).scalar()
            if login is None:
                return None
            conn.execute(update(desk_sessions).where(desk_sessions.c.token_hash == token_hash(token))
                         .values(revoked_at=now))
            _audit(conn, self.clock.now(), login, "desk_logout", "")
            return login
        return await self.db.run(job)

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(secrets.token_hex(8), self.kdf_n)
        return self._dummy_hash


# ---------------------------------------------------------------------- demo agents

def seed_demo_agents(db: Database, *, kdf_n: int = 2**14, clock: Clock | None = None,
                     path: Path = DEMO_AGENTS) -> int:
    """Create the demo agents of ``data/demo_agents.toml`` that do not exist yet; how many were created.

    Idempotent: existing accounts (and their changed passwords) are left alone.
    """
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    now = (clock or Clock()).now().astimezone(dt.UTC)
    passwords = data["passwords"]
    wanted = [_validated(a["login"], a["name"], a.get("role", "agent"), a.get("skills"),
                         a.get("languages", ["zh"]), a.get("capacity")) for a in data["agents"]]

    def existing(conn: Connection) -> set[str]:
        return set(conn.execute(select(desk_agents.c.login)).scalars())
    have = db.run_sync(existing, write=False)
    todo = [(a, hash_password(passwords[a.role], kdf_n)) for a in wanted if a.login not in have]

    def job(conn: Connection) -> int:
        present = existing(conn)
        n = 0
        for agent, pw_hash in todo:
            if agent.login not in present:
                conn.execute(insert(desk_agents).values(_row(agent, pw_hash, now)))
                n += 1
        return n
    return db.run_sync(job) if todo else 0


# ---------------------------------------------------------------------- helpers

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    """Desk passwords: at least 8 characters, not all one kind (digits only, letters only)."""
    if len(password or "") < MIN_PASSWORD or password.isdigit() or password.isalpha():
        raise InvalidInput(f"密码至少{MIN_PASSWORD}位，且须同时包含字母和数字或符号。",
                           f"A password needs at least {MIN_PASSWORD} characters, mixing letters with digits "
                           "or symbols.")


def _validated(login: str, name: str, role: str, skills: dict[str, int] | None,
               languages: Any, capacity: dict[str, int] | None) -> Agent:
    if not login or len(login) > 32 or not all(c.isalnum() or c in "._-" for c in login) or not login.isascii():
        raise InvalidInput("工号须为1-32位字母、数字或 . _ -。", "A login is 1-32 letters, digits or . _ -.")
    if not name or len(name) > 64:
        raise InvalidInput("姓名须为1-64个字符。", "A name is 1 to 64 characters.")
    if role not in ROLES:
        raise InvalidInput(f"角色须为 {'/'.join(ROLES)}。", f"The role must be one of {', '.join(ROLES)}.")
    skills = {str(k): int(v) for k, v in (skills or {}).items()}
    if any(not 1 <= v <= 10 for v in skills.values()):
        raise InvalidInput("技能等级须为1-10。", "Skill levels are 1 to 10.")
    cap = dict(DEFAULT_CAPACITY)
    cap.update({str(k): int(v) for k, v in (capacity or {}).items()})
    if any(k not in CHANNELS or not 0 <= v <= 20 for k, v in cap.items()):
        raise InvalidInput("容量须为各渠道0-20。", f"Capacity is 0 to 20 per channel ({', '.join(CHANNELS)}).")
    langs = tuple(str(x) for x in (languages or ("zh",)))
    return Agent(login, name, role, skills, langs, cap, True)


def _row(agent: Agent, pw_hash: str, now: dt.datetime) -> dict[str, Any]:
    return {"login": agent.login, "name": agent.name, "role": agent.role, "password_hash": pw_hash,
            "skills": agent.skills, "languages": list(agent.languages), "capacity": agent.capacity,
            "active": True, "failed_logins": 0, "locked_until": None, "created_at": now}


def _agent(row: Any) -> Agent:
    return Agent(row.login, row.name, row.role, dict(row.skills or {}), tuple(row.languages or ("zh",)),
                 dict(row.capacity or DEFAULT_CAPACITY), bool(row.active))


def _locked(remaining: dt.timedelta) -> LoginLocked:
    minutes = max(1, math.ceil(remaining.total_seconds() / 60))
    return LoginLocked(f"登录失败次数过多，账号已锁定，请{minutes}分钟后再试。",
                       f"Too many failed logins: the account is locked, try again in {minutes} minutes.",
                       retry_after_s=int(remaining.total_seconds()))


def _revoke(conn: Connection, login: str, now: dt.datetime) -> None:
    conn.execute(update(desk_sessions).where(desk_sessions.c.login == login, desk_sessions.c.revoked_at.is_(None))
                 .values(revoked_at=now))


def _forget_attempts(conn: Connection, login: str) -> None:
    """An admin's reset or re-enable unlocks the login (its address keeps its own count)."""
    conn.execute(delete(desk_login_attempts).where(desk_login_attempts.c.key == f"login:{login}"))


def _settle(conn: Connection, keys: LoginKeys, now: dt.datetime) -> None:
    """A right password: the login's count starts again; the address gives back this attempt only."""
    for key, _ in keys:
        values: dict[str, Any] = ({"failures": 0, "locked_until": None} if key.startswith("login:") else
                                  {"failures": case((desk_login_attempts.c.failures > 0,
                                                     desk_login_attempts.c.failures - 1), else_=0)})
        conn.execute(update(desk_login_attempts).where(desk_login_attempts.c.key == key)
                     .values(updated_at=now, **values))


def _audit(conn: Connection, at: dt.datetime, actor: str, action: str, detail: str) -> None:
    """One audit row, timed like the rest of audit_log (the operator's clock)."""
    audit.record(conn, at=at, channel="desk", actor=actor, action=action, detail={"text": detail} if detail else {})


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
