"""Where the time of one order goes: cProfile of the sequential order loop, on each backend.

Not part of the default run (a profiler slows Python code down, so its rates are not comparable);
run it with ``python -m bench profile`` (or ``python -m bench.profiling``), option --profile-orders.

Method: hotline on a fresh database with ONE database worker thread, a population as in the order
benchmark, a warm-up, then the same number of sequential orders twice: once plain (for the real
ms/order) and once with cProfile enabled both in the worker thread (the transaction) and in the
event-loop thread (the async frame). The worker's own time (tottime) is grouped into SQLAlchemy,
the driver (Python part and native calls, which hold the round trips and, for SQLite, the WAL
fsync), hotline's code, and the rest; commit time is the driver commit's inclusive time. Also shown:
statements per order, one raw autocommit UPDATE's latency, and the file system's fsync latency.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

from bench import bare
from bench.common import (
    BACKENDS,
    RESULTS_DIR,
    Row,
    analyze,
    hotline_on,
    latency_summary,
    log,
    pg_conninfo,
    populate,
    postgres_reachable,
)
from bench.orders import count_statements, order_loop

IDLE = "idle: worker waits for its next job (event loop turn + thread hop)"
CATEGORIES = ("SQLAlchemy", "driver: SQL execution, round trips, commit", "driver: Python overhead", "hotline",
              "thread hop & asyncio (worker side)", "stdlib & other")
_PG_IO = {"wait", "_send_query_prepared", "_exec_command", "_send_prepare", "_commit_gen"}


def _category(key: tuple[str, int, str]) -> str:
    file, _, func = key
    if file == "~":
        if "SimpleQueue" in func and "get" in func:
            return IDLE
        if "sqlite3" in func and ("execute" in func or "commit" in func or "rollback" in func):
            return "driver: SQL execution, round trips, commit"
        if "_socket.socket" in func or "_thread" in func:
            return "thread hop & asyncio (worker side)"
        return "stdlib & other"
    if "/sqlalchemy/" in file:
        return "SQLAlchemy"
    if "/psycopg/" in file:
        # psycopg_binary's C calls (libpq send, socket wait) are invisible to cProfile: their time is
        # the own time of these Python functions
        return "driver: SQL execution, round trips, commit" if func in _PG_IO else "driver: Python overhead"
    if "/hotline/" in file:
        return "hotline"
    if "/concurrent/futures/" in file or "/asyncio/" in file or file.endswith("threading.py"):
        return "thread hop & asyncio (worker side)"
    return "stdlib & other"


def _commit_time(stats: dict) -> float:
    """Inclusive time of the driver's commit (sqlite3 builtin, or psycopg's Connection.commit)."""
    t = 0.0
    for (file, _, func), (_, _, _tt, ct, _) in stats.items():
        if file == "~" and "commit" in func and "sqlite3" in func:
            t += ct
        elif file.endswith("psycopg/connection.py") and func == "commit":
            t += ct
    return t


def _round_trips(stats: dict) -> int:
    """psycopg waits for the server (one per round trip)."""
    return sum(nc for (file, _, func), (_, nc, _, _, _) in stats.items()
               if file.endswith("psycopg/connection.py") and func == "wait")


def fsync_latency(directory: str, seconds: float = 1.0) -> float:
    """Median seconds for write(4 KiB) + fdatasync on ``directory``'s file system."""
    path = Path(directory) / "fsync-probe"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    lats = []
    try:
        end = time.perf_counter() + seconds
        block = b"x" * 4096
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            os.pwrite(fd, block, 0)
            os.fdatasync(fd)
            lats.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    lats.sort()
    return lats[len(lats) // 2]


def profile_backend(backend: str, orders: int, population: int) -> dict[str, Any]:
    with hotline_on(backend, threads=1) as hl:
        subs = populate(hl, population)
        analyze(hl)
        stmts = count_statements(hl, subs, orders=200)
        plain = asyncio.run(order_loop(hl, subs, count=orders, tag="plain"))
        ids = [i for i, _ in subs]
        if hl.db.is_sqlite:
            db_path = hl.db.url.database
            assert db_path
            raw = bare.sqlite_loop(db_path, ids, duration=1.0)
            fsync = fsync_latency(str(Path(db_path).parent))
        else:
            raw = bare.postgres_loop(pg_conninfo(hl.db.url), ids, duration=1.0)
            fsync = None  # on the server side; see pg_test_fsync for the server's disk
        worker, loop = cProfile.Profile(), cProfile.Profile()
        executor = hl.db._executor  # one thread: profile it where the transactions run
        executor.submit(worker.enable).result()
        loop.enable()
        t0 = time.perf_counter()
        try:
            asyncio.run(order_loop(hl, subs, count=orders, tag="prof"))
        finally:
            loop.disable()
            executor.submit(worker.disable).result()
        profiled_s = time.perf_counter() - t0
    ws = pstats.Stats(worker).stats  # type: ignore[attr-defined]
    ls = pstats.Stats(loop).stats  # type: ignore[attr-defined]
    by_cat = {c: 0.0 for c in (*CATEGORIES, IDLE)}
    for key, (_, _, tt, _, _) in ws.items():
        by_cat[_category(key)] += tt
    idle = by_cat.pop(IDLE)
    worker_total = sum(by_cat.values())
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    worker.dump_stats(RESULTS_DIR / f"profile-{backend}-worker.prof")
    loop.dump_stats(RESULTS_DIR / f"profile-{backend}-loop.prof")
    loop_idle = sum(tt for (f, _, fn), (_, _, tt, _, _) in ls.items() if f == "~" and ("poll" in fn or "select" in fn))
    loop_total = sum(tt for *_, tt, _, _ in (v for v in ls.values()))
    top = sorted(ws.items(), key=lambda kv: -kv[1][2])[:15]
    lat = latency_summary(plain["latencies"])
    return {
        "backend": backend, "orders": orders, "plain_ms_per_order": 1000 * plain["seconds"] / orders,
        "plain_rate": plain["rate"], "latency": lat, "profiled_ms_per_order": 1000 * profiled_s / orders,
        "statements": stmts,
        "worker_ms_per_order": {c: 1000 * t / orders for c, t in by_cat.items()},
        "worker_total_ms_per_order": 1000 * worker_total / orders, "worker_idle_ms_per_order": 1000 * idle / orders,
        "round_trips_per_order": _round_trips(ws) / orders if backend == "postgresql" else None,
        "commit_ms_per_order": 1000 * _commit_time(ws) / orders,
        "loop_busy_ms_per_order": 1000 * (loop_total - loop_idle) / orders,
        "bare_update_ms": latency_summary(raw["latencies"])["p50_ms"], "bare_rate": raw["rate"],
        "fsync_ms": None if fsync is None else fsync * 1000,
        "top_worker_functions": [
            {"function": f"{Path(f).name}:{ln}({fn})" if f != "~" else fn, "calls_per_order": nc / orders,
             "tottime_us_per_order": 1e6 * tt / orders, "cumtime_us_per_order": 1e6 * ct / orders}
            for (f, ln, fn), (_, nc, tt, ct, _) in top],
    }


def _print(p: dict[str, Any]) -> None:
    out = sys.stderr
    w = p["worker_total_ms_per_order"]
    print(f"\n== profile: {p['backend']}, {p['orders']} sequential orders ==", file=out)
    print(f"plain: {p['plain_ms_per_order']:.2f} ms/order ({p['plain_rate']:,.0f}/s); under cProfile "
          f"{p['profiled_ms_per_order']:.2f} ms/order", file=out)
    print(f"bare autocommit UPDATE: p50 {p['bare_update_ms']:.2f} ms ({p['bare_rate']:,.0f}/s)"
          + (f"; fsync (write 4 KiB + fdatasync) p50 {p['fsync_ms']:.2f} ms" if p["fsync_ms"] else ""), file=out)
    st = p["statements"]
    print(f"statements per order: {st['statements_per_order']:.1f} (+ BEGIN, + {st['commits_per_order']:.1f} commit)",
          file=out)
    for sql, n in st["statements"].items():
        print(f"   {n:5.2f} × {sql}", file=out)
    if p["round_trips_per_order"]:
        print(f"round trips to the server per order: {p['round_trips_per_order']:.1f}", file=out)
    print(f"worker thread busy (profiled) {w:.2f} ms/order, of which driver commit {p['commit_ms_per_order']:.2f} ms "
          f"({p['commit_ms_per_order'] / w:.0%}); idle between jobs {p['worker_idle_ms_per_order']:.2f} ms:",
          file=out)
    for c, ms in p["worker_ms_per_order"].items():
        print(f"   {ms:6.2f} ms  {ms / w:4.0%}  {c}", file=out)
    print(f"event-loop thread busy: {p['loop_busy_ms_per_order']:.2f} ms/order", file=out)
    print("top functions in the worker (own time per order):", file=out)
    for f in p["top_worker_functions"]:
        print(f"   {f['tottime_us_per_order']:8.0f} µs  {f['calls_per_order']:6.1f} calls  {f['function']}", file=out)


def run(backends: tuple[str, ...] = BACKENDS, *, profile_orders: int = 1500, population: int = 1000,
        **_: Any) -> list[Row]:
    rows = []
    for backend in backends:
        why = postgres_reachable() if backend == "postgresql" else ""
        if why:
            rows.append(Row("profile", backend, "seq", skipped=why))
            continue
        log(f"profile/{backend}: {profile_orders} orders plain, then under cProfile")
        try:
            p = profile_backend(backend, profile_orders, population)
        except Exception as err:  # noqa: BLE001
            log(f"profile/{backend}: failed: {err!r}")
            rows.append(Row("profile", backend, "seq", skipped=f"error: {type(err).__name__}: {err}"[:200]))
            continue
        _print(p)
        w = p["worker_total_ms_per_order"]
        cat = p["worker_ms_per_order"]
        short = dict(zip(CATEGORIES, ("SA", "SQL+I/O", "drv-py", "hotline", "hop", "other")))
        note = " ".join(f"{short[c]} {cat[c] / w:.0%}" for c in CATEGORIES) + \
            f"; commit {p['commit_ms_per_order'] / w:.0%}; {p['statements']['statements_per_order']:.0f} stmts"
        rows.append(Row("profile", backend, "seq (cProfile)", rate=p["plain_rate"], unit="orders",
                        count=p["orders"], p50_ms=p["latency"]["p50_ms"], p99_ms=p["latency"]["p99_ms"],
                        bare=p["bare_rate"], ratio=p["plain_rate"] / p["bare_rate"] if p["bare_rate"] else None,
                        note=note, extra=p))
    return rows


if __name__ == "__main__":
    from bench.__main__ import main
    main(["profile", *sys.argv[1:]])
