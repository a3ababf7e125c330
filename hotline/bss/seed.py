"""A deterministic synthetic subscriber population for the reference back end (demo, tests, load).

``seed_population`` always writes the three demo subscribers (张三 13800138000, 李四 13900139000,
王五 13700137000, each with a published service password and a realistic history), then ``N``
synthetic subscribers with a plausible mix of brands, plans, add-ons, statuses, provinces, usage,
fees and bills. The same ``N`` and ``seed`` (and the same fixed clock) give the same rows, ids
included, on an empty database of either backend.

How rows are laid out follows ``hotline/bss/reference.py`` and ``rollover.py``: ``subscribers.cycle``
is the current cycle; a plan's ``includes`` are ``in_plan`` subscriptions; this cycle's monthly fees
are negative ledger rows dated at the start of the cycle (one-off and new orders at their order
time); usage counters equal the itemised records they come from (outgoing units only, overage
rated with ``TARIFF`` and charged in the ledger like ``record_usage`` does); closed cycles have bills
whose items group the fees the way the rollover does.

Shortcuts, on purpose:

* **Passwords.** scrypt is deliberately slow, so hashing a password per synthetic subscriber is out
  of the question for a million rows. The synthetic subscribers share a pool of
  ``min(64, N)`` (password, hash) pairs: synthetic subscriber ``i`` (0-based, in id order, of one
  seeding run) gets pool entry ``i % 64``; ``synthetic_password(seed, i)`` tells its password. Each
  pool entry and each demo subscriber has its own salt, but the salts are derived from the seed (not
  random), so that a seeding run is reproducible row for row. These accounts are synthetic and their
  passwords are documented; real accounts get random salts from ``hash_password``.
* **Throughput.** Rows are generated in chunks (``CHUNK`` subscribers) with explicit ids that start
  after each table's current ``max(id)``, so child rows reference their parents without
  ``RETURNING``; the tables are locked for the duration of a chunk so that a running server cannot
  take the same ids. PostgreSQL loads a chunk with ``COPY ... FROM STDIN`` (psycopg 3) and then moves
  the id sequences past the new rows; SQLite uses ``executemany`` in one transaction per chunk.
* **History** is short: the current cycle's fees, usage and records, bills for the two previous
  cycles, no orders and no audit rows, and a plan that has not changed over those cycles.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import random
import time
from bisect import bisect
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Callable, Iterable

from sqlalchemy import Connection, Table, func, select

from hotline.bss.rollover import _CATEGORY, SUSPENSION_FEE_FEN
from hotline.domain.billing import (BUCKETS, TARIFF, Clock, cycle_label_zh, cycle_of, cycle_start,
                                    next_cycle, prev_cycle)
from hotline.domain.geo import PROVINCES, City, Province
from hotline.domain.identity import random_id_number, random_name
from hotline.domain.msisdn import CHINA_MOBILE_SEGMENTS
from hotline.domain.errors import WeakPassword
from hotline.domain.password import check_strength, hash_password
from hotline.domain.products import Billing, Product, ProductCatalog, ProductKind, yuan
from hotline.domain.subscriber import Brand, PaymentType, StarLevel, Status
from hotline.store.sql.database import Database
from hotline.store.sql.tables import (bill_items, bills, ledger, subscribers, subscriptions, usage_counters,
                                      usage_records)

CHUNK = 10_000            # subscribers per transaction
POOL_SIZE = 64            # shared synthetic password hashes
DEFAULT_SEED = 86

DEMO_PASSWORDS: dict[str, str] = {"13800138000": "369258", "13900139000": "842613", "13700137000": "517390"}

# Tables written, parents first; the column order of every generated tuple is the table's.
TABLES: tuple[Table, ...] = (subscribers, subscriptions, usage_counters, usage_records, ledger, bills,
                             bill_items)
_WITH_ID = tuple(t for t in TABLES if "id" in t.c)
_COLUMNS = {t.name: [c.name for c in t.columns] for t in TABLES}
assert _COLUMNS["subscribers"] == [
    "id", "msisdn", "name", "id_number", "brand", "payment_type", "star_level", "province", "city",
    "join_date", "language", "status", "plan_code", "next_plan_code", "balance_fen", "credit_limit_fen",
    "points", "password_hash", "pw_failures", "pw_fail_day", "marketing_opt_out", "cycle", "version"]
assert _COLUMNS["subscriptions"] == ["id", "subscriber_id", "product_code", "in_plan", "start_cycle",
                                     "end_cycle", "created_at", "order_id"]
assert _COLUMNS["usage_counters"] == ["subscriber_id", "cycle", "bucket", "used"]
assert _COLUMNS["usage_records"] == ["id", "subscriber_id", "cycle", "kind", "started_at", "direction",
                                     "other_party", "duration_s", "volume_kb", "location", "fee_fen"]
assert _COLUMNS["ledger"] == ["id", "subscriber_id", "cycle", "kind", "amount_fen", "description",
                              "order_id", "created_at"]
assert _COLUMNS["bills"] == ["id", "subscriber_id", "cycle", "total_fen", "created_at"]
assert _COLUMNS["bill_items"] == ["id", "bill_id", "category", "description", "amount_fen"]

_USAGE_DESC = {"voice_min": "语音通话费", "sms": "短信费", "data_mb": "上网流量费"}
_CREDIT_BY_STAR = (5_000, 10_000, 20_000, 30_000, 40_000, 50_000, 100_000)   # postpaid, fen
_STAR_WEIGHTS = {Brand.EASYOWN: (28, 30, 22, 12, 6, 2, 0), Brand.MZONE: (34, 32, 20, 9, 4, 1, 0),
                 Brand.GOTONE: (1, 4, 12, 24, 27, 22, 10)}


@dataclass
class SeedReport:
    subscribers: int = 0            # subscriber rows written (demo + synthetic)
    demo_subscribers: int = 0       # demo subscribers created (0 when they already existed)
    synthetic_subscribers: int = 0
    subscriptions: int = 0
    usage_counters: int = 0
    usage_records: int = 0
    ledger: int = 0
    bills: int = 0
    bill_items: int = 0
    seconds: float = 0.0
    samples: list[tuple[str, str]] = field(default_factory=list)  # (msisdn, password), synthetic

    @property
    def rows(self) -> int:
        return sum(getattr(self, t.name) for t in TABLES)

    @property
    def rate(self) -> float:
        """Subscribers written per second."""
        return self.subscribers / self.seconds if self.seconds > 0 else 0.0


# ---------------------------------------------------------------------------- passwords

def _derived(seed: int, *parts: object) -> random.Random:
    return random.Random(f"hotline-seed:{seed}:" + ":".join(map(str, parts)))


def _salt(seed: int, *parts: object) -> bytes:
    return hashlib.sha256(f"hotline-seed-salt:{seed}:{':'.join(map(str, parts))}".encode()).digest()[:16]


def pool_password(seed: int, k: int) -> str:
    """The password of entry ``k`` of the shared synthetic password pool."""
    rng = _derived(seed, "password", k)
    while True:
        candidate = f"{rng.randrange(10**6):06d}"
        try:
            check_strength(candidate)
            return candidate
        except WeakPassword:
            continue


def synthetic_password(seed: int, index: int) -> str:
    """The service password of synthetic subscriber ``index`` (0-based, in id order) of a run with ``seed``."""
    return pool_password(seed, index % POOL_SIZE)


def _hash_all(items: list[tuple[str, bytes]], kdf_n: int) -> list[str]:
    """scrypt a few passwords on two threads (hashlib releases the GIL)."""
    if not items:
        return []
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda it: hash_password(it[0], n=kdf_n, salt=it[1]), items))


# ---------------------------------------------------------------------------- msisdns

class _MsisdnStream:
    """Unique China Mobile numbers in a seed-keyed pseudo-random order, skipping the taken ones.

    A 4-round Feistel network permutes 0..2**32-1; values beyond the number space (segments × 10**8)
    are walked past. Distinct counters give distinct numbers, so no set of issued numbers is kept.
    """

    def __init__(self, seed: int, taken: set[str]) -> None:
        self.segments = sorted(CHINA_MOBILE_SEGMENTS)
        self.space = len(self.segments) * 10**8
        assert self.space <= 2**32
        rng = _derived(seed, "msisdn")
        self.keys = [rng.getrandbits(32) for _ in range(4)]
        self.taken = taken
        self.counter = 0

    def _permute(self, x: int) -> int:
        left, right = x >> 16, x & 0xFFFF
        for k in self.keys:
            h = ((right ^ k) * 0x9E3779B1 + (k >> 7)) & 0xFFFFFFFF
            left, right = right, left ^ ((h >> 13) & 0xFFFF)
        return (left << 16) | right

    def __next__(self) -> str:
        while True:
            if self.counter >= 2**32:
                raise RuntimeError("the China Mobile number space is exhausted")
            x = self._permute(self.counter)
            self.counter += 1
            if x < self.space:
                number = f"{self.segments[x // 10**8]}{x % 10**8:08d}"
                if number not in self.taken:
                    return number


# ---------------------------------------------------------------------------- one account, before rows

class _Account:
    """A subscriber and its history, from which ``_Batch.emit`` writes every row."""

    __slots__ = ("msisdn", "name", "id_number", "brand", "payment_type", "star", "province", "city",
                 "join_date", "language", "status", "plan", "next_plan_code", "balance", "credit", "points",
                 "password_hash", "opt_out", "holdings", "usage", "recharges", "bill_cycles", "bill_usage",
                 "suspended_since", "counters")

    def __init__(self, **values: Any) -> None:
        self.next_plan_code = None
        self.credit = 0
        self.opt_out = False
        self.holdings: list[tuple[Product, bool, int, int | None, dt.datetime]] = []
        # (kind, started_at, direction, other_party, duration_s, volume_kb, location), in time order
        self.usage: list[tuple[str, dt.datetime, str | None, str | None, int, int, str]] = []
        self.recharges: list[tuple[int, dt.datetime]] = []
        self.bill_cycles: list[int] = []
        self.bill_usage: dict[int, list[tuple[str, int]]] = {}
        self.suspended_since: int | None = None
        self.counters = True
        for k, v in values.items():
            setattr(self, k, v)


class _Context:
    """What every account needs: the catalogue, the clock's cycle and cached texts."""

    def __init__(self, products: ProductCatalog, clock: Clock) -> None:
        self.products = products
        self.now = clock.now()
        self.tz = self.now.tzinfo
        self.today = clock.today()
        self.cycle = cycle_of(self.today)
        self.prev1 = prev_cycle(self.cycle)
        self.prev2 = prev_cycle(self.prev1)
        self.cycle_dt = self.at(cycle_start(self.cycle))
        self.elapsed_s = max(0, int((self.now - self.cycle_dt).total_seconds()))
        self.month_s = calendar.monthrange(self.cycle // 100, self.cycle % 100)[1] * 86400
        self._texts: dict[tuple[str, int], str] = {}

    def at(self, day: dt.date, seconds: int = 0) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, tzinfo=self.tz) + dt.timedelta(seconds=seconds)

    def fee_text(self, p: Product, cycle: int) -> str:
        key = (p.code, cycle)
        text = self._texts.get(key)
        if text is None:
            label = cycle_label_zh(cycle)
            text = f"{p.name_zh}月费（{label}）" if p.kind is ProductKind.PLAN else f"{p.name_zh}（{label}）"
            self._texts[key] = text
        return text

    def suspension_text(self, cycle: int) -> str:
        key = ("suspension", cycle)
        if key not in self._texts:
            self._texts[key] = f"停机保号费（{cycle_label_zh(cycle)}）"
        return self._texts[key]

    def bill_time(self, cycle: int) -> dt.datetime:
        return self.at(cycle_start(next_cycle(cycle)), 300)


