"""What the benchmarks share: throw-away databases, a fast population, statistics, the table, JSON."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import URL, make_url

from hotline.bootstrap import Hotline, bootstrap
from hotline.config import Settings
from hotline.domain.billing import cycle_of
from hotline.domain.password import hash_password
from hotline.store.sql.tables import subscribers, subscriptions

BACKENDS = ("sqlite", "postgresql")
PG_URL = os.environ.get("HOTLINE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Password hashing is not what is measured: a real scrypt, cheaper than production's 2**14.
KDF_N = int(os.environ.get("HOTLINE_PASSWORD_KDF_N", "4096"))
RESULTS_DIR = Path(__file__).with_name("results")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------- results
@dataclass
class Row:
    """One line of the table (and one object in the JSON)."""

    benchmark: str
    backend: str
    mode: str
    rate: float | None = None          # per second
    unit: str = ""
    count: int | None = None           # operations measured
    seconds: float | None = None       # measured wall time
    p50_ms: float | None = None
    p99_ms: float | None = None
    bare: float | None = None          # the bare limit of the same database, per second
    ratio: float | None = None         # rate / bare
    goal: str = ""                     # the goal and whether it is met
    note: str = ""
    skipped: str = ""                  # why the row could not be measured
    extra: dict[str, Any] = field(default_factory=dict)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def latency_summary(latencies_s: list[float]) -> dict[str, float | None]:
    lat = sorted(latencies_s)
    ms = lambda v: None if v is None else v * 1000.0  # noqa: E731
    return {"p50_ms": ms(percentile(lat, 0.50)), "p90_ms": ms(percentile(lat, 0.90)),
            "p99_ms": ms(percentile(lat, 0.99)), "max_ms": ms(lat[-1] if lat else None),
            "mean_ms": ms(sum(lat) / len(lat) if lat else None)}


def _fmt(v: float | None, digits: int = 1) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def render_table(rows: list[Row]) -> str:
    head = ["benchmark", "backend", "mode", "rate/s", "p50 ms", "p99 ms", "bare/s", "ratio", "goal", "note"]
    body = []
    for r in rows:
        if r.skipped:
            body.append([r.benchmark, r.backend, r.mode, "skipped", "", "", "", "", r.goal, r.skipped])
            continue
        body.append([r.benchmark, r.backend, r.mode, _fmt(r.rate), _fmt(r.p50_ms, 2), _fmt(r.p99_ms, 2),
                     _fmt(r.bare), "-" if r.ratio is None else f"{r.ratio:.0%}", r.goal, r.note])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    right = {3, 4, 5, 6, 7}
    line = lambda cells: " | ".join(  # noqa: E731
        str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
    ).rstrip()
    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([line(head), sep, *(line(b) for b in body)])


def environment() -> dict[str, Any]:
    import psycopg
    import sqlalchemy
    env = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
           "sqlite": sqlite3.sqlite_version, "sqlalchemy": sqlalchemy.__version__,
           "psycopg": psycopg.__version__, "password_kdf_n": KDF_N,
           "postgres_url": make_url(PG_URL).render_as_string(hide_password=True),
           "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]}
    with contextlib.suppress(Exception):
        with psycopg.connect(**pg_conninfo(PG_URL), connect_timeout=3) as c:
            for name in ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "commit_delay",
                         "shared_buffers"):
                row = c.execute(f"SHOW {name}").fetchone()
                assert row is not None   # SHOW answers one row
                env["postgresql" if name == "server_version" else f"pg_{name}"] = row[0]
    return env


def write_results(rows: list[Row], params: dict[str, Any], started: float) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    doc = {"started_at": dt.datetime.fromtimestamp(started).astimezone().isoformat(timespec="seconds"),
           "loadavg_at_start": params.pop("loadavg_at_start", None),
           "seconds": round(time.time() - started, 1), "params": params, "environment": environment(),
           "results": [asdict(r) for r in rows], "table": render_table(rows)}
    path = RESULTS_DIR / "latest.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------- throw-away databases
def pg_conninfo(url: str | URL) -> dict[str, Any]:
    """libpq keyword arguments for a SQLAlchemy PostgreSQL URL (for raw psycopg connections)."""
    u = make_url(url) if isinstance(url, str) else url
    info: dict[str, Any] = {"host": u.host or "127.0.0.1", "port": u.port or 5432, "dbname": u.database,
                            "user": u.username or "postgres"}
    if u.password:
        info["password"] = u.password
    options = u.query.get("options")
    if options:
        info["options"] = options if isinstance(options, str) else " ".join(options)
    return info


def postgres_reachable() -> str:
    """'' when PostgreSQL answers at PG_URL, else why not."""
    import psycopg
    try:
        with psycopg.connect(**pg_conninfo(PG_URL), connect_timeout=3) as c:
            c.execute("SELECT 1")
        return ""
    except Exception as err:  # noqa: BLE001
        return f"PostgreSQL not reachable at {make_url(PG_URL).render_as_string(hide_password=True)}: " \
               f"{type(err).__name__}"


@contextlib.contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """The SQLAlchemy URL of an empty database, removed afterwards: a SQLite file in a temporary
    directory, or a new PostgreSQL schema (``bench_xxx``) dropped with CASCADE."""
    if backend == "sqlite":
        tmp = tempfile.mkdtemp(prefix="hotline-bench-")
        try:
            yield f"sqlite:///{Path(tmp) / 'hotline.db'}"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in PG_URL else "?"
        try:
            yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


def settings_for(url: str, threads: int = 8) -> Settings:
    data_dir = Path(make_url(url).database or ".").parent if url.startswith("sqlite") else Path(tempfile.gettempdir())
    return Settings(database_url=url, data_dir=data_dir, password_kdf_n=KDF_N, db_threads=threads,
                    seed_demo=False)


@contextlib.contextmanager
def hotline_on(backend: str, threads: int = 8) -> Iterator[Hotline]:
    """A bootstrapped (migrated) hotline on a fresh database of ``backend``, closed and removed after."""
    with fresh_database(backend) as url:
        hl = bootstrap(settings_for(url, threads))
        try:
            yield hl
        finally:
            hl.close()


def populate(hl: Hotline, n: int, *, balance_fen: int = 10**12, first: str = "1380000") -> list[tuple[int, str]]:
    """Insert ``n`` active prepaid subscribers (with their plan's included products) in one transaction,
    the way tests/factories.py does but in bulk and with one shared password hash. Returns (id, msisdn)."""
    cycle = cycle_of(hl.bss.clock.today())
    now = hl.bss.clock.now()
    plan = hl.bss.products.get("plan.easyown_18")
    pw_hash = hash_password("482916", n=hl.settings.password_kdf_n)
    msisdns = [f"{first}{i:04d}" for i in range(n)] if n <= 10_000 else [f"138{i:08d}" for i in range(n)]
    rows = [dict(msisdn=m, name="赵六", id_number="11010519491231002X", brand="easyown", payment_type="prepaid",
                 star_level=1, province="BJ", city="北京", join_date=dt.date(2015, 3, 1), language="zh",
                 status="active", plan_code=plan.code, next_plan_code=None, balance_fen=balance_fen,
                 credit_limit_fen=0, points=0, password_hash=pw_hash, pw_failures=0, pw_fail_day=None,
                 marketing_opt_out=False, cycle=cycle, version=0) for m in msisdns]

    def job(conn):
        conn.execute(insert(subscribers), rows)
        ids = dict(conn.execute(subscribers.select().with_only_columns(subscribers.c.msisdn, subscribers.c.id)
                                ).all())
        if plan.includes:
            conn.execute(insert(subscriptions), [
                {"subscriber_id": ids[m], "product_code": code, "in_plan": True, "start_cycle": cycle,
                 "end_cycle": None, "created_at": now} for m in msisdns for code in plan.includes])
        return [(ids[m], m) for m in msisdns]

    return hl.db.run_sync(job)


def analyze(hl: Hotline) -> None:
    """PostgreSQL: refresh planner statistics after a bulk load, as autovacuum soon would in service.
    (hotline never runs ANALYZE on SQLite, so neither does the benchmark.)"""
    if hl.db.is_sqlite:
        return
    with hl.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def env_int(name: str, default: int) -> int:
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def env_float(name: str, default: float) -> float:
    v = os.environ.get(name, "")
    return float(v) if v.strip() else default
