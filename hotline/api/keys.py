"""API keys: credentials with scopes for ``/api/v1``, stored hashed.

A key is ``hlk_<8 hex>_<43 random url-safe characters>`` (256 bits from ``secrets``). Only its SHA-256
is stored: the key is high-entropy and random, so a fast hash is enough (nothing to brute-force), and a
leaked table opens nothing. The ``hlk_<8 hex>`` prefix names the key in lists, logs and revocation.

Scopes: ``read`` (a subscriber's data), ``write`` (orders and changes), ``billing`` (recharge, usage
rating, rollover), ``admin`` (unmasked personal data, password reset). A key grants exactly its scopes.

``HOTLINE_API_TOKEN``, when set, is a master credential with every scope (compared in constant time);
it is meant for automation that predates keys. The audit log names it ``apikey:master``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from hotline.domain.billing import Clock
from hotline.domain.errors import InvalidInput, NotFound
from hotline.store.sql.database import Database
from hotline.store.sql.tables import api_keys

SCOPES = ("read", "write", "billing", "admin")
PREFIX = "hlk_"
CACHE_SECONDS = 5.0       # a revoked key stops working in other processes within this time
_CACHE_MAX = 1024


@dataclass(frozen=True)
class ApiKey:
    """A credential as the API sees it (never the key itself)."""

    id: str                  # the row id, or "master" for HOTLINE_API_TOKEN
    prefix: str
    name: str
    scopes: frozenset[str]
    created_at: str = ""
    revoked: bool = False

    @property
    def actor_id(self) -> str:
        """How the audit log names whoever used this key."""
        return f"apikey:{self.id}"

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "prefix": self.prefix, "name": self.name, "scopes": sorted(self.scopes),
                "created_at": self.created_at, "revoked": self.revoked}


MASTER = ApiKey("master", "master", "HOTLINE_API_TOKEN", frozenset(SCOPES))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_scopes(scopes: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(s.strip().lower() for s in scopes if s.strip())
    unknown = sorted(chosen - set(SCOPES))
    if not chosen or unknown:
        raise InvalidInput(f"权限范围须为{'、'.join(SCOPES)}之一或多个。",
                           f"Scopes must be one or more of {', '.join(SCOPES)}.", unknown=unknown)
    return chosen


def _order(scopes: frozenset[str]) -> str:
    return " ".join(s for s in SCOPES if s in scopes)


def _key(row: object) -> ApiKey:
    r = row._mapping  # type: ignore[attr-defined]
    return ApiKey(str(r["id"]), r["prefix"], r["name"], frozenset(r["scopes"].split()),
                  r["created_at"].isoformat() if r["created_at"] else "", r["revoked_at"] is not None)


class ApiKeys:
    """Create, list, revoke and check API keys (one table, ``api_keys``)."""

    def __init__(self, db: Database, clock: Clock | None = None, settings: Any = None) -> None:
        self.db = db
        self.clock = clock or Clock()
        self.settings = settings    # its ``api_token`` (read at each check) is the master credential
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ management (CLI, tests)
    def create(self, scopes: Iterable[str], *, name: str = "", created_by: str = "cli") -> tuple[ApiKey, str]:
        """A new key with these scopes; returns it and the clear key, which is shown once and not kept."""
        chosen = check_scopes(scopes)
        name = " ".join((name or "").split())[:64]
        for _ in range(5):
            prefix = PREFIX + secrets.token_hex(4)
            token = f"{prefix}_{secrets.token_urlsafe(32)}"

            def job(conn: Connection, prefix: str = prefix, token: str = token) -> ApiKey | None:
                if conn.execute(select(api_keys.c.id).where(api_keys.c.prefix == prefix)).first():
                    return None   # 1 in 4 billion: draw again
                return _key(conn.execute(insert(api_keys).values(
                    prefix=prefix, token_hash=digest(token), name=name, scopes=_order(chosen),
                    created_by=created_by[:64], created_at=self.clock.now()).returning(*api_keys.c)).one())
            key = self.db.run_sync(job)
            if key is not None:
                return key, token
        raise RuntimeError("could not draw a free key prefix")  # pragma: no cover

    def list(self) -> list[ApiKey]:
        return self.db.run_sync(lambda c: [_key(r) for r in c.execute(select(api_keys).order_by(api_keys.c.id))],
                                write=False)

    def get(self, ident: str) -> ApiKey:
        """A key by id or prefix."""
        found = self.db.run_sync(lambda c: c.execute(select(api_keys).where(self._ident(ident))).first(),
                                 write=False)
        if found is None:
            raise NotFound(f"没有找到访问密钥“{ident}”。", f"There is no API key '{ident}'.")
        return _key(found)

    def revoke(self, ident: str) -> ApiKey:
        """Revoke a key by id or prefix (idempotent); it stops working at once here, elsewhere within
        ``CACHE_SECONDS``."""
        key = self.get(ident)

        def job(conn: Connection) -> None:
            conn.execute(update(api_keys).where(api_keys.c.id == int(key.id), api_keys.c.revoked_at.is_(None))
                         .values(revoked_at=self.clock.now()))
        self.db.run_sync(job)
        with self._lock:
            self._cache.clear()
        return self.get(key.id)

    @staticmethod
    def _ident(ident: str):  # noqa: ANN205 (a SQL expression)
        ident = ident.strip()
        if ident.isdigit():
            return or_(api_keys.c.id == int(ident), api_keys.c.prefix == ident)
        return api_keys.c.prefix == ident

    def valid(self, token: str) -> ApiKey | None:
        """The live key for ``token`` (not revoked), without the cache: for start-up checks."""
        row = self.db.run_sync(lambda c: c.execute(select(api_keys).where(
            api_keys.c.token_hash == digest(token), api_keys.c.revoked_at.is_(None))).first(), write=False)
        return _key(row) if row is not None else None

    # ------------------------------------------------------------------ checking (every request)
    async def authenticate(self, token: str) -> ApiKey | None:
        """The credential ``token`` stands for, or None. Cached briefly: one hash and a dict look-up per
        request, one database read per key every ``CACHE_SECONDS``."""
        if not token or len(token) > 200:
            return None
        master = getattr(self.settings, "api_token", "") or ""
        if master and hmac.compare_digest(token.encode(), master.encode()):
            return MASTER
        if not token.startswith(PREFIX):
            return None
        h = digest(token)
        now = time.monotonic()
        hit = self._cache.get(h)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = await self.db.run(lambda c: c.execute(select(api_keys).where(
            api_keys.c.token_hash == h, api_keys.c.revoked_at.is_(None))).first(), write=False)
        key = _key(row) if row is not None else None
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[h] = (now + CACHE_SECONDS, key)
        return key
