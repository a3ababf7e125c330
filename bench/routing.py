"""Routing decisions per second and their latency with 10,000 agents and 50,000 waiting contacts, in
memory and on Redis; Redis next to redis-benchmark's EVALSHA rate measured in the same run; claims per
second with 4 processes racing on Redis.

Population (seeded, the same for every store): 10,000 agents (``--routing-agents``), each with two or
three of the queues' skills at proficiency 3-10 (some VIP and English speakers), one voice call and
three chats at once; 50,000 contacts (``--routing-contacts``) over the catalogue's eight categories,
60% calls / 40% chats, 5% VIP, 3% urgent, 2% English. Queues are data/queues.toml with the maximum
lengths lifted. Time is the real clock; no timer fires during a run.

Saturation first: the contacts are enqueued with every agent offline, then the agents come available
and every offer is accepted until no agent can take more; the waiting list is topped up to 50,000.
Then a **cycle** repeats: an active contact is wrapped up (its agent frees a slot), a new contact is
enqueued (so 50,000 keep waiting), and ``Router.decide()`` runs until nothing is left to decide — the
freed agent picks the best waiting contact it may serve over its queues, channels, languages and
overflow steps, the queue's strategy picks the agent, and the claim is made, in one atomic step (one
FCALL of the routing Functions library on Redis); offers are accepted. Only ``decide()`` calls are timed:
**decisions/s** = offers made ÷ time spent in decide (including the calls that found nothing to do); p50/p99 per
decision that made an offer.

* ``memory``: one process. Goal: ≥ 20,000 decisions/s and p99 ≤ 1 ms.
* ``redis``, ``N proc decisions``: N processes (``--routing-processes``, default 4) share the prefix;
  in rounds, each frees a batch of 250 slots and enqueues 250 contacts (not timed), then all run
  ``Router.dispatch()`` at once (timed, from the first start to the last end of the round; dispatch
  pipelines up to 32 decisions per round trip, each still its own FCALL). Beside it, in ``bare/s``:
  ``redis-benchmark -q -n 200000 -P 1 EVALSHA <sha of "return 1"> 0`` (50 clients) run just before.
  Goal: ratio ≥ 25%. Also ``1 proc decisions``: one client, one ``decide()`` (one FCALL) at a time,
  with its latency per decision.
* ``redis``, ``N proc racing``: the same N processes run the whole cycle freely (wrap-up, enqueue,
  decide, accept) for the same time: accepted claims/s over the window.

Redis at ``HOTLINE_BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/0), keys under a unique
``bench:routing:<hex>`` prefix deleted afterwards. ``--backends`` does not apply: rows say memory/redis.
Run alone: ``python -m bench routing`` (or ``python -m bench.routing``); options --routing-seconds,
--routing-agents, --routing-contacts, --routing-processes.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing as mp
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from typing import Any

REDIS_URL = os.environ.get("HOTLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
GOAL_RATE = 20_000
GOAL_P99_MS = 1.0
GOAL_RATIO = 0.25
CATEGORIES = ("query", "order", "cancel", "care", "account", "payment", "broadband", "consult")
SKILLS = ("billing", "orders", "broadband", "care", "general")
BATCH = 250


# ------------------------------------------------------------------------------------- population
def bench_config():
    from hotline.routing.config import RoutingConfig, load_routing_config
    cfg = load_routing_config()
    queues = {n: dataclasses.replace(q, max_length=10**9) for n, q in cfg.queues.items()}
    return RoutingConfig(**{**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}, "queues": queues})


def profiles(n: int, seed: int = 86) -> list:
    from hotline.routing.model import AgentProfile
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        skills = {s: rnd.randint(3, 10) for s in rnd.sample(SKILLS, rnd.choice((2, 3)))}
        langs: tuple[str, ...] = ("zh",)
        if rnd.random() < 0.05:
            skills["vip"] = rnd.randint(5, 10)
        if rnd.random() < 0.05:
            skills["english"] = rnd.randint(3, 10)
            langs = ("zh", "en")
        out.append(AgentProfile(f"b{i:05d}", f"Agent {i}", skills, langs, {"voice": 1, "chat": 3}))
    return out


def new_contact(rnd: random.Random):
    from hotline.routing.model import Channel, NewContact
    return NewContact(channel=Channel.VOICE if rnd.random() < 0.6 else Channel.CHAT,
                      category=rnd.choice(CATEGORIES), tier="vip" if rnd.random() < 0.05 else "normal",
                      urgent=rnd.random() < 0.03, language="en" if rnd.random() < 0.02 else "zh")


def accept_all(router, offers, active: list) -> None:
    from hotline.routing.model import RoutingError
    for o in offers:
        try:
            router.accept(o.agent_id, o.contact_id)
            active.append((o.agent_id, o.contact_id))
        except RoutingError:
            pass


def saturate(router, n_agents: int, n_contacts: int, rnd: random.Random, label: str) -> list:
    """Enqueue, bring every agent in, accept until nobody can take more, top up: the (agent, contact)
    pairs active at the end."""
    from bench.common import log
    from hotline.routing.model import Presence
    t0 = time.perf_counter()
    people = profiles(n_agents)
    for p in people:
        router.login(p)
    for _ in range(n_contacts):
        router.enqueue(new_contact(rnd))
    log(f"routing/{label}: {n_agents:,} agents logged in, {n_contacts:,} contacts enqueued "
        f"({time.perf_counter() - t0:.0f}s)")
    active: list = []
    for i, p in enumerate(people):
        router.set_presence(p.agent_id, Presence.AVAILABLE)
        if i % 500 == 499 or i == len(people) - 1:
            while True:
                offers = router.dispatch(limit=100_000)
                if not offers:
                    break
                accept_all(router, offers, active)
    waiting = router.snapshot()
    n_wait = sum(q["waiting"] for q in waiting["queues"].values())
    for _ in range(max(0, n_contacts - n_wait)):
        router.enqueue(new_contact(rnd))
    accept_all(router, router.dispatch(limit=100_000), active)
    log(f"routing/{label}: saturated in {time.perf_counter() - t0:.0f}s: {len(active):,} contacts active, "
        f"{n_contacts:,} waiting")
    return active


def cycle(router, active: list, rnd: random.Random, lat: list, totals: dict) -> None:
    """Free one slot, add one contact, decide until nothing is left (timed), accept."""
    clock = time.perf_counter
    i = rnd.randrange(len(active))
    active[i], active[-1] = active[-1], active[i]
    aid, cid = active.pop()
    router.wrap_up(aid, cid, "bench")
    router.enqueue(new_contact(rnd))
    while True:
        t0 = clock()
        offers = router.decide()
        dt = clock() - t0
        totals["decide_s"] += dt
        totals["calls"] += 1
        if offers is None:
            break
        if offers:
            lat.append(dt)
            totals["offers"] += len(offers)
            accept_all(router, offers, active)
        if not router.pending:
            break


# ------------------------------------------------------------------------------------------ memory
def run_memory(n_agents: int, n_contacts: int, seconds: float) -> dict[str, Any]:
    from hotline.routing.engine import Router
    from hotline.store.state.memory import MemoryState
    rnd = random.Random(7)
    router = Router(bench_config(), MemoryState(), time.time)
    active = saturate(router, n_agents, n_contacts, rnd, "memory")
    gc.collect()
    gc.freeze()     # the population is long-lived; a server would not rescan it on every young collection
    lat: list[float] = []
    totals = {"decide_s": 0.0, "calls": 0, "offers": 0}
    for _ in range(2000):
        cycle(router, active, rnd, [], {"decide_s": 0.0, "calls": 0, "offers": 0})
    start = time.perf_counter()
    cycles = 0
    while time.perf_counter() - start < seconds:
        cycle(router, active, rnd, lat, totals)
        cycles += 1
    wall = time.perf_counter() - start
    gc.unfreeze()
    return {"lat": lat, **totals, "cycles": cycles, "wall": wall}


# ------------------------------------------------------------------------------------------- redis
def _redis():
    import redis
    return redis.Redis.from_url(REDIS_URL, socket_timeout=60)


def redis_benchmark_evalsha(client) -> tuple[float | None, str]:
    """redis-benchmark's EVALSHA rate for a trivial script (50 clients, no pipelining), or why not."""
    exe = shutil.which("redis-benchmark")
    if not exe:
        return None, "redis-benchmark not installed"
    sha = client.script_load("return 1")
    conn = client.connection_pool.connection_kwargs
    cmd = [exe, "-h", str(conn.get("host", "127.0.0.1")), "-p", str(conn.get("port", 6379)), "-q", "-n", "200000",
           "-P", "1", "evalsha", sha, "0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    found = re.findall(r"([\d.]+) requests per second", proc.stdout.replace("\r", "\n"))
    if not found:
        return None, f"redis-benchmark said: {proc.stdout[-200:]} {proc.stderr[-200:]}"
    return float(found[-1]), " ".join(cmd[1:])


def _worker(prefix: str, index: int, pairs: list, mode: str, seconds: float, barrier, stop, out) -> None:
    """One process on the shared prefix: ``rounds`` (batches, decide timed together) or ``race``."""
    from hotline.routing.engine import Router
    from hotline.store.state.redis import RedisState
    client = _redis()
    router = Router(bench_config(), RedisState(client, prefix), time.time)
    rnd = random.Random(1000 + index)
    active = list(pairs)
    lat: list[float] = []
    res: dict[str, Any] = {"rounds": [], "offers": 0, "calls": 0, "decide_s": 0.0, "accepts": 0}
    clock = time.monotonic
    if mode == "rounds":
        start = clock()
        while True:
            batch = min(BATCH, len(active))
            for _ in range(batch):
                i = rnd.randrange(len(active))
                active[i], active[-1] = active[-1], active[i]
                aid, cid = active.pop()
                router.wrap_up(aid, cid, "bench")
                router.enqueue(new_contact(rnd))
            if index == 0:
                stop.value = 1 if clock() - start >= seconds and len(res["rounds"]) >= 3 else 0
            barrier.wait()
            if stop.value:
                break
            t0 = clock()
            made = router.dispatch(limit=10**6)      # pipelined: up to 32 FCALLs per round trip
            t1 = clock()
            barrier.wait()
            accept_all(router, made, active)
            res["rounds"].append([t0, t1, len(made), 0])
    else:
        totals = {"decide_s": 0.0, "calls": 0, "offers": 0}
        barrier.wait()
        t0 = clock()
        n0 = len(active)
        cycles = 0
        while clock() - t0 < seconds and active:
            cycle(router, active, rnd, lat, totals)
            cycles += 1
        res.update(totals)
        res["window"] = [t0, clock()]
        res["accepts"] = cycles - (n0 - len(active))   # contacts freed minus net change = accepted
    res["lat"] = lat
    out.put((index, res))
    client.close()


def _run_processes(prefix: str, active: list, procs: int, mode: str, seconds: float) -> list[dict]:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs)
    stop = ctx.Value("i", 0)
    out = ctx.Queue()
    shares = [active[i::procs] for i in range(procs)]
    ps = [ctx.Process(target=_worker, args=(prefix, i, shares[i], mode, seconds, barrier, stop, out))
          for i in range(procs)]
    for p in ps:
        p.start()
    results: dict[int, dict] = {}
    deadline = time.time() + seconds + 300
    while len(results) < procs and time.time() < deadline:
        try:
            i, r = out.get(timeout=5)
            results[i] = r
        except Exception:  # noqa: BLE001 - queue.Empty: check the processes are alive
            if not any(p.is_alive() for p in ps) and len(results) < procs:
                break
    for p in ps:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
    if len(results) < procs:
        raise RuntimeError(f"{procs - len(results)} worker process(es) failed ({mode})")
    return [results[i] for i in range(procs)]


