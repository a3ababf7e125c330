"""Order transactions per second, next to the bare write limit of the same database.

A population of subscribers with large balances is inserted in bulk; then, for a fixed time, each
worker runs ``await bss.subscribe(msisdn, "pack.data_1g_month", key=<unique>, actor=Actor("bench", "b"))``
(one-off 1 GB packs stack, so the same subscriber can order again and again). Each order is one
transaction: idempotency check, subscriber read (row lock on PostgreSQL), holdings read, then the
order, subscriber, ledger, subscription and audit writes, and the commit.

* ``seq``: one order at a time (1 asyncio task); bare: the raw autocommit UPDATE loop, 1 thread.
* ``conc8``: 8 asyncio tasks over hotline's Database (8 worker threads); bare: 8 threads, each with
  its own connection (see bench/bare.py).

The goal (from the issue): orders/s ≥ 50% of the bare limit measured in the same run.

Run alone: ``python -m bench orders`` (or ``python -m bench.orders``); options --order-seconds,
--population, --concurrency, --backends.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from sqlalchemy import event

from bench import bare
from bench.common import (
    BACKENDS,
    Row,
    analyze,
    hotline_on,
    latency_summary,
    log,
    pg_conninfo,
    populate,
    postgres_reachable,
)
from hotline.bootstrap import Hotline
from hotline.bss.port import Actor

PRODUCT = "pack.data_1g_month"
ACTOR = Actor("bench", "b")
GOAL_RATIO = 0.5
SLICE_SECONDS = 2.0  # orders and bare loop alternate in slices of about this length
_run_ids = itertools.count()


async def order_loop(hl: Hotline, subs: list[tuple[int, str]], *, duration: float | None = None,
                     count: int | None = None, concurrency: int = 1, tag: str = "o") -> dict[str, Any]:
    """Run subscribe orders with ``concurrency`` tasks until ``duration`` seconds or ``count`` orders."""
    run = f"{tag}{next(_run_ids)}-{time.time_ns() % 10**9}"
    lats: list[list[float]] = [[] for _ in range(concurrency)]
    clock = time.perf_counter
    start = clock()
    deadline = start + duration if duration is not None else float("inf")
    budget = {"left": count if count is not None else -1}

    async def worker(w: int) -> None:
        mine = [m for _, m in subs[w::concurrency]]
        lat = lats[w]
        subscribe = hl.bss.subscribe
        i = 0
        while True:
            t0 = clock()
            if t0 >= deadline or budget["left"] == 0:
                return
            budget["left"] -= 1
            await subscribe(mine[i % len(mine)], PRODUCT, key=f"{run}-{w}-{i}", actor=ACTOR)
            lat.append(clock() - t0)
            i += 1

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = clock() - start
    flat = [x for lat in lats for x in lat]
    return {"count": len(flat), "seconds": elapsed, "rate": len(flat) / elapsed, "latencies": flat,
            "concurrency": concurrency}


def count_statements(hl: Hotline, subs: list[tuple[int, str]], orders: int = 200) -> dict[str, Any]:
    """Run ``orders`` sequential orders while counting what reaches the driver (also the warm-up)."""
    seen: dict[str, int] = {}
    commits = {"n": 0}

    def on_execute(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        head = " ".join(statement.split())[:72]
        seen[head] = seen.get(head, 0) + 1

    def on_commit(conn):  # noqa: ANN001
        commits["n"] += 1

    engine = hl.db.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        asyncio.run(order_loop(hl, subs, count=orders, tag="warm"))
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)
    total = sum(n for sql, n in seen.items() if not sql.startswith("BEGIN"))  # psycopg's BEGIN is invisible
    return {"orders": orders, "statements_per_order": total / orders, "commits_per_order": commits["n"] / orders,
            "statements": {k: round(v / orders, 2) for k, v in sorted(seen.items(), key=lambda kv: -kv[1])}}


def _bare(hl: Hotline, subs: list[tuple[int, str]], threads: int, duration: float) -> dict[str, Any]:
    ids = [i for i, _ in subs]
    if hl.db.is_sqlite:
        path = hl.db.url.database
        assert path
        if threads == 1:
            return bare.sqlite_loop(path, ids, threads=1, duration=duration)
        # two honest ways to share SQLite's single writer slot; the better one is the limit (see _merge)
        return {"variants": {
            "free": bare.sqlite_loop(path, ids, threads=threads, duration=duration / 2),
            "queued": bare.sqlite_loop(path, ids, threads=threads, duration=duration / 2, queued=True)}}
    return bare.postgres_loop(pg_conninfo(hl.db.url), ids, threads=threads, duration=duration)


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum interleaved slices of one measurement (orders or bare) into one. For a measurement with
    variants, each variant is summed on its own and the better one over the whole run is kept."""
    if "variants" in parts[0]:
        merged = {v: _merge([p["variants"][v] for p in parts]) for v in parts[0]["variants"]}
        best = max(merged, key=lambda v: merged[v]["rate"])
        out = dict(merged[best])
        out["other_variants"] = {v: {"rate": m["rate"], "count": m["count"]} for v, m in merged.items() if v != best}
        return out
    out = dict(parts[0])
    out["count"] = sum(p["count"] for p in parts)
    out["seconds"] = sum(p["seconds"] for p in parts)
    out["rate"] = out["count"] / out["seconds"] if out["seconds"] else 0.0
    out["latencies"] = [x for p in parts for x in p["latencies"]]
    out["slice_rates"] = [round(p["rate"], 1) for p in parts]
    return out


