"""Seeding rate: synthetic subscribers per second into a fresh database, and the time for 1,000,000.

Calls ``hotline.bss.seed.seed_population(db, products, subscribers=N, seed=S, clock=..., kdf_n=...)``
(what ``hotline seed`` runs) on a fresh SQLite file in a temporary directory and on a fresh
PostgreSQL schema, after migrations. The rate is the SeedReport's ``subscribers / seconds``; the
1,000,000 estimate extrapolates linearly from the slower of the whole run and its second half (index
growth makes later rows a little dearer), so it is an estimate, not a measurement.

N: ``--seed-subscribers`` or ``HOTLINE_BENCH_SEED_N`` (default 20,000). When seed_population takes a
``progress`` callback, a run that overshoots ``--seed-budget`` seconds (default 120) is stopped and the
rate measured so far is reported.

Run alone: ``python -m bench seeding`` (or ``python -m bench.seeding``).
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from sqlalchemy import func, select

from bench.common import BACKENDS, KDF_N, Row, hotline_on, log, postgres_reachable
from hotline.store.sql.tables import subscribers

SEED = 86
TARGET = 1_000_000


class _OverBudget(Exception):
    """Seeding ran past its time budget (stopped between chunks)."""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _size(hl) -> int | None:  # noqa: ANN001
    try:
        if hl.db.is_sqlite:
            from pathlib import Path
            db = Path(hl.db.url.database)
            return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
        with hl.db.engine.connect() as c:
            return int(c.exec_driver_sql(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind = 'r'").scalar() or 0)
    except Exception:  # noqa: BLE001
        return None


def run(backends: tuple[str, ...] = BACKENDS, *, seed_subscribers: int = 20_000, seed_budget: float = 120.0,
        **_: Any) -> list[Row]:
    try:
        from hotline.bss.seed import seed_population
    except Exception as err:  # noqa: BLE001
        why = f"hotline.bss.seed.seed_population not usable yet ({type(err).__name__}: {err})"[:200]
        log(f"seeding: {why}")
        return [Row("seeding", b, f"{seed_subscribers:,} subs", skipped=why) for b in backends]

    accepts_progress = "progress" in inspect.signature(seed_population).parameters
    rows: list[Row] = []
    for backend in backends:
        mode = f"{seed_subscribers:,} subs"
        why = postgres_reachable() if backend == "postgresql" else ""
        if why:
            rows.append(Row("seeding", backend, mode, skipped=why))
            continue
        try:
            with hotline_on(backend) as hl:
                log(f"seeding/{backend}: {seed_subscribers:,} subscribers (kdf_n={KDF_N})")
                samples: list[tuple[float, int]] = []
                t0 = time.perf_counter()

                def progress(done: int, samples: list[tuple[float, int]] = samples, t0: float = t0) -> None:
                    now = time.perf_counter()
                    samples.append((now - t0, done))
                    if now - t0 > seed_budget:
                        raise _OverBudget()

                kwargs: dict[str, Any] = {"subscribers": seed_subscribers, "seed": SEED, "clock": hl.bss.clock,
                                          "kdf_n": KDF_N}
                if accepts_progress:
                    kwargs["progress"] = progress
                stopped = False
                try:
                    report = seed_population(hl.db, hl.bss.products, **kwargs)
                    wall = time.perf_counter() - t0
                    n, secs = int(report.subscribers), float(report.seconds)
                except _OverBudget:
                    stopped = True
                    wall = time.perf_counter() - t0
                    secs, n = samples[-1]
                with hl.db.engine.connect() as c:
                    in_db = c.execute(select(func.count()).select_from(subscribers)).scalar_one()
                size = _size(hl)
            rate = n / secs if secs > 0 else 0.0
            tail_rate = None
            if len(samples) >= 2 and not stopped:
                last = samples[-1]
                half = next((s for s in samples if s[1] >= last[1] / 2), None)
                if half and last[0] > half[0]:
                    tail_rate = (last[1] - half[1]) / (last[0] - half[0])
            basis = min(rate, tail_rate) if tail_rate else rate
            eta = TARGET / basis if basis else float("inf")
            note = f"1M ≈ {_duration(eta)}"
            if stopped:
                note += f"; stopped at {n:,} after the {seed_budget:g}s budget"
            if size:
                note += f"; {size / max(in_db, 1):,.0f} B/sub on disk"
            log(f"seeding/{backend}: {n:,} in {secs:.1f}s = {rate:,.0f}/s; {note}")
            rows.append(Row("seeding", backend, mode, rate=rate, unit="subscribers", count=n, seconds=secs,
                            goal="-", note=note,
                            extra={"wall_seconds": wall, "rows_in_db": in_db, "tail_rate": tail_rate,
                                   "eta_1m_seconds": eta, "db_bytes": size, "stopped_by_budget": stopped,
                                   "kdf_n": KDF_N, "seed": SEED}))
        except Exception as err:  # noqa: BLE001
            log(f"seeding/{backend}: failed: {err!r}")
            rows.append(Row("seeding", backend, mode, skipped=f"error: {type(err).__name__}: {err}"[:200]))
    return rows


if __name__ == "__main__":
    import sys

    from bench.__main__ import main
    main(["seeding", *sys.argv[1:]])