class _Batch:
    """The rows of one chunk, per table, with the next free id of each table."""

    def __init__(self, ctx: _Context, next_ids: dict[str, int]) -> None:
        self.ctx = ctx
        self.rows: dict[str, list[tuple]] = {t.name: [] for t in TABLES}
        self.next_ids = dict(next_ids)
        self.subscribers = 0

    def emit(self, a: _Account) -> None:
        ctx, cycle, rows, ids = self.ctx, self.ctx.cycle, self.rows, self.next_ids
        sid = ids["subscribers"]
        ids["subscribers"] = sid + 1
        self.subscribers += 1
        plan = a.plan
        rows["subscribers"].append((
            sid, a.msisdn, a.name, a.id_number, a.brand.value, a.payment_type.value, int(a.star), a.province,
            a.city, a.join_date, a.language, a.status.value, plan.code, a.next_plan_code, a.balance, a.credit,
            a.points, a.password_hash, 0, None, a.opt_out, cycle, 0))

        hid = ids["subscriptions"]
        out = rows["subscriptions"]
        for p, in_plan, start, end, created in a.holdings:
            out.append((hid, sid, p.code, in_plan, start, end, created, None))
            hid += 1
        ids["subscriptions"] = hid

        # this cycle: fees first, then recharges and usage charges in time order
        lid = ids["ledger"]
        money: list[tuple[dt.datetime, str, int, str]] = []
        if a.status is Status.CLOSED:
            pass
        elif a.suspended_since is not None and a.suspended_since <= cycle:
            money.append((ctx.cycle_dt, "suspension_fee", -SUSPENSION_FEE_FEN, ctx.suspension_text(cycle)))
        else:
            money.append((ctx.cycle_dt, "plan_fee", -plan.fee_fen, ctx.fee_text(plan, cycle)))
            for p, in_plan, start, end, created in a.holdings:
                if in_plan or not p.fee_fen or start > cycle or (end is not None and end < cycle):
                    continue
                if p.billing is Billing.MONTHLY or start == cycle:
                    when = created if start == cycle else ctx.cycle_dt
                    money.append((when, p.kind.value + "_fee", -p.fee_fen, ctx.fee_text(p, cycle)))
        for amount, when in a.recharges:
            money.append((when, "recharge", amount, f"充值{yuan(amount)}元"))

        if a.usage:
            allowance = {"voice_min": plan.voice_min, "data_mb": plan.data_mb, "sms": plan.sms}
            for p, in_plan, start, end, created in a.holdings:
                if p.kind in (ProductKind.DATA_PACK, ProductKind.VOICE_PACK) and start <= cycle \
                        and (end is None or end >= cycle):
                    allowance["voice_min"] += p.voice_min
                    allowance["data_mb"] += p.data_mb
                    allowance["sms"] += p.sms
        used = {"voice_min": 0, "data_mb": 0, "sms": 0}
        rid = ids["usage_records"]
        out = rows["usage_records"]
        for kind, when, direction, other, duration, volume, location in a.usage:
            if kind == "data":
                bucket, units = "data_mb", -(-volume // 1024)
            elif kind == "call":
                bucket, units = "voice_min", (0 if direction == "in" else -(-duration // 60))
            else:
                bucket, units = "sms", (0 if direction == "in" else 1)
            before = used[bucket]
            over = max(0, before + units - max(allowance[bucket], before))
            fee = 0
            if over:
                fee = (TARIFF.data_fee(over) if bucket == "data_mb"
                       else over * (TARIFF.voice_per_min if bucket == "voice_min" else TARIFF.sms_each))
                money.append((when, "usage", -fee, _USAGE_DESC[bucket]))
            used[bucket] = before + units
            out.append((rid, sid, cycle, kind, when, direction, other, duration, volume, location, fee))
            rid += 1
        ids["usage_records"] = rid
        if a.counters:
            out = rows["usage_counters"]
            for bucket in BUCKETS:
                out.append((sid, cycle, bucket, used[bucket]))

        if len(money) > 1:
            money.sort(key=lambda m: m[0])
        out = rows["ledger"]
        for when, kind, amount, text in money:
            out.append((lid, sid, cycle, kind, amount, text, None, when))
            lid += 1
        ids["ledger"] = lid

        # bills of closed cycles, items grouped like the rollover groups the ledger
        bid, iid = ids["bills"], ids["bill_items"]
        out_bills, out_items = rows["bills"], rows["bill_items"]
        for c in a.bill_cycles:
            items: list[tuple[str, str, int]] = []
            if a.suspended_since is not None and a.suspended_since <= c:
                items.append(("suspension_fee", ctx.suspension_text(c), SUSPENSION_FEE_FEN))
            else:
                items.append(("plan_fee", ctx.fee_text(plan, c), plan.fee_fen))
                for p, in_plan, start, end, created in a.holdings:
                    if in_plan or not p.fee_fen or start > c or (end is not None and end < c):
                        continue
                    if p.billing is Billing.MONTHLY or start == c:
                        items.append((p.kind.value + "_fee", ctx.fee_text(p, c), p.fee_fen))
                for text, amount in a.bill_usage.get(c, ()):
                    items.append(("usage", text, amount))
            items.sort(key=lambda it: it[0])
            out_bills.append((bid, sid, c, sum(it[2] for it in items), ctx.bill_time(c)))
            for kind, text, amount in items:
                out_items.append((iid, bid, _CATEGORY.get(kind, kind), text, amount))
                iid += 1
            bid += 1
        ids["bills"], ids["bill_items"] = bid, iid


# ---------------------------------------------------------------------------- the synthetic population

def _cum(weights: Iterable[float]) -> list[float]:
    return list(accumulate(weights))


def _pick(rng: random.Random, items: list, cum: list[float]) -> Any:
    return items[bisect(cum, rng.random() * cum[-1])]


def _compatible(p: Product, held: Iterable[Product]) -> bool:
    """The catalogue's clash rules (``check_eligible``) between ``p`` and products already held."""
    for other in held:
        if other.code == p.code:
            return False
        if p.exclusive_group and other.exclusive_group == p.exclusive_group:
            return False
        if other.code in p.excludes or p.code in other.excludes:
            return False
    return True


def _eligible(p: Product, brand: Brand, payment: PaymentType, star: int) -> bool:
    return ((not p.brands or brand in p.brands) and (not p.payment_types or payment in p.payment_types)
            and star >= p.min_star)


def _months_back(cycle: int, months: int) -> int:
    for _ in range(months):
        cycle = prev_cycle(cycle)
    return cycle


class _Population:
    """Draws synthetic accounts from one ``random.Random`` stream (so chunking does not matter)."""

    def __init__(self, ctx: _Context, seed: int, taken: set[str], pool: list[tuple[str, str]]) -> None:
        self.ctx = ctx
        self.rng = random.Random(seed)
        self.msisdns = _MsisdnStream(seed, taken)
        self.pool = pool
        self.index = 0
        products = ctx.products
        self.plans = products.of_kind(ProductKind.PLAN)
        self.addons = [p for p in products.of_kind(ProductKind.VAS, ProductKind.FEATURE)
                       if p.billing is Billing.MONTHLY]
        self.monthly_data = [p for p in products.of_kind(ProductKind.DATA_PACK) if p.billing is Billing.MONTHLY]
        self.oneoff_data = [p for p in products.of_kind(ProductKind.DATA_PACK) if p.billing is Billing.ONE_OFF]
        self.monthly_voice = [p for p in products.of_kind(ProductKind.VOICE_PACK)
                              if p.billing is Billing.MONTHLY]
        self._choices: dict[tuple, tuple[list[Product], list[float]]] = {}
        self.provinces: list[Province] = list(PROVINCES)
        self.province_cum = _cum(p.weight for p in PROVINCES)
        self.all_cities: list[City] = [c for p in PROVINCES for c in p.cities]
        self.star_cum = {b: _cum(w) for b, w in _STAR_WEIGHTS.items()}
        self.first_day = dt.date(2000, 1, 1)
        self.span_days = max(0, (ctx.today - self.first_day).days)

    def plans_for(self, brand: Brand, payment: PaymentType, star: int) -> tuple[list[Product], list[float]]:
        key = ("plan", brand, payment, star)
        if key not in self._choices:
            eligible = [p for p in self.plans if _eligible(p, brand, payment, star)]
            if not eligible:
                raise ValueError(f"no plan in the catalogue suits {brand.value}/{payment.value}/star {star}")
            # brand plans are what most customers of a brand have; cheaper ones are more common
            weights = [(3.0 if p.brands else 1.0) * (1.6 if i % 2 == 0 else 1.0) / (1 + p.fee_fen / 20_000)
                       for i, p in enumerate(eligible)]
            self._choices[key] = (eligible, _cum(weights))
        return self._choices[key]

    def addons_for(self, brand: Brand, payment: PaymentType, star: int) -> list[Product]:
        key = ("addon", brand, payment, star)
        if key not in self._choices:
            self._choices[key] = ([p for p in self.addons if _eligible(p, brand, payment, star)], [])
        return self._choices[key][0]

    def _date_between(self, start: dt.date, end: dt.date) -> dt.date:
        days = (end - start).days
        return start + dt.timedelta(days=self.rng.randrange(days + 1)) if days > 0 else start

    def _created(self, day: dt.date) -> dt.datetime:
        """An order time on ``day`` in business hours, never after now."""
        when = self.ctx.at(day, self.rng.randrange(8 * 3600, 22 * 3600))
        return min(when, self.ctx.now)

    def next_account(self) -> _Account:
        ctx, rng = self.ctx, self.rng
        index = self.index
        self.index += 1
        today, cycle = ctx.today, ctx.cycle

        r = rng.random()
        brand = Brand.EASYOWN if r < 0.5 else Brand.MZONE if r < 0.75 else Brand.GOTONE
        # tenure: skewed towards recent joiners
        join = self.first_day + dt.timedelta(days=int(self.span_days * (1 - rng.random() ** 1.7)))
        tenure_years = (today - join).days / 365.25
        star = bisect(self.star_cum[brand], rng.random() * self.star_cum[brand][-1])
        if tenure_years > 8 and star < 6 and rng.random() < 0.5:
            star += 1
        if tenure_years > 15 and star < 6 and rng.random() < 0.4:
            star += 1
        if brand is Brand.GOTONE:
            payment = PaymentType.POSTPAID if rng.random() < 0.85 else PaymentType.PREPAID
        else:
            payment = PaymentType.PREPAID
        credit = _CREDIT_BY_STAR[star] if payment is PaymentType.POSTPAID else 0

        province = _pick(rng, self.provinces, self.province_cum)
        city = province.cities[rng.randrange(len(province.cities))]
        age_at_join = 16 + (rng.randrange(14) if brand is Brand.MZONE else int(rng.random() ** 1.4 * 52))
        birth = join - dt.timedelta(days=int((age_at_join + rng.random()) * 365.25))
        name = random_name(rng)
        id_number = random_id_number(rng, city.admin_code, birth)
        language = "en" if rng.random() < 0.03 else "zh"

        r = rng.random()
        status = (Status.ACTIVE if r < 0.93 else Status.SUSPENDED_VOLUNTARY if r < 0.96
                  else Status.SUSPENDED_ARREARS if r < 0.98 else Status.LOST if r < 0.985 else Status.CLOSED)
        cycle_first = cycle_start(cycle)
        if status is Status.CLOSED and join >= cycle_first:
            status = Status.ACTIVE  # joined this month: too new to have closed
        join_cycle = cycle_of(join)
        closed_cycle = None
        last_day = today
        if status is Status.CLOSED:
            closed_on = self._date_between(max(join, cycle_start(_months_back(cycle, 6))),
                                           cycle_first - dt.timedelta(days=1))
            closed_cycle = cycle_of(closed_on)
            last_day = closed_on

        plans, cum = self.plans_for(brand, payment, star)
        plan = _pick(rng, plans, cum)
        bill_cycles = [c for c in (ctx.prev2, ctx.prev1)
                       if c >= join_cycle and (closed_cycle is None or c <= closed_cycle)]
        # the plan has not changed over the billed cycles
        plan_day = self._date_between(join, last_day)
        if bill_cycles and cycle_of(plan_day) > bill_cycles[0]:
            plan_day = max(join, cycle_start(bill_cycles[0]))
        plan_cycle = cycle_of(plan_day)
        end = closed_cycle
        held: list[Product] = [plan]
        holdings: list[tuple[Product, bool, int, int | None, dt.datetime]] = []
        plan_created = self._created(plan_day) if plan_day > join else min(ctx.at(join, 10 * 3600), ctx.now)
        for code in plan.includes:
            p = ctx.products.get(code)
            held.append(p)
            holdings.append((p, True, plan_cycle, end, plan_created))

        r = rng.random()
        extra = 0 if r < 0.35 else 1 if r < 0.70 else 2 if r < 0.90 else 3
        candidates = self.addons_for(brand, payment, star)
        for _ in range(extra):
            p = candidates[rng.randrange(len(candidates))]
            if _compatible(p, held):
                held.append(p)
                day = self._date_between(join, last_day)
                holdings.append((p, False, cycle_of(day), end, self._created(day)))
        live = status is not Status.CLOSED
        if rng.random() < 0.12 and self.monthly_data:
            p = self.monthly_data[rng.randrange(len(self.monthly_data))]
            if _eligible(p, brand, payment, star) and _compatible(p, held):
                held.append(p)
                day = self._date_between(join, last_day)
                holdings.append((p, False, cycle_of(day), end, self._created(day)))
        if rng.random() < 0.03 and self.monthly_voice:
            p = self.monthly_voice[rng.randrange(len(self.monthly_voice))]
            if _eligible(p, brand, payment, star) and _compatible(p, held):
                held.append(p)
                day = self._date_between(join, last_day)
                holdings.append((p, False, cycle_of(day), end, self._created(day)))
        if live and status is not Status.SUSPENDED_VOLUNTARY and rng.random() < 0.05 and self.oneoff_data:
            p = self.oneoff_data[rng.randrange(len(self.oneoff_data))]
            if _eligible(p, brand, payment, star):
                day = self._date_between(max(join, cycle_first), today)
                holdings.append((p, False, cycle, cycle, self._created(day)))
        holdings.sort(key=lambda h: h[4])

        a = _Account(msisdn=next(self.msisdns), name=name, id_number=id_number, brand=brand,
                     payment_type=payment, star=StarLevel(star), province=province.code, city=city.name_zh,
                     join_date=join, language=language, status=status, plan=plan, credit=credit,
                     password_hash=self.pool[index % len(self.pool)][1], opt_out=rng.random() < 0.08,
                     holdings=holdings, bill_cycles=bill_cycles)

        if status is Status.SUSPENDED_VOLUNTARY:
            a.suspended_since = rng.choice((cycle, cycle, ctx.prev1)) if ctx.prev1 >= join_cycle else cycle
            a.counters = False
        elif status is Status.CLOSED:
            a.counters = False
        else:
            self._usage(a, plan, holdings, city.name_zh, status)
        for c in bill_cycles:
            if rng.random() < 0.15 and not (a.suspended_since is not None and a.suspended_since <= c):
                what = rng.choice(("上网流量费", "语音通话费", "短信费"))
                a.bill_usage[c] = [(what, rng.randrange(10, 3000))]

        monthly = plan.fee_fen + sum(h[0].fee_fen for h in holdings if not h[1])
        if payment is PaymentType.PREPAID and status in (Status.ACTIVE, Status.LOST) and rng.random() < 0.35:
            amount = rng.choice((1000, 2000, 3000, 5000, 5000, 10000, 10000, 20000, 30000))
            day = self._date_between(max(join, cycle_first), today)
            a.recharges.append((amount, self._created(day)))

        if status is Status.SUSPENDED_ARREARS:
            a.balance = -credit - rng.randrange(100, 8000)
        elif status is Status.CLOSED:
            a.balance = 0
        elif payment is PaymentType.POSTPAID:
            a.balance = rng.randrange(-int(credit * 0.6), 30_000)
        elif status is Status.SUSPENDED_VOLUNTARY:
            a.balance = rng.randrange(0, 5_000)
        else:
            a.balance = min(300_000, int(rng.lognormvariate(8.2, 1.0)))
        months = min(36, max(1, int(tenure_years * 12)))
        a.points = int(months * monthly / 100 * rng.uniform(0.2, 1.0)) if status is not Status.CLOSED else 0
        if status is Status.ACTIVE and rng.random() < 0.015:
            others = [p for p in plans if p.code != plan.code]
            if others:
                a.next_plan_code = others[rng.randrange(len(others))].code
        return a

    def _usage(self, a: _Account, plan: Product, holdings: list, city: str, status: Status) -> None:
        """A handful of itemised records this cycle, totals in proportion to the allowance used."""
        ctx, rng = self.ctx, self.rng
        window = ctx.elapsed_s if status is Status.ACTIVE else int(ctx.elapsed_s * rng.random())
        start_s = 0
        join_dt = ctx.at(a.join_date)
        if join_dt > ctx.cycle_dt:  # joined this month
            start_s = min(window, int((join_dt - ctx.cycle_dt).total_seconds()))
        if window - start_s < 60:
            return
        share = (window - start_s) / ctx.month_s
        data_allow = plan.data_mb + sum(h[0].data_mb for h in holdings if h[0].kind is ProductKind.DATA_PACK)
        voice_allow = plan.voice_min + sum(h[0].voice_min for h in holdings
                                           if h[0].kind is ProductKind.VOICE_PACK)
        events: list[tuple[int, str, str | None, str | None, int, int, str]] = []

        def moment() -> int:
            return rng.randrange(start_s, window)

        def place() -> str:
            return city if rng.random() < 0.9 else self.all_cities[rng.randrange(len(self.all_cities))].name_zh

        data_mb = int(max(data_allow, 300) * share * rng.lognormvariate(-0.6, 0.7))
        sessions = 0 if data_mb < 1 else 1 + (data_mb > 200) + (data_mb > 2000) + (rng.random() < 0.3)
        remaining = data_mb * 1024
        for k in range(sessions):
            kb = remaining if k == sessions - 1 else int(remaining * rng.uniform(0.2, 0.6))
            remaining -= kb
            if kb > 0:
                events.append((moment(), "data", None, None, 0, kb, place()))

        voice_min = max(voice_allow, 30) * share * rng.lognormvariate(-0.9, 0.8)
        calls = rng.randrange(1, 5)
        for _ in range(calls):
            seconds = max(3, int(voice_min * 60 / calls * rng.uniform(0.3, 1.7)))
            events.append((moment(), "call", "out", _party(rng), seconds, 0, place()))
        for _ in range(rng.randrange(0, 3)):
            events.append((moment(), "call", "in", _party(rng), rng.randrange(5, 600), 0, place()))
        for _ in range(rng.randrange(0, 3)):
            events.append((moment(), "sms", "out" if rng.random() < 0.6 else "in", _party(rng), 0, 0, place()))
        events.sort(key=lambda e: e[0])
        base = ctx.cycle_dt
        a.usage = [(kind, base + dt.timedelta(seconds=s), direction, other, duration, kb, loc)
                   for s, kind, direction, other, duration, kb, loc in events]


_PARTY_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182",
                   "187", "188", "130", "131", "132", "155", "156", "185", "186", "133", "153", "180", "189")


def _party(rng: random.Random) -> str:
    if rng.random() < 0.04:
        return rng.choice(("10086", "95588", "95533", "10010"))
    return f"{_PARTY_PREFIXES[rng.randrange(len(_PARTY_PREFIXES))]}{rng.randrange(10**8):08d}"


# ---------------------------------------------------------------------------- the demo subscribers

def _demo_accounts(ctx: _Context, hashes: dict[str, str], seed: int) -> list[_Account]:
    """张三, 李四 and 王五 with the facts the documentation and the demo script rely on."""
    products, cycle, today = ctx.products, ctx.cycle, ctx.today
    get = products.get

    def joined(year: int, month: int, day: int) -> dt.date:
        return min(dt.date(year, month, day), today - dt.timedelta(days=400))

    def since(months: int, join: dt.date) -> tuple[int, dt.datetime]:
        c = max(_months_back(cycle, months), cycle_of(join))
        day = max(cycle_start(c) + dt.timedelta(days=9), join)
        return c, min(ctx.at(day, 10 * 3600 + 1800), ctx.now)

    def moment(fraction: float) -> dt.datetime:
        return ctx.cycle_dt + dt.timedelta(seconds=int(ctx.elapsed_s * fraction))

    def identity(msisdn: str, admin_code: str, birth: dt.date, female: bool) -> str:
        return random_id_number(_derived(seed, "demo", msisdn), admin_code, birth, female=female)

    accounts = []
    if "13800138000" in hashes:
        join = joined(2012, 5, 20)
        plan = get("plan.easyown_18")
        c_plan, t_plan = since(40, join)
        c_music, t_music = since(14, join)
        c_news, t_news = since(60, join)
        a = _Account(msisdn="13800138000", name="张三", id_number=identity("13800138000", "1101",
                                                                            dt.date(1988, 3, 12), False),
                     brand=Brand.EASYOWN, payment_type=PaymentType.PREPAID, star=StarLevel.TWO, province="BJ",
                     city="北京", join_date=join, language="zh", status=Status.ACTIVE, plan=plan, balance=5670,
                     points=1200, password_hash=hashes["13800138000"],
                     holdings=sorted([(get(code), True, c_plan, None, t_plan) for code in plan.includes]
                                     + [(get("vas.migu_music_vip"), False, c_music, None, t_music),
                                        (get("vas.mobile_newspaper"), False, c_news, None, t_news)],
                                     key=lambda h: h[4]),
                     bill_cycles=[ctx.prev2, ctx.prev1],
                     bill_usage={ctx.prev2: [("语音通话费", 380)]})
        # 620 MB of data in four sessions (whole MB each), a few calls and messages
        a.usage = sorted([
            ("data", moment(0.10), None, None, 0, 150 * 1024, "北京"),
            ("call", moment(0.18), "out", "13912345678", 245, 0, "北京"),
            ("sms", moment(0.22), "out", "13912345678", 0, 0, "北京"),
            ("call", moment(0.31), "in", "13600001111", 412, 0, "北京"),
            ("data", moment(0.40), None, None, 0, 210 * 1024, "北京"),
            ("sms", moment(0.47), "in", "10086", 0, 0, "北京"),
            ("call", moment(0.55), "out", "01065288888", 1310, 0, "天津"),
            ("data", moment(0.63), None, None, 0, 180 * 1024, "天津"),
            ("sms", moment(0.70), "out", "13800001234", 0, 0, "北京"),
            ("call", moment(0.82), "out", "13912345678", 58, 0, "北京"),
            ("data", moment(0.90), None, None, 0, 80 * 1024, "北京"),
        ], key=lambda u: u[1])
        a.recharges = [(5000, moment(0.05))]
        accounts.append(a)
    if "13900139000" in hashes:
        join = joined(2006, 9, 8)
        plan = get("plan.gotone_5g_198")
        c_plan, t_plan = since(30, join)
        c_roam, t_roam = since(20, join)
        a = _Account(msisdn="13900139000", name="李四", id_number=identity("13900139000", "4401",
                                                                            dt.date(1975, 11, 2), False),
                     brand=Brand.GOTONE, payment_type=PaymentType.POSTPAID, star=StarLevel.FIVE_GOLD,
                     province="GD", city="广州", join_date=join, language="zh", status=Status.ACTIVE,
                     plan=plan, balance=30000, credit=50000, points=18650, password_hash=hashes["13900139000"],
                     holdings=sorted([(get(code), True, c_plan, None, t_plan) for code in plan.includes]
                                     + [(get("feature.roaming_intl"), False, c_roam, None, t_roam)],
                                     key=lambda h: h[4]),
                     bill_cycles=[ctx.prev2, ctx.prev1],
                     bill_usage={ctx.prev1: [("语音通话费", 1265)]})
        a.usage = sorted([
            ("data", moment(0.08), None, None, 0, 3100 * 1024, "广州"),
            ("call", moment(0.12), "out", "13800138001", 1820, 0, "广州"),
            ("call", moment(0.35), "out", "02083338888", 640, 0, "深圳"),
            ("data", moment(0.50), None, None, 0, 5400 * 1024, "深圳"),
            ("call", moment(0.66), "in", "13500002222", 300, 0, "广州"),
            ("sms", moment(0.72), "out", "13500002222", 0, 0, "广州"),
            ("data", moment(0.88), None, None, 0, 2750 * 1024, "广州"),
        ], key=lambda u: u[1])
        accounts.append(a)
    if "13700137000" in hashes:
        join = joined(2019, 9, 1)
        plan = get("plan.mzone_28")
        c_plan, t_plan = since(26, join)
        a = _Account(msisdn="13700137000", name="王五", id_number=identity("13700137000", "5101",
                                                                            dt.date(2001, 6, 30), False),
                     brand=Brand.MZONE, payment_type=PaymentType.PREPAID, star=StarLevel.ONE, province="SC",
                     city="成都", join_date=join, language="zh", status=Status.SUSPENDED_VOLUNTARY, plan=plan,
                     balance=1280, points=260, password_hash=hashes["13700137000"],
                     holdings=[(get(code), True, c_plan, None, t_plan) for code in plan.includes],
                     bill_cycles=[ctx.prev2, ctx.prev1], bill_usage={ctx.prev2: [("上网流量费", 500)]},
                     suspended_since=ctx.prev1, counters=False)
        accounts.append(a)
    return accounts


# ---------------------------------------------------------------------------- writing

_LOCK_SQL = "LOCK TABLE " + ", ".join(t.name for t in TABLES) + " IN SHARE ROW EXCLUSIVE MODE"


def _next_ids(conn: Connection, is_sqlite: bool) -> dict[str, int]:
    if not is_sqlite:
        conn.exec_driver_sql(_LOCK_SQL)  # no concurrent writer takes the ids we are about to use
    out = {}
    for t in _WITH_ID:
        out[t.name] = int(conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()) + 1
    return out


def _write(conn: Connection, batch: _Batch, is_sqlite: bool) -> None:
    if is_sqlite:
        _write_sqlite(conn, batch)
    else:
        _write_postgres(conn, batch)


def _write_postgres(conn: Connection, batch: _Batch) -> None:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        for t in TABLES:
            rows = batch.rows[t.name]
            if not rows:
                continue
            with cur.copy(f"COPY {t.name} ({', '.join(_COLUMNS[t.name])}) FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
        for t in _WITH_ID:
            last = batch.next_ids[t.name] - 1
            if last > 0:
                cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                            "GREATEST(%s, (SELECT COALESCE(MAX(id), 1) FROM " + t.name + ")))", (t.name, last))


def _write_sqlite(conn: Connection, batch: _Batch) -> None:
    dialect = conn.dialect
    for t in TABLES:
        rows = batch.rows[t.name]
        if not rows:
            continue
        procs = [(i, p) for i, c in enumerate(t.columns)
                 if (p := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None]
        if procs:
            converted = []
            for row in rows:
                row = list(row)
                for i, p in procs:
                    v = row[i]
                    if v is not None:
                        row[i] = p(v)
                converted.append(row)
            rows = converted
        cols = _COLUMNS[t.name]
        sql = f"INSERT INTO {t.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        conn.connection.driver_connection.executemany(sql, rows)


def _count(report: SeedReport, batch: _Batch) -> None:
    for t in TABLES:
        setattr(report, t.name, getattr(report, t.name) + len(batch.rows[t.name]))


def _existing_msisdns(conn: Connection) -> set[str]:
    return set(conn.execute(select(subscribers.c.msisdn)).scalars())


def seed_population(db: Database, products: ProductCatalog, *, subscribers: int, seed: int, clock: Clock,
                    kdf_n: int, progress: Callable[[int], None] | None = None,
                    chunk: int = CHUNK) -> SeedReport:
    """Write the demo subscribers (unless present) and ``subscribers`` synthetic ones. Sync; see module doc."""
    if subscribers < 0:
        raise ValueError("subscribers must be >= 0")
    started = time.perf_counter()
    report = SeedReport()
    ctx = _Context(products, clock)
    taken = db.run_sync(_existing_msisdns, write=False)

    missing_demo = [m for m in DEMO_PASSWORDS if m not in taken]
    pool_size = min(POOL_SIZE, subscribers)
    pool_pw = [pool_password(seed, k) for k in range(pool_size)]
    hashes = _hash_all([(DEMO_PASSWORDS[m], _salt(seed, "demo", m)) for m in missing_demo]
                       + [(p, _salt(seed, "pool", k)) for k, p in enumerate(pool_pw)], kdf_n)
    demo_hashes = dict(zip(missing_demo, hashes[:len(missing_demo)]))
    pool = list(zip(pool_pw, hashes[len(missing_demo):]))
    taken |= set(DEMO_PASSWORDS)

    if missing_demo:
        def demo_job(conn: Connection) -> _Batch:
            batch = _Batch(ctx, _next_ids(conn, db.is_sqlite))
            for a in _demo_accounts(ctx, demo_hashes, seed):
                batch.emit(a)
            _write(conn, batch, db.is_sqlite)
            return batch
        _count(report, db.run_sync(demo_job))
        report.demo_subscribers = len(missing_demo)

    population = _Population(ctx, seed, taken, pool)

    def chunk_job(conn: Connection, count: int) -> _Batch:
        batch = _Batch(ctx, _next_ids(conn, db.is_sqlite))
        for _ in range(count):
            a = population.next_account()
            batch.emit(a)
            if len(report.samples) < 3 and a.status is Status.ACTIVE:
                report.samples.append((a.msisdn, pool[(population.index - 1) % len(pool)][0]))
        _write(conn, batch, db.is_sqlite)
        return batch

    done = 0
    while done < subscribers:
        count = min(chunk, subscribers - done)
        _count(report, db.run_sync(chunk_job, (count,)))
        done += count
        if progress is not None:
            progress(done)
    report.synthetic_subscribers = done
    if not db.is_sqlite and done >= 50_000:
        with db.engine.connect() as conn:  # fresh statistics for the planner after a bulk load
            conn.exec_driver_sql("ANALYZE " + ", ".join(t.name for t in TABLES))
            conn.commit()
    report.seconds = time.perf_counter() - started
    return report


def seed_demo_if_empty(db: Database, products: ProductCatalog, *, clock: Clock, kdf_n: int, synthetic: int,
                       seed: int = DEFAULT_SEED,
                       progress: Callable[[int], None] | None = None) -> SeedReport | None:
    """Seed the demo population when there are no subscribers yet (first start of ``hotline serve``)."""
    empty = db.run_sync(lambda conn: conn.execute(select(subscribers.c.id).limit(1)).first() is None,
                        write=False)
    if not empty:
        return None
    return seed_population(db, products, subscribers=synthetic, seed=seed, clock=clock, kdf_n=kdf_n,
                           progress=progress)


__all__ = ["DEMO_PASSWORDS", "SeedReport", "pool_password", "seed_demo_if_empty", "seed_population",
           "synthetic_password"]