def _row(backend: str, mode: str, res: dict[str, Any], bare_res: dict[str, Any], stmts: dict[str, Any]) -> Row:
    lat = latency_summary(res["latencies"])
    blat = latency_summary(bare_res["latencies"])
    ratio = res["rate"] / bare_res["rate"] if bare_res["rate"] else None
    note = f"{res['count']} orders; {stmts['statements_per_order']:.0f} stmts + BEGIN/COMMIT per order"
    if bare_res.get("threads", 1) > 1:
        note += f"; bare {bare_res['threads']} thr ({bare_res['variant']})"
        for v, o in bare_res.get("other_variants", {}).items():
            note += f", {v} {o['rate']:,.0f}/s"
    return Row(benchmark="orders", backend=backend, mode=mode, rate=res["rate"], unit="orders", count=res["count"],
               seconds=res["seconds"], p50_ms=lat["p50_ms"], p99_ms=lat["p99_ms"], bare=bare_res["rate"],
               ratio=ratio, goal=f"≥50% {'ok' if ratio is not None and ratio >= GOAL_RATIO else 'MISSED'}",
               note=note,
               extra={"latency": lat, "concurrency": res["concurrency"], "slice_rates": res.get("slice_rates"),
                      "bare": {k: v for k, v in bare_res.items() if k != "latencies"} | {"latency": blat},
                      "statements": stmts})


def run(backends: tuple[str, ...] = BACKENDS, *, population: int = 1000, seconds: float = 8.0,
        concurrency: int = 8, **_: Any) -> list[Row]:
    rows: list[Row] = []
    modes = [("seq", 1), (f"conc{concurrency}", concurrency)]
    for backend in backends:
        why = postgres_reachable() if backend == "postgresql" else ""
        if why:
            rows += [Row("orders", backend, m, skipped=why) for m, _ in modes]
            continue
        try:
            with hotline_on(backend, threads=max(8, concurrency)) as hl:
                where = hl.db.url.database if hl.db.is_sqlite else hl.db.url.query.get("options")
                log(f"orders/{backend}: populating {population} subscribers ({where})")
                subs = populate(hl, population)
                analyze(hl)
                stmts = count_statements(hl, subs)
                log(f"orders/{backend}: {stmts['statements_per_order']:.1f} statements (besides BEGIN), "
                    f"{stmts['commits_per_order']:.1f} commits per order")
                for mode, conc in modes:
                    n = max(1, round(seconds / SLICE_SECONDS))
                    log(f"orders/{backend}/{mode}: {seconds:.0f}s of orders with {conc} task(s) and {seconds:.0f}s "
                        f"of bare loop with {conc} thread(s), interleaved in {n} slices")
                    parts, bare_parts = [], []
                    for _slice in range(n):  # alternate, so that background noise hits both alike
                        parts.append(asyncio.run(order_loop(hl, subs, duration=seconds / n, concurrency=conc,
                                                            tag=mode)))
                        bare_parts.append(_bare(hl, subs, conc, seconds / n))
                    res, bare_res = _merge(parts), _merge(bare_parts)
                    log(f"orders/{backend}/{mode}: {res['rate']:,.0f} orders/s, bare {bare_res['rate']:,.0f}/s "
                        f"({res['rate'] / bare_res['rate']:.0%})")
                    rows.append(_row(backend, mode, res, bare_res, stmts))
        except Exception as err:  # noqa: BLE001
            log(f"orders/{backend}: failed: {err!r}")
            done = {r.mode for r in rows if r.backend == backend}
            rows += [Row("orders", backend, m, skipped=f"error: {type(err).__name__}: {err}"[:200])
                     for m, _ in modes if m not in done]
    return rows


if __name__ == "__main__":
    import sys

    from bench.__main__ import main
    main(["orders", *sys.argv[1:]])
