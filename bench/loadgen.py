"""The load generator of the ``sms`` benchmark: a separate process, driven over stdin/stdout.

Why not httpx: on a 2-core machine the client shares the CPU with the server, and httpx spends
a few hundred microseconds of Python per request — as much as a trivial FastAPI endpoint itself,
so the client, not the server, would set the trivial rate (and flatter the ratio). This client is a
bare ``asyncio.Protocol`` on uvloop: prebuilt HTTP/1.1 requests over keep-alive connections, responses
framed by ``Content-Length``: about 30-40 µs of CPU per request on a 2-core VM, where it drives the
trivial endpoint as hard as ``wrk`` does (within a few per cent, checked by hand). Its own CPU time is
measured per slice and reported, so that a saturated client would show.

Protocol (one JSON object per line):

* stdin, first line: ``{"targets": {"sms": {"port": P}, "ping": {"port": Q}}, "numbers": [...],
  "concurrency": 32, "seed": 86, "token": "..."}`` (the token goes out as ``Authorization: Bearer`` on the
  API's requests: the API is closed)
* then ``{"cmd": "run", "target": "sms"|"ping", "seconds": 2.0}`` → one result line on stdout:
  ``{"count", "seconds", "cpu_seconds", "latencies_ms": {kind: [...]}, "http_errors", "app_errors",
  "empty", "confirmations", "reconnects", "first_error"}``
* ``{"cmd": "connect", "target": "sms", "probe": "/healthz"}`` → ``{"connected": n}``: (re)open the
  target's connections one at a time (see ``_Target.reconnect_all``);
* ``{"cmd": "quit"}``.

Other benchmarks reuse this process and its protocol with their own generator: the first line may
name one as ``"generator": "module:Class"`` (default ``LoadGen``; ``bench/assistant.py`` does this).
Such a class takes the config, has ``targets`` and ``run(target, seconds, **options)``; keys of a
``run`` command besides ``cmd``, ``target`` and ``seconds`` (e.g. ``"rate"``) are passed as options,
and any other command goes to its ``command(cmd)`` coroutine. ``OpenLoop`` below is the fixed-rate
schedule such a generator can use: requests are due on a clock, whether or not the server keeps up,
and a latency is counted from when the request was *due*, so a stalled server is not hidden by a
client that politely waits (coordinated omission).

The SMS load: each connection plays simulated subscribers, one session at a time, from its own
disjoint share of the numbers (so no number ever has two messages in flight, as with a real phone),
round robin. A session is a query (70% of commands: YE, CXLL, CXHF, CXTC, JF, 0000 …, one message),
an order (20%: ``KTLL1``/``KTLL3``/``KTLL10`` then ``是`` once the confirmation prompt is back, two
messages) or a menu (10%: ``10086`` then a category digit, two messages); sessions are drawn with weights
70:10:5 so that *commands* come out 70:20:10. Every message has its own id. A session interrupted at a
slice's end resumes at the next slice of the same target (the pending confirmation lives 10 minutes).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import random
import sys
import time
from collections.abc import Iterator
from typing import Any

QUERIES = ("YE", "CXLL", "CXHF", "CXTC", "JF", "0000", "CXYY", "ZD", "XJ", "CXDX")
ORDERS = ("KTLL1", "KTLL3", "KTLL10")  # one-off packs: they stack, so a number can order again and again
MENU_DIGITS = tuple(str(d) for d in range(1, 9))  # the 8 categories of the main menu
SESSION_WEIGHTS = (("query", 70), ("order", 10), ("menu", 5))  # → commands 70 : 20 : 10
KINDS = ("query", "order", "confirm", "menu", "menu_choice")


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.need = -1
        self.head_end = 0
        self.status = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if self.need < 0:
            i = buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head = bytes(buf[:i]).lower()
            self.status = int(head[9:12])
            j = head.find(b"content-length:")
            if j < 0:
                if self.waiter is not None and not self.waiter.done():
                    self.waiter.set_exception(ConnectionError("response without Content-Length"))
                return
            k = head.find(b"\r\n", j)
            self.head_end = i + 4
            self.need = self.head_end + int(head[j + 15:k if k >= 0 else len(head)])
        if len(buf) >= self.need:
            body = bytes(buf[self.head_end:self.need])
            del buf[:self.need]
            self.need = -1
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result((self.status, body))

    def send(self, request: bytes) -> asyncio.Future:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)  # type: ignore[union-attr]
        return self.waiter


class _Target:
    def __init__(self, name: str, port: int, concurrency: int) -> None:
        self.name, self.port, self.concurrency = name, port, concurrency
        self.conns: list[_Conn | None] = [None] * concurrency
        self.reconnects = 0

    async def reconnect_all(self, probe: bytes) -> None:
        """Close every connection, then open them again one at a time, each answering ``probe`` before
        the next is opened: a burst of connects would be drained by whichever worker wakes first."""
        for c in self.conns:
            if c is not None and c.transport is not None:
                c.transport.close()
        self.conns = [None] * self.concurrency
        loop = asyncio.get_running_loop()
        for w in range(self.concurrency):
            _, c = await loop.create_connection(_Conn, "127.0.0.1", self.port)
            status, _body = await c.send(probe)
            if status != 200:
                raise ConnectionError(f"probe answered {status}")
            self.conns[w] = c

    async def conn(self, w: int) -> _Conn:
        c = self.conns[w]
        if c is None or c.closed:
            if c is not None:
                self.reconnects += 1
            loop = asyncio.get_running_loop()
            _, c = await loop.create_connection(_Conn, "127.0.0.1", self.port)
            self.conns[w] = c
        return c


def _sms_script(numbers: list[str], w: int, seed: int) -> Iterator[tuple[str, str, str]]:
    """Endless (kind, msisdn, text) for connection ``w``; the next message of a session is only asked
    for once the previous one has been answered."""
    rng = random.Random(f"{seed}:{w}")
    kinds = [k for k, _ in SESSION_WEIGHTS]
    weights = [n for _, n in SESSION_WEIGHTS]
    last: dict[str, str] = {}
    i = 0
    while True:
        kind = rng.choices(kinds, weights)[0]
        number = numbers[i % len(numbers)]
        i += 1
        if kind == "menu" and last.get(number) == "menu":
            # a live category menu would read the next "10086" as a (bad) choice; do not chain menus
            number = numbers[i % len(numbers)]
            i += 1
        last[number] = kind
        if kind == "query":
            yield "query", number, rng.choice(QUERIES)
        elif kind == "order":
            yield "order", number, rng.choice(ORDERS)
            yield "confirm", number, "是"
        else:
            yield "menu", number, "10086"
            yield "menu_choice", number, rng.choice(MENU_DIGITS)


class OpenLoop:
    """A fixed-rate schedule shared by a target's connections (open loop).

    Request ``k`` is due at ``start + k / rate``. A free connection claims the next due time, sleeps
    until then and sends; when every connection is busy, due times pile up and are claimed late, and
    the latency a caller measures from the due time includes that wait, as a customer's would.
    Requests due before ``deadline`` are all sent, unless the backlog is still unsent ``drain`` seconds
    after it (an overloaded server): those count as ``unsent``."""

    def __init__(self, rate: float, seconds: float, *, drain: float = 5.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self.start = time.perf_counter()
        self.deadline = self.start + seconds
        self.give_up = self.deadline + drain
        self.k = 0
        self.claimed_late = 0      # claimed after their due time (every connection was busy)
        self.unsent = 0

    async def next(self) -> float | None:
        """The due time of the next request (after sleeping until it), or None when the run is over."""
        due = self.start + self.k * self.interval
        if due >= self.deadline:
            return None
        now = time.perf_counter()
        if now > self.give_up:
            self.unsent = int((self.deadline - due) / self.interval) + 1
            self.deadline = due        # the others give up too
            return None
        self.k += 1
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > 0.001:
            self.claimed_late += 1
        return due


class LoadGen:
    def __init__(self, cfg: dict[str, Any]) -> None:
        conc = int(cfg.get("concurrency", 32))
        self.concurrency = conc
        self.targets = {name: _Target(name, int(t["port"]), conc) for name, t in cfg["targets"].items()}
        numbers = list(cfg.get("numbers") or [])
        seed = int(cfg.get("seed", 86))
        self.scripts = [_sms_script(numbers[w::conc], w, seed) for w in range(conc)] if numbers else []
        self.msg_ids = 0
        self.run_tag = f"{time.time_ns() % 10**12:x}"
        token = str(cfg.get("token") or "")   # the API needs a credential: the servers' master token
        self.auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
        try:
            from hotline.channels.sms.texts import say
            self.error_texts = {say("error", "zh"), say("error", "en")}
            # the per-number limit's refusal: the load must not reach it (HOTLINE_SMS_RATE_PER_MINUTE is raised)
            self.throttle_texts = {say("rate_limited", "zh"), say("rate_limited", "en")}
        except Exception:  # noqa: BLE001
            self.error_texts = set()
            self.throttle_texts = set()

    def _sms_request(self, port: int, number: str, text: str) -> bytes:
        self.msg_ids += 1
        body = json.dumps({"from": number, "to": "10086", "text": text, "id": f"bench-{self.run_tag}-{self.msg_ids}"},
                          ensure_ascii=False).encode()
        return (b"POST /api/v1/sms/inbound HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                b"%bContent-Length: %d\r\n\r\n" % (port, self.auth, len(body))) + body

    async def command(self, cmd: dict[str, Any]) -> dict[str, Any]:
        raise ValueError(f"unknown command: {cmd!r}")

    async def run(self, target: str, seconds: float) -> dict[str, Any]:
        t = self.targets[target]
        sms = target == "sms"
        ping = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % t.port
        lats: dict[str, list[float]] = {k: [] for k in (KINDS if sms else ("ping",))}
        stats = {"http_errors": 0, "app_errors": 0, "empty": 0, "confirmations": 0, "throttled": 0}
        first_error: list[str] = []
        clock = time.perf_counter
        reconnects0 = t.reconnects
        cpu0 = time.process_time()
        start = clock()
        deadline = start + seconds
        pending: list[tuple[str, str, str] | None] = [None] * t.concurrency

        async def worker(w: int) -> None:
            script = self.scripts[w] if sms else None
            while clock() < deadline:
                if sms:
                    item = pending[w] or next(script)  # type: ignore[arg-type]
                    pending[w] = None
                    kind, number, text = item
                    req = self._sms_request(t.port, number, text)
                else:
                    kind, req = "ping", ping
                try:
                    c = await t.conn(w)
                    t0 = clock()
                    status, body = await c.send(req)
                    dt = clock() - t0
                except (ConnectionError, OSError) as err:
                    stats["http_errors"] += 1
                    if not first_error:
                        first_error.append(repr(err))
                    if sms:
                        pending[w] = item  # retry this message (a new id) on a new connection
                    continue
                lats[kind].append(dt * 1000.0)
                if status != 200:
                    stats["http_errors"] += 1
                    if not first_error:
                        first_error.append(f"HTTP {status}: {body[:200]!r}")
                    continue
                if sms:
                    if kind == "confirm":
                        stats["confirmations"] += 1
                    replies = json.loads(body)
                    if not isinstance(replies, list):
                        stats["app_errors"] += 1
                        if not first_error:
                            first_error.append(f"{kind} {text!r}: not a list: {body[:200]!r}")
                    elif not replies:
                        stats["empty"] += 1
                    elif any(r.get("text") in self.throttle_texts for r in replies):
                        stats["throttled"] += 1
                    elif any(r.get("text") in self.error_texts for r in replies):
                        stats["app_errors"] += 1
                        if not first_error:
                            first_error.append(f"{kind} {text!r}: {replies[0].get('text')!r}")

        await asyncio.gather(*(worker(w) for w in range(t.concurrency)))
        elapsed = clock() - start
        cpu = time.process_time() - cpu0
        count = sum(len(v) for v in lats.values())
        return {"target": target, "count": count, "seconds": elapsed, "cpu_seconds": cpu,
                "latencies_ms": {k: [round(x, 3) for x in v] for k, v in lats.items()},
                "reconnects": t.reconnects - reconnects0, "first_error": first_error[0] if first_error else "",
                **stats}


async def _main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    cfg = json.loads(await reader.readline())
    gen = _generator(cfg.get("generator"))(cfg)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    while True:
        line = await reader.readline()
        if not line:
            return
        cmd = json.loads(line)
        if cmd.get("cmd") == "quit":
            return
        if cmd.get("cmd") == "connect":
            t = gen.targets[cmd["target"]]
            await t.reconnect_all(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (cmd["probe"].encode(), t.port))
            out.write(json.dumps({"connected": t.concurrency}) + "\n")
            out.flush()
            continue
        if cmd.get("cmd") == "run":
            options = {k: v for k, v in cmd.items() if k not in ("cmd", "target", "seconds")}
            res = await gen.run(cmd["target"], float(cmd["seconds"]), **options)
        else:
            res = await gen.command(cmd)
        out.write(json.dumps(res) + "\n")
        out.flush()


def _generator(spec: str | None):
    """The generator class named ``module:Class`` in the config (default: this module's LoadGen)."""
    if not spec:
        return LoadGen
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main() -> None:
    try:
        import uvloop
        uvloop.run(_main())
    except ImportError:
        asyncio.run(_main())


if __name__ == "__main__":
    main()