def _drop(client, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}:*", count=5000))
    for i in range(0, len(keys), 1000):
        client.delete(*keys[i:i + 1000])


def _active_pairs(client, prefix: str) -> list:
    """(agent, contact) pairs active in Redis now (between modes the processes' lists are gone)."""
    pairs = []
    for key in client.scan_iter(match=f"{prefix}:ac:*", count=5000):
        aid = key.decode().rsplit(":", 1)[1]
        pairs += [(aid, c.decode()) for c in client.smembers(key)]
    return pairs


def run_redis(n_agents: int, n_contacts: int, seconds: float, procs: int) -> dict[str, Any]:
    from bench.common import log
    from hotline.routing.engine import Router
    from hotline.store.state.redis import RedisState
    client = _redis()
    client.ping()
    prefix = f"bench:routing:{uuid.uuid4().hex[:10]}"
    out: dict[str, Any] = {"prefix": prefix}
    try:
        router = Router(bench_config(), RedisState(client, prefix), time.time)
        rnd = random.Random(7)
        active = saturate(router, n_agents, n_contacts, rnd, "redis")
        lat: list[float] = []
        totals = {"decide_s": 0.0, "calls": 0, "offers": 0}
        for _ in range(300):
            cycle(router, active, rnd, [], {"decide_s": 0.0, "calls": 0, "offers": 0})
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            cycle(router, active, rnd, lat, totals)
        out["one"] = {"lat": lat, **totals}
        log(f"routing/redis: 1 process: {totals['offers'] / totals['decide_s']:,.0f} decisions/s")
        out["bare"], out["bare_cmd"] = redis_benchmark_evalsha(client)
        log(f"routing/redis: redis-benchmark EVALSHA: {out['bare'] or 0:,.0f}/s")
        out["rounds"] = _run_processes(prefix, _active_pairs(client, prefix), procs, "rounds", seconds)
        out["race"] = _run_processes(prefix, _active_pairs(client, prefix), procs, "race", seconds)
        st = RedisState(client, prefix).stats()
        out["max_over"] = st["max_over"]
        out["waiting_end"] = sum(router.state.queue_stats(q)["waiting"] for q in router.config.queues)
    finally:
        _drop(client, prefix)
        client.close()
    return out


