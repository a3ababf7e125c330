"""``python -m bench [seeding] [orders] [sms] [nlu] [assistant] [routing] [profile] [options]``: run benchmarks,
print one table at the end.

With no names, runs every benchmark (seeding, orders, sms, nlu, assistant, routing); ``profile`` (a cProfile breakdown
of the sequential order loop) only runs when named. Results also go to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable

from bench.common import BACKENDS, KDF_N, Row, env_float, env_int, log, render_table, write_results

ALL = ("seeding", "orders", "sms", "nlu", "assistant", "routing")
NAMED = ALL + ("profile",)


def _runner(name: str) -> Callable[..., list[Row]]:
    if name == "seeding":
        from bench.seeding import run
    elif name == "orders":
        from bench.orders import run
    elif name == "sms":
        from bench.sms import run
    elif name == "nlu":
        from bench.nlu import run
    elif name == "assistant":
        from bench.assistant import run
    elif name == "routing":
        from bench.routing import run
    else:
        from bench.profiling import run
    return run


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", nargs="*", metavar="BENCHMARK",
                   help=f"any of {', '.join(NAMED)} (default: {', '.join(ALL)})")
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help="comma-separated: sqlite,postgresql (default both)")
    p.add_argument("--seed-subscribers", type=int, default=env_int("HOTLINE_BENCH_SEED_N", 20_000),
                   help="subscribers to seed (env HOTLINE_BENCH_SEED_N; default 20000)")
    p.add_argument("--seed-budget", type=float, default=env_float("HOTLINE_BENCH_SEED_BUDGET", 120.0),
                   help="stop a seeding run after this many seconds and report the rate so far (default 120)")
    p.add_argument("--population", type=int, default=env_int("HOTLINE_BENCH_POPULATION", 1000),
                   help="subscribers ordering in the order benchmark (default 1000)")
    p.add_argument("--order-seconds", type=float, default=env_float("HOTLINE_BENCH_ORDER_SECONDS", 8.0),
                   help="seconds per order phase, and again for its bare loop (default 8)")
    p.add_argument("--concurrency", type=int, default=env_int("HOTLINE_BENCH_CONCURRENCY", 8),
                   help="concurrent order tasks / bare threads in the concurrent mode (default 8)")
    p.add_argument("--profile-orders", type=int, default=env_int("HOTLINE_BENCH_PROFILE_ORDERS", 1500),
                   help="orders profiled per backend by the profile benchmark (default 1500)")
    p.add_argument("--sms-seconds", type=float, default=env_float("HOTLINE_BENCH_SMS_SECONDS", 8.0),
                   help="sms: seconds of SMS load per worker count, and as many of the trivial endpoint (default 8)")
    p.add_argument("--sms-concurrency", type=int, default=env_int("HOTLINE_BENCH_SMS_CONCURRENCY", 32),
                   help="sms: requests in flight (keep-alive connections) (default 32)")
    p.add_argument("--sms-subscribers", type=int, default=env_int("HOTLINE_BENCH_SMS_SUBSCRIBERS", 2000),
                   help="sms: subscribers seeded for the SMS load (default 2000)")
    p.add_argument("--sms-workers", default=os.environ.get("HOTLINE_BENCH_SMS_WORKERS", "1,all"),
                   help="sms: comma-separated uvicorn worker counts, 'all' = one per core (default 1,all)")
    p.add_argument("--nlu-seconds", type=float, default=env_float("HOTLINE_BENCH_NLU_SECONDS", 10.0),
                   help="nlu: seconds of the timed loop on one core (default 10)")
    p.add_argument("--nlu-cpu", type=int, default=env_int("HOTLINE_BENCH_NLU_CPU", -1),
                   help="nlu: the core to pin to (default: the highest-numbered one allowed)")
    p.add_argument("--assistant-seconds", type=float, default=env_float("HOTLINE_BENCH_ASSISTANT_SECONDS", 8.0),
                   help="assistant: seconds of saturated load, and as many of the trivial endpoint (default 8)")
    p.add_argument("--assistant-open-seconds", type=float,
                   default=env_float("HOTLINE_BENCH_ASSISTANT_OPEN_SECONDS", 16.0),
                   help="assistant: seconds of the fixed-rate run at half the saturated rate (default 16)")
    p.add_argument("--assistant-concurrency", type=int, default=env_int("HOTLINE_BENCH_ASSISTANT_CONCURRENCY", 32),
                   help="assistant: keep-alive connections; requests in flight when saturated (default 32)")
    p.add_argument("--assistant-subscribers", type=int, default=env_int("HOTLINE_BENCH_ASSISTANT_SUBSCRIBERS", 500),
                   help="assistant: synthetic subscribers seeded (default 500)")
    p.add_argument("--assistant-workers", default=os.environ.get("HOTLINE_BENCH_ASSISTANT_WORKERS", "1"),
                   help="assistant: comma-separated uvicorn worker counts, 'all' = one per core (default 1)")
    p.add_argument("--routing-seconds", type=float, default=env_float("HOTLINE_BENCH_ROUTING_SECONDS", 8.0),
                   help="routing: seconds of each timed phase (default 8)")
    p.add_argument("--routing-agents", type=int, default=env_int("HOTLINE_BENCH_ROUTING_AGENTS", 10_000),
                   help="routing: agents logged in (default 10000)")
    p.add_argument("--routing-contacts", type=int, default=env_int("HOTLINE_BENCH_ROUTING_CONTACTS", 50_000),
                   help="routing: contacts kept waiting (default 50000)")
    p.add_argument("--routing-processes", type=int, default=env_int("HOTLINE_BENCH_ROUTING_PROCESSES", 4),
                   help="routing: processes sharing Redis for the concurrent and racing rows (default 4)")
    args = p.parse_args(argv)
    unknown = [b for b in args.benchmarks if b not in NAMED]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(NAMED)}")
    return args


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds, so temporary files and schemas are still removed


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    names = list(dict.fromkeys(args.benchmarks)) or list(ALL)
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    bad = [b for b in backends if b not in BACKENDS]
    if bad:
        raise SystemExit(f"unknown backend(s): {', '.join(bad)}; choose from {', '.join(BACKENDS)}")
    params = {"benchmarks": names, "backends": list(backends), "seed_subscribers": args.seed_subscribers,
              "seed_budget": args.seed_budget, "population": args.population,
              "order_seconds": args.order_seconds, "concurrency": args.concurrency,
              "profile_orders": args.profile_orders, "password_kdf_n": KDF_N,
              "sms_seconds": args.sms_seconds, "sms_concurrency": args.sms_concurrency,
              "sms_subscribers": args.sms_subscribers, "sms_workers": args.sms_workers,
              "nlu_seconds": args.nlu_seconds, "nlu_cpu": None if args.nlu_cpu < 0 else args.nlu_cpu,
              "assistant_seconds": args.assistant_seconds, "assistant_open_seconds": args.assistant_open_seconds,
              "assistant_concurrency": args.assistant_concurrency,
              "assistant_subscribers": args.assistant_subscribers, "assistant_workers": args.assistant_workers,
              "routing_seconds": args.routing_seconds, "routing_agents": args.routing_agents,
              "routing_contacts": args.routing_contacts, "routing_processes": args.routing_processes}
    started = time.time()
    params["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    rows: list[Row] = []
    for name in names:
        rows += _runner(name)(backends, seed_subscribers=args.seed_subscribers, seed_budget=args.seed_budget,
                              population=args.population, seconds=args.order_seconds,
                              concurrency=args.concurrency, profile_orders=args.profile_orders,
                              sms_seconds=args.sms_seconds, sms_concurrency=args.sms_concurrency,
                              sms_subscribers=args.sms_subscribers, sms_workers=args.sms_workers,
                              nlu_seconds=args.nlu_seconds, nlu_cpu=params["nlu_cpu"],
                              assistant_seconds=args.assistant_seconds,
                              assistant_open_seconds=args.assistant_open_seconds,
                              assistant_concurrency=args.assistant_concurrency,
                              assistant_subscribers=args.assistant_subscribers,
                              assistant_workers=args.assistant_workers,
                              routing_seconds=args.routing_seconds, routing_agents=args.routing_agents,
                              routing_contacts=args.routing_contacts, routing_processes=args.routing_processes)
    path = write_results(rows, params, started)
    log(f"done in {time.time() - started:.0f}s; results in {path}")
    print(render_table(rows))


if __name__ == "__main__":
    main()
