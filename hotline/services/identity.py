"""Identity: one-time codes sent by SMS, one policy for every channel.

A code proves possession of one number for one purpose. It is bound to both (the digest covers the
number and the purpose), stored only as a salted HMAC, good for ``CodeLimits.ttl_s``, used once.

Why each rule:

- **One live code per number and purpose.** A code cannot be re-sent (only its digest is kept), so
  asking again within ``min_interval_s`` of the last send answers ``reused=True``: the code just sent
  is still the one to type, no SMS goes out and nothing is counted. That is the double click or the
  impatient "send it again" and needs no error. After that, a new code *replaces* the old one (which
  stops working) and counts toward the limits: a customer whose SMS got lost must not wait out the
  whole validity, and replacing keeps a single code to guess at any time.
- **Limits per number** (one a minute, five in a rolling hour, ten a calendar day) stop a number
  being flooded; **per client address** (twenty in a rolling hour) stop one client flooding many
  numbers. Both answer 429 with ``retry_after_s``.
- **A guess budget per number across codes and purposes** (five wrong a day): a new code does not
  give new guesses. At the budget the number is locked until the next day (the clock's time zone,
  Asia/Shanghai) and its live codes are voided; a locked number gets no new code either.
- **Counted atomically.** Every send and check first locks the number's row in ``otp_counters``
  (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's single writer transaction already excludes), and a
  send then the client's row (always in that order: no deadlock), so concurrent requests are
  serialised per number and per client and cannot exceed a limit or the budget.
- The SMS goes out through the :class:`~hotline.services.outbox.Outbox` inside the same transaction
  (``secret=True``): a refused or rolled-back send queues nothing, and the code is never logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hotline.domain.billing import Clock
from hotline.domain.errors import DomainError, InvalidInput
from hotline.domain.msisdn import mask_msisdn, normalize_msisdn
from hotline.store.sql.database import Database
from hotline.store.sql.tables import otp_codes, otp_counters, otp_sends

if TYPE_CHECKING:
    from hotline.services.outbox import Outbox

UTC = dt.UTC
SMS_SENDER = "10086"          # the port codes come from
CODE_DIGITS = 6
KEEP_SENDS = dt.timedelta(days=2)   # the send log is only needed for the rolling hour and the day
SWEEP = 16                          # stale send-log rows removed by each send
_CODE = re.compile(rf"\d{{{CODE_DIGITS}}}")

# What a code is for, as the SMS says it (zh, en). A purpose not listed here is a programming error.
PURPOSES: dict[str, tuple[str, str]] = {
    "verify": ("用于身份验证", "to verify your identity"),
    "desk": ("用于10086人工客服核实您的身份，请仅告知正在为您服务的10086客服",
             "for the 10086 agent serving you to verify your identity; tell it only to that agent"),
    "login": ("用于登录中国移动服务", "to sign in to China Mobile services"),
    "reset": ("用于重置服务密码", "to reset your service password"),
}
_SMS = ("【中国移动】您的验证码为{code}，{minutes}分钟内有效，{use}，切勿告诉他人。",
        "[China Mobile] Your code is {code}, valid for {minutes} minutes, {use}. Never tell it to anyone else.")


@dataclass(frozen=True)
class CodeLimits:
    """The one policy for codes, whoever sends them (小贝, the SMS hall, the desk, the IVR, the portal)."""

    ttl_s: int = 300              # a code is good for five minutes
    min_interval_s: int = 60      # one code a minute to a number
    per_hour: int = 5             # per number, rolling hour
    per_day: int = 10             # per number, calendar day
    per_client_hour: int = 20     # per client address, rolling hour, over all numbers
    wrong_per_day: int = 5        # wrong guesses per number per day, across codes, then locked until tomorrow


@dataclass(frozen=True)
class CodeSent:
    masked: str              # 138****8000
    expires_in_s: int        # how long the live code is still good
    reused: bool             # asked again within a minute: the code just sent stays the one to type, no SMS
    resend_in_s: int = 0     # when reused, the seconds before a new code can be asked for


class CodeError(DomainError):
    """A code was refused; nothing a guess could learn is in the message."""


class CodeTooSoon(CodeError):
    code = "otp_too_soon"
    status = 429


class CodeLimited(CodeError):
    code = "otp_rate_limited"
    status = 429


class CodeLocked(CodeError):
    code = "otp_locked"
    status = 403


class WrongCode(CodeError):
    code = "otp_wrong"
    status = 403


class CodeExpired(CodeError):
    code = "otp_expired"
    status = 400


class NoCodePending(CodeError):
    code = "otp_none"
    status = 400


class Codes:
    """Send and check one-time codes under one policy, counted atomically in the database."""

    def __init__(self, db: Database, clock: Clock, outbox: Outbox | None = None, *,
                 limits: CodeLimits = CodeLimits()) -> None:
        self.db = db
        self.clock = clock
        self.outbox = outbox
        self.limits = limits

    # ------------------------------------------------------------------ sending
    async def send(self, msisdn: str, purpose: str, *, client: str, lang: str = "zh") -> CodeSent:
        """Text a new code to ``msisdn`` for ``purpose``, within the limits (or say the last one still holds).

        ``client`` is the requester's address (an IP, ``desk:<agent>``…); empty means an internal caller
        not subject to the per-client limit. The caller decides whether the number may receive a code
        (a subscriber, the number the conversation is about).
        """
        number = normalize_msisdn(msisdn)
        _check_purpose(purpose)
        if self.outbox is None:
            raise RuntimeError("Codes needs an Outbox to deliver codes")
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        digest = _digest(number, purpose, code)
        use = PURPOSES[purpose][1 if lang.startswith("en") else 0]
        text = _SMS[1 if lang.startswith("en") else 0].format(code=code, minutes=self.limits.ttl_s // 60, use=use)
        return await self.db.run(self._send, number, purpose, (client or "")[:64], digest, text)

    def _send(self, conn: Connection, number: str, purpose: str, client: str, digest: str,
              text: str) -> CodeSent:
        lim = self.limits
        local = self.clock.now()
        now = local.astimezone(UTC)
        counter = self._lock(conn, "number", number, now)
        self._refuse_if_locked(counter, local)
        live = conn.execute(select(otp_codes).where(otp_codes.c.msisdn == number,
                                                    otp_codes.c.purpose == purpose)).first()
        if live is not None and _aware(live.expires_at) > now:
            age = (now - _aware(live.sent_at)).total_seconds()
            if age < lim.min_interval_s:
                return CodeSent(mask_msisdn(number), _seconds(_aware(live.expires_at) - now), True,
                                max(1, int(lim.min_interval_s - age)))
        sends = otp_sends.c
        conn.execute(delete(otp_sends).where(sends.msisdn == number, sends.sent_at < now - KEEP_SENDS))
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        hour_ago = now - dt.timedelta(hours=1)
        times = [_aware(t) for t in conn.execute(
            select(sends.sent_at).where(sends.msisdn == number, sends.sent_at >= min(day_start, hour_ago))
            .order_by(sends.sent_at)).scalars()]
        if times and (now - times[-1]).total_seconds() < lim.min_interval_s:
            wait = lim.min_interval_s - int((now - times[-1]).total_seconds())
            raise CodeTooSoon(f"验证码发送太频繁，请{wait}秒后再试。",
                              f"Codes are being asked for too often; try again in {wait} seconds.",
                              retry_after_s=wait)
        in_hour = [t for t in times if t > hour_ago]
        if len(in_hour) >= lim.per_hour:
            wait = _seconds(in_hour[-lim.per_hour] + dt.timedelta(hours=1) - now)
            raise _limited(wait, "该号码一小时内获取验证码次数已达上限",
                           "This number has had as many codes as allowed in an hour")
        if sum(1 for t in times if t >= day_start) >= lim.per_day:
            raise _limited(_seconds(_next_day(local) - local), "该号码今天获取验证码次数已达上限，请明天再试",
                           "This number has had as many codes as allowed today; try again tomorrow")
        if client:
            self._lock(conn, "client", client, now)
            n_client = conn.execute(select(func.count()).where(sends.client == client,
                                                               sends.sent_at > hour_ago)).scalar_one()
            if n_client >= lim.per_client_hour:
                oldest = conn.execute(
                    select(sends.sent_at).where(sends.client == client, sends.sent_at > hour_ago)
                    .order_by(sends.sent_at.desc()).offset(lim.per_client_hour - 1).limit(1)).scalar_one()
                raise _limited(_seconds(_aware(oldest) + dt.timedelta(hours=1) - now),
                               "当前网络获取验证码过于频繁", "Too many codes were asked for from this address")
        conn.execute(insert(otp_sends).values(msisdn=number, purpose=purpose, client=client or None, sent_at=now))
        self._sweep(conn, now)
        conn.execute(delete(otp_codes).where(otp_codes.c.msisdn == number,
                                             otp_codes.c.expires_at <= now))   # this number's stale codes
        conn.execute(delete(otp_codes).where(otp_codes.c.msisdn == number, otp_codes.c.purpose == purpose))
        expires = now + dt.timedelta(seconds=lim.ttl_s)
        conn.execute(insert(otp_codes).values(msisdn=number, purpose=purpose, digest=digest, client=client or None,
                                              sent_at=now, expires_at=expires))
        assert self.outbox is not None
        self.outbox.enqueue(conn, number, text, sender=SMS_SENDER, purpose="otp", secret=True)
        return CodeSent(mask_msisdn(number), lim.ttl_s, False)

    # ------------------------------------------------------------------ checking
    async def check(self, msisdn: str, purpose: str, code: str, *, client: str = "") -> None:
        """Accept the code sent to ``msisdn`` for ``purpose`` (then it is used up), or raise a ``CodeError``.

        A wrong code spends the number's daily guess budget; the lock is checked before the code is.
        """
        number = normalize_msisdn(msisdn)
        _check_purpose(purpose)
        typed = re.sub(r"\s", "", code or "")
        if not _CODE.fullmatch(typed):
            raise InvalidInput(f"请输入短信中的{CODE_DIGITS}位数字验证码。",
                               f"Enter the {CODE_DIGITS}-digit code from the SMS.")
        refusal = await self.db.run(self._check, number, purpose, typed)
        if refusal is not None:
            raise refusal   # after the counted guess is committed

    def _check(self, conn: Connection, number: str, purpose: str, typed: str) -> CodeError | None:
        local = self.clock.now()
        now = local.astimezone(UTC)
        counter = self._lock(conn, "number", number, now)
        self._refuse_if_locked(counter, local)
        live = conn.execute(select(otp_codes).where(otp_codes.c.msisdn == number,
                                                    otp_codes.c.purpose == purpose)).first()
        if live is None:
            raise NoCodePending("请先获取短信验证码。", "Ask for an SMS code first.")
        if _aware(live.expires_at) <= now:
            conn.execute(delete(otp_codes).where(otp_codes.c.msisdn == number, otp_codes.c.purpose == purpose))
            return CodeExpired("验证码已过期，请重新获取。", "The code has expired; ask for a new one.")
        if _matches(live.digest, number, purpose, typed):
            conn.execute(delete(otp_codes).where(otp_codes.c.msisdn == number, otp_codes.c.purpose == purpose))
            return None
        today = local.date()
        wrong = (counter.wrong if counter.day == today else 0) + 1
        conn.execute(update(otp_counters).where(otp_counters.c.scope == "number", otp_counters.c.subject == number)
                     .values(day=today, wrong=wrong, updated_at=now))
        left = self.limits.wrong_per_day - wrong
        if left <= 0:
            conn.execute(delete(otp_codes).where(otp_codes.c.msisdn == number))
            return _locked(local)
        return WrongCode(f"验证码不正确，今天还可以再试{left}次。",
                         f"That code is not right; {left} more tries today.", tries_left=left)

    async def locked(self, msisdn: str) -> bool:
        """Whether the number has spent today's guess budget (for channels that want to say so up front)."""
        number = normalize_msisdn(msisdn)
        local = self.clock.now()

        def job(conn: Connection) -> bool:
            row = conn.execute(select(otp_counters).where(otp_counters.c.scope == "number",
                                                          otp_counters.c.subject == number)).first()
            return row is not None and row.day == local.date() and row.wrong >= self.limits.wrong_per_day
        return await self.db.run(job, write=False)

    async def purge(self) -> int:
        """Delete expired codes, the send log past the day windows and idle counters (a maintenance job)."""
        now = self.clock.now().astimezone(UTC)

        def job(conn: Connection) -> int:
            n = conn.execute(delete(otp_codes).where(otp_codes.c.expires_at <= now)).rowcount or 0
            n += conn.execute(delete(otp_sends).where(otp_sends.c.sent_at < now - KEEP_SENDS)).rowcount or 0
            n += conn.execute(delete(otp_counters).where(otp_counters.c.updated_at < now - KEEP_SENDS)).rowcount or 0
            return n
        return await self.db.run(job)

    # ------------------------------------------------------------------ helpers
    def _lock(self, conn: Connection, scope: str, subject: str, now: dt.datetime) -> Row[Any]:
        """The counter row of ``scope``/``subject``, created if needed, locked for this transaction."""
        ins = pg_insert(otp_counters) if conn.dialect.name == "postgresql" else sqlite_insert(otp_counters)
        conn.execute(ins.values(scope=scope, subject=subject, wrong=0, updated_at=now)
                     .on_conflict_do_nothing(index_elements=["scope", "subject"]))
        q = select(otp_counters).where(otp_counters.c.scope == scope, otp_counters.c.subject == subject)
        if self.db.for_update:
            q = q.with_for_update()
        return conn.execute(q).one()

    def _sweep(self, conn: Connection, now: dt.datetime) -> None:
        """Delete a few stale send-log rows of any number: each send removes more than it adds, so the log
        stays bounded without a maintenance job. Rows another transaction holds are skipped, never waited on."""
        stale = (select(otp_sends.c.id).where(otp_sends.c.sent_at < now - KEEP_SENDS)
                 .order_by(otp_sends.c.id).limit(SWEEP))
        if self.db.for_update:
            stale = stale.with_for_update(skip_locked=True)
        ids = list(conn.execute(stale).scalars())
        if ids:
            conn.execute(delete(otp_sends).where(otp_sends.c.id.in_(ids)))

    def _refuse_if_locked(self, counter: Row[Any], local: dt.datetime) -> None:
        if counter.day == local.date() and counter.wrong >= self.limits.wrong_per_day:
            raise _locked(local)


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown code purpose {purpose!r} (one of {', '.join(PURPOSES)})")


