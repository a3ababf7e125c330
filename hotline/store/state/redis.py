"""Redis routing state for production: several hotline processes share one Redis. Requires Redis ≥ 7
(Redis Functions; there is no EVAL fallback).

The Lua code is ONE Redis Functions library (``library_source()``: ``lua/lib.lua`` then one
``redis.register_function`` per ``lua/<name>.lua``), loaded with FUNCTION LOAD REPLACE when a
``RedisState`` is made (and again if Redis answers "Function not found", e.g. after a restart), so its
helpers are compiled once, not on every call. Every step of ``RoutingState`` is ONE FCALL, atomic like a
script: finding the best contact for a free agent (or the best agent for a contact) and claiming it
happen in one call, so no contact is ever offered to or accepted by two agents, and ``accept`` checks
the agent's load against its capacity inside the function (recording the highest load − capacity ever
seen in ``<prefix>:stats``). Function and library names carry a hash of the Lua source, so processes
running different versions do not call each other's code. The functions mirror memory.py step for step
and use sorted sets keyed by queue/channel/language/overflow step for waiting contacts and by
queue/tier/channel/language for free agents (O(log n) per change; lib.lua lists the keys). An agent that
gets an offer is not removed from its pools at once: readers skip (and remove) pool members that are not
free (lazy removal, see ``L.stale`` in lib.lua); accept/reject/timeouts re-file it as before.

All keys live under ``prefix``; the functions compute key names, so this needs a single Redis (not
Redis Cluster). Time comes from the caller (``now``), i.e. from each process's clock.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from redis.exceptions import ResponseError

from hotline.routing.state import Record, Result

SCRIPTS = ("enqueue", "abandon", "callback", "login", "logout", "presence", "accept", "reject", "finish",
           "wrap_up", "transfer_queue", "transfer_agent", "dispatch", "expire", "views")
_FLOATS = ("enqueued_at", "offered_at", "answered_at", "ended_at", "queued_at", "finished_at", "score")
_INTS = ("skill_level_needed", "transfers", "overflow_step")


def _lib_blocks(lib: str) -> tuple[str, dict[str, str]]:
    """lib.lua split into its header (state locals) and one block per ``function L.<name>(``."""
    parts = re.split(r"(?m)^(?=function L\.)", lib)
    blocks = {}
    for part in parts[1:]:
        head = re.match(r"function L\.(\w+)\(", part)
        assert head, part[:80]   # re.split cut right before such a line
        blocks[head.group(1)] = part
    return parts[0], blocks


@cache
def library_source() -> tuple[str, dict[str, str]]:
    """The Redis Functions library (lib.lua, then one ``redis.register_function`` per script whose body
    starts with ``L.init(ARGV)`` and short local names for the helpers it uses) and the function name of
    each script. Names carry a hash of the source, so processes running different versions never call
    each other's code."""
    lua = resources.files("hotline.store.state").joinpath("lua")
    lib = lua.joinpath("lib.lua").read_text(encoding="utf-8")
    _, blocks = _lib_blocks(lib)
    bodies = {name: lua.joinpath(f"{name}.lua").read_text(encoding="utf-8") for name in SCRIPTS}
    tag = hashlib.sha1("\0".join([lib, *bodies.values()]).encode()).hexdigest()[:12]
    names = {name: f"hotline_routing_{tag}_{name}" for name in SCRIPTS}
    out = [f"#!lua name=hotline_routing_{tag}\n", lib]
    for name, body in bodies.items():
        used = [n for n in blocks if n != "init" and re.search(rf"(?<![\w.]){n}\(", body)]
        alias = f"local {', '.join(used)} = {', '.join('L.' + n for n in used)}\n" if used else ""
        out.append(f"redis.register_function('{names[name]}', function(_, ARGV)\nL.init(ARGV)\n{alias}{body}\nend)\n")
    return "".join(out), names


def _s(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else v


def decode_contact(flat: list) -> Record | None:
    if not flat:
        return None
    raw = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}
    rec: Record = {k: raw.get(k) for k in ("contact_id", "channel", "queue", "msisdn", "tier", "language",
                                           "business", "category", "status", "agent_id", "callback_number",
                                           "wrap_code", "wrap_notes", "m")}
    for k in _FLOATS:
        rec[k] = float(raw[k]) if raw.get(k) not in (None, "") else None
    for k in _INTS:
        rec[k] = int(float(raw[k])) if raw.get(k) not in (None, "") else 0
    rec["urgent"] = raw.get("urgent") == "1"
    rec["context"] = json.loads(raw["context"]) if raw.get("context") else {}
    rec["offered_to"] = [x for x in (raw.get("offered_to") or "").split(",") if x]
    return rec


def _events(raw: Any) -> list:
    out = []
    for e in json.loads(_text(raw)) or []:
        kind, cid, aid, q, ch, data = e
        out.append([kind, cid, aid, q, ch, data if isinstance(data, dict) else {}])
    return out


class RedisState:
    """``RoutingState`` on Redis (see the module docstring)."""

    def __init__(self, client: Any, prefix: str = "hotline:routing") -> None:
        self.r = client
        self.prefix = prefix
        self._source, self._fn = library_source()
        self._load()
        self.p: dict[str, Any] = {}

    def _load(self) -> None:
        self.r.function_load(self._source, replace=True)

    @staticmethod
    def _missing(err: ResponseError) -> bool:
        return "function not found" in str(err).lower()

    def _call(self, name: str, now: float, *args: Any) -> Any:
        argv = [self.prefix, repr(float(now)), *(_s(a) for a in args)]
        try:
            return self.r.fcall(self._fn[name], 0, *argv)
        except ResponseError as err:
            if not self._missing(err):
                raise
            self._load()                                # Redis restarted or its functions were flushed
            return self.r.fcall(self._fn[name], 0, *argv)

    def _result(self, raw: Any) -> Result:
        if raw is None:
            return None  # type: ignore[return-value]
        status = _text(raw[0])
        if len(raw) == 1:
            return {"ok": False, "err": status}
        res: Result = {"ok": True, "events": _events(raw[1]), "offers": json.loads(_text(raw[3])) or []}
        contact = decode_contact(raw[2])
        if contact is not None:
            res["contact"] = contact
        if status == "dup":
            res["dup"] = True
        if len(raw) > 4:
            res["more"] = int(raw[4])
        return res

    def k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # ----------------------------------------------------------------------------------- config
    def configure(self, params: dict[str, Any]) -> None:
        self.p = params
        g = {k: v for k, v in params.items() if k != "queues"}
        mapping = {"_g": json.dumps(g)} | {q: json.dumps(v) for q, v in params["queues"].items()}
        self.r.hset(self.k("cfg"), mapping=mapping)

    # ---------------------------------------------------------------------------------- contacts
    def enqueue(self, rec: Record, now: float) -> Result:
        fields = {}
        for key, v in rec.items():
            if v is None or key in ("offered_to",):
                continue
            fields[key] = json.dumps(v, ensure_ascii=False) if key == "context" else _s(v)
        return self._result(self._call("enqueue", now, json.dumps(fields, ensure_ascii=False)))

    def get_contact(self, contact_id: str) -> Record | None:
        raw = self.r.hgetall(self.k("c", contact_id))
        return decode_contact([x for kv in raw.items() for x in kv]) if raw else None

    def abandon(self, contact_id: str, now: float) -> Result:
        return self._result(self._call("abandon", now, contact_id))

    def request_callback(self, contact_id: str, number: str, now: float) -> Result:
        return self._result(self._call("callback", now, contact_id, number))

    def rank(self, contact_id: str) -> int | None:
        r = self._call("views", 0.0, "rank", contact_id)
        return None if r is None else int(r)

    def waiting_ids(self, queue: str) -> list[str]:
        flat = self._call("views", 0.0, "waiting", queue)
        entries = sorted((float(flat[i + 1]), _text(flat[i])) for i in range(0, len(flat), 2))
        return [m.split(":", 1)[1] for _, m in entries]

    def queue_stats(self, queue: str) -> dict[str, Any]:
        waiting, queued, oldest, aht, staff, members = self._call("views", 0.0, "queue", queue)
        oldest, aht = _text(oldest), _text(aht)
        return {"waiting": int(waiting), "queued": int(queued), "oldest": float(oldest) if oldest else None,
                "aht": float(aht) if aht else float(self.p["queues"][queue]["aht"]),
                "staff": {_text(staff[i]): int(staff[i + 1]) for i in range(0, len(staff), 2)},
                "agents": sorted(_text(m) for m in members)}

    # ------------------------------------------------------------------------------------ agents
    def login(self, rec: Record, now: float) -> Result:
        payload = {"agent_id": rec["agent_id"], "name": rec["name"], "skills": json.dumps(rec["skills"]),
                   "r": json.dumps({"m": rec["mem"], "c": rec["capacity"], "l": rec["languages"]})}
        return self._result(self._call("login", now, json.dumps(payload, ensure_ascii=False)))

    def logout(self, agent_id: str, now: float) -> Result:
        return self._result(self._call("logout", now, agent_id))

    def set_presence(self, agent_id: str, presence: str, reason: str | None, now: float) -> Result:
        return self._result(self._call("presence", now, agent_id, presence, reason or ""))

    def get_agent(self, agent_id: str) -> Record | None:
        return self.get_agents([agent_id])[0]

    def get_agents(self, agent_ids: list[str]) -> list[Record | None]:
        """Several agents in one round trip (the wallboard reads them all)."""
        with self.r.pipeline(transaction=False) as pipe:
            for aid in agent_ids:
                pipe.hgetall(self.k("a", aid))
                pipe.hgetall(self.k("ap", aid))
                pipe.smembers(self.k("ac", aid))
            flat = pipe.execute()
        return [self._agent(*flat[i:i + 3]) for i in range(0, len(flat), 3)]

    @staticmethod
    def _agent(raw: dict, prof: dict, contacts: set) -> Record | None:
        if not raw:
            return None
        h = {_text(k): _text(v) for k, v in raw.items()}
        r = json.loads(h["r"])
        capacity = r["c"]
        prof = {_text(k): _text(v) for k, v in prof.items()}
        return {"agent_id": h["agent_id"], "name": prof.get("name", ""), "skills": json.loads(prof.get("skills", "{}")),
                "languages": r["l"], "capacity": capacity,
                "load": {ch: int(float(h.get(f"l:{ch}", 0))) for ch in capacity}, "mem": r["m"],
                "presence": h["presence"], "reason": h.get("reason"), "offer": h.get("offer"),
                "offer_exp": float(h["offer_exp"]) if h.get("offer_exp") else None,
                "wrap": int(float(h.get("wrap", 0))), "idle": float(h["idle"]), "since": float(h["since"]),
                "state": h["state"], "missed": int(float(h.get("missed", 0))),
                "rr": {k[3:]: int(float(v)) for k, v in h.items() if k.startswith("rr:")},
                "contacts": sorted(_text(c) for c in contacts)}

    def agent_ids(self) -> list[str]:
        return sorted(_text(a) for a in self.r.smembers(self.k("agents")))

    # --------------------------------------------------------------------- the agent's side of a contact
    def accept(self, agent_id: str, contact_id: str, now: float) -> Result:
        return self._result(self._call("accept", now, agent_id, contact_id))

    def reject(self, agent_id: str, contact_id: str, now: float) -> Result:
        return self._result(self._call("reject", now, agent_id, contact_id))

    def finish(self, agent_id: str, contact_id: str, now: float) -> Result:
        return self._result(self._call("finish", now, agent_id, contact_id))

    def wrap_up(self, agent_id: str, contact_id: str, code: str, notes: str, now: float) -> Result:
        return self._result(self._call("wrap_up", now, agent_id, contact_id, code, notes))

    def transfer_queue(self, agent_id: str, contact_id: str, queue: str, score: float, now: float) -> Result:
        return self._result(self._call("transfer_queue", now, agent_id, contact_id, queue, float(score)))

    def transfer_agent(self, agent_id: str, contact_id: str, to_agent: str, now: float) -> Result:
        return self._result(self._call("transfer_agent", now, agent_id, contact_id, to_agent))

    # --------------------------------------------------------------------------------- the loop
    def dispatch_one(self, now: float) -> Result | None:
        return self._result(self._call("dispatch", now))

    def dispatch_many(self, now: float, n: int) -> list[Result | None]:
        """``n`` dispatch FCALLs in one pipeline (not a transaction: each call is atomic by itself)."""
        if n <= 1:
            return [self.dispatch_one(now)]
        fn = self._fn["dispatch"]
        args = [self.prefix, repr(float(now))]
        for attempt in (1, 2):
            with self.r.pipeline(transaction=False) as pipe:
                for _ in range(n):
                    pipe.fcall(fn, 0, *args)
                try:
                    raws = pipe.execute()
                    break
                except ResponseError as err:
                    if attempt == 2 or not self._missing(err):
                        raise
                    self._load()                        # Redis restarted or its functions were flushed
        out: list[Result | None] = []
        for raw in raws:
            res = self._result(raw)
            out.append(res)
            if res is None:
                break
        return out

    def expire(self, now: float, limit: int = 1000) -> Result:
        return self._result(self._call("expire", now, limit))

    def stats(self) -> dict[str, Any]:
        raw = self.r.hgetall(self.k("stats"))
        out = {_text(k): int(float(v)) for k, v in raw.items()}
        out.setdefault("claims", 0)
        out.setdefault("accepts", 0)
        out.setdefault("max_over", -10**9)
        return out
