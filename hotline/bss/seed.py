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
  ``RETURNING``. One writer thread loads chunk k (one transaction each) while the caller's thread
  generates chunk k+1; only about two chunks are ever in memory. The write transaction locks the
  seeded tables against other writers (PostgreSQL ``LOCK TABLE ... SHARE ROW EXCLUSIVE``; SQLite's
  ``BEGIN IMMEDIATE``) and re-reads ``max(id)``: if a running server added rows since the chunk was
  generated, the chunk's ids are shifted to the next free ones. PostgreSQL loads with binary
  ``COPY ... FROM STDIN`` (psycopg 3) and then moves the id sequences past the new rows; a role that
  may set ``session_replication_role`` (a superuser, or one granted it) skips the per-row
  foreign-key triggers inside the chunk's transaction, as every reference points at a row of the
  same chunk or an existing one (about 3x faster; without it the load is slower, not different).
  SQLite uses ``executemany`` in one transaction per chunk.
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
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.exc import DBAPIError

from hotline.bss.cards import NewCard, card_rows, derived_salt, insert_cards
from hotline.domain.billing import (
    BILL_CATEGORIES,
    SUSPENSION_FEE_FEN,
    TARIFF,
    Clock,
    cycle_label_zh,
    cycle_of,
    cycle_start,
    next_cycle,
    prev_cycle,
)
from hotline.domain.errors import WeakPassword
from hotline.domain.geo import PROVINCES, Province
from hotline.domain.identity import random_id_number, random_name
from hotline.domain.msisdn import CHINA_MOBILE_SEGMENTS
from hotline.domain.password import check_strength, hash_password
from hotline.domain.products import Billing, Product, ProductCatalog, ProductKind, yuan
from hotline.domain.subscriber import Brand, PaymentType, StarLevel, Status
from hotline.store.sql.database import Database
from hotline.store.sql.tables import (
    bill_items,
    bills,
    ledger,
    subscribers,
    subscriptions,
    topup_cards,
    usage_counters,
    usage_records,
)

CHUNK = 10_000            # subscribers per transaction
POOL_SIZE = 64            # shared synthetic password hashes
DEFAULT_SEED = 86
OPENING_TEXT = "期初余额（上期结转）"

DEMO_PASSWORDS: dict[str, str] = {"13800138000": "369258", "13900139000": "842613", "13700137000": "517390"}
# The demo subscribers' resident ID numbers (北京, 广州, 成都), the same whatever the seed.
DEMO_ID_NUMBERS: dict[str, str] = {
    msisdn: random_id_number(random.Random(f"hotline-demo:{msisdn}"), admin_code, birth, female=False)
    for msisdn, admin_code, birth in (("13800138000", "1101", dt.date(1988, 3, 12)),
                                      ("13900139000", "4401", dt.date(1975, 11, 2)),
                                      ("13700137000", "5101", dt.date(2001, 6, 30)))}

