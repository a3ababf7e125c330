"""The synthetic population: the demo subscribers' facts, determinism, a plausible mix, and that the
seeded rows work with every view and with the monthly rollover (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import pytest
from sqlalchemy import func, insert, select

from hotline.bss.port import Actor
from hotline.bss.seed import (
    DEMO_ID_NUMBERS,
    DEMO_PASSWORDS,
    SeedReport,
    seed_demo_if_empty,
    seed_population,
    synthetic_password,
)
from hotline.domain.errors import WrongPassword
from hotline.domain.geo import province_by_code
from hotline.domain.identity import is_valid_id_number
from hotline.domain.msisdn import is_valid_msisdn
from hotline.domain.subscriber import StarLevel
from hotline.store.sql import migrate
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

ME = Actor("test", "t")
ZHANG, LI, WANG = "13800138000", "13900139000", "13700137000"
SEEDED_TABLES = (subscribers, subscriptions, usage_counters, usage_records, ledger, bills, bill_items)


def seed(hl, n: int, seed_value: int = 7, **kw) -> SeedReport:
    return seed_population(hl.db, hl.bss.products, subscribers=n, seed=seed_value, clock=hl.bss.clock,
                           kdf_n=hl.settings.password_kdf_n, **kw)


def rows(db: Database, table, order=None) -> list[tuple]:
    order = order if order is not None else [c for c in table.primary_key.columns]
    return db.run_sync(lambda c: [tuple(r) for r in c.execute(select(table).order_by(*order))], write=False)


def count(db: Database, table) -> int:
    return db.run_sync(lambda c: c.execute(select(func.count()).select_from(table)).scalar_one(), write=False)


# ---------------------------------------------------------------------------- the demo subscribers

async def test_demo_subscribers_have_the_documented_facts(hl):
    report = seed(hl, 20)
    assert report.demo_subscribers == 3 and report.synthetic_subscribers == 20 and report.subscribers == 23

    zhang = await hl.bss.get_subscriber(ZHANG)
    assert (zhang.name, zhang.brand.value, zhang.payment_type.value, zhang.star_level) == \
        ("张三", "easyown", "prepaid", StarLevel.TWO)
    assert (zhang.plan_code, zhang.province, zhang.city, zhang.language, zhang.status.value) == \
        ("plan.easyown_18", "BJ", "北京", "zh", "active")
    assert zhang.balance_fen == 5670 and zhang.credit_limit_fen == 0 and 1000 <= zhang.points <= 1500

    li = await hl.bss.get_subscriber(LI)
    assert (li.name, li.brand.value, li.payment_type.value, li.star_level) == \
        ("李四", "gotone", "postpaid", StarLevel.FIVE_GOLD)
    assert (li.balance_fen, li.credit_limit_fen, li.plan_code, li.province, li.city) == \
        (30000, 50000, "plan.gotone_5g_198", "GD", "广州")

    wang = await hl.bss.get_subscriber(WANG)
    assert (wang.name, wang.brand.value, wang.payment_type.value, wang.status.value, wang.plan_code) == \
        ("王五", "mzone", "prepaid", "suspended_voluntary", "plan.mzone_28")
    assert (wang.province, wang.city) == ("SC", "成都") and wang.balance_fen > 0

    for sub in (zhang, li, wang):
        assert sub.id_number == DEMO_ID_NUMBERS[sub.msisdn] and is_valid_id_number(sub.id_number)
        city = next(c for c in province_by_code(sub.province).cities if c.name_zh == sub.city)
        assert sub.id_number.startswith(city.admin_code)
        assert sub.password_hash.startswith(f"scrypt${hl.settings.password_kdf_n}$")
    assert len({zhang.password_hash, li.password_hash, wang.password_hash}) == 3

    for msisdn, password in DEMO_PASSWORDS.items():
        await hl.bss.verify_password(msisdn, password, actor=ME)  # raises when wrong
    with pytest.raises(WrongPassword):
        await hl.bss.verify_password(ZHANG, "842613", actor=ME)


async def test_zhangsan_360_view_usage_records_and_bills(hl):
    seed(hl, 5)
    view = await hl.bss.profile(ZHANG, ME)
    assert view["balance_fen"] == 5670
    assert view["status"]["code"] == "active" and view["cycle"] == 202611
    subs = {s["code"]: s["in_plan"] for s in view["subscriptions"]}
    assert subs == {"vas.hecaiyun_basic": True, "vas.migu_music_vip": False, "vas.mobile_newspaper": False}
    # this cycle's monthly fees: the plan and the two services outside it
    assert view["charges_this_cycle_fen"] == 1800 + 1500 + 300
    assert view["usage"]["data_mb"] == {"used": 620, "included": 1024}
    assert 0 < view["usage"]["voice_min"]["used"] < 100 and 0 < view["usage"]["sms"]["used"] < 50
    assert 1000 <= view["points"] <= 1500

    records = await hl.bss.usage_records(ZHANG, None, None, ME)
    kinds = Counter(r["kind"] for r in records)
    assert kinds["data"] >= 2 and kinds["call"] >= 2 and kinds["sms"] >= 2
    assert sum(-(-r["volume_kb"] // 1024) for r in records if r["kind"] == "data") == 620
    out_calls = [r for r in records if r["kind"] == "call" and r["direction"] == "out"]
    assert sum(-(-r["duration_s"] // 60) for r in out_calls) == view["usage"]["voice_min"]["used"]
    assert all(r["fee_fen"] == 0 for r in records)
    times = [r["started_at"] for r in records]
    assert times == sorted(times)

    bill_list = await hl.bss.bills(ZHANG, ME)
    assert [b["cycle"] for b in bill_list] == [202610, 202609]
    for b in bill_list:
        assert b["items"] and sum(i["amount_fen"] for i in b["items"]) == b["total_fen"]
        descriptions = " ".join(i["description"] for i in b["items"])
        assert "神州行18元套餐" in descriptions and "咪咕音乐白金会员" in descriptions and "手机报" in descriptions
        assert "和彩云" not in descriptions  # included in the plan, not charged apart


async def test_lisi_and_wangwu_holdings(hl):
    seed(hl, 0)
    li = await hl.bss.profile(LI, ME)
    plan = hl.bss.products.get("plan.gotone_5g_198")
    held = {s["code"]: s["in_plan"] for s in li["subscriptions"]}
    assert held == {**{code: True for code in plan.includes}, "feature.roaming_intl": False}
    assert li["star_level"]["vip"] and li["available_fen"] == 80000
    assert li["charges_this_cycle_fen"] == 19800
    assert li["usage"]["data_mb"]["used"] > 0

    wang = await hl.bss.profile(WANG, ME)
    assert wang["status"]["code"] == "suspended_voluntary"
    assert wang["charges_this_cycle_fen"] == 500  # 停机保号 instead of the plan fee
    assert all(u["used"] == 0 for u in wang["usage"].values())
    assert len(await hl.bss.bills(WANG, ME)) == 2


# ---------------------------------------------------------------------------- determinism

def _normalised(value, tz):
    if isinstance(value, dt.datetime):  # PostgreSQL answers in UTC, SQLite in the stored wall time
        return value.astimezone(tz).replace(tzinfo=None) if value.tzinfo else value
    return value


def test_same_seed_gives_identical_rows(hl, tmp_path, clock):
    other = Database(f"sqlite:///{tmp_path / 'second.db'}", threads=2)
    try:
        migrate.upgrade(other)
        a = seed(hl, 300, 7)
        b = seed_population(other, hl.bss.products, subscribers=300, seed=7, clock=clock,
                            kdf_n=hl.settings.password_kdf_n, chunk=70)  # chunking must not matter
        assert a.rows == b.rows and a.subscribers == 303
        assert rows(hl.db, subscribers) == rows(other, subscribers)
        tz = clock.tz
        for table in SEEDED_TABLES[1:]:
            mine = [tuple(_normalised(v, tz) for v in r) for r in rows(hl.db, table)]
            theirs = [tuple(_normalised(v, tz) for v in r) for r in rows(other, table)]
            assert mine == theirs, table.name
        assert a.samples == b.samples
    finally:
        other.dispose()


def test_another_seed_gives_another_population(hl, tmp_path, clock):
    other = Database(f"sqlite:///{tmp_path / 'other.db'}", threads=2)
    try:
        migrate.upgrade(other)
        seed(hl, 50, 7)
        seed_population(other, hl.bss.products, subscribers=50, seed=8, clock=clock,
                        kdf_n=hl.settings.password_kdf_n)
        mine = {r[1] for r in rows(hl.db, subscribers)}
        theirs = {r[1] for r in rows(other, subscribers)}
        assert mine & theirs == set(DEMO_PASSWORDS)
    finally:
        other.dispose()


# ---------------------------------------------------------------------------- a plausible population

def test_population_mix_is_plausible(hl):
    report = seed(hl, 1500, 11)
    subs = hl.db.run_sync(lambda c: c.execute(select(subscribers)).all(), write=False)
    assert len(subs) == report.subscribers == 1503
    synthetic = [s for s in subs if s.msisdn not in DEMO_PASSWORDS]

    assert len({s.msisdn for s in subs}) == len(subs)
    assert all(is_valid_msisdn(s.msisdn) for s in subs)
    assert all(is_valid_id_number(s.id_number) for s in subs)
    assert len({s.msisdn[:3] for s in synthetic}) >= 10

    brands = Counter(s.brand for s in synthetic)
    assert 0.42 < brands["easyown"] / len(synthetic) < 0.58
    assert 0.18 < brands["mzone"] / len(synthetic) < 0.32 and 0.18 < brands["gotone"] / len(synthetic) < 0.32
    statuses = Counter(s.status for s in synthetic)
    assert len(statuses) >= 4 and 0.88 < statuses["active"] / len(synthetic) < 0.97
    assert Counter(s.language for s in synthetic)["en"] < len(synthetic) * 0.08
    assert len({s.province for s in synthetic}) >= 20

    today = hl.bss.clock.today()
    stars = defaultdict(list)
    for s in synthetic:
        province = province_by_code(s.province)
        city = next(c for c in province.cities if c.name_zh == s.city)
        assert s.id_number.startswith(city.admin_code)
        assert dt.date(2000, 1, 1) <= s.join_date <= today
        assert s.cycle == 202611 and s.version == 0 and s.password_hash.startswith("scrypt$")
        plan = hl.bss.products.get(s.plan_code)
        assert not plan.brands or s.brand in {b.value for b in plan.brands}
        assert s.star_level >= plan.min_star
        if s.payment_type == "postpaid":
            assert s.brand == "gotone" and s.credit_limit_fen > 0
        else:
            assert s.credit_limit_fen == 0
        if s.status == "suspended_arrears":
            assert s.balance_fen < -s.credit_limit_fen
        elif s.status == "active":
            assert s.balance_fen + s.credit_limit_fen >= 0
        stars[s.brand].append(s.star_level)
    mean = {b: sum(v) / len(v) for b, v in stars.items()}
    assert mean["gotone"] > mean["easyown"] + 1 and mean["gotone"] > mean["mzone"] + 1
    assert len({s.password_hash for s in synthetic}) == 64  # the shared pool


def test_holdings_usage_and_money_are_consistent(hl):
    seed(hl, 800, 5)
    catalog = hl.bss.products
    subs = {s.id: s for s in hl.db.run_sync(lambda c: c.execute(select(subscribers)).all(), write=False)}
    holdings = defaultdict(list)
    for h in rows(hl.db, subscriptions):
        holdings[h[1]].append(h)
    for sid, s in subs.items():
        plan = catalog.get(s.plan_code)
        in_plan = {h[2] for h in holdings[sid] if h[3]}
        assert in_plan == set(plan.includes), s.msisdn
        current = [catalog.get(h[2]) for h in holdings[sid] if h[4] <= 202611 and (h[5] is None or h[5] >= 202611)]
        codes = [p.code for p in current]
        assert len(codes) == len(set(codes)), s.msisdn
        groups = [p.exclusive_group for p in current if p.exclusive_group]
        assert len(groups) == len(set(groups)), s.msisdn
        if s.status == "closed":
            assert all(h[5] is not None and h[5] < 202611 for h in holdings[sid])

    used = {(r[0], r[2]): r[3] for r in rows(hl.db, usage_counters)}
    from_records = Counter()
    for r in rows(hl.db, usage_records):
        sid, kind, direction, duration, volume = r[1], r[3], r[5], r[7], r[8]
        if kind == "data":
            from_records[(sid, "data_mb")] += -(-volume // 1024)
        elif direction == "out":
            from_records[(sid, "voice_min" if kind == "call" else "sms")] += -(-duration // 60) if kind == "call" else 1
    for key, units in from_records.items():
        assert used[key] == units, key
    assert sum(1 for v in used.values() if v) > 0

    fees = Counter()
    balance = Counter()
    for entry in rows(hl.db, ledger):
        balance[entry[1]] += entry[4]
        if entry[3] == "opening_balance":   # brought forward from the previous cycle, one per account
            assert entry[2] == 202610
            continue
        assert entry[2] == 202611
        if entry[4] < 0 and entry[3] != "usage":
            fees[entry[1]] -= entry[4]
    assert all(balance[sid] == s.balance_fen for sid, s in subs.items())   # balance = sum(ledger) from the start
    for sid, s in subs.items():
        if s.status == "closed":
            assert fees[sid] == 0
        elif s.status == "suspended_voluntary":
            assert fees[sid] in (500,)
        else:
            assert fees[sid] >= catalog.get(s.plan_code).fee_fen

    bill_rows = rows(hl.db, bills)
    assert len({(b[1], b[2]) for b in bill_rows}) == len(bill_rows)
    assert {b[2] for b in bill_rows} <= {202609, 202610}
    totals = Counter()
    for item in rows(hl.db, bill_items):
        totals[item[1]] += item[4]
    assert all(totals[b[0]] == b[3] > 0 for b in bill_rows)


# ---------------------------------------------------------------------------- seeded rows in use

async def test_synthetic_subscriber_works_in_every_view_and_order(hl):
    report = seed(hl, 120, 3)
    synthetic = hl.db.run_sync(lambda c: c.execute(
        select(subscribers.c.msisdn, subscribers.c.status).where(subscribers.c.msisdn.notin_(list(DEMO_PASSWORDS)))
        .order_by(subscribers.c.id)).all(), write=False)
    index, (msisdn, _) = next((i, r) for i, r in enumerate(synthetic) if r.status == "active")
    assert (msisdn, synthetic_password(3, index)) == report.samples[0]
    await hl.bss.verify_password(msisdn, synthetic_password(3, index), actor=ME)

    view = await hl.bss.profile(msisdn, ME)
    assert view["msisdn"] == msisdn and view["plan"]["code"]
    assert view["usage"]["voice_min"]["used"] >= 0 and view["charges_this_cycle_fen"] > 0
    await hl.bss.bills(msisdn, ME)
    assert await hl.bss.usage_records(msisdn, None, None, ME)

    # new rows after a bulk load take fresh ids (the PostgreSQL sequences were moved past the seeded ids)
    await hl.bss.recharge(msisdn, 10_000, key="seed-recharge", actor=ME)
    result = await hl.bss.subscribe(msisdn, "pack.data_1g_month", key="seed-pack", actor=ME)
    assert result.status == "completed"
    usage = await hl.bss.record_usage(msisdn, "sms", 1, other_party="10086")
    assert count(hl.db, ledger) == report.ledger + 2 + (usage["fee_fen"] > 0)
    assert count(hl.db, subscriptions) == report.subscriptions + 1
    assert count(hl.db, usage_records) == report.usage_records + 1


async def test_seeding_again_keeps_the_demo_subscribers_once(hl):
    first = seed(hl, 40, 9)
    await hl.bss.recharge(ZHANG, 1000, key="between", actor=ME)
    second = seed(hl, 40, 9)
    assert first.demo_subscribers == 3 and second.demo_subscribers == 0
    assert second.subscribers == second.synthetic_subscribers == 40
    msisdns = [r[1] for r in rows(hl.db, subscribers)]
    assert len(msisdns) == 83 and len(set(msisdns)) == 83
    assert all(msisdns.count(m) == 1 for m in DEMO_PASSWORDS)
    assert (await hl.bss.get_subscriber(ZHANG)).balance_fen == 5670 + 1000  # left alone


async def test_seed_demo_if_empty(hl):
    first = seed_demo_if_empty(hl.db, hl.bss.products, clock=hl.bss.clock, kdf_n=hl.settings.password_kdf_n,
                               synthetic=10)
    assert first is not None and first.subscribers == 13
    assert first.demo_cards == 6 and count(hl.db, topup_cards) == 6
    hl.db.run_sync(lambda c: c.execute(topup_cards.delete()))   # a database seeded before there were cards
    again = seed_demo_if_empty(hl.db, hl.bss.products, clock=hl.bss.clock, kdf_n=hl.settings.password_kdf_n,
                               synthetic=10)
    assert again is None and count(hl.db, subscribers) == 13
    assert count(hl.db, topup_cards) == 6   # the demo cards are there for the README's examples


def test_writes_made_between_chunks_move_the_next_chunk_ids(hl, clock):
    """A live server may add rows while a seeding runs: later chunks then take the next free ids."""
    made = []

    def meanwhile(done: int) -> None:
        def job(conn):
            zid = conn.execute(select(subscribers.c.id).where(subscribers.c.msisdn == ZHANG)).scalar_one()
            conn.execute(insert(ledger).values(subscriber_id=zid, cycle=202611, kind="recharge", amount_fen=100,
                                               description="充值1.00元", created_at=clock.now()))
        hl.db.run_sync(job)
        made.append(done)

    report = seed(hl, 200, 4, chunk=50, progress=meanwhile)
    assert made == [50, 100, 150, 200]
    assert count(hl.db, ledger) == report.ledger + 4
    ids = [r[0] for r in rows(hl.db, ledger)]
    assert len(ids) == len(set(ids))
    sub_ids = {r[0] for r in rows(hl.db, subscribers)}
    assert {r[1] for r in rows(hl.db, ledger)} <= sub_ids


async def test_rollover_of_a_seeded_population_bills_everyone(hl):
    report = seed(hl, 200, 2)
    hl.bss.clock.advance(days=16)   # 1 December: November has ended and can be closed
    assert await hl.bss.rollover(202612) == report.subscribers == 203
    november = hl.db.run_sync(lambda c: c.execute(select(bills).where(bills.c.cycle == 202611)).all(), write=False)
    closed_unbilled = hl.db.run_sync(lambda c: c.execute(
        select(func.count()).select_from(subscribers).where(subscribers.c.status == "closed")).scalar_one(),
        write=False)
    # every open account is billed; a closed one only when it still had charges
    assert 203 - closed_unbilled <= len(november) <= 203
    by_sub = {b.subscriber_id: b for b in november}
    assert sum(1 for b in november if b.total_fen > 0) > 150

    zhang = await hl.bss.profile(ZHANG, ME)
    assert zhang["cycle"] == 202612
    assert zhang["bills"][0] == {"cycle": 202611, "total_fen": 3600}
    assert zhang["balance_fen"] == 5670 - 3600 and zhang["points"] == 1200 + 36
    assert zhang["usage"]["data_mb"]["used"] == 0
    wang = await hl.bss.profile(WANG, ME)
    assert wang["bills"][0] == {"cycle": 202611, "total_fen": 500} and wang["balance_fen"] == 1280 - 500
    assert len(by_sub) == len(november)
    assert await hl.bss.rollover(202612) == 0
