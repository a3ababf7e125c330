"""SMS commands per second through the real HTTP endpoint, next to a trivial endpoint of the same framework.

For each database (a SQLite file in a temporary directory; a fresh PostgreSQL schema, dropped at the end):

1. seed a population with ``seed_population(db, products, subscribers=N, seed=86, clock, kdf_n)``
   (N = 2,000 by default), give every active subscriber a large balance (so that orders keep
   succeeding) and keep the active numbers;
2. for 1 worker and for one worker per core: start ``uvicorn --factory hotline.api.app:create_app``
   (``--workers W``, ``--backlog 4096``, loopback, a free port, ``HOTLINE_SEED_DEMO=false``: the
   population is seeded before the servers start, so no worker seeds) and, with the same options and
   worker count, ``uvicorn bench.trivial_app:app`` (``GET /ping`` → ``{"ok": true}``); wait until every
   worker has logged its start-up and ``/healthz`` answers;
3. a separate load-generator process (bench/loadgen.py: keep-alive connections, 32 in flight) runs
   ``POST /api/v1/sms/inbound`` with a mix of 70% queries, 20% orders (``KTLL1`` then ``是``, two
   commands) and 10% menus (``10086`` then a digit), and ``GET /ping``, alternating in slices of
   about 2 s (8 s of each by default, after 1 s of warm-up each), so that background noise hits both alike.

The row: commands/s and p50/p99 latency of the SMS load, the trivial endpoint's requests/s (the
``bare/s`` column) and its p50/p99 (in the note), and ``ratio`` = SMS commands/s ÷ trivial requests/s.
The goal (from the issue): ≥ 40% of the trivial endpoint's rate.

The API is closed: the servers get a random master token for the run (``HOTLINE_API_TOKEN``, every scope)
and the load generator sends it as ``Authorization: Bearer``. The per-number rate limit (20 messages a
minute by default) is raised, not spread, with ``HOTLINE_SMS_RATE_PER_MINUTE=1000000``: the load already
runs over every active number (about 1,870), yet from about 600 commands/s on each number sends more than
20 a minute, and a refusal is not the work being measured. The uvicorn access log is off for both servers.

Run alone: ``python -m bench sms`` (or ``python -m bench.sms``); options --sms-seconds,
--sms-concurrency, --sms-subscribers, --sms-workers, --backends.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import json
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.common import (
    BACKENDS,
    KDF_N,
    Row,
    analyze,
    fresh_database,
    latency_summary,
    log,
    postgres_reachable,
    settings_for,
)
from hotline.bootstrap import bootstrap

GOAL_RATIO = 0.4
TOKEN = secrets.token_urlsafe(32)   # the servers' master API credential for this run (the API is closed)
SLICE_SECONDS = 2.0     # the SMS load and the trivial load alternate in slices of about this length
WARMUP_SECONDS = 1.0    # per target and worker count, not counted
SEED = 86
RICH_FEN = 10**12       # every active subscriber's balance: orders keep succeeding
ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 120.0
SLICE_GRACE = 60.0      # a slice answers within its length plus the slowest in-flight request


# ------------------------------------------------------------------------------------- process helpers
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (Linux /proc; [] elsewhere)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    try:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = Path(entry.path, "stat").read_text()
                    children[int(stat[stat.rindex(")") + 2:].split()[1])].append(int(entry.name))
    except OSError:
        return []
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """user + system CPU seconds of each process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _machine_busy() -> tuple[float, float] | None:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with contextlib.suppress(OSError, ValueError):
        cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)
        total = sum(cpu[:8])
        return total - idle, total
    return None


