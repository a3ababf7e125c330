"""Online payment (在线缴费) through a payment-provider port: a pay link out, a signed notification in.

hotline never credits a balance because someone asked: ``Payments.start`` records what is to be paid
(number, amount, our reference) and returns the provider's pay link; only a notification whose
signature the provider verifies credits the balance, with the amount recorded at ``start`` (a
notification naming another amount is refused), once per provider transaction (a unique column) and
once per payment (the order's idempotency key ``pay:<ref>``). A notification repeated after a crash or
by the provider's retries credits nothing more.

``ReferenceProvider`` is the embedded default: its pay page (``GET /pay/{ref}``, served by hotline
itself for loopback clients only) stands for the provider's checkout, and its "pay" button produces
the notification a real provider would post: canonical JSON signed with HMAC-SHA256 over the body.
A real provider (Alipay, WeChat Pay, UnionPay …) implements ``PaymentProvider`` and is named by
``HOTLINE_PAYMENT_PROVIDER=package.module:factory`` (see the README).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from hotline.bss.port import BSS, Actor
from hotline.domain.billing import MAX_RECHARGE_FEN, Clock
from hotline.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from hotline.domain.msisdn import normalize_msisdn
from hotline.domain.products import yuan
from hotline.services.keyfile import data_secret
from hotline.services.outbox import Outbox
from hotline.store.sql.database import Database
from hotline.store.sql.tables import payments

log = logging.getLogger("hotline.payments")

PAY_TTL = dt.timedelta(minutes=30)     # the pay page stays open this long (a late notification still counts)
SIGNATURE_HEADER = "x-hotline-signature"
NOTIFY_ACTOR = Actor("payment", "provider")
PAID_SMS = "【中国移动】尊敬的客户，您已成功缴费{amount}元，当前余额{balance}元。"
MIN_SECRET_LEN = 32


class BadSignature(DomainError):
    code = "bad_signature"
    status = 401


class PaymentMismatch(Conflict):
    code = "payment_mismatch"


class PaymentsUnavailable(DomainError):
    code = "payments_unavailable"
    status = 503


@dataclass(frozen=True)
class PayLink:
    ref: str
    url: str
    amount_fen: int
    expires_at: dt.datetime


@dataclass(frozen=True)
class Notification:
    """What a provider's notification says, once its signature is verified."""

    ref: str               # our reference, given to the provider at create
    txn: str               # the provider's transaction id
    amount_fen: int
    status: str            # paid | failed


class PaymentProvider(Protocol):
    """The port a payment provider's adapter implements."""

    name: str

    def create(self, msisdn: str, amount_fen: int, order_ref: str) -> PayLink:
        """Open a payment at the provider; the link the customer follows to pay."""
        ...

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        """Check a notification's signature and read it; ``BadSignature`` when it is not the provider's."""
        ...


