"""The back-end port: what hotline needs from an operator's BSS.

``ReferenceBSS`` implements it on hotline's own database. A real operator plugs in its billing
and CRM by writing an adapter with these methods (see docs/adding-a-bss-adapter.md); nothing above
this port knows which one runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from hotline.bss.cards import NewCard
from hotline.domain.products import ProductCatalog
from hotline.domain.subscriber import Brand, PaymentType, StarLevel, Status, Subscriber


@dataclass(frozen=True)
class Actor:
    """Who acts: the channel, and the subscriber (``"subscriber"``), an agent id or ``"system"``."""

    channel: str = "api"
    id: str = "subscriber"

    def __str__(self) -> str:
        return f"{self.channel}:{self.id}"


SYSTEM = Actor("system", "system")


@dataclass(frozen=True)
class SubscriberRecord:
    """What channels and routing may know of a subscriber without a personal-data read: no name, no ID
    number, no password hash (those stay behind ``profile``, audited, and ``verify_password``)."""

    msisdn: str
    brand: Brand
    payment_type: PaymentType
    star_level: StarLevel
    province: str
    city: str
    language: str
    status: Status
    plan_code: str

    @classmethod
    def of(cls, s: Subscriber) -> SubscriberRecord:
        return cls(s.msisdn, s.brand, s.payment_type, s.star_level, s.province, s.city, s.language or "zh",
                   s.status, s.plan_code)


@dataclass(frozen=True)
class OrderResult:
    order_id: int
    kind: str
    status: str                      # completed | failed
    amount_fen: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False           # True when the idempotency key had been used before


class BSS(Protocol):
    products: ProductCatalog

    async def get_subscriber(self, msisdn: str) -> Subscriber: ...

    async def subscriber(self, msisdn: str) -> SubscriberRecord: ...

    async def profile(self, msisdn: str, actor: Actor, *, unmask: bool = False,
                      reason: str = "") -> dict[str, Any]: ...

    async def account(self, msisdn: str) -> dict[str, Any]: ...

    async def set_marketing_opt_out(self, msisdn: str, opt_out: bool, *, actor: Actor) -> bool: ...

    async def verify_identity(self, msisdn: str, name: str, id_number: str, *, actor: Actor) -> None: ...

    async def recharge(self, msisdn: str, amount_fen: int, *, key: str, actor: Actor) -> OrderResult:
        """Credit money received outside hotline (a store's till, a bank transfer): a back-office call
        (``billing`` scope), never offered to customers or agents."""
        ...

    async def redeem_card(self, msisdn: str, serial: str, pin: str, *, key: str, actor: Actor) -> OrderResult:
        """Top up with a card (充值卡): credits its face value once (order kind ``topup_card``); a wrong
        PIN counts toward a daily lock per number and per card."""
        ...

    async def create_cards(self, face_value_fen: int, count: int, *, batch: str = "",
                           expires_on: dt.date | None = None) -> list[NewCard]:
        """Make new cards; the PINs are returned once (to print) and stored only hashed."""
        ...

    async def credit_payment(self, msisdn: str, amount_fen: int, *, ref: str, provider: str, key: str,
                             actor: Actor) -> OrderResult:
        """Credit an online payment whose provider notification was verified (order kind ``payment``)."""
        ...

    async def adjust(self, msisdn: str, amount_fen: int, reason: str, *, key: str, actor: Actor) -> OrderResult:
        """A balance adjustment (order kind ``adjustment``), credit or debit, allowed by the desk's limits."""
        ...

    async def subscribe(self, msisdn: str, product_code: str, *, key: str, actor: Actor) -> OrderResult: ...

    async def unsubscribe(self, msisdn: str, product_code: str, *, key: str,
                          actor: Actor) -> OrderResult: ...

    async def change_plan(self, msisdn: str, plan_code: str, *, key: str, actor: Actor) -> OrderResult: ...

    async def change_status(self, msisdn: str, action: str, *, key: str, actor: Actor) -> OrderResult: ...

    async def redeem_points(self, msisdn: str, reward: str, points: int, *, key: str,
                            actor: Actor) -> OrderResult: ...

    async def verify_password(self, msisdn: str, password: str, *, actor: Actor) -> None: ...

    async def change_password(self, msisdn: str, old: str, new: str, *, actor: Actor) -> None: ...

    async def reset_password(self, msisdn: str, id_number: str, new: str | None = None, *,
                             actor: Actor) -> str: ...

    async def record_usage(self, msisdn: str, kind: str, quantity: int, *, at: dt.datetime | None = None,
                           other_party: str = "", direction: str = "out",
                           location: str = "") -> dict[str, Any]: ...

    async def bills(self, msisdn: str, actor: Actor) -> list[dict[str, Any]]: ...

    async def usage_records(self, msisdn: str, cycle: int | None, kind: str | None,
                            actor: Actor) -> list[dict[str, Any]]: ...

    async def orders(self, msisdn: str, actor: Actor, limit: int = 50) -> list[dict[str, Any]]: ...

    async def audit_trail(self, msisdn: str, limit: int = 100,
                          actor: Actor | None = None) -> list[dict[str, Any]]: ...

    async def rollover(self, target_cycle: int | None = None) -> int: ...