def _tcp_established(port: int) -> set[int]:
    """Socket inodes of the established TCP connections whose local port is ``port`` (server side)."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(name).read_text().splitlines()[1:]:
                f = line.split()
                if len(f) > 9 and f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(int(f[9]))
    return inodes


def _socket_inodes(pid: int) -> set[int]:
    out = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    out.add(int(link[8:-1]))
    return out


class Server:
    """``uvicorn APP --workers W`` as a subprocess in its own session, stopped on exit."""

    def __init__(self, app: str, workers: int, env: dict[str, str], *, factory: bool = False,
                 health: str = "/healthz", cwd: str | None = None) -> None:
        self.app, self.workers, self.health = app, workers, health
        self.port = _free_port()
        cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", str(workers), "--backlog", "4096", "--no-access-log", "--log-level", "info",
               "--timeout-keep-alive", "60"]
        if factory:
            cmd.append("--factory")
        self.lines: collections.deque[str] = collections.deque(maxlen=300)
        self.started = 0
        self.errors = 0
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            if "Application startup complete" in line:
                self.started += 1
            elif "Traceback" in line or line.startswith("ERROR"):
                self.errors += 1

    def tail(self, n: int = 15) -> str:
        return "\n".join(list(self.lines)[-n:])

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until every worker has logged its start-up and the health probe answers 200."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.app} exited with {self.proc.returncode}:\n{self.tail()}")
            if self.started >= self.workers and self._healthy():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.app} not ready after {timeout:.0f}s "
                                   f"({self.started}/{self.workers} workers started):\n{self.tail()}")
            time.sleep(0.05)  # a poll interval, not a guess: readiness is checked each time

    def _healthy(self) -> bool:
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                c.request("GET", self.health)
                return c.getresponse().status == 200
            finally:
                c.close()
        except OSError:
            return False

    def pids(self) -> list[int]:
        return _descendants(self.proc.pid)

    def connections_per_worker(self) -> list[int] | None:
        """How many established client connections each process holds, most first (None off Linux)."""
        conns = _tcp_established(self.port)
        if not conns:
            return None
        counts = [len(_socket_inodes(p) & conns) for p in self.pids()]
        return sorted((c for c in counts if c), reverse=True) + [0] * max(0, self.workers - sum(1 for c in counts if c))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the session this Server started
                self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


@contextlib.contextmanager
def servers(*specs: dict[str, Any]) -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        for spec in specs:
            started.append(Server(**spec))
        for s in started:
            s.wait_ready()
        yield started
    finally:
        for s in started:
            s.stop()


class LoadGenProcess:
    """``python -m bench.loadgen`` with its config; ``run(target, seconds)`` is one slice."""

    def __init__(self, config: dict[str, Any], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.loadgen"], env=env, cwd=str(ROOT),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self._send(config)
        ready = self._recv()
        if not ready.get("ready"):
            raise RuntimeError(f"load generator did not start: {ready}")

    def _send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def _recv(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator exited ({self.proc.poll()})")
        return json.loads(line)

    def connect(self, target: str, probe: str) -> None:
        self._send({"cmd": "connect", "target": target, "probe": probe})
        if not self._recv().get("connected"):
            raise RuntimeError("load generator could not connect")

    def run(self, target: str, seconds: float) -> dict[str, Any]:
        self._send({"cmd": "run", "target": target, "seconds": seconds})
        assert self.proc.stdout is not None
        # one line answers each command, so nothing is buffered yet: wait on the pipe, with a watchdog
        if not select.select([self.proc.stdout], [], [], seconds + SLICE_GRACE)[0]:
            raise RuntimeError(f"load generator silent {seconds + SLICE_GRACE:.0f}s after a {seconds:g}s slice "
                               f"of {target} (a server stuck?)")
        return self._recv()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self._send({"cmd": "quit"})
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


# ------------------------------------------------------------------------------------------ measuring
def _spread(gen: LoadGenProcess, server: Server, target: str, probe: str, concurrency: int) -> list[int] | None:
    """Open the target's keep-alive connections so that every worker holds its share.

    A connection stays with the worker that accepted it, and which one does is luck; with several
    workers the connections are reopened (up to 20 times) until each worker holds at least half of an
    even share. Returns the connections per worker."""
    floor = concurrency // server.workers // 2
    counts = None
    for _ in range(20):
        gen.connect(target, probe)
        counts = server.connections_per_worker()
        if server.workers == 1 or counts is None or (len(counts) >= server.workers and min(counts) >= floor):
            return counts
    log(f"sms: {target}: connections stay uneven over the workers: {counts}")
    return counts


def _slice(gen: LoadGenProcess, server: Server, target: str, seconds: float) -> dict[str, Any]:
    """One slice of one target, with the CPU used by the server's processes and the whole machine."""
    pids = server.pids()
    cpu0, m0 = _cpu_seconds(pids), _machine_busy()
    res = gen.run(target, seconds)
    cpu1, m1 = _cpu_seconds(pids), _machine_busy()
    per = {p: cpu1[p] - cpu0[p] for p in cpu1 if p in cpu0}
    res["server_cpu_seconds"] = sum(per.values())
    res["server_cpu_by_pid"] = sorted((round(v, 3) for v in per.values() if v > 0.01), reverse=True)
    if m0 and m1 and m1[1] > m0[1]:
        res["machine_busy_cores"] = (m1[0] - m0[0]) / (m1[1] - m0[1]) * (os.cpu_count() or 1)
    return res


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"target": parts[0]["target"]}
    for k in ("count", "seconds", "cpu_seconds", "server_cpu_seconds", "http_errors", "app_errors", "empty",
              "confirmations", "reconnects", "throttled"):
        out[k] = sum(p.get(k, 0) for p in parts)
    out["rate"] = out["count"] / out["seconds"] if out["seconds"] else 0.0
    kinds: dict[str, list[float]] = collections.defaultdict(list)
    for p in parts:
        for k, v in p["latencies_ms"].items():
            kinds[k] += v
    out["latencies_s"] = [x / 1000.0 for v in kinds.values() for x in v]
    out["by_kind"] = {k: {"count": len(v), "share": len(v) / out["count"] if out["count"] else 0.0,
                          **latency_summary([x / 1000.0 for x in v])} for k, v in kinds.items()}
    out["slice_rates"] = [round(p["count"] / p["seconds"], 1) for p in parts]
    out["client_cores"] = out["cpu_seconds"] / out["seconds"] if out["seconds"] else None
    out["server_cores"] = out["server_cpu_seconds"] / out["seconds"] if out["seconds"] else None
    busy = [p["machine_busy_cores"] * p["seconds"] for p in parts if "machine_busy_cores" in p]
    out["machine_busy_cores"] = sum(busy) / out["seconds"] if busy and out["seconds"] else None
    by_pid = [p["server_cpu_by_pid"] for p in parts]
    out["server_cpu_split_per_slice"] = by_pid
    out["first_error"] = next((p["first_error"] for p in parts if p.get("first_error")), "")
    return out


