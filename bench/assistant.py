"""小贝's turns per second through the HTTP API, and a turn's p99 at half that rate, next to a trivial endpoint.

For each database (a SQLite file in a temporary directory; a fresh PostgreSQL schema, dropped at the end):

1. seed a small synthetic population with ``seed_population(db, products, subscribers=N, seed=86, clock,
   kdf_n)`` (N = 500 by default) and keep the active numbers (the customers who verify themselves);
2. start ``uvicorn --factory hotline.api.app:create_app`` (1 worker by default, ``--backlog 4096``,
   loopback, a free port, ``HOTLINE_SEED_DEMO=false``) and ``uvicorn bench.trivial_app:app``
   (``GET /ping``) with the same options, as ``bench/sms.py`` does; wait until they are ready;
3. a separate load-generator process (``bench/loadgen.py`` driving ``AssistantLoadGen`` below: prebuilt
   HTTP/1.1 requests over 32 keep-alive connections) first sends a greeting on every connection and
   waits for all the answers: the model is loaded (or trained) in each worker before anything is timed;
4. **saturated**: ``POST /api/v1/assistant/messages`` closed loop, one request in flight per
   connection (32), alternating with ``GET /ping`` in slices of about 2 s (8 s of each by default,
   after 1 s of warm-up each), in ABBA order: turns/s, p50/p99, the trivial endpoint's rate and the ratio;
5. **half saturation**: the same mix open loop at half the saturated rate, for 16 s by default: a turn
   is due every ``1/rate`` s on a clock, whether or not the previous ones were answered, and its latency
   runs from when it was *due* (coordinated omission is not hidden); the goal (from the issue):
   a turn's p99 ≤ 30 ms on one worker at half its saturated rate.

The mix: each connection plays simulated web-chat customers one after another, each a new conversation
(its first message sends no ``conversation_id``: the server makes one and gives it, with the conversation's
``secret``, in the reply, which the load generator parses and sends back with every later message of that
conversation; a ``message_id`` per message), no ``msisdn`` sent. Sessions, by weight: a knowledge
question (35: "出国漫游怎么收费", "5G套餐有哪些", "营业厅几点关门" …), two related questions (10:
"出国漫游怎么收费" then "那日本呢" …), a greeting, a question and thanks (15), a greeting, thanks or goodbye
alone (10), an out-of-scope request (10: "今天天气怎么样" …), and a personal-data query (20: "查话费"/"查流量"/
"我还剩多少钱"/"我的套餐是什么", then the customer's number, then the one-time code, read by the load
generator from the embedded Outbox's demo inbox (``demo_inbox``) in the benchmark's database as a phone
would receive it, then half the time "那上个月的呢", then thanks). The API is closed: requests carry the
run's master token (``HOTLINE_API_TOKEN``, see ``bench/sms.py``); the one-time code limits are raised in
the server's environment (``OTP_LIMITS``). Every answer is checked against what the turn should get (a
knowledge article, a dialogue act, out of scope, the number prompt, the code prompt, the business's
answer); answers that differ are counted as *off script* (the JSON lists the utterances), and a personal
session that goes off script is abandoned. The hall's generic error text, HTTP errors and a conversation
the server did not continue (its id and secret sent, another id back) are counted as errors.

Run alone: ``python -m bench assistant`` (or ``python -m bench.assistant``); options
--assistant-seconds, --assistant-open-seconds, --assistant-concurrency, --assistant-subscribers,
--assistant-workers, --backends.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import re
import select
import sys
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, text

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
from bench.loadgen import LoadGen, OpenLoop
from bench.sms import TOKEN, LoadGenProcess, _cpu_seconds, _env, _machine_busy, _modes, _spread, servers
from bench.sms import _merge as _merge_slices

GOAL_P99_MS = 30.0
SLICE_SECONDS = 2.0
WARMUP_SECONDS = 1.0
SEED = 86
PRIME_TIMEOUT = 900.0   # the first turn loads the model, or trains it (a minute or two) after a catalogue change
# The one-time code limits (1 a minute, 5 an hour, 10 a day per number, 20 an hour per client address, 5 wrong a
# day) are moved out of the way: the benchmark sends many codes to each number, all from 127.0.0.1, and measures
# turns, not the limits (a polite refusal would be off script).
_BIG = str(10**9)
OTP_LIMITS = {"HOTLINE_OTP_MIN_INTERVAL_S": "0", "HOTLINE_OTP_PER_HOUR": _BIG, "HOTLINE_OTP_PER_DAY": _BIG,
              "HOTLINE_OTP_PER_CLIENT_HOUR": _BIG, "HOTLINE_OTP_WRONG_PER_DAY": _BIG}

# ------------------------------------------------------------------------------------------- the mix
FAQ = ("出国漫游怎么收费", "5G套餐有哪些", "营业厅几点关门", "流量超出了怎么收费", "宽带怎么办理", "副卡怎么办",
       "补卡需要带什么", "VoLTE是什么", "欠费了会停机吗", "星级有什么用", "积分怎么算", "客服热线几点能打通",
       "怎么注销号码", "实名制怎么登记", "eSIM怎么开通", "限速了怎么回事", "预付费和后付费有什么区别",
       "中国移动APP怎么登录", "怎么预约营业厅", "有英文服务吗", "家庭宽带多少钱一个月", "流量结转规则是什么",
       "定向流量包括哪些APP")
FAQ_PAIRS = (("出国漫游怎么收费", "那日本呢"), ("宽带怎么办理", "家庭宽带多少钱一个月"),
             ("5G套餐有哪些", "VoLTE是什么"), ("流量超出了怎么收费", "限速了怎么回事"),
             ("积分怎么算", "星级有什么用"), ("补卡需要带什么", "实名制怎么登记"))
GREETINGS = ("你好", "在吗", "您好")
THANKS = ("谢谢", "好的谢谢", "好的，谢谢你")
GOODBYES = ("再见", "拜拜")
OUT_OF_SCOPE = ("今天天气怎么样", "给我讲个笑话", "附近有什么好吃的", "帮我买张火车票", "你喜欢什么电影")
ASKS = ("查话费", "查流量", "我还剩多少钱", "我的套餐是什么")
FOLLOW_UP = "那上个月的呢"
SESSIONS = (("faq", 35), ("faq2", 10), ("chat", 15), ("act", 10), ("oos", 10), ("personal", 20))
KINDS = ("question", "followup", "act", "oos", "ask", "msisdn", "code", "answer_followup")
_CODE = re.compile(r"\d{6}")


@dataclass
class Turn:
    kind: str                   # latency bucket
    text: str | None            # None: the one-time code, filled in by the load generator
    expect: str                 # what the answer should be (see _as_expected)
    new: bool = False           # starts a new conversation
    otp_for: str | None = None  # fill ``text`` with the code last sent to this number


def _as_expected(expect: str, r: dict[str, Any]) -> bool:
    stage = (r.get("state") or {}).get("stage")
    replies = r.get("replies") or []
    intent = r.get("intent") or ""
    if not replies:
        return False
    if expect == "article":
        return stage == "idle" and any(x.get("article") for x in replies)
    if expect == "act":
        return intent.startswith("act.") and stage == "idle"
    if expect == "oos":
        return intent == "out_of_scope" and stage == "idle" and not any(x.get("article") for x in replies)
    if expect in ("msisdn", "otp"):
        return stage == expect
    if expect == "answer":        # a business ran: no prompt pending, not an article, an act or "not ours"
        return stage == "idle" and not any(x.get("article") for x in replies) and not intent.startswith("act.") \
            and intent != "out_of_scope"
    raise ValueError(expect)


def conversations(numbers: list[str], w: int, seed: int) -> Generator[Turn, bool | None, None]:
    """Endless turns for connection ``w``; ``send(ok)`` after each answer (ok: it was as expected)."""
    rng = random.Random(f"{seed}:{w}")
    kinds = [k for k, _ in SESSIONS]
    weights = [n for _, n in SESSIONS]
    i = 0
    while True:
        kind = rng.choices(kinds, weights)[0]
        if kind == "personal" and not numbers:
            kind = "faq"
        if kind == "faq":
            yield Turn("question", rng.choice(FAQ), "article", new=True)
        elif kind == "faq2":
            first, second = rng.choice(FAQ_PAIRS)
            yield Turn("question", first, "article", new=True)
            yield Turn("followup", second, "article")
        elif kind == "chat":
            yield Turn("act", rng.choice(GREETINGS), "act", new=True)
            yield Turn("question", rng.choice(FAQ), "article")
            yield Turn("act", rng.choice(THANKS + GOODBYES), "act")
        elif kind == "act":
            yield Turn("act", rng.choice(GREETINGS + THANKS + GOODBYES), "act", new=True)
        elif kind == "oos":
            yield Turn("oos", rng.choice(OUT_OF_SCOPE), "oos", new=True)
        else:
            number = numbers[i % len(numbers)]
            i += 1
            if not (yield Turn("ask", rng.choice(ASKS), "msisdn", new=True)):
                continue
            if not (yield Turn("msisdn", number, "otp")):
                continue
            if not (yield Turn("code", None, "answer", otp_for=number)):
                continue
            if rng.random() < 0.5:
                yield Turn("answer_followup", FOLLOW_UP, "answer")
            yield Turn("act", rng.choice(THANKS), "act")


# --------------------------------------------------------------------- the load generator (its process)
class AssistantLoadGen(LoadGen):
    """``bench/loadgen.py``'s process with the assistant's conversations (target ``assistant``); ``ping``
    is the inherited closed loop. ``run(target, seconds, rate=R)`` runs the open loop at R turns/s."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__({**cfg, "numbers": []})
        numbers = list(cfg.get("numbers") or [])
        seed = int(cfg.get("seed", SEED))
        c = self.concurrency
        self.convs = [conversations(numbers[w::c], w, seed) for w in range(c)]
        self.next_turn: list[Turn | None] = [None] * c
        # the conversation each connection is in, as the server named it, and its secret (from the first reply)
        self.conv_ids: list[str | None] = [None] * c
        self.conv_secrets: list[str | None] = [None] * c
        self.n_convs = 0
        self.db_url = cfg.get("db_url") or ""
        self._engine: Engine | None = None
        try:
            from hotline.assistant.texts import say
            self.error_texts = {say("error", "zh"), say("error", "en")}
        except Exception:  # noqa: BLE001
            self.error_texts = set()

    # the one-time code, as the customer's phone would receive it: the embedded Outbox's demo inbox (the
    # system's own record, sms_outbox, keeps codes redacted)
    def _otp(self, msisdn: str) -> str | None:
        if self._engine is None:
            self._engine = create_engine(self.db_url)
        with self._engine.connect() as c:
            body = c.execute(text("SELECT d.text FROM demo_inbox d JOIN sms_outbox o ON o.id = d.outbox_id "
                                  "WHERE d.msisdn = :m AND o.purpose = 'otp' ORDER BY d.id DESC LIMIT 1"),
                             {"m": msisdn}).scalar()
        m = _CODE.search(body or "")
        return m.group(0) if m else None

    def _request(self, port: int, conv_id: str | None, secret: str | None, text: str) -> bytes:
        """One message; without ``conv_id`` it starts a conversation (the server names it in its reply)."""
        self.msg_ids += 1
        msg: dict[str, str] = {"text": text, "message_id": f"bench-{self.run_tag}-{self.msg_ids}"}
        if conv_id is not None:
            msg["conversation_id"] = conv_id
            if secret is not None:
                msg["secret"] = secret
        body = json.dumps(msg, ensure_ascii=False).encode()
        return (b"POST /api/v1/assistant/messages HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                b"Content-Type: application/json\r\n%bContent-Length: %d\r\n\r\n" % (port, self.auth, len(body))) + body

    async def _advance(self, w: int, ok: bool | None) -> Turn:
        """The next turn of connection ``w``'s script (``ok`` answers the previous one), code filled in.

        The code is read in a thread: a blocking query on the event loop would hold back the other
        connections' answers and add its time to their measured latencies."""
        conv = self.convs[w]
        turn = next(conv) if ok is None else conv.send(ok)
        if turn.new:      # no id: the server starts the conversation and names it in the reply
            self.n_convs += 1
            self.conv_ids[w] = self.conv_secrets[w] = None
        if turn.otp_for is not None:
            turn.text = await asyncio.to_thread(self._otp, turn.otp_for) or "000000"
        return turn

    async def command(self, cmd: dict[str, Any]) -> dict[str, Any]:
        if cmd.get("cmd") != "prime":
            return await super().command(cmd)
        # One greeting per connection, answered before anything is timed: the first loads the model.
        t = self.targets[cmd["target"]]
        start = time.perf_counter()
        errors: list[str] = []

        async def greet(w: int) -> None:
            c = await t.conn(w)
            status, body = await c.send(self._request(t.port, None, None, "你好"))
            if status != 200:
                errors.append(f"HTTP {status}: {body[:200]!r}")

        await greet(0)
        first = time.perf_counter() - start
        await asyncio.gather(*(greet(w) for w in range(1, t.concurrency)))
        return {"primed": t.concurrency, "first_seconds": first, "seconds": time.perf_counter() - start,
                "errors": len(errors), "first_error": errors[0] if errors else ""}

    async def run(self, target: str, seconds: float, rate: float | None = None) -> dict[str, Any]:
        if target != "assistant":
            return await super().run(target, seconds)
        t = self.targets[target]
        lats: dict[str, list[float]] = {k: [] for k in KINDS}
        service: list[float] = []       # open loop: from the actual send, for comparison
        stats = {"http_errors": 0, "app_errors": 0, "off_script": 0, "empty": 0, "lost_conversations": 0}
        off: collections.Counter[str] = collections.Counter()
        intents: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        first_error: list[str] = []
        clock = time.perf_counter
        reconnects0 = t.reconnects
        cpu0 = time.process_time()
        sched = OpenLoop(rate, seconds) if rate else None
        start = clock()
        deadline = start + seconds
        in_flight = [0, 0]   # now, max
        last_done = [start]

        async def worker(w: int) -> None:
            while True:
                if sched is not None:
                    next_due = await sched.next()
                    if next_due is None:
                        return
                    due = next_due
                elif clock() >= deadline:
                    return
                turn = self.next_turn[w]
                if turn is None:
                    turn = self.next_turn[w] = await self._advance(w, None)
                sent_id = self.conv_ids[w]
                req = self._request(t.port, sent_id, self.conv_secrets[w], turn.text or "")
                try:
                    c = await t.conn(w)
                    t0 = clock()
                    in_flight[0] += 1
                    in_flight[1] = max(in_flight[1], in_flight[0])
                    try:
                        status, body = await c.send(req)
                    finally:
                        in_flight[0] -= 1
                    done = clock()
                except (ConnectionError, OSError) as err:
                    stats["http_errors"] += 1
                    if not first_error:
                        first_error.append(repr(err))
                    continue   # the same turn again (a new message id) on a new connection
                last_done[0] = done
                if sched is not None:
                    lats[turn.kind].append((done - due) * 1000.0)
                    service.append((done - t0) * 1000.0)
                else:
                    lats[turn.kind].append((done - t0) * 1000.0)
                ok = False
                if status != 200:
                    stats["http_errors"] += 1
                    if not first_error:
                        first_error.append(f"HTTP {status}: {body[:200]!r}")
                else:
                    r = json.loads(body)
                    replies = r.get("replies") or []
                    conv_id = r.get("conversation_id")
                    if sent_id is None:     # a new conversation: keep its id and secret for the next turns
                        self.conv_ids[w], self.conv_secrets[w] = conv_id, r.get("secret")
                        if not (conv_id and r.get("secret")):
                            stats["lost_conversations"] += 1
                            if not first_error:
                                first_error.append(f"a new conversation without its id and secret: {body[:200]!r}")
                    elif conv_id != sent_id:   # the server did not let this client continue: a new conversation
                        stats["lost_conversations"] += 1
                        self.conv_ids[w], self.conv_secrets[w] = conv_id, r.get("secret")
                        if not first_error:
                            first_error.append(f"{turn.kind} {turn.text!r}: conversation {sent_id} not continued")
                    intents[turn.kind][str(r.get("intent"))] += 1
                    if not replies:
                        stats["empty"] += 1
                    if any(x.get("text") in self.error_texts for x in replies):
                        stats["app_errors"] += 1
                        if not first_error:
                            first_error.append(f"{turn.kind} {turn.text!r}: {replies[0].get('text')!r}")
                    ok = _as_expected(turn.expect, r)
                    if not ok:
                        stats["off_script"] += 1
                        off[f"{turn.text if turn.otp_for is None else '<code>'} → {r.get('intent')}/"
                            f"{(r.get('state') or {}).get('stage')}"] += 1
                self.next_turn[w] = await self._advance(w, ok)

        await asyncio.gather(*(worker(w) for w in range(t.concurrency)))
        elapsed = max(seconds, last_done[0] - start) if sched is not None else clock() - start
        cpu = time.process_time() - cpu0
        count = sum(len(v) for v in lats.values())
        out = {"target": target, "count": count, "seconds": elapsed, "cpu_seconds": cpu,
               "latencies_ms": {k: [round(x, 3) for x in v] for k, v in lats.items() if v},
               "reconnects": t.reconnects - reconnects0, "first_error": first_error[0] if first_error else "",
               "off_script_texts": dict(off.most_common(20)),
               "intents": {k: dict(v.most_common(8)) for k, v in intents.items()}, **stats}
        if sched is not None:
            out.update(rate_target=rate, service_ms=[round(x, 3) for x in service], claimed_late=sched.claimed_late,
                       unsent=sched.unsent, max_in_flight=in_flight[1])
        return out


# ------------------------------------------------------------------------------ the benchmark process
class AssistantGenProcess(LoadGenProcess):
    """bench/sms.py's driver of the load-generator process, with the open loop and the priming turns."""

    def run(self, target: str, seconds: float, rate: float | None = None) -> dict[str, Any]:
        if rate is None:
            return super().run(target, seconds)
        self._send({"cmd": "run", "target": target, "seconds": seconds, "rate": rate})
        return self._wait(seconds + 60.0, f"a {seconds:g}s open-loop run at {rate:.0f}/s")

    def prime(self, target: str) -> dict[str, Any]:
        self._send({"cmd": "prime", "target": target})
        return self._wait(PRIME_TIMEOUT, "the first turns (loading the NLU model)")

    def _wait(self, timeout: float, what: str) -> dict[str, Any]:
        assert self.proc.stdout is not None
        if not select.select([self.proc.stdout], [], [], timeout)[0]:
            raise RuntimeError(f"load generator silent for {timeout:.0f}s during {what} (a server stuck?)")
        return self._recv()


def _slice(gen, server, target: str, seconds: float, rate: float | None = None) -> dict[str, Any]:
    """One slice with the CPU used by the server's processes and the whole machine (as in bench/sms.py)."""
    pids = server.pids()
    cpu0, m0 = _cpu_seconds(pids), _machine_busy()
    res = gen.run(target, seconds, rate)
    cpu1, m1 = _cpu_seconds(pids), _machine_busy()
    per = {p: cpu1[p] - cpu0[p] for p in cpu1 if p in cpu0}
    res["server_cpu_seconds"] = sum(per.values())
    res["server_cpu_by_pid"] = sorted((round(v, 3) for v in per.values() if v > 0.01), reverse=True)
    if m0 and m1 and m1[1] > m0[1]:
        res["machine_busy_cores"] = (m1[0] - m0[0]) / (m1[1] - m0[1]) * (os.cpu_count() or 1)
    return res


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out = _merge_slices(parts)
    for k in ("off_script", "empty", "lost_conversations"):
        out[k] = sum(p.get(k, 0) for p in parts)
    off: collections.Counter[str] = collections.Counter()
    intents: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for p in parts:
        off.update(p.get("off_script_texts") or {})
        for k, v in (p.get("intents") or {}).items():
            intents[k].update(v)
    out["off_script_texts"] = dict(off.most_common(20))
    out["intents"] = {k: dict(v.most_common(8)) for k, v in intents.items()}
    return out


def _prepare(url: str, subscribers: int) -> list[str]:
    """Migrate and seed; return the active numbers (in id order)."""
    from hotline.bootstrap import bootstrap
    from hotline.bss.seed import seed_population
    hl = bootstrap(settings_for(url))
    try:
        t0 = time.perf_counter()
        report = seed_population(hl.db, hl.bss.products, subscribers=subscribers, seed=SEED, clock=hl.bss.clock,
                                 kdf_n=KDF_N)
        log(f"assistant: seeded {report.subscribers:,} subscribers in {time.perf_counter() - t0:.1f}s")
        numbers = hl.db.run_sync(lambda conn: [m for (m,) in conn.execute(text(
            "SELECT msisdn FROM subscribers WHERE status = 'active' ORDER BY id")).all()])
        analyze(hl)
        return numbers
    finally:
        hl.close()


def measure(url: str, numbers: list[str], workers: int, *, seconds: float, open_seconds: float,
            concurrency: int, tag: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hotline-bench-assistant-") as cwd:   # no stray ./hotline.toml
        env = {**_env(url, cwd), **OTP_LIMITS}
        with servers({"app": "hotline.api.app:create_app", "workers": workers, "env": env, "factory": True,
                      "cwd": cwd},
                     {"app": "bench.trivial_app:app", "workers": workers, "env": env, "cwd": cwd}) as (api, trivial):
            by_target = {"assistant": api, "ping": trivial}
            gen = AssistantGenProcess({"generator": "bench.assistant:AssistantLoadGen",
                                        "targets": {"assistant": {"port": api.port}, "ping": {"port": trivial.port}},
                                        "numbers": numbers, "concurrency": concurrency, "seed": SEED,
                                        "db_url": url, "token": TOKEN}, env)
            try:
                spread = {"assistant": _spread(gen, api, "assistant", "/healthz", concurrency),
                          "ping": _spread(gen, trivial, "ping", "/ping", concurrency)}
                log(f"assistant/{tag}: first turns on every connection (the model loads, or trains, in each worker)")
                prime = gen.prime("assistant")
                if prime["errors"]:
                    raise RuntimeError(f"the first turns failed: {prime['first_error']}")
                log(f"assistant/{tag}: model ready after {prime['first_seconds']:.1f}s")
                for target in ("assistant", "ping"):
                    gen.run(target, WARMUP_SECONDS)
                n = max(1, round(seconds / SLICE_SECONDS))
                log(f"assistant/{tag}: {seconds:g}s of turns and {seconds:g}s of /ping, {concurrency} in flight, "
                    f"interleaved in {n} slices")
                parts: dict[str, list[dict[str, Any]]] = {"assistant": [], "ping": []}
                for i in range(n):
                    for target in (("assistant", "ping") if i % 2 == 0 else ("ping", "assistant")):   # ABBA
                        parts[target].append(_slice(gen, by_target[target], target, seconds / n))
                saturated = _merge(parts["assistant"])
                if not saturated["count"]:
                    raise RuntimeError(f"no turns completed: {saturated['first_error']}")
                rate = saturated["rate"] / 2
                log(f"assistant/{tag}: saturated at {saturated['rate']:,.0f} turns/s; now {open_seconds:g}s open loop "
                    f"at {rate:,.0f}/s")
                open_part = _slice(gen, api, "assistant", open_seconds, rate)
            finally:
                gen.close()
            server_errors, server_tail = api.errors, (api.tail(8) if api.errors else "")
    ping = _merge(parts["ping"])
    open_res = _merge([open_part])
    for k in ("rate_target", "claimed_late", "unsent", "max_in_flight"):
        open_res[k] = open_part.get(k)
    open_res["service_latency"] = _summary_ms(open_part.get("service_ms") or [])
    saturated["connections_per_worker"], ping["connections_per_worker"] = spread["assistant"], spread["ping"]
    return {"saturated": saturated, "open": open_res, "ping": ping, "prime": prime,
            "server_log_errors": server_errors, "server_log_tail": server_tail}


def _summary_ms(values_ms: list[float]) -> dict[str, float | None]:
    return latency_summary([x / 1000.0 for x in values_ms])


def _rows(backend: str, workers: int, m: dict[str, Any], concurrency: int, n_numbers: int) -> list[Row]:
    s, o, p = m["saturated"], m["open"], m["ping"]
    lat, plat, olat = (latency_summary(x.pop("latencies_s")) for x in (s, p, o))
    ratio = s["rate"] / p["rate"] if p["rate"] else None
    w = f"{workers} worker{'s' if workers > 1 else ''}"

    def problems(res: dict[str, Any]) -> str:
        out = f"off script {res['off_script'] / res['count']:.1%}" if res["count"] else ""
        errors = res["http_errors"] + res["app_errors"] + res["lost_conversations"]
        if errors:
            out += f"; {errors} errors ({res['first_error']})"[:100]
        return out

    common = {"workers": workers, "concurrency": concurrency, "numbers": n_numbers, "prime": m["prime"],
              "server_log_errors": m["server_log_errors"], "server_log_tail": m["server_log_tail"]}
    note = (f"/ping p50 {plat['p50_ms']:.2f} p99 {plat['p99_ms']:.2f} ms; server {s['server_cores']:.2f} cores; "
            f"client {s['client_cores']:.0%}/{p['client_cores']:.0%} of a core; {problems(s)}")
    if m["server_log_errors"]:
        note += f"; {m['server_log_errors']} tracebacks in the server log"
    sat_row = Row("assistant", backend, f"{w}, saturated ({concurrency} in flight)", rate=s["rate"], unit="turns",
                  count=s["count"], seconds=s["seconds"], p50_ms=lat["p50_ms"], p99_ms=lat["p99_ms"], bare=p["rate"],
                  ratio=ratio, note=note,
                  extra={**common, "latency": lat, "trivial": {**p, "latency": plat}, "assistant": s})
    ok = olat["p99_ms"] is not None and olat["p99_ms"] <= GOAL_P99_MS and not o.get("unsent")
    svc = o["service_latency"]
    note = (f"max {olat['max_ms']:.1f} ms; from the actual send p99 {svc['p99_ms'] or 0:.2f} ms; sent late "
            f"{o['claimed_late'] or 0}, most in flight {o['max_in_flight']}; server {o['server_cores']:.2f} cores; "
            f"{problems(o)}")
    if o.get("unsent"):
        note += f"; {o['unsent']} never sent"
    open_row = Row("assistant", backend, f"{w}, {o['rate_target']:,.0f}/s open loop (½ saturated)", rate=o["rate"],
                   unit="turns", count=o["count"], seconds=o["seconds"], p50_ms=olat["p50_ms"], p99_ms=olat["p99_ms"],
                   goal=f"p99≤{GOAL_P99_MS:g}ms {'ok' if ok else 'MISSED'}", note=note,
                   extra={**common, "latency": olat, "assistant": o})
    return [sat_row, open_row]


def run(backends: tuple[str, ...] = BACKENDS, *, assistant_seconds: float = 8.0,
        assistant_open_seconds: float = 16.0, assistant_concurrency: int = 32, assistant_subscribers: int = 500,
        assistant_workers: str | None = "1", **_: Any) -> list[Row]:
    rows: list[Row] = []
    modes = _modes(assistant_workers or "1")
    labels = [f"{w} worker{'s' if w > 1 else ''}" for _, w in modes]
    for backend in backends:
        why = postgres_reachable() if backend == "postgresql" else ""
        if why:
            rows += [Row("assistant", backend, label, skipped=why) for label in labels]
            continue
        done: set[int] = set()
        try:
            with fresh_database(backend) as url:
                log(f"assistant/{backend}: seeding {assistant_subscribers:,} subscribers")
                numbers = _prepare(url, assistant_subscribers)
                for _mode, workers in modes:
                    tag = f"{backend}/{workers}w"
                    m = measure(url, numbers, workers, seconds=assistant_seconds, open_seconds=assistant_open_seconds,
                                concurrency=assistant_concurrency, tag=tag)
                    sat, opn = _rows(backend, workers, m, assistant_concurrency, len(numbers))
                    log(f"assistant/{tag}: saturated {sat.rate:,.0f} turns/s (p50 {sat.p50_ms:.1f}, p99 "
                        f"{sat.p99_ms:.1f} ms), /ping {sat.bare:,.0f}/s → {sat.ratio:.0%}; open loop at "
                        f"{opn.rate:,.0f}/s: p50 {opn.p50_ms:.1f}, p99 {opn.p99_ms:.1f} ms → {opn.goal}")
                    rows += [sat, opn]
                    done.add(workers)
        except Exception as err:  # noqa: BLE001
            log(f"assistant/{backend}: failed: {err!r}")
            rows += [Row("assistant", backend, label, skipped=f"error: {type(err).__name__}: {err}"[:200])
                     for label, (_m, w) in zip(labels, modes) if w not in done]
    return rows


if __name__ == "__main__":
    from bench.__main__ import main
    main(["assistant", *sys.argv[1:]])
