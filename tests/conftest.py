"""Shared fixtures. Database tests run on SQLite and on PostgreSQL (a fresh schema per test).

``HOTLINE_REQUIRE_ALL=1`` (set by .ci/run) turns every skip for a missing service into a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from hotline.bootstrap import Hotline, bootstrap
from hotline.config import Settings
from hotline.domain.billing import FixedClock

REQUIRE_ALL = os.environ.get("HOTLINE_REQUIRE_ALL") == "1"
PG_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = [b for b in os.environ.get("HOTLINE_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
TEST_KDF_N = 2**12  # a real scrypt, cheaper than production's 2**14 to keep the suite quick


def need(condition: bool, reason: str) -> None:
    """Skip with a reason when a system part is missing; under HOTLINE_REQUIRE_ALL=1, fail instead."""
    if not condition:
        if REQUIRE_ALL:
            pytest.fail(f"required but missing: {reason}")
        pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under HOTLINE_REQUIRE_ALL=1: {report.longrepr}"


_pg_ok: bool | None = None


def postgres_available() -> bool:
    global _pg_ok
    if _pg_ok is None:
        try:
            eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with eng.connect() as c:
                c.execute(text("select 1"))
            eng.dispose()
            _pg_ok = True
        except Exception:
            _pg_ok = False
    return _pg_ok


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A URL to an empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hotline.db'}"
        return
    need(postgres_available(), f"PostgreSQL is not reachable at {PG_URL}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def clock():
    return FixedClock(dt.datetime(2026, 11, 15, 10, 0))


@pytest.fixture
def settings(database_url, tmp_path):
    return Settings(database_url=database_url, data_dir=tmp_path, password_kdf_n=TEST_KDF_N,
                    db_threads=4, demo_subscribers=0)


@pytest.fixture
def hl(settings, clock) -> Iterator[Hotline]:
    app = bootstrap(settings, clock=clock)
    yield app
    app.close()


@pytest.fixture
def api_key(hl):
    """Make API keys on ``hl``: ``api_key("read")`` → the ``Authorization`` header of a new key with those
    scopes (every scope when none is named)."""
    def make(*scopes: str, name: str = "test") -> dict[str, str]:
        _, token = hl.apikeys.create(scopes or ("read", "write", "billing", "admin"), name=name)
        return {"Authorization": f"Bearer {token}"}
    return make