# Demo top-up cards (充值卡), published in the README so a newcomer can try them: serial, PIN, face value
# (fen), last day of validity. The last one has expired. Real cards come from `hotline cards create`.
DEMO_CARDS: tuple[tuple[str, str, int, dt.date], ...] = (
    ("10086202600000001", "271828182845904523", 1_000, dt.date(2036, 12, 31)),
    ("10086202600000002", "314159265358979323", 3_000, dt.date(2036, 12, 31)),
    ("10086202600000003", "161803398874989484", 5_000, dt.date(2036, 12, 31)),
    ("10086202600000004", "141421356237309504", 10_000, dt.date(2036, 12, 31)),
    ("10086202600000005", "173205080756887729", 10_000, dt.date(2036, 12, 31)),
    ("10086202600000006", "223606797749978969", 5_000, dt.date(2025, 12, 31)),
)

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
    demo_cards: int = 0             # demo top-up cards created (0 when they already existed)

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

    def __init__(self, *, msisdn: str, name: str, id_number: str, brand: Brand, payment_type: PaymentType,
                 star: StarLevel | int, province: str, city: str, join_date: dt.date, language: str, status: Status,
                 plan: Product, password_hash: str, balance: int = 0, credit: int = 0, points: int = 0,
                 next_plan_code: str | None = None, opt_out: bool = False,
                 holdings: list[tuple[Product, bool, int, int | None, dt.datetime]] | None = None,
                 bill_cycles: list[int] | None = None, bill_usage: dict[int, list[tuple[str, int]]] | None = None,
                 suspended_since: int | None = None, counters: bool = True) -> None:
        self.msisdn, self.name, self.id_number = msisdn, name, id_number
        self.brand, self.payment_type, self.star = brand, payment_type, star
        self.province, self.city, self.join_date, self.language = province, city, join_date, language
        self.status, self.plan, self.next_plan_code = status, plan, next_plan_code
        self.balance, self.credit, self.points = balance, credit, points
        self.password_hash, self.opt_out = password_hash, opt_out
        # (product, in_plan, start_cycle, end_cycle, created_at)
        self.holdings = holdings if holdings is not None else []
        # (kind, started_at, direction, other_party, duration_s, volume_kb, location), in time order
        self.usage: list[tuple[str, dt.datetime, str | None, str | None, int, int, str]] = []
        self.recharges: list[tuple[int, dt.datetime]] = []
        self.bill_cycles = bill_cycles if bill_cycles is not None else []
        self.bill_usage = bill_usage if bill_usage is not None else {}
        self.suspended_since = suspended_since   # voluntarily suspended from this cycle on
        self.counters = counters                 # write this cycle's usage counters


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
        self.epoch_ord = dt.date(2000, 1, 1).toordinal()
        self.epoch_dt = dt.datetime(2000, 1, 1, tzinfo=self.tz)
        self.cycle_dt = self.at(cycle_start(self.cycle))
        self.opening_dt = self.cycle_dt - dt.timedelta(seconds=1)
        self.elapsed_s = max(0, int((self.now - self.cycle_dt).total_seconds()))
        self.month_s = calendar.monthrange(self.cycle // 100, self.cycle % 100)[1] * 86400
        self._texts: dict[tuple[str, int], str] = {}
        self._bill_times: dict[int, dt.datetime] = {}
        # code → (fee, billed monthly, ledger kind, is a data/voice pack)
        self.info: dict[str, tuple[int, bool, str, bool]] = {
            p.code: (p.fee_fen, p.billing is Billing.MONTHLY, p.kind.value + "_fee",
                     p.kind in (ProductKind.DATA_PACK, ProductKind.VOICE_PACK)) for p in products}
        self.pg_types: dict[str, list[str]] | None = None

    def at(self, day: dt.date, seconds: int = 0) -> dt.datetime:
        """Local wall-clock time ``seconds`` after midnight of ``day``."""
        return self.epoch_dt + dt.timedelta(days=day.toordinal() - self.epoch_ord, seconds=seconds)

    def fee_text(self, code: str, cycle: int) -> str:
        """The ledger description of a product's fee, as the order and rollover code word it."""
        key = (code, cycle)
        text = self._texts.get(key)
        if text is None:
            p = self.products.get(code)
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
        """When the rollover billed ``cycle``: just after midnight starting the next one."""
        when = self._bill_times.get(cycle)
        if when is None:
            when = self._bill_times[cycle] = self.at(cycle_start(next_cycle(cycle)), 300)
        return when

    def recharge_text(self, amount: int) -> str:
        key = ("recharge", amount)
        if key not in self._texts:
            self._texts[key] = f"充值{yuan(amount)}元"
        return self._texts[key]


class _Batch:
    """The rows of one chunk, per table, with the next free id of each table."""

    def __init__(self, ctx: _Context, next_ids: dict[str, int]) -> None:
        self.ctx = ctx
        self.rows: dict[str, list[tuple]] = {t.name: [] for t in TABLES}
        self.base = dict(next_ids)       # the first id of each table this batch was generated for
        self.next_ids = dict(next_ids)
        self.subscribers = 0

    def emit(self, a: _Account) -> None:
        ctx, cycle, rows, ids, info = self.ctx, self.ctx.cycle, self.rows, self.next_ids, self.ctx.info
        sid = ids["subscribers"]
        ids["subscribers"] = sid + 1
        self.subscribers += 1
        plan = a.plan
        status = a.status
        rows["subscribers"].append((
            sid, a.msisdn, a.name, a.id_number, a.brand._value_, a.payment_type._value_, int(a.star),
            a.province, a.city, a.join_date, a.language, status._value_, plan.code, a.next_plan_code, a.balance,
            a.credit, a.points, a.password_hash, 0, None, a.opt_out, cycle, 0))

        # subscriptions; the ones charged apart from the plan: (start, end, created, fee, monthly, kind, code)
        hid = ids["subscriptions"]
        out = rows["subscriptions"]
        charged = []
        packs = []
        for p, in_plan, start, end, created in a.holdings:
            code = p.code
            out.append((hid, sid, code, in_plan, start, end, created, None))
            hid += 1
            fee, monthly, kind, is_pack = info[code]
            if fee and not in_plan:
                charged.append((start, end, created, fee, monthly, kind, code))
            if is_pack and start <= cycle and (end is None or end >= cycle):
                packs.append(p)
        ids["subscriptions"] = hid

        # this cycle: fees, recharges and usage charges, in time order
        money: list[tuple[dt.datetime, str, int, str]] = []
        suspended_since = a.suspended_since
        if status is _CLOSED:
            money = []  # a closed number is charged nothing
        elif suspended_since is not None and suspended_since <= cycle:
            money.append((ctx.cycle_dt, "suspension_fee", -SUSPENSION_FEE_FEN, ctx.suspension_text(cycle)))
        else:
            money.append((ctx.cycle_dt, "plan_fee", -plan.fee_fen, ctx.fee_text(plan.code, cycle)))
            for start, end, created, fee, monthly, kind, code in charged:
                if start <= cycle and (end is None or end >= cycle) and (monthly or start == cycle):
                    money.append((created if start == cycle else ctx.cycle_dt, kind, -fee,
                                  ctx.fee_text(code, cycle)))
        for amount, when in a.recharges:
            money.append((when, "recharge", amount, ctx.recharge_text(amount)))

        if a.usage:
            allow_voice, allow_data, allow_sms = plan.voice_min, plan.data_mb, plan.sms
            for p in packs:
                allow_voice += p.voice_min
                allow_data += p.data_mb
                allow_sms += p.sms
            voice = data = sms = 0
            rid = ids["usage_records"]
            out = rows["usage_records"]
            for kind, when, direction, other, duration, volume, location in a.usage:
                fee = 0
                if kind == "data":
                    units = -(-volume // 1024)
                    over = data + units - (allow_data if allow_data > data else data)
                    data += units
                    if over > 0:
                        fee = TARIFF.data_fee(over)
                        money.append((when, "usage", -fee, "上网流量费"))
                elif direction == "in":
                    pass  # incoming calls and messages are free
                elif kind == "call":
                    units = -(-duration // 60)
                    over = voice + units - (allow_voice if allow_voice > voice else voice)
                    voice += units
                    if over > 0:
                        fee = over * TARIFF.voice_per_min
                        money.append((when, "usage", -fee, "语音通话费"))
                else:
                    over = sms + 1 - (allow_sms if allow_sms > sms else sms)
                    sms += 1
                    if over > 0:
                        fee = over * TARIFF.sms_each
                        money.append((when, "usage", -fee, "短信费"))
                out.append((rid, sid, cycle, kind, when, direction, other, duration, volume, location, fee))
                rid += 1
            ids["usage_records"] = rid
        else:
            voice = data = sms = 0
        if a.counters:
            rows["usage_counters"].extend(((sid, cycle, "voice_min", voice), (sid, cycle, "data_mb", data),
                                           (sid, cycle, "sms", sms)))

        if len(money) > 1:
            money.sort(key=_first)
        lid = ids["ledger"]
        out = rows["ledger"]
        # The balance brought forward, so that balance = sum(ledger) holds from the start (in the previous
        # cycle: it is neither a charge of this cycle nor billed again).
        out.append((lid, sid, ctx.prev1, "opening_balance", a.balance - sum(m[2] for m in money),
                    OPENING_TEXT, None, ctx.opening_dt))
        lid += 1
        for when, kind, amount, text in money:
            out.append((lid, sid, cycle, kind, amount, text, None, when))
            lid += 1
        ids["ledger"] = lid

        # bills of closed cycles, items grouped (and ordered by kind) as the rollover does
        if a.bill_cycles:
            bid, iid = ids["bills"], ids["bill_items"]
            out_bills, out_items = rows["bills"], rows["bill_items"]
            for c in a.bill_cycles:
                if suspended_since is not None and suspended_since <= c:
                    items = [("suspension_fee", ctx.suspension_text(c), SUSPENSION_FEE_FEN)]
                else:
                    items = [("plan_fee", ctx.fee_text(plan.code, c), plan.fee_fen)]
                    for start, end, _created, fee, monthly, kind, code in charged:
                        if start <= c and (end is None or end >= c) and (monthly or start == c):
                            items.append((kind, ctx.fee_text(code, c), fee))
                    extra = a.bill_usage.get(c)
                    if extra:
                        items.extend(("usage", text, amount) for text, amount in extra)
                    if len(items) > 1:
                        items.sort(key=_first)
                total = 0
                for kind, text, amount in items:
                    out_items.append((iid, bid, BILL_CATEGORIES.get(kind, kind), text, amount))
                    iid += 1
                    total += amount
                out_bills.append((bid, sid, c, total, ctx.bill_time(c)))
                bid += 1
            ids["bills"], ids["bill_items"] = bid, iid


_ACTIVE, _SUSPENDED, _ARREARS, _LOST, _CLOSED = (Status.ACTIVE, Status.SUSPENDED_VOLUNTARY,
                                                  Status.SUSPENDED_ARREARS, Status.LOST, Status.CLOSED)


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
    """Draws synthetic accounts from one ``random.Random`` stream (so chunking does not matter).

    Hot path: about a million calls, so draws use ``random()`` directly rather than ``randrange``.
    """

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
        self.all_cities: list[str] = [c.name_zh for p in PROVINCES for c in p.cities]
        self.star_cum = {b: _cum(w) for b, w in _STAR_WEIGHTS.items()}
        self.first_ord = dt.date(2000, 1, 1).toordinal()
        self.today_ord = ctx.today.toordinal()
        self.span_days = max(0, self.today_ord - self.first_ord)
        self.cycle_first_ord = cycle_start(ctx.cycle).toordinal()
        self.closing_from_ord = cycle_start(_months_back(ctx.cycle, 6)).toordinal()
        self.first_ord_of = {c: cycle_start(c).toordinal() for c in (ctx.prev2, ctx.prev1, ctx.cycle)}
        self.includes = {p.code: [products.get(code) for code in p.includes] for p in self.plans}

    def plans_for(self, brand: Brand, payment: PaymentType, star: int) -> tuple[list[Product], list[float]]:
        key = (brand._value_, payment._value_, star)
        hit = self._choices.get(key)
        if hit is None:
            eligible = [p for p in self.plans if _eligible(p, brand, payment, star)]
            if not eligible:
                raise ValueError(f"no plan in the catalogue suits {brand.value}/{payment.value}/star {star}")
            # a brand's own plans are what most of its customers have; cheaper ones are more common
            weights = [(3.0 if p.brands else 1.0) / (1 + p.fee_fen / 10_000) for p in eligible]
            hit = self._choices[key] = (eligible, _cum(weights))
        return hit

    def addons_for(self, brand: Brand, payment: PaymentType, star: int) -> list[Product]:
        key = ("addon", brand._value_, payment._value_, star)
        hit = self._choices.get(key)
        if hit is None:
            hit = self._choices[key] = ([p for p in self.addons if _eligible(p, brand, payment, star)], [])
        return hit[0]

    def _day(self, start: int, end: int) -> int:
        """A day (ordinal) in [start, end], uniformly."""
        return start + int(self.rng.random() * (end - start + 1)) if end > start else start

    def _created(self, day: int) -> dt.datetime:
        """An order time on day ``day`` (ordinal) in business hours, never after now."""
        ctx = self.ctx
        when = ctx.epoch_dt + dt.timedelta(days=day - ctx.epoch_ord, seconds=28_800 + int(self.rng.random() * 50_400))
        return when if when < ctx.now else ctx.now

    def next_account(self) -> _Account:
        ctx, rng = self.ctx, self.rng
        rand = rng.random
        index = self.index
        self.index += 1
        cycle = ctx.cycle
        today = self.today_ord
        first_of_cycle = self.cycle_first_ord

        r = rand()
        brand = Brand.EASYOWN if r < 0.5 else Brand.MZONE if r < 0.75 else Brand.GOTONE
        # tenure: skewed towards recent joiners
        join = self.first_ord + int(self.span_days * (1 - rand() ** 1.7))
        join_date = dt.date.fromordinal(join)
        tenure_years = (today - join) / 365.25
        star_cum = self.star_cum[brand]
        star = bisect(star_cum, rand() * star_cum[-1])
        if tenure_years > 8 and star < 6 and rand() < 0.5:
            star += 1
        if tenure_years > 15 and star < 6 and rand() < 0.4:
            star += 1
        if brand is Brand.GOTONE and rand() < 0.85:
            payment, credit = PaymentType.POSTPAID, _CREDIT_BY_STAR[star]
        else:
            payment, credit = PaymentType.PREPAID, 0

        province = _pick(rng, self.provinces, self.province_cum)
        city = province.cities[int(rand() * len(province.cities))]
        age_at_join = 16 + (int(rand() * 14) if brand is Brand.MZONE else int(rand() ** 1.4 * 52))
        birth = dt.date.fromordinal(join - int((age_at_join + rand()) * 365.25))
        name = random_name(rng)
        id_number = random_id_number(rng, city.admin_code, birth)
        language = "en" if rand() < 0.03 else "zh"

        r = rand()
        status = (_ACTIVE if r < 0.93 else _SUSPENDED if r < 0.96 else _ARREARS if r < 0.98
                  else _LOST if r < 0.985 else _CLOSED)
        if status is _CLOSED and join >= first_of_cycle:
            status = _ACTIVE  # joined this month: too new to have closed
        join_cycle = join_date.year * 100 + join_date.month
        closed_cycle = None
        last_day = today
        if status is _CLOSED:
            last_day = self._day(max(join, self.closing_from_ord), first_of_cycle - 1)
            closed = dt.date.fromordinal(last_day)
            closed_cycle = closed.year * 100 + closed.month

        plans, cum = self.plans_for(brand, payment, star)
        plan = plans[bisect(cum, rand() * cum[-1])]
        bill_cycles = [c for c in (ctx.prev2, ctx.prev1)
                       if c >= join_cycle and (closed_cycle is None or c <= closed_cycle)]
        end = closed_cycle
        holdings: list[tuple[Product, bool, int, int | None, dt.datetime]] = []
        monthly = plan.fee_fen
        held = None
        if plan.includes:
            # the plan has not changed over the billed cycles
            day = self._day(join, last_day)
            if bill_cycles and day > self.first_ord_of[bill_cycles[0]]:
                day = max(join, self.first_ord_of[bill_cycles[0]])
            d = dt.date.fromordinal(day)
            plan_cycle = d.year * 100 + d.month
            created = self._created(day)
            held = self.includes[plan.code]
            for p in held:
                holdings.append((p, True, plan_cycle, end, created))

        # outside the plan: 0-3 services and features, sometimes a monthly data or voice pack
        r = rand()
        extra = 0 if r < 0.35 else 1 if r < 0.70 else 2 if r < 0.90 else 3
        r = rand()
        packs = self.monthly_data if r < 0.12 else self.monthly_voice if r < 0.15 else None
        if extra or packs:
            held = [plan, *(held or ())]
            candidates = self.addons_for(brand, payment, star)
            picks = [candidates[int(rand() * len(candidates))] for _ in range(extra)] if candidates else []
            if packs:
                picks.append(packs[int(rand() * len(packs))])
            for p in picks:
                if _compatible(p, held) and (p.kind is ProductKind.VAS or p.kind is ProductKind.FEATURE
                                             or _eligible(p, brand, payment, star)):
                    held.append(p)
                    day = self._day(join, last_day)
                    d = dt.date.fromordinal(day)
                    holdings.append((p, False, d.year * 100 + d.month, end, self._created(day)))
                    monthly += p.fee_fen
        usable = status is _ACTIVE or status is _ARREARS or status is _LOST
        if usable and self.oneoff_data and rand() < 0.05:
            p = self.oneoff_data[int(rand() * len(self.oneoff_data))]
            if _eligible(p, brand, payment, star):
                holdings.append((p, False, cycle, cycle, self._created(self._day(max(join, first_of_cycle), today))))
        if len(holdings) > 1:
            holdings.sort(key=_created_at)

        a = _Account(msisdn=next(self.msisdns), name=name, id_number=id_number, brand=brand,
                     payment_type=payment, star=star, province=province.code, city=city.name_zh,
                     join_date=join_date, language=language, status=status, plan=plan, credit=credit,
                     password_hash=self.pool[index % len(self.pool)][1], opt_out=rand() < 0.08,
                     holdings=holdings, bill_cycles=bill_cycles)

        if status is _SUSPENDED:
            a.suspended_since = ctx.prev1 if ctx.prev1 >= join_cycle and rand() < 0.35 else cycle
            a.counters = False
        elif status is _CLOSED:
            a.counters = False
        else:
            self._usage(a, plan, holdings, city.name_zh, status)
        for c in bill_cycles:
            if rand() < 0.15 and not (a.suspended_since is not None and a.suspended_since <= c):
                a.bill_usage[c] = [(_USAGE_TEXTS[int(rand() * 3)], 10 + int(rand() * 3000))]

        if payment is PaymentType.PREPAID and (status is _ACTIVE or status is _LOST) and rand() < 0.35:
            amount = _RECHARGES[int(rand() * len(_RECHARGES))]
            a.recharges.append((amount, self._created(self._day(max(join, first_of_cycle), today))))

        # balances that mostly carry the account into next month: prepaid customers keep about one
        # to three months of fees; postpaid ones owe up to this month's fees or have paid ahead
        if status is _ARREARS:
            a.balance = -credit - 100 - int(rand() * 8000)
        elif status is _CLOSED:
            a.balance = 0
        elif credit:
            a.balance = max(-credit, int(monthly * (-0.3 + 2.3 * rand())))
        elif status is _SUSPENDED:
            a.balance = 500 + int(rand() * 5_000)
        else:
            a.balance = min(300_000, int(monthly * (0.9 + 2.0 * rand()) + rng.lognormvariate(7.6, 1.0)))
        if status is not _CLOSED:
            months = min(36, max(1, int(tenure_years * 12)))
            a.points = int(months * monthly / 100 * (0.2 + 0.8 * rand()))
        if status is _ACTIVE and rand() < 0.015 and len(plans) > 1:
            other = plans[int(rand() * len(plans))]
            if other is not plan:
                a.next_plan_code = other.code
        return a

    def _usage(self, a: _Account, plan: Product, holdings: list, city: str, status: Status) -> None:
        """A handful of itemised records this cycle: data in proportion to the allowance, ordinary calls."""
        ctx, rng = self.ctx, self.rng
        rand = rng.random
        window = ctx.elapsed_s if status is _ACTIVE else int(ctx.elapsed_s * rand())
        start_s = 0
        joined = a.join_date.toordinal()
        if joined >= self.cycle_first_ord:  # joined this month
            start_s = min(window, (joined - self.cycle_first_ord) * 86400)
        span = window - start_s
        if span < 60:
            return
        share = span / ctx.month_s
        data_allow = plan.data_mb
        for h in holdings:
            if h[0].kind is ProductKind.DATA_PACK:
                data_allow += h[0].data_mb
        cities = self.all_cities
        events: list[tuple[int, str, str | None, str | None, int, int, str]] = []

        # data: one to three sessions (daily totals of a busy user are large)
        appetite = rng.lognormvariate(-0.6, 0.7)  # share of the allowance this user's month takes
        data_mb = int((data_allow if data_allow > 300 else 300) * share * (appetite if appetite < 2.5 else 2.5))
        if data_mb >= 1:
            sessions = 1 + (data_mb > 500) + (data_mb > 5000)
            remaining = data_mb * 1024
            for k in range(sessions):
                kb = remaining if k == sessions - 1 else int(remaining * (0.2 + 0.4 * rand()))
                remaining -= kb
                if kb > 0:
                    events.append((start_s + int(rand() * span), "data", None, None, 0, kb,
                                   city if rand() < 0.9 else cities[int(rand() * len(cities))]))
        # calls of ordinary length (median about 1.5 minutes): one to three outgoing, now and then an
        # incoming one; and a message or two
        for _ in range(1 + int(rand() * 2.6)):
            seconds = int(rng.lognormvariate(4.5, 1.0))
            events.append((start_s + int(rand() * span), "call", "out", _party(rand),
                           3 if seconds < 3 else 5400 if seconds > 5400 else seconds, 0,
                           city if rand() < 0.9 else cities[int(rand() * len(cities))]))
        if rand() < 0.3:
            events.append((start_s + int(rand() * span), "call", "in", _party(rand), 5 + int(rand() * 600), 0,
                           city))
        for _ in range(int(rand() * 3)):
            events.append((start_s + int(rand() * span), "sms", "out" if rand() < 0.6 else "in", _party(rand),
                           0, 0, city))
        events.sort(key=_first)
        base = ctx.cycle_dt
        a.usage = [(kind, base + dt.timedelta(seconds=s), direction, other, duration, kb, loc)
                   for s, kind, direction, other, duration, kb, loc in events]


def _first(item: tuple) -> Any:
    return item[0]


def _created_at(holding: tuple) -> Any:
    return holding[4]


_USAGE_TEXTS = ("上网流量费", "语音通话费", "短信费")
_RECHARGES = (1000, 2000, 3000, 5000, 5000, 10000, 10000, 20000, 30000)
_PARTY_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182",
                   "187", "188", "130", "131", "132", "155", "156", "185", "186", "133", "153", "180", "189")
_SERVICE_NUMBERS = ("10086", "95588", "95533", "10010")


def _party(rand: Callable[[], float]) -> str:
    """The other party of a call or message: a mobile number, now and then a service number."""
    if rand() < 0.04:
        return _SERVICE_NUMBERS[int(rand() * len(_SERVICE_NUMBERS))]
    return f"{_PARTY_PREFIXES[int(rand() * len(_PARTY_PREFIXES))]}{int(rand() * 1e8):08d}"


# ---------------------------------------------------------------------------- the demo subscribers

def _demo_accounts(ctx: _Context, hashes: dict[str, str]) -> list[_Account]:
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

    accounts = []
    if "13800138000" in hashes:
        join = joined(2012, 5, 20)
        plan = get("plan.easyown_18")
        c_plan, t_plan = since(40, join)
        c_music, t_music = since(14, join)
        c_news, t_news = since(60, join)
        a = _Account(msisdn="13800138000", name="张三", id_number=DEMO_ID_NUMBERS["13800138000"],
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
        a = _Account(msisdn="13900139000", name="李四", id_number=DEMO_ID_NUMBERS["13900139000"],
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
        a = _Account(msisdn="13700137000", name="王五", id_number=DEMO_ID_NUMBERS["13700137000"],
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

# Which columns hold ids, and of which table: a batch generated for one id base can be moved to another.
_ID_COLUMNS: dict[str, list[tuple[int, str]]] = {
    t.name: [(i, t.name if c.name == "id" else next(iter(c.foreign_keys)).column.table.name)
             for i, c in enumerate(t.columns) if c.name == "id" or c.foreign_keys]
    for t in TABLES}


def _next_ids(conn: Connection) -> dict[str, int]:
    return {t.name: int(conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()) + 1
            for t in _WITH_ID}


def _rebase(batch: _Batch, actual: dict[str, int]) -> None:
    """Move a batch's ids when another writer took ids since it was generated (rare: a live server)."""
    delta = {name: actual[name] - batch.base[name] for name in actual}
    if not any(delta.values()):
        return
    for t in TABLES:
        cols = [(i, delta[ref]) for i, ref in _ID_COLUMNS[t.name] if delta[ref]]
        if cols:
            rows = batch.rows[t.name]
            for n, row in enumerate(rows):
                cells = list(row)
                for i, d in cols:
                    cells[i] += d
                rows[n] = tuple(cells)
    batch.base = dict(actual)
    batch.next_ids = {name: batch.next_ids[name] + delta[name] for name in batch.next_ids}


def _write_job(conn: Connection, batch: _Batch, is_sqlite: bool) -> None:
    """One chunk in one transaction: lock out other writers, check the ids, load, move the sequences."""
    if not is_sqlite:
        conn.exec_driver_sql(_LOCK_SQL)  # SQLite's BEGIN IMMEDIATE already excludes other writers
    _rebase(batch, _next_ids(conn))
    if is_sqlite:
        _write_sqlite(conn, batch)
    else:
        _write_postgres(conn, batch)


def _pg_types(conn: Connection) -> dict[str, list[str]]:
    """Each column's type as the database has it, for binary COPY (which sends exact widths)."""
    out: dict[str, list[str]] = {}
    for t in TABLES:
        types: dict[str, str] = dict(conn.exec_driver_sql(
            "SELECT a.attname, a.atttypid::regtype::text FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%(t)s) AND a.attnum > 0 AND NOT a.attisdropped",
            {"t": t.name}).all())
        out[t.name] = [types[c] for c in _COLUMNS[t.name]]
    return out


def _write_postgres(conn: Connection, batch: _Batch) -> None:
    # Rows reference only parents written in the same transaction, so when the role may, skip the
    # per-row foreign-key triggers for this transaction (it roughly triples the load rate).
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        savepoint.commit()
    except DBAPIError:
        savepoint.rollback()
    types = batch.ctx.pg_types or _pg_types(conn)
    batch.ctx.pg_types = types
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        for t in TABLES:
            rows = batch.rows[t.name]
            if not rows:
                continue
            with cur.copy(f"COPY {t.name} ({', '.join(_COLUMNS[t.name])}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types[t.name])
                write = copy.write_row
                for row in rows:
                    write(row)
        for t in _WITH_ID:
            last = batch.next_ids[t.name] - 1
            if last >= batch.base[t.name]:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), %s)", (last,))


def _write_sqlite(conn: Connection, batch: _Batch) -> None:
    dialect = conn.dialect
    raw = conn.connection.driver_connection
    assert raw is not None
    for t in TABLES:
        rows = batch.rows[t.name]
        if not rows:
            continue
        procs = [(i, p) for i, c in enumerate(t.columns)
                 if (p := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None]
        if procs:  # dates, times and booleans as SQLAlchemy stores them
            converted: list[Any] = []
            for row in rows:
                cells = list(row)
                for i, p in procs:
                    if cells[i] is not None:
                        cells[i] = p(cells[i])
                converted.append(cells)
            rows = converted
        cols = _COLUMNS[t.name]
        raw.executemany(f"INSERT INTO {t.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)


def _count(report: SeedReport, batch: _Batch) -> None:
    for t in TABLES:
        setattr(report, t.name, getattr(report, t.name) + len(batch.rows[t.name]))


def _existing_msisdns(conn: Connection) -> set[str]:
    return set(conn.execute(select(subscribers.c.msisdn)).scalars())


def _start(conn: Connection) -> tuple[set[str], dict[str, int]]:
    return _existing_msisdns(conn), _next_ids(conn)


def seed_population(db: Database, products: ProductCatalog, *, subscribers: int, seed: int, clock: Clock,
                    kdf_n: int, progress: Callable[[int], None] | None = None,
                    chunk: int = CHUNK) -> SeedReport:
    """Write the demo subscribers (unless present) and ``subscribers`` synthetic ones. Sync; see module doc.

    A writer thread loads chunk k while this thread generates chunk k+1; ``progress(done)`` is called
    here after each chunk is committed.
    """
    if subscribers < 0:
        raise ValueError("subscribers must be >= 0")
    if chunk < 1:
        raise ValueError("chunk must be >= 1")
    started = time.perf_counter()
    report = SeedReport()
    ctx = _Context(products, clock)
    taken, next_ids = db.run_sync(_start, write=False)

    missing_demo = [m for m in DEMO_PASSWORDS if m not in taken]
    pool_size = min(POOL_SIZE, subscribers)
    pool_pw = [pool_password(seed, k) for k in range(pool_size)]
    hashes = _hash_all([(DEMO_PASSWORDS[m], _salt(seed, "demo", m)) for m in missing_demo]
                       + [(p, _salt(seed, "pool", k)) for k, p in enumerate(pool_pw)], kdf_n)
    demo_hashes = dict(zip(missing_demo, hashes[:len(missing_demo)]))
    pool = list(zip(pool_pw, hashes[len(missing_demo):]))
    taken |= set(DEMO_PASSWORDS)

    def write(batch: _Batch) -> _Batch:
        db.run_sync(_write_job, (batch, db.is_sqlite))
        return batch

    if missing_demo:
        demo = _Batch(ctx, next_ids)
        for a in _demo_accounts(ctx, demo_hashes):
            demo.emit(a)
        write(demo)
        _count(report, demo)
        report.demo_subscribers = len(missing_demo)
        next_ids = demo.next_ids
        report.demo_cards = seed_demo_cards(db, clock=clock, kdf_n=kdf_n, seed=seed)

    population = _Population(ctx, seed, taken, pool)
    done = generated = 0
    with ThreadPoolExecutor(1, thread_name_prefix="hotline-seed") as writer:
        pending = None
        while generated < subscribers or pending is not None:
            batch: _Batch | None = None
            if generated < subscribers:
                count = min(chunk, subscribers - generated)
                batch = _Batch(ctx, next_ids)
                for _ in range(count):
                    a = population.next_account()
                    batch.emit(a)
                    if len(report.samples) < 3 and a.status is Status.ACTIVE:
                        report.samples.append((a.msisdn, pool[(population.index - 1) % len(pool)][0]))
                generated += count
                next_ids = batch.next_ids
            if pending is not None:
                finished = pending.result()
                _count(report, finished)
                done += finished.subscribers
                if progress is not None:
                    progress(done)
            pending = writer.submit(write, batch) if batch is not None else None
    report.synthetic_subscribers = done
    if not db.is_sqlite and done >= 50_000:
        with db.engine.connect() as conn:  # fresh planner statistics after a bulk load
            conn.exec_driver_sql("ANALYZE " + ", ".join(t.name for t in TABLES))
            conn.commit()
    report.seconds = time.perf_counter() - started
    return report


def seed_demo_cards(db: Database, *, clock: Clock, kdf_n: int, seed: int = DEFAULT_SEED) -> int:
    """Write the demo top-up cards that are not there yet; returns how many were added."""
    have = db.run_sync(lambda c: set(c.execute(select(topup_cards.c.serial).where(
        topup_cards.c.serial.in_([card[0] for card in DEMO_CARDS]))).scalars()), write=False)
    missing = [card for card in DEMO_CARDS if card[0] not in have]
    if not missing:
        return 0
    hashes = _hash_all([(pin, derived_salt(seed, serial)) for serial, pin, _, _ in missing], kdf_n)
    made = [NewCard(serial, pin, value, until) for serial, pin, value, until in missing]
    return len(db.run_sync(insert_cards, (card_rows(made, hashes, "demo", clock.now()),)))


def seed_demo_if_empty(db: Database, products: ProductCatalog, *, clock: Clock, kdf_n: int, synthetic: int,
                       seed: int = DEFAULT_SEED,
                       progress: Callable[[int], None] | None = None) -> SeedReport | None:
    """Seed the demo population when there are no subscribers yet (first start of ``hotline serve``)."""
    empty = db.run_sync(lambda conn: conn.execute(select(subscribers.c.id).limit(1)).first() is None,
                        write=False)
    if not empty:
        if db.run_sync(lambda conn: conn.execute(select(subscribers.c.id).where(
                subscribers.c.msisdn.in_(list(DEMO_PASSWORDS))).limit(1)).first() is not None, write=False):
            seed_demo_cards(db, clock=clock, kdf_n=kdf_n, seed=seed)   # a database seeded before cards existed
        return None
    return seed_population(db, products, subscribers=synthetic, seed=seed, clock=clock, kdf_n=kdf_n,
                           progress=progress)


__all__ = ["DEMO_CARDS", "DEMO_ID_NUMBERS", "DEMO_PASSWORDS", "SeedReport", "pool_password", "seed_demo_cards",
           "seed_demo_if_empty", "seed_population", "synthetic_password"]
