"""The Outbox: every SMS the system sends on its own (codes, notices, results of an agent's action).

Why one owner: a message is queued inside the transaction that decided to send it (a code is stored
with its digest, a notice with the order), so a rolled-back transaction sends nothing and a committed
one is never lost. Delivery happens afterwards, away from the request:

- **With an SMS gateway** (Kannel's sendsms, :class:`hotline.channels.sms.kannel.SendSmsClient`, the
  client the SMS hall already uses) a background loop (:meth:`Outbox.run`, started by the server)
  claims due messages, sends them with bounded concurrency, and retries failures with backoff:
  ``queued`` → ``sent`` or, after ``outbox_max_attempts``, ``failed``. A claim is a lease, so a worker
  that dies mid-send leaves its messages to be retried by another (at least once, never lost).
- **Embedded default** (no gateway): the message is delivered, in the same transaction, to a local
  *demo inbox* (``demo_inbox``), what the phone would show, codes included: ``hotline outbox`` prints
  it. It is the only place a code is kept in clear, and it never exists in production mode.

Secrets (``secret=True``: codes, passwords) are never logged; once delivered, the system's own record
keeps only a redacted copy. Everything older than ``outbox_retention_days`` is purged by the loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, delete, insert, or_, select, update

from hotline.channels.sms import segments
from hotline.channels.sms.message import OutboundSms
from hotline.domain.billing import Clock
from hotline.domain.msisdn import mask_msisdn
from hotline.services.sealed import Sealer, is_sealed
from hotline.store.sql.database import Database
from hotline.store.sql.tables import demo_inbox, sms_outbox

log = logging.getLogger(__name__)

UTC = dt.UTC
QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
_SECRET_DIGITS = re.compile(r"\d{4,}")
_SECRET_TOKEN = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{6,}(?![A-Za-z0-9])")


class Gateway(Protocol):
    """Where messages leave the system (Kannel's :class:`SendSmsClient` has this shape)."""

    async def send(self, sms: OutboundSms) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class OutboxParams:
    """The Outbox's settings (a subset of :class:`hotline.config.Settings`, which also fits)."""

    outbox_gateway: str = "demo"            # demo | kannel
    outbox_retention_days: float = 7.0
    outbox_concurrency: int = 16
    outbox_max_attempts: int = 5
    outbox_backoff: float = 2.0              # seconds before the first retry, doubled each time
    outbox_interval: float = 0.5             # seconds between delivery passes when idle
    outbox_lease: float = 60.0               # a claim older than this is retried by any worker
    kannel_sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    kannel_username: str = "hotline"
    kannel_password: str = ""
    kannel_enabled: bool = False


def redact(text: str, keep: str = "") -> str:
    """``text`` with what could be a code or password masked (digit runs, alphanumeric tokens with digits).

    ``keep`` (the sender port, e.g. 10086) stays readable so the redacted copy still says what was sent.
    """
    def mask(m: re.Match[str]) -> str:
        return m.group(0) if m.group(0) == keep else "*" * len(m.group(0))
    return _SECRET_TOKEN.sub(mask, _SECRET_DIGITS.sub(mask, text))


def gateway_kind(settings: Any) -> str:
    """``kannel`` or ``demo``: explicit ``outbox_gateway``, else Kannel when the Kannel channel is enabled."""
    kind = (getattr(settings, "outbox_gateway", "") or "").strip().lower()
    if kind:
        return kind
    return "kannel" if getattr(settings, "kannel_enabled", False) else "demo"


class Outbox:
    """Queue, deliver, redact and purge the system's outbound SMS; read the embedded demo inbox."""

    def __init__(self, db: Database, clock: Clock, settings: Any = None, *, gateway: Gateway | None = None,
                 sealer: Sealer | None = None) -> None:
        s = settings if settings is not None else OutboxParams()
        self.sealer = sealer      # a secret waiting for the gateway is kept sealed, never in clear
        self.db = db
        self.clock = clock
        self.kind = gateway_kind(s)
        if self.kind not in ("demo", "kannel"):
            raise ValueError(f"unknown outbox gateway {self.kind!r} (demo or kannel)")
        self.retention = dt.timedelta(days=float(getattr(s, "outbox_retention_days", 7.0)))
        self.concurrency = int(getattr(s, "outbox_concurrency", 16))
        self.max_attempts = int(getattr(s, "outbox_max_attempts", 5))
        self.backoff = float(getattr(s, "outbox_backoff", 2.0))
        self.interval = float(getattr(s, "outbox_interval", 0.5))
        self.lease = dt.timedelta(seconds=float(getattr(s, "outbox_lease", 60.0)))
        self._settings = s
        self._gateway = gateway
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def demo(self) -> bool:
        """Messages go to the local demo inbox (the embedded default), not to a gateway."""
        return self.kind == "demo"

    @property
    def gateway(self) -> Gateway:
        """The SMS gateway's client, made on first use (Kannel's sendsms; its own retries off: ours are durable)."""
        if self._gateway is None:
            from hotline.channels.sms.kannel import SendSmsClient
            s = self._settings
            self._gateway = SendSmsClient(s.kannel_sendsms_url, s.kannel_username, s.kannel_password,
                                          retries=0, connections=self.concurrency)
        return self._gateway

    def _now(self) -> dt.datetime:
        return self.clock.now().astimezone(UTC)

    # ------------------------------------------------------------------ queueing
    def enqueue(self, conn: Connection, msisdn: str, text: str, *, sender: str = "10086",
                purpose: str = "notice", secret: bool = False) -> int:
        """Queue one message inside the caller's transaction; returns its id. Rolled back → never sent.

        In the embedded default the message is delivered to the demo inbox in this same transaction.
        """
        if not text.strip():
            raise ValueError("an SMS needs text")
        now = self._now()
        values: dict[str, Any] = {"msisdn": msisdn, "sender": sender, "purpose": purpose[:16], "secret": secret,
                                  "created_at": now, "attempts": 0}
        if self.demo:
            values.update(text=redact(text, sender) if secret else text, redacted=secret, status=SENT,
                          sent_at=now, attempts=1)
        else:
            kept = self.sealer.seal(text) if secret and self.sealer is not None else text
            values.update(text=kept, redacted=False, status=QUEUED, next_attempt_at=now)
        key = conn.execute(insert(sms_outbox).values(**values)).inserted_primary_key
        assert key is not None
        new_id = int(key[0])
        if self.demo:
            conn.execute(insert(demo_inbox).values(outbox_id=new_id, msisdn=msisdn, sender=sender, text=text,
                                                   delivered_at=now))
        else:
            self._poke()
        return new_id

    async def send(self, msisdn: str, text: str, *, sender: str = "10086", purpose: str = "notice",
                   secret: bool = False) -> int:
        """Queue one message in its own transaction; returns its id."""
        return await self.db.run(lambda conn: self.enqueue(conn, msisdn, text, sender=sender, purpose=purpose,
                                                           secret=secret))

    def _poke(self) -> None:
        """Wake the delivery loop (callable from the database's worker threads)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    # ------------------------------------------------------------------ delivery
    def _claim(self, conn: Connection, now: dt.datetime, limit: int) -> list[Any]:
        t = sms_outbox
        q = (select(t.c.id, t.c.msisdn, t.c.sender, t.c.text, t.c.secret, t.c.attempts)
             .where(or_(t.c.status == QUEUED, t.c.status == SENDING), t.c.next_attempt_at <= now)
             .order_by(t.c.id).limit(limit))
        if self.db.for_update:
            q = q.with_for_update(skip_locked=True)
        rows = list(conn.execute(q).all())
        if rows:
            conn.execute(update(t).where(t.c.id.in_([r.id for r in rows]))
                         .values(status=SENDING, next_attempt_at=now + self.lease))
        return rows

    def _settle(self, conn: Connection, row: Any, problem: str | None, now: dt.datetime) -> None:
        t = sms_outbox
        attempts = row.attempts + 1
        if problem is None:
            values: dict[str, Any] = {"status": SENT, "sent_at": now, "attempts": attempts, "error": None,
                                      "next_attempt_at": None}
            if row.secret:
                values.update(text=redact(self._clear(row.text), row.sender), redacted=True)
        elif attempts >= self.max_attempts:
            values = {"status": FAILED, "attempts": attempts, "error": problem[:200], "next_attempt_at": None}
            if row.secret:   # a code that will never arrive is not kept either
                values.update(text=redact(self._clear(row.text), row.sender), redacted=True)
        else:
            delay = dt.timedelta(seconds=min(self.backoff * 2 ** (attempts - 1), 600.0))
            values = {"status": QUEUED, "attempts": attempts, "error": problem[:200], "next_attempt_at": now + delay}
        conn.execute(update(t).where(t.c.id == row.id, t.c.status == SENDING).values(**values))

    def _clear(self, text: str) -> str:
        if self.sealer is None or not is_sealed(text):
            return text
        return self.sealer.open(text) or ""

    async def _deliver_one(self, row: Any, slots: asyncio.Semaphore) -> bool:
        async with slots:
            text = self._clear(row.text)
            seg = segments.split(text)
            problem: str | None = None
            try:
                await self.gateway.send(OutboundSms(row.sender, row.msisdn, text, seg.parts, seg.encoding))
            except Exception as exc:   # any failure is retried later; the loop must go on
                problem = f"{type(exc).__name__}: {exc}"
                log.warning("outbox: message %s to %s not delivered (attempt %d): %s", row.id,
                            mask_msisdn(row.msisdn), row.attempts + 1, type(exc).__name__)
        now = self._now()
        await self.db.run(self._settle, row, problem, now)
        return problem is None

    async def deliver_due(self, limit: int | None = None) -> int:
        """One delivery pass over the messages due now; returns how many were sent."""
        if self.demo:
            return 0
        rows = await self.db.run(self._claim, self._now(), limit or self.concurrency * 4)
        if not rows:
            return 0
        slots = asyncio.Semaphore(self.concurrency)
        results = await asyncio.gather(*(self._deliver_one(r, slots) for r in rows))
        return sum(results)

    async def purge(self) -> int:
        """Delete what is older than the retention period (the record and the demo inbox)."""
        cutoff = self._now() - self.retention

        def job(conn: Connection) -> int:
            n = conn.execute(delete(sms_outbox).where(sms_outbox.c.created_at < cutoff)).rowcount or 0
            n += conn.execute(delete(demo_inbox).where(demo_inbox.c.delivered_at < cutoff)).rowcount or 0
            return n
        return await self.db.run(job)

    async def run(self, purge_every: float = 3600.0) -> None:
        """The delivery loop: deliver due messages, purge old ones hourly; runs until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        last_purge = -purge_every
        try:
            while True:
                try:
                    busy = await self.deliver_due() > 0
                    if self._loop.time() - last_purge >= purge_every:
                        last_purge = self._loop.time()
                        purged = await self.purge()
                        if purged:
                            log.info("outbox: purged %d messages older than %s", purged, self.retention)
                except Exception:
                    log.exception("outbox: delivery pass failed")
                    busy = False
                if busy:
                    continue
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
                except TimeoutError:
                    pass
        finally:
            self._wake = None
            self._loop = None

    async def aclose(self) -> None:
        if self._gateway is not None:
            await self._gateway.aclose()
            self._gateway = None

    # ------------------------------------------------------------------ reading
    def inbox_sync(self, msisdn: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The demo inbox, newest first: what the phone shows (time, from-port, to, text)."""
        def job(conn: Connection) -> list[dict[str, Any]]:
            q = select(demo_inbox).order_by(demo_inbox.c.id.desc()).limit(max(1, limit))
            if msisdn:
                q = q.where(demo_inbox.c.msisdn == msisdn)
            return [{"id": r.id, "outbox_id": r.outbox_id,
                     "at": _aware(r.delivered_at).astimezone(self.clock.tz).isoformat(),
                     "from": r.sender, "to": r.msisdn, "text": r.text} for r in conn.execute(q)]
        return self.db.run_sync(job, write=False)

    async def inbox(self, msisdn: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.inbox_sync, msisdn, limit)

    def records_sync(self, msisdn: str | None = None) -> list[dict[str, Any]]:
        """The system's own record (secrets redacted once delivered), oldest first: for operators and tests."""
        def job(conn: Connection) -> list[dict[str, Any]]:
            q = select(sms_outbox).order_by(sms_outbox.c.id)
            if msisdn:
                q = q.where(sms_outbox.c.msisdn == msisdn)
            return [dict(r._mapping) for r in conn.execute(q)]
        return self.db.run_sync(job, write=False)


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
