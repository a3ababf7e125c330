"""Reading and writing the reference back end's rows inside a unit of work (a sync Connection)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update

from hotline.domain.errors import Conflict, SubscriberNotFound
from hotline.domain.subscriber import Brand, PaymentType, StarLevel, Status, Subscriber
from hotline.services import audit
from hotline.store.sql.tables import ledger, orders, subscribers, subscriptions

INSERT_ORDER = insert(orders)

_SUB_FIELDS = [c.name for c in subscribers.columns]


def to_subscriber(row: Any) -> Subscriber:
    m = row._mapping
    return Subscriber(
        id=m["id"], msisdn=m["msisdn"], name=m["name"], id_number=m["id_number"],
        brand=Brand(m["brand"]), payment_type=PaymentType(m["payment_type"]),
        star_level=StarLevel(m["star_level"]), province=m["province"], city=m["city"],
        join_date=m["join_date"], language=m["language"], status=Status(m["status"]),
        plan_code=m["plan_code"], next_plan_code=m["next_plan_code"], balance_fen=m["balance_fen"],
        credit_limit_fen=m["credit_limit_fen"], points=m["points"], password_hash=m["password_hash"],
        pw_failures=m["pw_failures"], pw_fail_day=m["pw_fail_day"],
        marketing_opt_out=m["marketing_opt_out"], cycle=m["cycle"], version=m["version"])


def load_subscriber(conn: Connection, msisdn: str, *, lock: bool = False) -> Subscriber:
    stmt = select(subscribers).where(subscribers.c.msisdn == msisdn)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise SubscriberNotFound(f"没有找到号码{msisdn}的客户资料。", f"No subscriber with number {msisdn}.",
                                 msisdn=msisdn)
    return to_subscriber(row)


# Statements on the order path are built once: building one costs more than running it.
_SUB_UPDATES: dict[frozenset[str], Any] = {}


def _subscriber_update(columns: frozenset[str]) -> Any:
    stmt = _SUB_UPDATES.get(columns)
    if stmt is None:
        stmt = (update(subscribers).where(subscribers.c.id == bindparam("p_id"))
                .values({**{c: bindparam(f"p_{c}") for c in sorted(columns)},
                         "version": subscribers.c.version + 1}))
        _SUB_UPDATES[columns] = stmt
    return stmt


def save_subscriber(conn: Connection, sub: Subscriber) -> None:
    """Write the fields changed through ``Subscriber.set`` and bump the row version."""
    if not sub.changed:
        return
    params: dict[str, Any] = {"p_id": sub.id}
    for k in sub.changed:
        v = getattr(sub, k)
        params[f"p_{k}"] = v.value if hasattr(v, "value") else v
    conn.execute(_subscriber_update(frozenset(sub.changed)), params)
    sub.changed.clear()


@dataclass
class Holding:
    """One row of ``subscriptions``."""

    id: int
    product_code: str
    in_plan: bool
    start_cycle: int
    end_cycle: int | None

    def active_in(self, cycle: int) -> bool:
        return self.start_cycle <= cycle and (self.end_cycle is None or self.end_cycle >= cycle)


def load_holdings(conn: Connection, subscriber_id: int, from_cycle: int) -> list[Holding]:
    """Subscriptions valid in ``from_cycle`` or later (current and scheduled)."""
    rows = conn.execute(
        select(subscriptions.c.id, subscriptions.c.product_code, subscriptions.c.in_plan,
               subscriptions.c.start_cycle, subscriptions.c.end_cycle)
        .where(subscriptions.c.subscriber_id == subscriber_id,
               or_(subscriptions.c.end_cycle.is_(None), subscriptions.c.end_cycle >= from_cycle))
        .order_by(subscriptions.c.id))
    return [Holding(*r) for r in rows]


@dataclass
class Effects:
    """What a business transaction changes besides the subscriber row, applied after it decides."""

    now: dt.datetime
    cycle: int
    ledger: list[tuple[str, int, str]] = field(default_factory=list)       # kind, amount, description
    new_holdings: list[tuple[str, bool, int, int | None]] = field(default_factory=list)
    end_holdings: list[tuple[int, int]] = field(default_factory=list)      # holding id, end cycle
    audit: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def money(self, sub: Subscriber, kind: str, amount_fen: int, description: str) -> None:
        """Move money: negative debits, positive credits. The balance changes at once."""
        sub.set(balance_fen=sub.balance_fen + amount_fen)
        self.ledger.append((kind, amount_fen, description))

    def hold(self, code: str, *, in_plan: bool = False, start: int, end: int | None = None) -> None:
        self.new_holdings.append((code, in_plan, start, end))

    def end(self, holding: Holding, end_cycle: int) -> None:
        self.end_holdings.append((holding.id, end_cycle))


_INSERT_LEDGER = insert(ledger)
_INSERT_SUBSCRIPTION = insert(subscriptions)
_END_SUBSCRIPTION = (update(subscriptions).where(subscriptions.c.id == bindparam("p_id"))
                     .values(end_cycle=bindparam("p_end")))


def _rows(rows: list[dict[str, Any]]) -> dict[str, Any] | list[dict[str, Any]]:
    return rows[0] if len(rows) == 1 else rows  # one row: a plain execute, not executemany


def apply_effects(conn: Connection, sub: Subscriber, fx: Effects, order_id: int | None,
                  actor: str, channel: str) -> None:
    save_subscriber(conn, sub)
    if fx.ledger:
        conn.execute(_INSERT_LEDGER, _rows([
            {"subscriber_id": sub.id, "cycle": fx.cycle, "kind": k, "amount_fen": a, "description": d,
             "order_id": order_id, "created_at": fx.now} for k, a, d in fx.ledger]))
    if fx.new_holdings:
        conn.execute(_INSERT_SUBSCRIPTION, _rows([
            {"subscriber_id": sub.id, "product_code": c, "in_plan": p, "start_cycle": s, "end_cycle": e,
             "created_at": fx.now, "order_id": order_id} for c, p, s, e in fx.new_holdings]))
    if fx.end_holdings:
        conn.execute(_END_SUBSCRIPTION, _rows([{"p_id": h, "p_end": e} for h, e in fx.end_holdings]))
    if fx.audit:
        audit.record_many(conn, [
            audit.row(at=fx.now, channel=channel, actor=actor, action=action, subscriber_id=sub.id,
                      msisdn=sub.msisdn, order_id=order_id, detail=detail)
            for action, detail in fx.audit])


def write_audit(conn: Connection, at: dt.datetime, channel: str, actor: str, action: str,
                msisdn: str | None, subscriber_id: int | None = None,
                detail: dict[str, Any] | None = None) -> None:
    """One audit row through the AuditLog (kept for the BSS's callers)."""
    audit.record(conn, at=at, channel=channel, actor=actor, action=action, msisdn=msisdn,
                 subscriber_id=subscriber_id, detail=detail)


def _order_read(lock: bool) -> Any:
    s, h = subscribers, subscriptions
    existing = select(orders.c.id).where(orders.c.idempotency_key == bindparam("p_key")).scalar_subquery()
    stmt = (select(s, existing.label("existing_order_id"), h.c.id.label("h_id"), h.c.product_code,
                   h.c.in_plan, h.c.start_cycle, h.c.end_cycle)
            .select_from(s.outerjoin(h, (h.c.subscriber_id == s.c.id)
                                     & or_(h.c.end_cycle.is_(None), h.c.end_cycle >= s.c.cycle)))
            .where(s.c.msisdn == bindparam("p_msisdn")).order_by(h.c.id))
    return stmt.with_for_update(of=s) if lock else stmt


_ORDER_READ = {False: _order_read(False), True: _order_read(True)}


def load_for_order(conn: Connection, msisdn: str, key: str, *,
                   lock: bool) -> tuple[Subscriber, list[Holding], int | None]:
    """One round trip for an order: the subscriber (row-locked), its current and scheduled
    subscriptions, and the id of an order already made with ``key``."""
    rows = conn.execute(_ORDER_READ[lock], {"p_msisdn": msisdn, "p_key": key}).all()
    if not rows:
        raise SubscriberNotFound(f"没有找到号码{msisdn}的客户资料。", f"No subscriber with number {msisdn}.",
                                 msisdn=msisdn)
    holdings = [Holding(r.h_id, r.product_code, r.in_plan, r.start_cycle, r.end_cycle)
                for r in rows if r.h_id is not None]
    return to_subscriber(rows[0]), holdings, rows[0].existing_order_id


def find_order(conn: Connection, key: str) -> Any:
    return conn.execute(select(orders).where(orders.c.idempotency_key == key)).first()


class IdempotencyConflict(Conflict):
    """An idempotency key reused for a different request: nothing runs and nothing is replayed."""

    code = "idempotency_conflict"


def key_reused() -> IdempotencyConflict:
    return IdempotencyConflict("该请求编号已用于另一笔不同的请求，本次未作任何处理；请使用新的请求编号重新发起。",
                               "This idempotency key was already used for a different request; nothing was "
                               "done. Please send the new request with a new key.", replayed=True)


def request_hash(kind: str, msisdn: str, params: dict[str, Any]) -> str:
    """What a request asks for (the operation, the number, the parameters), stored beside its idempotency key
    so that a retry is recognised as the same request and anything else under that key is refused."""
    blob = json.dumps([kind, msisdn, params], sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def same_request(row: Any, digest: str, kind: str, params: dict[str, Any]) -> bool:
    """Whether the order ``row`` was made by the request ``digest`` describes (older rows have no hash:
    their kind and parameters are compared; the caller compares the subscriber)."""
    stored = row._mapping.get("request_hash")
    if stored:
        return hmac.compare_digest(stored, digest)
    return bool(row.kind == kind and row.params == json.loads(json.dumps(params, default=str)))


def charges_in_cycle(conn: Connection, subscriber_id: int, cycle: int) -> int:
    """Fees and usage charged in a cycle, in fen (positive)."""
    total = conn.execute(select(func.coalesce(func.sum(ledger.c.amount_fen), 0))
                         .where(ledger.c.subscriber_id == subscriber_id, ledger.c.cycle == cycle,
                                ledger.c.amount_fen < 0)).scalar_one()
    return -int(total)