def canonical(payload: Mapping[str, Any]) -> bytes:
    """The one byte form a notification is signed in: sorted keys, no spaces, UTF-8."""
    return json.dumps(dict(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class ReferenceProvider:
    """The embedded provider: a local pay page and HMAC-SHA256-signed notifications."""

    name = "reference"

    def __init__(self, secret: str, base_url: str) -> None:
        if len(secret) < MIN_SECRET_LEN:
            raise ValueError(f"the payment secret must be at least {MIN_SECRET_LEN} characters")
        self._key = secret.encode()
        self.base_url = base_url.rstrip("/")

    def create(self, msisdn: str, amount_fen: int, order_ref: str) -> PayLink:
        return PayLink(order_ref, f"{self.base_url}/pay/{order_ref}", amount_fen, dt.datetime.now(dt.UTC))

    def sign(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def notification(self, ref: str, amount_fen: int, status: str = "paid") -> tuple[bytes, dict[str, str]]:
        """What the provider posts when the customer has paid (the pay page's button makes it).

        The transaction id follows from the reference, as one checkout pays once: a double click
        produces the same notification again, which credits nothing more."""
        txn = "R" + hashlib.sha256(self._key + b":" + ref.encode()).hexdigest()[:24]
        body = canonical({"ref": ref, "txn": txn, "amount_fen": amount_fen, "status": status})
        return body, {SIGNATURE_HEADER: self.sign(body)}

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        given = _header(headers, SIGNATURE_HEADER)
        if not given or not hmac.compare_digest(given.lower(), self.sign(body)):
            raise BadSignature("通知签名无效，已拒绝。", "The notification's signature is not valid; refused.")
        try:
            data = json.loads(body)
            n = Notification(str(data["ref"]), str(data["txn"]), data["amount_fen"], str(data["status"]))
        except (ValueError, KeyError, TypeError):
            raise InvalidInput("通知内容格式不正确。", "The notification is malformed.") from None
        if not isinstance(n.amount_fen, int) or isinstance(n.amount_fen, bool) or not n.txn or len(n.txn) > 64 \
                or not n.ref or len(n.ref) > 40 or n.status not in ("paid", "failed"):
            raise InvalidInput("通知内容格式不正确。", "The notification is malformed.")
        return n


def _header(headers: Mapping[str, str], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return ""


class Payments:
    """Owns the ``payments`` table: pay links started, notifications settled, balances credited via the BSS."""

    def __init__(self, db: Database, clock: Clock, bss: BSS, provider: PaymentProvider,
                 outbox: Outbox | None = None) -> None:
        self.db = db
        self.clock = clock
        self.bss = bss
        self.provider = provider
        self.outbox = outbox   # the customer is told when the money arrives

    def _utc(self) -> dt.datetime:
        return self.clock.now().astimezone(dt.UTC)

    async def start(self, msisdn: str, amount_fen: int, *, actor: Actor) -> PayLink:
        """Record a payment to be made and return the provider's link. Credits nothing."""
        msisdn = normalize_msisdn(msisdn)
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or not 0 < amount_fen <= MAX_RECHARGE_FEN:
            raise InvalidInput(f"缴费金额须在0.01元至{yuan(MAX_RECHARGE_FEN)}元之间。",
                               f"A payment is between ¥0.01 and ¥{yuan(MAX_RECHARGE_FEN)}.")
        await self.bss.get_subscriber(msisdn)   # a polite "no such number" before a link is made
        ref = "P" + secrets.token_urlsafe(18)  # unguessable: the pay page needs nothing else
        link = self.provider.create(msisdn, amount_fen, ref)
        now = self._utc()   # stored in UTC: SQLite keeps no zone
        expires = now + PAY_TTL

        def job(conn: Connection) -> None:
            conn.execute(insert(payments).values(
                ref=ref, provider=self.provider.name, msisdn=msisdn, amount_fen=amount_fen, status="pending",
                channel=actor.channel, actor=actor.id, created_at=now, expires_at=expires))
        await self.db.run(job)
        return PayLink(ref, link.url, amount_fen, expires)

    async def get(self, ref: str) -> dict[str, Any]:
        row = await self.db.run(_find, ref, write=False) if 0 < len(ref) <= 40 else None
        if row is None:
            raise NotFound("没有找到这笔缴费。", "No such payment.")
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
        return {"ref": row.ref, "msisdn": row.msisdn, "amount_fen": row.amount_fen, "status": row.status,
                "expires_at": expires.isoformat(), "open": row.status == "pending" and expires > self._utc()}

    async def notify(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        """Settle a provider's notification: verified, matched to its payment, credited once."""
        n = self.provider.verify(body, headers)
        row = await self.db.run(_find, n.ref, write=False)
        if row is None:
            raise NotFound("没有找到这笔缴费。", "No such payment.", ref=n.ref)
        if n.amount_fen != row.amount_fen:
            log.warning("payment %s: notified amount %s differs from %s; refused", n.ref, n.amount_fen, row.amount_fen)
            raise PaymentMismatch("通知金额与订单金额不符，已拒绝，未入账。",
                                  "The notified amount differs from the payment's; refused, nothing credited.")
        if row.status == "paid":
            if row.provider_txn == n.txn:
                return {"ref": n.ref, "status": "paid", "order_id": row.order_id, "replayed": True}
            raise PaymentMismatch("这笔缴费已由另一笔交易支付，未重复入账。",
                                  "This payment was already paid by another transaction; nothing credited.")
        if n.status != "paid":
            await self.db.run(_mark, row.id, "failed", None, None, None)
            return {"ref": n.ref, "status": "failed"}
        if row.status == "refund" and row.provider_txn == n.txn:
            return {"ref": n.ref, "status": "refund", "replayed": True}
        await self._claim(row.id, n.txn)
        try:
            result = await self.bss.credit_payment(row.msisdn, row.amount_fen, ref=row.ref, provider=row.provider,
                                                   key=f"pay:{row.ref}", actor=NOTIFY_ACTOR)
        except DomainError as err:   # paid, but the account cannot take it (closed meanwhile): to be refunded
            log.warning("payment %s: paid but not credited (%s); marked for refund", n.ref, err.code)
            await self.db.run(_mark, row.id, "refund", n.txn, None, None)
            return {"ref": n.ref, "status": "refund", "reason": err.as_dict()}
        await self.db.run(_mark, row.id, "paid", n.txn, result.order_id, self._utc())
        balance = result.result.get("balance_fen")
        if self.outbox is not None and not result.replayed and isinstance(balance, int):
            await self.outbox.send(row.msisdn, PAID_SMS.format(amount=yuan(row.amount_fen), balance=yuan(balance)))
        return {"ref": n.ref, "status": "paid", "order_id": result.order_id, "replayed": result.replayed,
                "balance_fen": result.result.get("balance_fen")}

    async def _claim(self, payment_id: int, txn: str) -> None:
        """Bind the provider's transaction to this payment; a transaction id seen on another payment is refused."""
        def job(conn: Connection) -> int:
            return conn.execute(update(payments).where(
                payments.c.id == payment_id, (payments.c.provider_txn.is_(None)) | (payments.c.provider_txn == txn))
                .values(provider_txn=txn, status="paying")).rowcount
        try:
            claimed = await self.db.run(job)
        except IntegrityError:
            claimed = 0
        if not claimed:
            raise PaymentMismatch("该交易号已用于另一笔缴费，未入账。",
                                  "This transaction id belongs to another payment; nothing credited.")


def _find(conn: Connection, ref: str) -> Any:
    return conn.execute(select(payments).where(payments.c.ref == ref)).first()


def _mark(conn: Connection, payment_id: int, status: str, txn: str | None, order_id: int | None,
          paid_at: dt.datetime | None) -> None:
    values: dict[str, Any] = {"status": status}
    if status in ("paid", "refund"):
        values.update(provider_txn=txn, order_id=order_id, paid_at=paid_at)
    conn.execute(update(payments).where(payments.c.id == payment_id).values(**values))


# ---------------------------------------------------------------------------- wiring
def demo_secret(data_dir: Path) -> str:
    """The reference provider's secret when none is configured: made once into the data dir (mode 0600)."""
    return data_secret(data_dir, "payment-secret")


def build_provider(settings: Any) -> PaymentProvider:
    """The provider named by ``payment_provider``: ``reference`` or ``package.module:factory(settings)``."""
    name = settings.payment_provider
    if name == "reference":
        secret = settings.payment_secret or demo_secret(settings.data_dir)
        base = settings.payment_base_url or f"http://{settings.host}:{settings.port}"
        return ReferenceProvider(secret, base)
    module, _, attr = name.partition(":")
    if not module or not attr:
        raise ValueError("HOTLINE_PAYMENT_PROVIDER is 'reference' or 'package.module:factory'")
    factory = getattr(importlib.import_module(module), attr)
    return factory(settings)
