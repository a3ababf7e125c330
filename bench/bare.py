"""The bare limit of a database: a raw, single-statement, autocommit write loop on the same driver.

This is the yardstick for the order benchmark, so it is the best honest effort, not a straw man:
no SQLAlchemy, no pool, no event loop; a prepared statement on a connection opened once per thread.

* SQLite: the stdlib ``sqlite3`` driver with hotline's PRAGMAs (WAL, synchronous=FULL, foreign_keys,
  busy_timeout), ``isolation_level=None`` so each UPDATE is its own committed (fsynced) transaction.
  With several threads, SQLite still admits one writer at a time, and a writer that finds the lock
  taken sleeps in SQLite's busy handler (1, 2, 5, 10 ... ms), which wastes commit slots. So the
  concurrent bare limit is measured twice, each thread on its own connection: ``free`` (threads race
  for SQLite's lock) and ``queued`` (threads queue on a Python lock first, as hotline's Database does);
  the better of the two is the limit.
* PostgreSQL: psycopg 3, ``autocommit=True``, server-side prepared statement (``prepare=True``), one
  connection per thread; concurrent commits share WAL flushes (group commit) on the server.

Each thread updates its own slice of the rows (thread t: ids[t::threads]), as the order workers do.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

UPDATE_SQLITE = "UPDATE subscribers SET balance_fen = balance_fen - 1 WHERE id = ?"
UPDATE_PG = "UPDATE subscribers SET balance_fen = balance_fen - 1 WHERE id = %s"


def _run_threads(threads: int, duration: float,
                 make_worker: Callable[[int], tuple[Callable[[], None], Callable[[], None]]]) -> dict[str, Any]:
    """Start ``threads`` workers; each opens its connection and warms up, then all loop together for
    ``duration`` seconds. Returns count, seconds, rate and every operation's latency."""
    counts = [0] * threads
    lats: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    window: dict[str, float] = {}

    def open_window() -> None:  # run once, when every worker is ready
        window["start"] = time.perf_counter()
        window["end"] = window["start"] + duration

    ready = threading.Barrier(threads, action=open_window)

    def body(t: int) -> None:
        close: Callable[[], None] = lambda: None  # noqa: E731
        try:
            step, close = make_worker(t)
            step()  # warm the connection and the prepared statement
            ready.wait()
            deadline = window["end"]
            lat = lats[t]
            clock = time.perf_counter
            n = 0
            while True:
                t0 = clock()
                if t0 >= deadline:
                    break
                step()
                lat.append(clock() - t0)
                n += 1
            counts[t] = n
        except threading.BrokenBarrierError:
            return  # the run was aborted: this thread's count stays unrecorded
        except BaseException as err:  # noqa: BLE001
            errors.append(err)
            ready.abort()
        finally:
            close()

    workers = [threading.Thread(target=body, args=(t,), name=f"bare-{t}") for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    elapsed = time.perf_counter() - window["start"]
    total = sum(counts)
    return {"count": total, "seconds": elapsed, "rate": total / elapsed if elapsed else 0.0,
            "latencies": [x for lat in lats for x in lat], "threads": threads}


def sqlite_loop(path: str, ids: list[int], *, threads: int = 1, duration: float = 5.0,
                queued: bool = False) -> dict[str, Any]:
    """Autocommit UPDATE loop on ``path`` with hotline's PRAGMAs."""
    gate = threading.Lock() if queued else None

    def make_worker(t: int):
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
            conn.execute(f"PRAGMA {pragma}")
        mine = ids[t::threads]
        execute = conn.execute
        state = {"i": 0}

        def step() -> None:
            i = state["i"]
            state["i"] = i + 1
            if gate is None:
                execute(UPDATE_SQLITE, (mine[i % len(mine)],))
            else:
                with gate:
                    execute(UPDATE_SQLITE, (mine[i % len(mine)],))

        return step, conn.close

    out = _run_threads(threads, duration, make_worker)
    out["variant"] = "queued" if queued else "free"
    return out


def postgres_loop(conninfo: dict[str, Any], ids: list[int], *, threads: int = 1,
                  duration: float = 5.0) -> dict[str, Any]:
    """Autocommit, prepared UPDATE loop with psycopg 3."""
    import psycopg

    def make_worker(t: int):
        conn = psycopg.connect(**conninfo, autocommit=True)
        cur = conn.cursor()
        mine = ids[t::threads]
        execute = cur.execute
        state = {"i": 0}

        def step() -> None:
            i = state["i"]
            state["i"] = i + 1
            execute(UPDATE_PG, (mine[i % len(mine)],), prepare=True)

        def close() -> None:
            cur.close()
            conn.close()

        return step, close

    out = _run_threads(threads, duration, make_worker)
    out["variant"] = "free"
    return out
