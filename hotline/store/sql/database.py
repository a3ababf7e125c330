"""The SQL database: one engine, and a pool of worker threads that run units of work.

A unit of work is a plain function ``job(conn, ...)`` run inside one transaction on one worker
thread, awaited from the event loop with ``await db.run(job, ...)``. The whole transaction costs a
single thread hop, whatever number of statements it runs; the event loop never blocks on the
database. SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged recharge survives a
power cut) and one writer at a time; PostgreSQL runs at READ COMMITTED with row locks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

T = TypeVar("T")


class Database:
    def __init__(self, url: str, threads: int = 8, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.threads = threads
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(self.url, echo=echo, pool_size=threads, max_overflow=0,
                                                connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)
        else:
            self.engine = create_engine(self.url, echo=echo, pool_size=threads, max_overflow=0,
                                        pool_pre_ping=False)
        # SQLite has one writer at a time: queue writers here instead of spinning on busy locks.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="hotline-db")

    @property
    def for_update(self) -> bool:
        """Whether SELECT ... FOR UPDATE is needed (SQLite's write transaction already excludes)."""
        return not self.is_sqlite

    async def run(self, job: Callable[..., T], *args: Any, write: bool = True) -> T:
        """Run ``job(conn, *args)`` in one transaction on a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.run_sync, job, args, write)

    def run_sync(self, job: Callable[..., T], args: tuple = (), write: bool = True) -> T:
        if write and self._write_lock is not None:
            with self._write_lock:
                return self._transaction(job, args, write)
        return self._transaction(job, args, write)

    def _transaction(self, job: Callable[..., T], args: tuple, write: bool) -> T:
        with self.engine.connect() as conn:
            conn = conn.execution_options(hotline_write=write)
            with conn.begin():
                return job(conn, *args)

    def dispose(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_on_begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # A write transaction takes the write lock up front, so read-then-write never deadlocks.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("hotline_write", True)
                         else "BEGIN")
