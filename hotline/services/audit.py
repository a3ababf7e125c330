"""The audit log: who did what to whom, in one format, written by one module.

Every writer (the reference BSS, the desk, the API) calls ``record`` (or ``rows`` for a batch inside an
order), so ``audit_log.detail`` is always one JSON object and the trail can be read back as data. The
write joins the caller's transaction: an action and its audit row commit together or not at all.

Secrets never reach the log: detail keys that name one (a password, a code, a PIN, an ID number) are
replaced by a mark before writing, whatever the caller passed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, desc, insert, select

from hotline.store.sql.tables import audit_log

# Detail keys that must never be stored in clear (compared lower-cased).
SECRET_KEYS = frozenset({"password", "new_password", "old_password", "otp", "otp_code", "pin", "card_pin",
                         "id_number", "token", "api_key", "secret"})
REDACTED = "***"

_INSERT = insert(audit_log)


def _clean(detail: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in (detail or {}).items():
        if v is None:
            continue
        out[k] = REDACTED if str(k).lower() in SECRET_KEYS else v
    return out


def encode(detail: dict[str, Any] | None) -> str:
    """The one stored format of ``detail``: a JSON object, secrets masked, ``None`` values dropped."""
    return json.dumps(_clean(detail), ensure_ascii=False, default=str, separators=(",", ":"))


def decode(raw: str | None) -> dict[str, Any]:
    """Read a stored detail back; rows written before the one format are returned as ``{"text": ...}``."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"text": raw}
    return value if isinstance(value, dict) else {"value": value}


def row(*, at: dt.datetime | None = None, channel: str, actor: str, action: str, msisdn: str | None = None,
        subscriber_id: int | None = None, order_id: int | None = None,
        detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """One audit row's values (columns are bounded: longer names are cut, not refused)."""
    return {"at": at or dt.datetime.now(dt.UTC), "channel": channel[:16], "actor": actor[:64], "action": action[:48],
            "msisdn": msisdn, "subscriber_id": subscriber_id, "order_id": order_id, "detail": encode(detail)}


def record(conn: Connection, *, at: dt.datetime | None = None, channel: str, actor: str, action: str,
           msisdn: str | None = None, subscriber_id: int | None = None, order_id: int | None = None,
           detail: dict[str, Any] | None = None) -> None:
    """Write one audit row in the caller's transaction. ``at``: the operator's clock (tests fix it); default now."""
    conn.execute(_INSERT, row(at=at, channel=channel, actor=actor, action=action, msisdn=msisdn,
                              subscriber_id=subscriber_id, order_id=order_id, detail=detail))


def record_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Several rows built with ``row`` in one statement (an order writes two or three)."""
    if rows:
        conn.execute(_INSERT, rows[0] if len(rows) == 1 else rows)


def trail(conn: Connection, msisdn: str, limit: int = 100) -> list[dict[str, Any]]:
    """A number's audit rows, newest first, as plain data."""
    rows = conn.execute(select(audit_log).where(audit_log.c.msisdn == msisdn)
                        .order_by(desc(audit_log.c.id)).limit(limit)).all()
    return [{"at": r.at.isoformat(), "channel": r.channel, "actor": r.actor, "action": r.action,
             "order_id": r.order_id, "detail": decode(r.detail)} for r in rows]
