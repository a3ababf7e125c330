"""Builds subscribers directly in the database, for tests that need one precise account."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert

from hotline.bootstrap import Hotline
from hotline.domain.billing import cycle_of
from hotline.domain.password import hash_password
from hotline.store.sql.tables import subscribers, subscriptions

DEFAULT_PASSWORD = "482916"


def make_subscriber(hl: Hotline, msisdn: str = "13812345678", *, password: str = DEFAULT_PASSWORD,
                    holdings: tuple[tuple[str, bool], ...] = (), **overrides: Any) -> str:
    today = hl.bss.clock.today()
    row: dict[str, Any]
    row = dict(msisdn=msisdn, name="赵六", id_number="11010519491231002X", brand="easyown",
               payment_type="prepaid", star_level=1, province="BJ", city="北京",
               join_date=dt.date(2015, 3, 1), language="zh", status="active", plan_code="plan.easyown_18",
               next_plan_code=None, balance_fen=10_000, credit_limit_fen=0, points=0,
               password_hash=hash_password(password, n=hl.settings.password_kdf_n), pw_failures=0,
               pw_fail_day=None, marketing_opt_out=False, cycle=cycle_of(today), version=0)
    row.update(overrides)
    plan = hl.bss.products.get(row["plan_code"])
    now = hl.bss.clock.now()

    def job(conn):
        sub_id = conn.execute(insert(subscribers).values(**row)).inserted_primary_key[0]
        rows = [(c, True) for c in plan.includes] + list(holdings)
        if rows:
            conn.execute(insert(subscriptions), [
                {"subscriber_id": sub_id, "product_code": code, "in_plan": in_plan,
                 "start_cycle": row["cycle"], "end_cycle": None, "created_at": now} for code, in_plan in rows])
    hl.db.run_sync(job)
    return msisdn


class ManualClock:
    """The routing engine's time (epoch seconds), moved by hand: no test waits for the real clock."""

    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