def _digest(number: str, purpose: str, code: str) -> str:
    salt = secrets.token_hex(16)
    return f"{salt}${_mac(salt, number, purpose, code)}"


def _matches(stored: str, number: str, purpose: str, code: str) -> bool:
    salt, _, mac = stored.partition("$")
    return hmac.compare_digest(mac, _mac(salt, number, purpose, code))


def _mac(salt: str, number: str, purpose: str, code: str) -> str:
    return hmac.new(salt.encode(), f"{number}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def _locked(local: dt.datetime) -> CodeLocked:
    return CodeLocked("验证码错误次数过多，该号码今天已暂停短信验证，请明天再试，或拨打10086由人工客服协助。",
                      "Too many wrong codes: SMS codes for this number are paused until tomorrow. "
                      "Try again tomorrow, or call 10086 for an agent.",
                      retry_after_s=_seconds(_next_day(local) - local))


def _limited(wait: int, zh: str, en: str) -> CodeLimited:
    return CodeLimited(f"{zh}，请{_wait_zh(wait)}后再试。" if "明天" not in zh else f"{zh}。",
                       f"{en}; try again in {_wait_en(wait)}." if "tomorrow" not in en else f"{en}.",
                       retry_after_s=wait)


def _wait_zh(s: int) -> str:
    return f"{s}秒" if s < 60 else f"{-(-s // 60)}分钟"


def _wait_en(s: int) -> str:
    return f"{s} seconds" if s < 60 else f"{-(-s // 60)} minutes"


def _next_day(local: dt.datetime) -> dt.datetime:
    return (local + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def _seconds(delta: dt.timedelta) -> int:
    return max(1, int(-(-delta.total_seconds() // 1)))


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
