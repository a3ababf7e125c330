"""In-memory routing state: the embedded default, and the reference the Lua scripts mirror.

Indexes (sorted lists, O(log n) per change; no step scans all agents or contacts):
- waiting[(queue, channel, language, step)]: contacts by (score, m), and per queue the set of non-empty keys;
- pools[(queue, tier, channel, language)]: free agents by (strategy score, agent_id), where tier is the first
  overflow step of the queue that accepts the agent; an agent sits in a pool only while it can take an
  offer on that channel (available, no offer, not in wrap-up, load < capacity);
- dirty agents / contacts: what changed since the last decision (agents freed, contacts placed);
- due offers, wrap-ups, overflow steps and reject cool-downs by time.
One re-entrant lock makes every method atomic (the server calls from several threads).
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from typing import Any

from sortedcontainers import SortedList

from hotline.routing.state import PEEK, Record, Result, member

BIG = 1e10   # separates the strategy's main key from the idle time in one score


class MemoryState:
    """All routing state in this process (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.p: dict[str, Any] = {}
        self.seq = 0
        self.contacts: dict[str, Record] = {}
        self.declined: dict[str, dict[str, float]] = {}
        self.agents: dict[str, Record] = {}
        self.waiting: dict[tuple, SortedList] = {}
        self.wkeys: dict[str, set[tuple]] = {}
        self.queued: dict[str, SortedList] = {}       # waiting + offered, by (enqueued_at, m)
        self.pools: dict[tuple, SortedList] = {}
        self.dirty_a = SortedList()
        self.dirty_a_at: dict[str, float] = {}
        self.dirty_c = SortedList()
        self.dirty_c_in: set[str] = set()
        self.due_offer = SortedList()                 # (expires_at, "cid|aid")
        self.due_wrap = SortedList()                  # (ends_at, cid)
        self.due_over = SortedList()                  # (due, cid)
        self.due_cool = SortedList()                  # (until, cid)
        self.due_at: dict[tuple[str, str], float] = {}
        self.rr: dict[str, int] = {}
        self.aht: dict[str, float] = {}
        self.staff: dict[str, dict[str, int]] = {}
        self.members: dict[str, set[str]] = {}        # queue -> logged-in agents qualified for it
        self.forget: deque[tuple[float, str]] = deque()
        self.counters = {"claims": 0, "max_over": -10**9, "accepts": 0}

    # ------------------------------------------------------------------------------------ helpers
    def configure(self, params: dict[str, Any]) -> None:
        with self._lock:
            self.p = params
            for q in params["queues"]:
                self.wkeys.setdefault(q, set())
                self.queued.setdefault(q, SortedList())
                self.staff.setdefault(q, {})
                self.members.setdefault(q, set())

    def _q(self, q: str) -> dict[str, Any]:
        return self.p["queues"][q]

    def _due_add(self, index: SortedList, kind: str, key: str, at: float) -> None:
        self._due_del(index, kind, key)
        index.add((at, key))
        self.due_at[(kind, key)] = at

    def _due_del(self, index: SortedList, kind: str, key: str) -> None:
        at = self.due_at.pop((kind, key), None)
        if at is not None:
            index.discard((at, key))

    @staticmethod
    def _ev(events: list, kind: str, c: Record | None, aid: str | None, data: dict | None = None,
            queue: str | None = None) -> None:
        events.append([kind, c["contact_id"] if c else None, aid, c["queue"] if c else queue,
                       c["channel"] if c else None, data or {}])

    def _state_of(self, a: Record) -> str:
        if a["wrap"] > 0:
            return "wrap_up"
        if a["contacts"]:
            return "busy"
        if a["offer"]:
            return "offered"
        return a["presence"]

    def _touch(self, a: Record, now: float, events: list) -> None:
        """Record a change of the agent's derived state (and its time) with an agent_state event."""
        st = self._state_of(a)
        if st != a["state"]:
            a["state"] = st
            a["since"] = now
            events.append(["agent_state", None, a["agent_id"], None, None,
                           {"state": st, "reason": a["reason"] if st == "break" else None}])

    # -- waiting contacts
    def _wkey(self, c: Record) -> tuple:
        return (c["queue"], c["channel"], c["language"], c["overflow_step"])

    def _step_at(self, q: str, waited: float) -> int:
        step = 0
        for i, after in enumerate(self._q(q)["after"]):
            if waited >= after:
                step = i
        return step

    def _place(self, c: Record, now: float, events: list) -> None:
        """Put a contact (back) among the waiting at its place: score and m kept, step from time in queue."""
        qp = self._q(c["queue"])
        step = self._step_at(c["queue"], now - c["queued_at"])
        if step > c["overflow_step"]:
            c["overflow_step"] = step
            c["skill_level_needed"] = qp["levels"][step]
            self._ev(events, "overflowed", c, None, {"step": step, "level": qp["levels"][step]})
        c["status"] = "waiting"
        c["offered_to"] = []
        c["agent_id"] = None
        key = self._wkey(c)
        lst = self.waiting.get(key)
        if lst is None:
            lst = self.waiting[key] = SortedList()
            self.wkeys[c["queue"]].add(key)
        lst.add((c["score"], c["m"]))
        queued, entry = self.queued[c["queue"]], (c["enqueued_at"], c["m"])
        if entry not in queued:          # back from an offer or an overflow step: already counted
            queued.add(entry)
        if step + 1 < len(qp["after"]):
            self._due_add(self.due_over, "over", c["contact_id"], c["queued_at"] + qp["after"][step + 1])
        self._maybe_dirty(c, now)

    def _maybe_dirty(self, c: Record, now: float) -> None:
        """A placed contact needs a decision only when some agent is free in a pool that accepts it now;
        otherwise an agent freeing up will find it."""
        if self._some_free(c, now):
            self._dirty_contact(c)

    def _unplace(self, c: Record) -> None:
        """Take a waiting contact out of its waiting list (it keeps its queued entry)."""
        lst = self.waiting.get(self._wkey(c))
        if lst is not None:
            lst.discard((c["score"], c["m"]))     # an emptied list stays listed until a match meets it
        self._due_del(self.due_over, "over", c["contact_id"])
        if c["contact_id"] in self.dirty_c_in:
            self.dirty_c_in.discard(c["contact_id"])
            self.dirty_c.discard((c["score"], c["m"]))

    def _dequeue(self, c: Record) -> None:
        self.queued[c["queue"]].discard((c["enqueued_at"], c["m"]))

    def _dirty_contact(self, c: Record) -> None:
        if c["contact_id"] not in self.dirty_c_in:
            self.dirty_c_in.add(c["contact_id"])
            self.dirty_c.add((c["score"], c["m"]))

    def _declined(self, cid: str, aid: str, now: float) -> bool:
        d = self.declined.get(cid)
        if not d:
            return False
        return d.get(aid, 0.0) > now

    def _retire(self, c: Record, status: str, now: float) -> None:
        c["status"] = status
        c["ended_at"] = now
        self.forget.append((now + self.p["retention"], c["contact_id"]))

    # -- agents
    def _free(self, a: Record) -> bool:
        return a["presence"] == "available" and not a["offer"] and a["wrap"] == 0

    def _score(self, a: Record, q: str, prof: int) -> float:
        strat = self._q(q)["strategy"]
        if strat == "best_skill":
            return -prof * BIG + a["idle"]
        if strat == "fewest_contacts":
            return sum(a["load"].values()) * BIG + a["idle"]
        if strat == "round_robin":
            return float(a["rr"].get(q, 0))
        return a["idle"]

    def _unpool(self, a: Record) -> None:
        aid = a["agent_id"]
        for key, score in a["pools"].items():
            self.pools[key].discard((score, aid))
        a["pools"] = {}
        at = self.dirty_a_at.pop(aid, None)
        if at is not None:
            self.dirty_a.discard((at, aid))

    def _undirty(self, aid: str) -> None:
        at = self.dirty_a_at.pop(aid, None)
        if at is not None:
            self.dirty_a.discard((at, aid))

    def _head(self, key: tuple, cid: str, now: float, n: int = 1) -> list[tuple]:
        """The first ``n`` agents of a pool that can take an offer on its channel now and did not
        decline the contact; entries of agents that cannot (offered, busy, on break, full) are stale
        and dropped from the front as they are met — an offer leaves the pools alone, so that an
        accept that changes nothing of an agent's scores costs nothing there either."""
        lst = self.pools.get(key)
        out: list[tuple] = []
        if not lst:
            return out
        ch = key[2]
        agents = self.agents
        i = 0
        while i < len(lst) and len(out) < n:
            entry = lst[i]
            a = agents.get(entry[1])
            if a is None or not self._free(a) or a["load"].get(ch, 0) >= a["capacity"].get(ch, 0) \
                    or a["pools"].get(key) != entry[0]:
                lst.discard(entry)
                if a is not None and a["pools"].get(key) == entry[0]:
                    del a["pools"][key]
                continue
            if not self._declined(cid, entry[1], now):
                out.append(entry)
            i += 1
            if i >= PEEK + n:
                break
        return out

    def _repool(self, a: Record) -> None:
        """Re-file a free agent in every pool it can take an offer from (changing only the entries that
        differ), and mark it for a decision."""
        aid = a["agent_id"]
        at = self.dirty_a_at.pop(aid, None)
        if at is not None:
            self.dirty_a.discard((at, aid))
        old = a["pools"]
        if not self._free(a):
            return          # its pool entries are stale now; matching skips and drops them (see _head)
        new: dict[tuple, float] = {}
        load = a["load"]
        for q, (tier, prof) in a["mem"].items():
            score = self._score(a, q, prof)
            for ch, cap in a["capacity"].items():
                if load.get(ch, 0) >= cap:
                    continue
                for lang in a["languages"]:
                    new[(q, tier, ch, lang)] = score
        pools = self.pools
        for key, score in old.items():
            if new.get(key) != score:
                pools[key].discard((score, aid))
        for key, score in new.items():
            if old.get(key) != score:
                lst = pools.get(key)
                if lst is None:
                    lst = pools[key] = SortedList()
                lst.add((score, aid))
        a["pools"] = new
        if self._has_work(a):
            self.dirty_a_at[aid] = a["idle"]
            self.dirty_a.add((a["idle"], aid))

    def _has_work(self, a: Record) -> bool:
        """Whether some waiting list the free agent may serve is non-empty (else no decision is needed:
        a contact placed later finds the agent in its pools)."""
        langs, load, cap = a["languages"], a["load"], a["capacity"]
        for q, (tier, _) in a["mem"].items():
            for key in self.wkeys[q]:
                if key[3] >= tier and key[2] in langs and load.get(key[1], 0) < cap.get(key[1], 0):
                    return True
        return False

    def _staff(self, a: Record, sign: int) -> None:
        for q in a["mem"]:
            st = self.staff[q]
            for ch, cap in a["capacity"].items():
                st[ch] = st.get(ch, 0) + sign * cap

    # -- offers
    def _offer(self, c: Record, aids: list[str], now: float, events: list, offers: list) -> None:
        q = c["queue"]
        qp = self._q(q)
        exp = now + qp["offer_timeout"]
        self._unplace(c)
        c["status"] = "offered"
        c["offered_at"] = now
        c["offered_to"] = list(aids)
        for aid in aids:
            a = self.agents[aid]
            a["offer"] = c["contact_id"]
            a["offer_exp"] = exp
            if qp["strategy"] == "round_robin":
                self.rr[q] = self.rr.get(q, 0) + 1
                a["rr"][q] = self.rr[q]
            self._undirty(aid)
            self._due_add(self.due_offer, "offer", f"{c['contact_id']}|{aid}", exp)
            self.counters["claims"] += 1
            self._ev(events, "offered", c, aid, {"expires_at": exp})
            offers.append([c["contact_id"], aid, q, c["channel"], exp])
            self._touch(a, now, events)

    def _drop_offer(self, c: Record, aid: str, now: float, events: list) -> None:
        """The agent no longer holds an offer for the contact (the contact's status is the caller's)."""
        a = self.agents.get(aid)
        if aid in c["offered_to"]:
            c["offered_to"].remove(aid)
        self._due_del(self.due_offer, "offer", f"{c['contact_id']}|{aid}")
        if a is not None and a["offer"] == c["contact_id"]:
            a["offer"] = None
            a["offer_exp"] = None
            self._repool(a)
            self._touch(a, now, events)

    def _withdraw_all(self, c: Record, now: float, events: list, keep: str | None = None) -> None:
        for other in list(c["offered_to"]):
            if other != keep:
                self._drop_offer(c, other, now, events)
                self._ev(events, "offer_withdrawn", c, other)

    def _back(self, c: Record, aid: str, kind: str, now: float, events: list, data: dict | None = None) -> None:
        """A rejected or missed offer: the agent is not offered this contact again during the cool-down;
        the contact returns to its place once nobody else holds an offer for it."""
        until = now + self.p["cooldown"]
        self.declined.setdefault(c["contact_id"], {})[aid] = until
        if ("cool", c["contact_id"]) not in self.due_at:
            self._due_add(self.due_cool, "cool", c["contact_id"], until)
        self._drop_offer(c, aid, now, events)
        self._ev(events, kind, c, aid, data)
        if not c["offered_to"] and c["status"] == "offered":
            self._place(c, now, events)

    # -------------------------------------------------------------------------------- contacts
    def enqueue(self, rec: Record, now: float) -> Result:
        with self._lock:
            cid = rec["contact_id"]
            old = self.contacts.get(cid)
            if old is not None:
                return {"ok": True, "dup": True, "contact": copy.deepcopy(old), "events": []}
            c = dict(rec)
            events: list = []
            q = c["queue"]
            if len(self.queued[q]) >= self._q(q)["max_length"]:
                self.contacts[cid] = c
                self._retire(c, "refused", now)
                self._ev(events, "refused", c, None, {"max_length": self._q(q)["max_length"]})
                return {"ok": True, "contact": copy.deepcopy(c), "events": events}
            self.seq += 1
            c["m"] = member(self.seq, cid)
            c["offered_to"] = []
            self.contacts[cid] = c
            self._ev(events, "enqueued", c, None, {"tier": c["tier"], "urgent": c["urgent"]})
            self._place(c, now, events)
            return {"ok": True, "contact": copy.deepcopy(c), "events": events}

    def get_contact(self, contact_id: str) -> Record | None:
        with self._lock:
            c = self.contacts.get(contact_id)
            return copy.deepcopy(c) if c is not None else None

    def abandon(self, contact_id: str, now: float) -> Result:
        with self._lock:
            c = self.contacts.get(contact_id)
            if c is None:
                return {"ok": False, "err": "unknown_contact"}
            events: list = []
            if c["status"] in ("waiting", "offered"):
                if c["status"] == "waiting":
                    self._unplace(c)
                self._withdraw_all(c, now, events)
                self._dequeue(c)
                self._retire(c, "abandoned", now)
                self._ev(events, "abandoned", c, None, {"waited_s": now - c["enqueued_at"]})
            return {"ok": True, "contact": copy.deepcopy(c), "events": events}

    def request_callback(self, contact_id: str, number: str, now: float) -> Result:
        with self._lock:
            c = self.contacts.get(contact_id)
            if c is None:
                return {"ok": False, "err": "unknown_contact"}
            if c["status"] not in ("waiting", "offered"):
                return {"ok": False, "err": "not_waiting"}
            events: list = []
            if c["status"] == "waiting":
                self._unplace(c)
            self._withdraw_all(c, now, events)
            self._dequeue(c)
            c["channel"] = "callback"
            c["callback_number"] = number
            self._ev(events, "callback_requested", c, None, {"number": number})
            self._place(c, now, events)
            return {"ok": True, "contact": copy.deepcopy(c), "events": events}

    def rank(self, contact_id: str) -> int | None:
        with self._lock:
            c = self.contacts.get(contact_id)
            if c is None or c["status"] != "waiting":
                return None
            key = (c["score"], c["m"])
            return 1 + sum(self.waiting[k].bisect_left(key) for k in self.wkeys[c["queue"]])

    def waiting_ids(self, queue: str) -> list[str]:
        with self._lock:
            entries = sorted(e for k in self.wkeys.get(queue, ()) for e in self.waiting[k])
            return [m.split(":", 1)[1] for _, m in entries]

    def queue_stats(self, queue: str) -> dict[str, Any]:
        with self._lock:
            waiting = sum(len(self.waiting[k]) for k in self.wkeys.get(queue, ()))
            queued = self.queued.get(queue) or ()
            oldest = queued[0][0] if queued else None
            return {"waiting": waiting, "queued": len(queued), "oldest": oldest,
                    "aht": self.aht.get(queue, self._q(queue)["aht"]), "staff": dict(self.staff.get(queue, {})),
                    "agents": sorted(self.members.get(queue, ()))}

    # ---------------------------------------------------------------------------------- agents
    def login(self, rec: Record, now: float) -> Result:
        with self._lock:
            aid = rec["agent_id"]
            events: list = []
            a = self.agents.get(aid)
            if a is not None:      # a new profile for a logged-in agent: keep its state
                if a["presence"] == "available":
                    self._staff(a, -1)
                for q in a["mem"]:
                    self.members[q].discard(aid)
                for k in ("name", "skills", "languages", "capacity", "mem"):
                    a[k] = copy.deepcopy(rec[k])
                if a["presence"] == "available":
                    self._staff(a, +1)
            else:
                a = self.agents[aid] = {
                    **copy.deepcopy(rec), "load": {ch: 0 for ch in rec["capacity"]}, "presence": "offline",
                    "reason": None, "offer": None, "offer_exp": None, "wrap": 0, "idle": now, "since": now,
                    "state": "offline", "missed": 0, "rr": {}, "contacts": set(), "pools": {}}
                events.append(["agent_state", None, aid, None, None, {"state": "offline", "reason": None}])
            for q in a["mem"]:
                self.members[q].add(aid)
            self._repool(a)
            return {"ok": True, "events": events}

    def logout(self, agent_id: str, now: float) -> Result:
        with self._lock:
            a = self.agents.get(agent_id)
            if a is None:
                return {"ok": False, "err": "unknown_agent"}
            if any(self.contacts[c]["status"] == "active" for c in a["contacts"]):
                return {"ok": False, "err": "busy"}
            events: list = []
            for cid in list(a["contacts"]):
                self._end_wrap(self.contacts[cid], a, "logout", "", now, events)
            self._leave(a, "offline", None, now, events)
            self._unpool(a)
            for q in a["mem"]:
                self.members[q].discard(agent_id)
            del self.agents[agent_id]
            return {"ok": True, "events": events}

    def _leave(self, a: Record, presence: str, reason: str | None, now: float, events: list) -> None:
        if a["presence"] == "available" and presence != "available":
            self._staff(a, -1)
        if a["presence"] != "available" and presence == "available":
            self._staff(a, +1)
        a["presence"] = presence
        a["reason"] = reason if presence == "break" else None
        if presence != "available" and a["offer"]:
            c = self.contacts[a["offer"]]
            self._drop_offer(c, a["agent_id"], now, events)
            self._ev(events, "offer_withdrawn", c, a["agent_id"])
            if not c["offered_to"] and c["status"] == "offered":
                self._place(c, now, events)

    def set_presence(self, agent_id: str, presence: str, reason: str | None, now: float) -> Result:
        with self._lock:
            a = self.agents.get(agent_id)
            if a is None:
                return {"ok": False, "err": "unknown_agent"}
            events: list = []
            old_reason = a["reason"]
            if presence == "available" and a["presence"] != "available":
                a["missed"] = 0
                a["idle"] = now
            self._leave(a, presence, reason, now, events)
            self._repool(a)
            if a["state"] == "break" and presence == "break" and old_reason != reason:
                a["state"] = None     # a new break reason is a new state period
            self._touch(a, now, events)
            return {"ok": True, "events": events}

    def get_agent(self, agent_id: str) -> Record | None:
        with self._lock:
            a = self.agents.get(agent_id)
            if a is None:
                return None
            out = copy.deepcopy({k: v for k, v in a.items() if k != "pools"})
            out["contacts"] = sorted(out["contacts"])
            return out

    def get_agents(self, agent_ids: list[str]) -> list[Record | None]:
        with self._lock:
            return [self.get_agent(aid) for aid in agent_ids]

    def agent_ids(self) -> list[str]:
        with self._lock:
            return sorted(self.agents)

    # ------------------------------------------------------------------ the agent's side of a contact
    def _pair(self, agent_id: str, contact_id: str) -> tuple[Record, Record] | str:
        """The agent and the contact, or the error code when either is unknown."""
        a = self.agents.get(agent_id)
        if a is None:
            return "unknown_agent"
        c = self.contacts.get(contact_id)
        if c is None:
            return "unknown_contact"
        return a, c

    def accept(self, agent_id: str, contact_id: str, now: float) -> Result:
        with self._lock:
            pair = self._pair(agent_id, contact_id)
            if isinstance(pair, str):
                return {"ok": False, "err": pair}
            a, c = pair
            if c["status"] != "offered" or agent_id not in c["offered_to"] or a["offer"] != contact_id:
                return {"ok": False, "err": "not_offered"}
            ch = c["channel"]
            load = a["load"].get(ch, 0) + 1
            over = load - a["capacity"].get(ch, 0)
            self.counters["max_over"] = max(self.counters["max_over"], over)
            if over > 0:
                return {"ok": False, "err": "over_capacity"}
            events: list = []
            self._withdraw_all(c, now, events, keep=agent_id)
            self._due_del(self.due_offer, "offer", f"{contact_id}|{agent_id}")
            self._dequeue(c)
            c["status"] = "active"
            c["agent_id"] = agent_id
            c["offered_to"] = []
            if c.get("answered_at") is None:
                c["answered_at"] = now
            a["offer"] = None
            a["offer_exp"] = None
            a["missed"] = 0
            a["load"][ch] = load
            a["contacts"].add(contact_id)
            self.counters["accepts"] += 1
            self._ev(events, "accepted", c, agent_id, {"waited_s": now - c["enqueued_at"]})
            self._repool(a)
            self._touch(a, now, events)
            return {"ok": True, "contact": copy.deepcopy(c), "events": events}

    def reject(self, agent_id: str, contact_id: str, now: float) -> Result:
        with self._lock:
            pair = self._pair(agent_id, contact_id)
            if isinstance(pair, str):
                return {"ok": False, "err": pair}
            a, c = pair
            if c["status"] != "offered" or agent_id not in c["offered_to"]:
                return {"ok": False, "err": "not_offered"}
            events: list = []
            self._back(c, agent_id, "rejected", now, events)
            return {"ok": True, "contact": copy.deepcopy(c), "events": events}

    def finish(self, agent_id: str, contact_id: str, now: float) -> Result:
        with self._lock:
            pair = self._pair(agent_id, contact_id)
            if isinstance(pair, str):
                return {"ok": False, "err": pair}
            a, c = pair
            if c["status"] != "active" or c["agent_id"] != agent_id:
                return {"ok": False, "err": "not_active"}
            events: list = []
            self._finish(c, a, now, events)
            return {"ok": True, "contact": copy.deepcopy(c), "events": events}

    def _finish(self, c: Record, a: Record, now: float, events: list, auto: bool = True) -> None:
        wrap = self._q(c["queue"])["wrap"]
        c["status"] = "wrap_up"
        c["finished_at"] = now
        a["wrap"] += 1
        self._undirty(a["agent_id"])
        self._ev(events, "finished", c, a["agent_id"], {"talk_s": now - (c["answered_at"] or now),
                                                         "wrap_up_until": now + wrap})
        self._touch(a, now, events)
        if wrap <= 0 and auto:
            self._end_wrap(c, a, "none", "", now, events)
        else:
            self._due_add(self.due_wrap, "wrap", c["contact_id"], now + wrap)

    def _end_wrap(self, c: Record, a: Record, code: str, notes: str, now: float, events: list) -> None:
        self._due_del(self.due_wrap, "wrap", c["contact_id"])
        ch = c["channel"]
        c["wrap_code"] = code
        c["wrap_notes"] = notes
        a["wrap"] -= 1
        a["load"][ch] = a["load"].get(ch, 0) - 1
        a["contacts"].discard(c["contact_id"])
        a["idle"] = now
        handle = now - (c["answered_at"] or now)
        alpha = self.p["alpha"]
        q = c["queue"]
        self.aht[q] = alpha * handle + (1 - alpha) * self.aht.get(q, self._q(q)["aht"])
        self._retire(c, "done", now)
        self._ev(events, "wrapped_up", c, a["agent_id"], {"code": code, "notes": notes, "handle_s": handle})
        self._repool(a)
        self._touch(a, now, events)

    def wrap_up(self, agent_id: str, contact_id: str, code: str, notes: str, now: float) -> Result:
        with self._lock:
            pair = self._pair(agent_id, contact_id)
            if isinstance(pair, str):
                return {"ok": False, "err": pair}
            a, c = pair
            if c["agent_id"] != agent_id or c["status"] not in ("active", "wrap_up"):
                return {"ok": False, "err": "not_in_wrap_up"}
            events: list = []
            if c["status"] == "active":
                self._finish(c, a, now, events, auto=False)
            if c["status"] == "wrap_up":
                self._end_wrap(c, a, code, notes, now, events)
            return {"ok": True, "contact": copy.deepcopy(c), "events": events}

    def _release(self, c: Record, a: Record, now: float) -> None:
        """The contact leaves an agent without wrap-up (transferred away)."""
        ch = c["channel"]
        a["load"][ch] = a["load"].get(ch, 0) - 1
        a["contacts"].discard(c["contact_id"])
        a["idle"] = now
        c["transfers"] = int(c.get("transfers") or 0) + 1
        c["agent_id"] = None

    def transfer_queue(self, agent_id: str, contact_id: str, queue: str, score: float, now: float) -> Result:
        with self._lock:
            pair = self._pair(agent_id, contact_id)
            if isinstance(pair, str):
                return {"ok": False, "err": pair}
            a, c = pair
            if c["status"] != "active" or c["agent_id"] != agent_id:
                return {"ok": False, "err": "not_active"}
            events: list = []
            self._release(c, a, now)
            self._ev(events, "transferred", c, agent_id, {"to_queue": queue})
            c["queue"] = queue
            c["score"] = score
            c["queued_at"] = now
            c["overflow_step"] = 0
            c["skill_level_needed"] = self._q(queue)["levels"][0]
            self._place(c, now, events)
            self._repool(a)
            self._touch(a, now, events)
            return {"ok": True, "contact": copy.deepcopy(c), "events": events}

    def transfer_agent(self, agent_id: str, contact_id: str, to_agent: str, now: float) -> Result:
        with self._lock:
            pair = self._pair(agent_id, contact_id)
            if isinstance(pair, str):
                return {"ok": False, "err": pair}
            a, c = pair
            if c["status"] != "active" or c["agent_id"] != agent_id:
                return {"ok": False, "err": "not_active"}
            b = self.agents.get(to_agent)
            if b is None:
                return {"ok": False, "err": "unknown_agent"}
            ch = c["channel"]
            if to_agent == agent_id or not self._free(b) or b["load"].get(ch, 0) >= b["capacity"].get(ch, 0):
                return {"ok": False, "err": "agent_unavailable"}
            events: list = []
            self._release(c, a, now)
            self._ev(events, "transferred", c, agent_id, {"to_agent": to_agent})
            offers: list = []
            entry = (c["enqueued_at"], c["m"])
            if entry not in self.queued[c["queue"]]:
                self.queued[c["queue"]].add(entry)
            self._offer(c, [to_agent], now, events, offers)
            self._repool(a)
            self._touch(a, now, events)
            return {"ok": True, "contact": copy.deepcopy(c), "events": events, "offers": offers}

    # ------------------------------------------------------------------------------- the loop
    SKIP = 16   # marks that no longer need a decision, dropped on the way to one (as dispatch.lua)

    def dispatch_one(self, now: float) -> Result | None:
        with self._lock:
            events: list = []
            offers: list = []
            for _ in range(self.SKIP):
                if not self.dirty_a:
                    break
                _, aid = self.dirty_a.pop(0)
                del self.dirty_a_at[aid]
                a = self.agents.get(aid)
                if a is not None and self._free(a) and self._has_work(a):
                    self._match_agent(a, now, events, offers)
                    return {"ok": True, "events": events, "offers": offers, "more": self._more()}
            for _ in range(self.SKIP):
                if not self.dirty_c:
                    break
                _, m = self.dirty_c.pop(0)
                c = self.contacts.get(m[13:])
                self.dirty_c_in.discard(m[13:])
                if c is not None and c["status"] == "waiting" and self._some_free(c, now):
                    self._match_contact(c, now, events, offers)
                    return {"ok": True, "events": events, "offers": offers, "more": self._more()}
            if self.dirty_a or self.dirty_c:
                return {"ok": True, "events": events, "offers": offers, "more": self._more()}
            return None

    def _more(self) -> int:
        return len(self.dirty_a) or len(self.dirty_c)

    def _some_free(self, c: Record, now: float) -> bool:
        """Whether an agent is free in a pool that accepts the contact now (declines aside)."""
        q, ch, lang = c["queue"], c["channel"], c["language"]
        return any(self._head((q, tier, ch, lang), "", now) for tier in range(c["overflow_step"] + 1))

    def dispatch_many(self, now: float, n: int) -> list[Result | None]:
        out: list[Result | None] = []
        for _ in range(n):
            res = self.dispatch_one(now)
            out.append(res)
            if res is None or not res["more"]:
                break
        return out

    def _match_agent(self, a: Record, now: float, events: list, offers: list) -> None:
        """The best waiting contact this free agent may serve, over all its queues, channels with room,
        languages and the overflow steps that accept it; that contact then goes to the best agent of
        its queue's strategy (this one or another free one; if another, this one stays marked)."""
        if not self._free(a):
            return
        aid = a["agent_id"]
        best = None
        langs, load, cap = a["languages"], a["load"], a["capacity"]
        waiting, declined = self.waiting, self.declined
        stale: list[tuple] = []
        for q, (tier, _) in a["mem"].items():
            for key in self.wkeys[q]:
                if key[3] < tier or key[2] not in langs or load.get(key[1], 0) >= cap.get(key[1], 0):
                    continue
                lst = waiting[key]
                if not lst:
                    stale.append((q, key))
                    continue
                entry = lst[0]
                if declined and self._declined(entry[1][13:], aid, now):
                    entry = next((e for e in lst.islice(1, PEEK) if not self._declined(e[1][13:], aid, now)), None)
                    if entry is None:
                        continue
                if best is None or entry < best:
                    best = entry
        for q, key in stale:
            self.wkeys[q].discard(key)
            del waiting[key]
        if best is not None:
            # the freed agent chose the contact (priority); the queue's strategy chooses the agent
            self._match_contact(self.contacts[best[1][13:]], now, events, offers)
            if self._free(a) and a["pools"] and aid not in self.dirty_a_at:
                self.dirty_a_at[aid] = a["idle"]
                self.dirty_a.add((a["idle"], aid))

    def _match_contact(self, c: Record, now: float, events: list, offers: list) -> None:
        """The best free agent(s) for a waiting contact: pools of its queue for every tier up to the
        contact's overflow step, on its channel and language; ring_all takes all of them."""
        if c["status"] != "waiting":
            return
        q = c["queue"]
        cid = c["contact_id"]
        ring = self._q(q)["strategy"] == "ring_all"
        chosen: list[tuple] = []
        ch, lang = c["channel"], c["language"]
        for tier in range(c["overflow_step"] + 1):
            if ring:
                seen = {e[1] for e in chosen}
                chosen += [e for e in self._head((q, tier, ch, lang), cid, now, self.p["ring_max"]) if e[1] not in seen]
            else:
                for entry in self._head((q, tier, ch, lang), cid, now):
                    if not chosen or entry < chosen[0]:
                        chosen = [entry]
        if chosen:
            chosen.sort()
            self._offer(c, [aid for _, aid in chosen[: self.p["ring_max"]]], now, events, offers)

    def expire(self, now: float, limit: int = 1000) -> Result:
        with self._lock:
            events: list = []
            n = 0
            while self.due_offer and self.due_offer[0][0] <= now and n < limit:
                _, key = self.due_offer[0]
                cid, aid = key.split("|", 1)
                c = self.contacts[cid]
                a = self.agents.get(aid)
                if a is not None:
                    a["missed"] += 1
                self._back(c, aid, "offer_timeout", now, events, {"missed": a["missed"] if a else None})
                n += 1
                if a is not None:
                    if a["missed"] >= self.p["max_missed"] and a["presence"] == "available":
                        self._leave(a, "break", "missed_offers", now, events)
                        self._repool(a)
                        self._touch(a, now, events)
            n = 0
            while self.due_wrap and self.due_wrap[0][0] <= now and n < limit:
                _, cid = self.due_wrap[0]
                c = self.contacts[cid]
                self._end_wrap(c, self.agents[c["agent_id"]], "timeout", "", now, events)
                n += 1
            n = 0
            while self.due_over and self.due_over[0][0] <= now and n < limit:
                _, cid = self.due_over[0]
                c = self.contacts[cid]
                self._unplace(c)
                self._place(c, now, events)
                n += 1
            n = 0
            while self.due_cool and self.due_cool[0][0] <= now and n < limit:
                _, cid = self.due_cool[0]
                self._due_del(self.due_cool, "cool", cid)
                cooled = self.contacts.get(cid)
                d = self.declined.get(cid)
                if d:
                    for aid in [k for k, v in d.items() if v <= now]:
                        del d[aid]
                    if d:
                        self._due_add(self.due_cool, "cool", cid, min(d.values()))
                    else:
                        del self.declined[cid]
                if cooled is not None and cooled["status"] == "waiting":
                    self._maybe_dirty(cooled, now)
                n += 1
            while self.forget and self.forget[0][0] <= now:
                _, cid = self.forget.popleft()
                old = self.contacts.get(cid)
                if old is not None and old["status"] in ("done", "abandoned", "refused"):
                    del self.contacts[cid]
                    self.declined.pop(cid, None)
            return {"ok": True, "events": events}

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.counters)
