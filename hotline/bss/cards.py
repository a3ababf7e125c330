"""Top-up cards (充值卡) and the daily counters that guard money: the pieces the reference BSS uses.

A card is a single-use voucher: a serial printed on it (not secret), a PIN under the scratch panel,
a face value and an expiry. Only a salted digest of the PIN is stored.

Why scrypt for PINs: an 18-digit PIN is short enough to be worth brute-forcing from a stolen
database with a fast hash, and a keyed hash (HMAC with a server secret) would put every card at the
mercy of one more secret to distribute, rotate and never lose (losing it voids every unsold card).
scrypt with a random salt per card needs no secret and makes an offline search as slow as the
service password's; online guessing is bounded separately by the wrong-PIN lock. The cost is one
scrypt per redemption, done off the event loop and outside the database transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hotline.domain import password as pw
from hotline.domain.errors import Conflict, DomainError, InvalidInput, NotEligible
from hotline.store.sql.tables import money_counters, topup_cards

SERIAL = re.compile(r"\d{17}")
PIN = re.compile(r"\d{18}")
MAX_FACE_VALUE_FEN = 100_000        # ¥1,000: the largest card sold
CARD_LIFETIME_DAYS = 3 * 365        # cards made by `hotline cards create` are valid this long


class WrongCardPin(DomainError):
    code = "wrong_card_pin"
    status = 403


class CardLocked(DomainError):
    code = "card_locked"
    status = 423


class CardUsed(Conflict):
    code = "card_used"


class CardExpired(NotEligible):
    code = "card_expired"


@dataclass(frozen=True)
class NewCard:
    """A card as made: the only moment its PIN exists in clear (printed once, never stored)."""

    serial: str
    pin: str
    face_value_fen: int
    expires_on: dt.date


def clean_serial(raw: str) -> str:
    serial = re.sub(r"[\s-]", "", str(raw))
    if not SERIAL.fullmatch(serial):
        raise InvalidInput("充值卡序列号应为17位数字，请核对卡面。",
                           "The card serial is 17 digits; please check the card.")
    return serial


def clean_pin(raw: str) -> str:
    pin = re.sub(r"[\s-]", "", str(raw))
    if not PIN.fullmatch(pin):
        raise InvalidInput("充值卡密码应为18位数字，请核对刮开的密码。",
                           "The card PIN is 18 digits; please check the scratched panel.")
    return pin


def hash_pin(pin: str, kdf_n: int, salt: bytes | None = None) -> str:
    return pw.hash_password(pin, kdf_n, salt)


def verify_pin(pin: str, stored: str) -> bool:
    return pw.verify_password(pin, stored)


def new_card(face_value_fen: int, expires_on: dt.date) -> NewCard:
    """A fresh card with a random serial and PIN (serials start with 9: never a demo card's)."""
    serial = "9" + "".join(secrets.choice("0123456789") for _ in range(16))
    pin = "".join(secrets.choice("0123456789") for _ in range(18))
    return NewCard(serial, pin, face_value_fen, expires_on)


def card_rows(cards: list[NewCard], hashes: list[str], batch: str, now: dt.datetime) -> list[dict[str, Any]]:
    return [{"serial": c.serial, "pin_hash": h, "face_value_fen": c.face_value_fen, "expires_on": c.expires_on,
             "status": "active", "batch": batch, "created_at": now} for c, h in zip(cards, hashes)]


def check_face_value(fen: int) -> None:
    if not isinstance(fen, int) or isinstance(fen, bool) or not 0 < fen <= MAX_FACE_VALUE_FEN or fen % 100:
        raise InvalidInput(f"充值卡面值须为1至{MAX_FACE_VALUE_FEN // 100}元的整数元。",
                           f"A card's face value is a whole number of yuan from 1 to {MAX_FACE_VALUE_FEN // 100}.")


def find_card(conn: Connection, serial: str, *, lock: bool = False) -> Any:
    stmt = select(topup_cards).where(topup_cards.c.serial == serial)
    return conn.execute(stmt.with_for_update() if lock else stmt).first()


def mark_used(conn: Connection, card_id: int, subscriber_id: int, now: dt.datetime) -> bool:
    """Active → used, once: False when another redemption got there first."""
    return conn.execute(update(topup_cards).where(topup_cards.c.id == card_id, topup_cards.c.status == "active")
                        .values(status="used", used_at=now, used_by=subscriber_id)).rowcount == 1


def link_order(conn: Connection, serial: str, order_id: int) -> None:
    conn.execute(update(topup_cards).where(topup_cards.c.serial == serial).values(order_id=order_id))


# ---------------------------------------------------------------------------- daily counters
def _ensure(conn: Connection, key: str, day: dt.date) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(money_counters).values(key=key, day=day, value=0)
                 .on_conflict_do_nothing(index_elements=["key"]))


def counter(conn: Connection, key: str, day: dt.date, *, lock: bool) -> int:
    """Today's value of a counter, row-locked (PostgreSQL) so that check-then-add cannot race."""
    _ensure(conn, key, day)
    stmt = select(money_counters.c.day, money_counters.c.value).where(money_counters.c.key == key)
    row = conn.execute(stmt.with_for_update() if lock else stmt).one()
    return int(row.value) if row.day == day else 0


def add(conn: Connection, key: str, day: dt.date, by: int) -> int:
    """Add to today's value (a counter from an earlier day starts again at 0); returns the new value.
    Call ``counter(..., lock=True)`` first in the same transaction."""
    current = counter(conn, key, day, lock=False)
    value = max(current + by, 0)
    conn.execute(update(money_counters).where(money_counters.c.key == key).values(day=day, value=value))
    return value


def insert_cards(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert cards whose serial is new; returns the serials added (re-seeding adds nothing)."""
    have = set(conn.execute(select(topup_cards.c.serial)
                            .where(topup_cards.c.serial.in_([r["serial"] for r in rows]))).scalars())
    fresh = [r for r in rows if r["serial"] not in have]
    if fresh:
        conn.execute(insert(topup_cards), fresh)
    return {r["serial"] for r in fresh}


def derived_salt(seed: int, serial: str) -> bytes:
    """A reproducible salt for a demo card (demo cards are published; real cards get random salts)."""
    return hashlib.sha256(f"hotline-card:{seed}:{serial}".encode()).digest()[:16]