def _orders(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return {s: int(n) for s, n in c.execute(text(
                "SELECT status, count(*) FROM orders WHERE channel = 'sms' GROUP BY status")).all()}
    finally:
        engine.dispose()


def _prepare(url: str, subscribers: int) -> list[str]:
    """Migrate, seed, make the active subscribers rich; return their numbers (in id order)."""
    from hotline.bss.seed import seed_population
    hl = bootstrap(settings_for(url))
    try:
        t0 = time.perf_counter()
        report = seed_population(hl.db, hl.bss.products, subscribers=subscribers, seed=SEED, clock=hl.bss.clock,
                                 kdf_n=KDF_N)
        log(f"sms: seeded {report.subscribers:,} subscribers in {time.perf_counter() - t0:.1f}s")

        def job(conn):  # noqa: ANN001
            conn.execute(text("UPDATE subscribers SET balance_fen = :b WHERE status = 'active'"), {"b": RICH_FEN})
            return [m for (m,) in conn.execute(text(
                "SELECT msisdn FROM subscribers WHERE status = 'active' ORDER BY id")).all()]

        numbers = hl.db.run_sync(job)
        analyze(hl)
        return numbers
    finally:
        hl.close()


def _env(url: str, data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HOTLINE_CONFIG"}
    env.update({"HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": data_dir, "HOTLINE_PASSWORD_KDF_N": str(KDF_N),
                "HOTLINE_SEED_DEMO": "false", "HOTLINE_SMS_RATE_PER_MINUTE": "1000000", "HOTLINE_API_TOKEN": TOKEN,
                "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])})
    return env


def measure(url: str, numbers: list[str], workers: int, *, seconds: float, concurrency: int,
            tag: str) -> dict[str, Any]:
    """Both servers with ``workers`` workers, the load generator, warm-up, then alternating slices."""
    with tempfile.TemporaryDirectory(prefix="hotline-bench-sms-") as cwd:  # no stray ./hotline.toml is read
        env = _env(url, cwd)
        before = _orders(url)
        with servers({"app": "hotline.api.app:create_app", "workers": workers, "env": env, "factory": True,
                      "cwd": cwd},
                     {"app": "bench.trivial_app:app", "workers": workers, "env": env, "cwd": cwd}) as (sms, trivial):
            by_target = {"sms": sms, "ping": trivial}
            gen = LoadGenProcess({"targets": {"sms": {"port": sms.port}, "ping": {"port": trivial.port}},
                                  "numbers": numbers, "concurrency": concurrency, "seed": SEED, "token": TOKEN}, env)
            try:
                spread = {"sms": _spread(gen, sms, "sms", "/healthz", concurrency),
                          "ping": _spread(gen, trivial, "ping", "/ping", concurrency)}
                confirmations = 0
                for target in ("sms", "ping"):
                    warm = gen.run(target, WARMUP_SECONDS)
                    confirmations += warm["confirmations"]
                n = max(1, round(seconds / SLICE_SECONDS))
                log(f"sms/{tag}: {seconds:g}s of SMS and {seconds:g}s of /ping, {concurrency} in flight, "
                    f"interleaved in {n} slices")
                parts: dict[str, list[dict[str, Any]]] = {"sms": [], "ping": []}
                for i in range(n):
                    for target in (("sms", "ping") if i % 2 == 0 else ("ping", "sms")):  # ABBA
                        parts[target].append(_slice(gen, by_target[target], target, seconds / n))
            finally:
                gen.close()
            server_errors = sms.errors
            server_tail = sms.tail(8) if sms.errors else ""
        after = _orders(url)
    res, ping = _merge(parts["sms"]), _merge(parts["ping"])
    if not res["count"] or not ping["count"]:
        raise RuntimeError(f"no requests completed (sms {res['count']}, ping {ping['count']}): "
                           f"{res['first_error'] or ping['first_error']}")
    confirmations += res["confirmations"]
    completed = after.get("completed", 0) - before.get("completed", 0)
    res["orders"] = {"confirmations_sent": confirmations, "completed": completed,
                     "other": {k: v - before.get(k, 0) for k, v in after.items() if k != "completed"},
                     "success_share": completed / confirmations if confirmations else None}
    res["connections_per_worker"], ping["connections_per_worker"] = spread["sms"], spread["ping"]
    res["server_log_errors"] = server_errors
    res["server_log_tail"] = server_tail
    return {"sms": res, "ping": ping}


def _row(backend: str, mode: str, workers: int, m: dict[str, Any], concurrency: int, n_numbers: int) -> Row:
    s, p = m["sms"], m["ping"]
    lat, plat = latency_summary(s.pop("latencies_s")), latency_summary(p.pop("latencies_s"))
    ratio = s["rate"] / p["rate"] if p["rate"] else None
    share = s["orders"]["success_share"]
    note = (f"/ping p50 {plat['p50_ms']:.2f} p99 {plat['p99_ms']:.2f} ms; "
            f"orders ok {'-' if share is None else f'{share:.0%}'}; client {s['client_cores']:.0%}/"
            f"{p['client_cores']:.0%} of a core")
    if s["throttled"] or s["empty"]:   # the per-number limit's refusal, then its silence: not the work measured
        note += f"; {s['throttled']} throttled, {s['empty']} unanswered"
    errors = s["http_errors"] + s["app_errors"] + p["http_errors"]
    if errors:
        note += f"; {errors} errors ({s['first_error'] or p['first_error']})"[:120]
    return Row(benchmark="sms", backend=backend, mode=mode, rate=s["rate"], unit="commands", count=s["count"],
               seconds=s["seconds"], p50_ms=lat["p50_ms"], p99_ms=lat["p99_ms"], bare=p["rate"], ratio=ratio,
               goal=f"≥40% {'ok' if ratio is not None and ratio >= GOAL_RATIO else 'MISSED'}", note=note,
               extra={"workers": workers, "concurrency": concurrency, "numbers": n_numbers, "latency": lat,
                      "trivial": {**p, "latency": plat}, "sms": s})


def _modes(workers: str | None) -> list[tuple[str, int]]:
    cpus = os.cpu_count() or 1
    wanted = [cpus if w.strip() in ("all", "cores") else int(w) for w in (workers or "1,all").split(",") if w.strip()]
    out = []
    for w in dict.fromkeys(wanted):
        out.append((f"{w} worker{'s' if w > 1 else ''}" + (" (all cores)" if w == cpus and w > 1 else ""), w))
    return out


def run(backends: tuple[str, ...] = BACKENDS, *, sms_seconds: float = 8.0, sms_concurrency: int = 32,
        sms_subscribers: int = 2000, sms_workers: str | None = None, **_: Any) -> list[Row]:
    rows: list[Row] = []
    modes = _modes(sms_workers)
    for backend in backends:
        why = postgres_reachable() if backend == "postgresql" else ""
        if why:
            rows += [Row("sms", backend, m, skipped=why) for m, _ in modes]
            continue
        try:
            with fresh_database(backend) as url:
                log(f"sms/{backend}: seeding {sms_subscribers:,} subscribers")
                numbers = _prepare(url, sms_subscribers)
                log(f"sms/{backend}: {len(numbers):,} active numbers with large balances")
                for mode, workers in modes:
                    m = measure(url, numbers, workers, seconds=sms_seconds, concurrency=sms_concurrency,
                                tag=f"{backend}/{mode}")
                    row = _row(backend, mode, workers, m, sms_concurrency, len(numbers))
                    log(f"sms/{backend}/{mode}: {row.rate:,.0f} commands/s (p50 {row.p50_ms:.1f} ms, "
                        f"p99 {row.p99_ms:.1f} ms), /ping {row.bare:,.0f}/s → {row.ratio:.0%}")
                    rows.append(row)
        except Exception as err:  # noqa: BLE001
            log(f"sms/{backend}: failed: {err!r}")
            done = {r.mode for r in rows if r.backend == backend}
            rows += [Row("sms", backend, m, skipped=f"error: {type(err).__name__}: {err}"[:200])
                     for m, _ in modes if m not in done]
    return rows


if __name__ == "__main__":
    from bench.__main__ import main
    main(["sms", *sys.argv[1:]])