# ----------------------------------------------------------------------------------------------- rows
def run(backends: tuple[str, ...] = (), *, routing_seconds: float = 8.0, routing_agents: int = 10_000,
        routing_contacts: int = 50_000, routing_processes: int = 4, **_: Any) -> list:
    from bench.common import Row, latency_summary, log
    rows: list = []
    scale = f"{routing_agents:,} agents, {routing_contacts:,} waiting"
    try:
        m = run_memory(routing_agents, routing_contacts, routing_seconds)
        lat = latency_summary(m["lat"])
        rate = m["offers"] / m["decide_s"]
        ok = rate >= GOAL_RATE and lat["p99_ms"] is not None and lat["p99_ms"] <= GOAL_P99_MS
        log(f"routing/memory: {rate:,.0f} decisions/s, p50 {lat['p50_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms")
        rows.append(Row("routing", "memory", "decisions", rate=rate, unit="decisions", count=m["offers"],
                        seconds=m["decide_s"], p50_ms=lat["p50_ms"], p99_ms=lat["p99_ms"],
                        goal=f"≥{GOAL_RATE:,}/s p99≤{GOAL_P99_MS:g}ms {'ok' if ok else 'MISSED'}",
                        note=f"{scale}; max {lat['max_ms']:.2f} ms; {m['cycles'] / m['wall']:,.0f} full cycles/s "
                             f"(wrap-up+enqueue+decide+accept)",
                        extra={"latency": lat, "calls": m["calls"], "cycles": m["cycles"], "wall_s": m["wall"]}))
    except Exception as err:  # noqa: BLE001
        log(f"routing/memory: failed: {err!r}")
        rows.append(Row("routing", "memory", "decisions", skipped=f"error: {type(err).__name__}: {err}"[:200]))
    modes = ("1 proc decisions", f"{routing_processes} proc decisions", f"{routing_processes} proc racing")
    try:
        r = run_redis(routing_agents, routing_contacts, routing_seconds, routing_processes)
    except Exception as err:  # noqa: BLE001
        log(f"routing/redis: failed: {err!r}")
        return rows + [Row("routing", "redis", m, skipped=f"error: {type(err).__name__}: {err}"[:200]) for m in modes]
    bare = r["bare"]
    one = r["one"]
    lat1 = latency_summary(one["lat"])
    rate1 = one["offers"] / one["decide_s"]
    rows.append(Row("routing", "redis", modes[0], rate=rate1, unit="decisions", count=one["offers"],
                    seconds=one["decide_s"], p50_ms=lat1["p50_ms"], p99_ms=lat1["p99_ms"], bare=bare,
                    ratio=rate1 / bare if bare else None, note=f"{scale}; one client, one FCALL per decision",
                    extra={"latency": lat1}))
    rounds = [x for res in r["rounds"] for x in res["rounds"]]
    by_round: dict[int, list] = {}
    for res in r["rounds"]:
        for k, x in enumerate(res["rounds"]):
            by_round.setdefault(k, []).append(x)
    spans = [max(x[1] for x in xs) - min(x[0] for x in xs) for xs in by_round.values()]
    span = sum(spans)
    offers = sum(x[2] for x in rounds)
    rate = offers / span if span else 0.0
    ratio = rate / bare if bare else None
    goal = f"≥{GOAL_RATIO:.0%} of EVALSHA " + ("-" if ratio is None else ("ok" if ratio >= GOAL_RATIO else "MISSED"))
    log(f"routing/redis: {routing_processes} processes: {rate:,.0f} decisions/s "
        f"({'-' if ratio is None else f'{ratio:.0%}'} of EVALSHA {bare or 0:,.0f}/s)")
    rows.append(Row("routing", "redis", modes[1], rate=rate, unit="decisions", count=offers, seconds=span,
                    bare=bare, ratio=ratio, goal=goal,
                    note=f"{scale}; {len(by_round)} rounds of {routing_processes}×{BATCH} freed slots, dispatch "
                         f"pipelined (≤32 FCALL per trip); bare = redis-benchmark 50 clients -P 1",
                    extra={"bare_cmd": r["bare_cmd"], "rounds": len(by_round), "round_spans_s": spans}))
    race = r["race"]
    t0 = min(x["window"][0] for x in race)
    t1 = max(x["window"][1] for x in race)
    accepts = sum(x["accepts"] for x in race)
    race_offers = sum(x["offers"] for x in race)
    latr = latency_summary([v for x in race for v in x["lat"]])
    log(f"routing/redis: {routing_processes} processes racing: {accepts / (t1 - t0):,.0f} claims/s")
    rows.append(Row("routing", "redis", modes[2], rate=accepts / (t1 - t0), unit="claims", count=accepts,
                    seconds=t1 - t0, p50_ms=latr["p50_ms"], p99_ms=latr["p99_ms"],
                    note=f"accepted claims/s, whole cycle (wrap-up, enqueue, decide, accept) in every process; "
                         f"{race_offers:,} offers; max load−capacity seen in Lua {r['max_over']}",
                    extra={"latency": latr, "max_over": r["max_over"], "waiting_end": r["waiting_end"]}))
    return rows


if __name__ == "__main__":
    from bench.__main__ import main
    main(["routing", *sys.argv[1:]])
