"""The ACD ``Router``: contacts into queues, offers to agents, timers — over a ``RoutingState``.

Priority. Within a queue contacts are served by score = enqueued_at − boost_seconds(tier, urgent),
lowest first, ties first-in first-out: a VIP with a boost of 90 s counts as having waited 90 s more
than it has. The boosts are per queue in data/queues.toml.

Overflow. A contact's overflow step follows its time in the current queue (``queued_at``): after each
step's ``after`` seconds it also accepts agents of the step's (accumulated) skills and lower minimum
proficiency. An agent serves a queue from the first step that accepts its skills (its *tier*), so a
contact at step s may go to agents of tier ≤ s.

Strategies (which free agent gets a contact): longest_idle (idle since its last contact ended or it
became available), best_skill (highest proficiency among the queue's skills, then longest idle),
round_robin (least recently offered a contact of this queue: the queue remembers where it stopped),
fewest_contacts (lowest current load, then longest idle), ring_all (every eligible agent at once, up
to ``ring_all_max``; the first to accept wins and the other offers are withdrawn). When an agent frees
up it takes the best-scored waiting contact over all the queues, channels and languages it serves.

Everything is synchronous; time comes from the injected ``clock`` so tests drive it by hand. The
server calls ``dispatch()`` and ``tick()`` every ~0.2 s.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

from hotline.routing.config import RoutingConfig, load_routing_config
from hotline.routing.model import (
    AgentProfile,
    AgentState,
    AgentView,
    Channel,
    Contact,
    ContactStatus,
    Event,
    NewContact,
    Offer,
    Presence,
    RoutingError,
)
from hotline.routing.state import RoutingState, queue_params

log = logging.getLogger(__name__)
Listener = Callable[[Event], None]
_CONTACT_FIELDS = [f.name for f in fields(Contact)]


def contact_from(rec: dict[str, Any]) -> Contact:
    """A Contact from a store record."""
    kw: dict[str, Any] = {f: rec.get(f) for f in _CONTACT_FIELDS}
    kw["channel"] = Channel(rec["channel"])
    kw["status"] = ContactStatus(rec["status"])
    kw["offered_to"] = tuple(rec.get("offered_to") or ())
    kw["context"] = rec.get("context") or {}
    kw["urgent"] = bool(rec.get("urgent"))
    kw["transfers"] = int(rec.get("transfers") or 0)
    kw["overflow_step"] = int(rec.get("overflow_step") or 0)
    kw["skill_level_needed"] = int(rec.get("skill_level_needed") or 0)
    return Contact(**kw)


class Router:
    """Routes contacts to agents (see the module docstring for the rules)."""

    DISPATCH_BATCH = 32   # decisions sent together (each its own atomic step) when more are known pending

    def __init__(self, config: RoutingConfig, state: RoutingState, clock: Callable[[], float] = time.time,
                 listeners: Iterable[Listener] = ()) -> None:
        self.config = config
        self.state = state
        self.clock = clock
        self.listeners: list[Listener] = list(listeners)
        self.pending = True          # after decide(): whether anything is left to decide
        state.configure(queue_params(config))

    def add_listener(self, listener: Listener) -> None:
        self.listeners.append(listener)

    # ---------------------------------------------------------------------------------- plumbing
    def _emit(self, events: list, now: float) -> None:
        if not self.listeners:
            return
        for kind, cid, aid, queue, channel, data in events:
            ev = Event(kind, now, cid, aid, queue, channel, data or {})
            for fn in self.listeners:
                try:
                    fn(ev)
                except Exception:  # noqa: BLE001 - a listener must never break routing
                    log.exception("routing listener failed on %s", kind)

    def _run(self, res: dict[str, Any] | None, now: float) -> dict[str, Any]:
        if res is None:
            return {}
        if not res.get("ok", False):
            raise RoutingError(res.get("err", "error"))
        self._emit(res.get("events") or [], now)
        return res

    def _queue(self, name: str):
        q = self.config.queues.get(name)
        if q is None:
            raise RoutingError("unknown_queue", f"no queue {name!r}")
        return q

    # ---------------------------------------------------------------------------------- contacts
    def enqueue(self, c: NewContact) -> Contact:
        """Put a new contact in its queue (status WAITING), or REFUSED when the queue is full.
        Idempotent when ``contact_id`` is given: the same id returns the contact as it is."""
        channel = Channel(c.channel)
        name = c.queue or self.config.select_queue(c.category, c.business, c.tier, c.language, channel, c.urgent)
        q = self._queue(name)
        now = self.clock()
        rec = {"contact_id": c.contact_id or uuid.uuid4().hex, "channel": str(channel), "queue": name,
               "msisdn": c.msisdn, "tier": c.tier, "language": c.language, "business": c.business,
               "category": c.category, "urgent": bool(c.urgent), "context": dict(c.context or {}),
               "status": "waiting", "enqueued_at": now, "agent_id": None, "offered_at": None,
               "answered_at": None, "ended_at": None, "skill_level_needed": q.steps[0].min_level,
               "callback_number": None, "transfers": 0, "queued_at": now, "overflow_step": 0,
               "offered_to": [], "finished_at": None, "wrap_code": None, "wrap_notes": None,
               "score": now - q.boost_seconds(c.tier, bool(c.urgent))}
        res = self._run(self.state.enqueue(rec, now), now)
        return contact_from(res["contact"])

    def contact(self, contact_id: str) -> Contact | None:
        rec = self.state.get_contact(contact_id)
        return contact_from(rec) if rec else None

    def position(self, contact_id: str) -> tuple[int, float] | None:
        """(1-based position, estimated wait in seconds) of a waiting contact; (1, 0.0) while offered.

        position = 1 + waiting contacts of the same queue ahead of it by (score, m);
        estimated wait = position × AHT / max(1, N), where AHT is the queue's moving average of handle
        time (talk + wrap-up; ``aht_alpha`` weight to the newest, starting from ``initial_aht``) and N
        the contact slots of its channel summed over the agents available for the queue (presence
        available, whatever they are doing: each slot frees one contact per AHT on average, so the
        position-th free slot comes after position × AHT / N). With nobody available, N counts as 1.
        """
        rec = self.state.get_contact(contact_id)
        if rec is None:
            return None
        if rec["status"] == "offered":
            return 1, 0.0
        if rec["status"] != "waiting":
            return None
        rank = self.state.rank(contact_id)
        if rank is None:
            return None
        st = self.state.queue_stats(rec["queue"])
        slots = max(1, int(st["staff"].get(rec["channel"], 0)))
        return rank, rank * float(st["aht"]) / slots

    def abandon(self, contact_id: str) -> None:
        """The customer left while waiting or offered (recorded with event abandoned); later no-op."""
        now = self.clock()
        self._run(self.state.abandon(contact_id, now), now)

    def request_callback(self, contact_id: str, number: str) -> Contact:
        """The customer would rather be called back: it keeps its place, channel becomes callback."""
        now = self.clock()
        return contact_from(self._run(self.state.request_callback(contact_id, number, now), now)["contact"])

    # ------------------------------------------------------------------------------------ agents
    def login(self, profile: AgentProfile) -> None:
        """Register (or update) an agent's profile; presence stays OFFLINE until set."""
        mem: dict[str, list[int]] = {}
        for q in self.config.queues.values():
            qual = q.qualification(profile.skills)
            if qual is not None:
                mem[q.name] = [qual[0], qual[1]]
        rec = {"agent_id": profile.agent_id, "name": profile.name, "skills": dict(profile.skills),
               "languages": list(profile.languages), "capacity": {str(k): int(v) for k, v in profile.capacity.items()},
               "mem": mem}
        now = self.clock()
        self._run(self.state.login(rec, now), now)

    def logout(self, agent_id: str) -> None:
        """Leave routing; refused (``busy``) while a contact is active; wrap-ups end with code logout."""
        now = self.clock()
        self._run(self.state.logout(agent_id, now), now)

    def set_presence(self, agent_id: str, presence: Presence, reason: str | None = None) -> None:
        now = self.clock()
        self._run(self.state.set_presence(agent_id, str(Presence(presence)), reason, now), now)

    def accept(self, agent_id: str, contact_id: str) -> Contact:
        """Take an offered contact (raises RoutingError ``not_offered`` when it is not offered to them)."""
        now = self.clock()
        return contact_from(self._run(self.state.accept(agent_id, contact_id, now), now)["contact"])

    def reject(self, agent_id: str, contact_id: str) -> None:
        """Decline an offer: the contact goes back to its place; not offered to this agent again during
        ``reject_cooldown`` seconds; does not count as a missed offer."""
        now = self.clock()
        self._run(self.state.reject(agent_id, contact_id, now), now)

    def finish(self, agent_id: str, contact_id: str) -> None:
        """Talk over: wrap-up starts, ended by ``wrap_up`` or after the queue's wrap_up_seconds."""
        now = self.clock()
        self._run(self.state.finish(agent_id, contact_id, now), now)

    def wrap_up(self, agent_id: str, contact_id: str, code: str, notes: str = "") -> None:
        """End the wrap-up with a code (also finishes an active contact first)."""
        now = self.clock()
        self._run(self.state.wrap_up(agent_id, contact_id, code, notes, now), now)

    def transfer(self, agent_id: str, contact_id: str, *, queue: str | None = None,
                 to_agent: str | None = None) -> Contact:
        """Hand an active contact to another queue (placed by its original enqueued_at, so not at the
        back) or to a named agent (offered to them only; if they reject or miss it, it falls back to its
        queue at its place; ``agent_unavailable`` if they cannot take it now). Context is kept."""
        if (queue is None) == (to_agent is None):
            raise RoutingError("bad_request", "give exactly one of queue or to_agent")
        now = self.clock()
        if queue is not None:
            q = self._queue(queue)
            rec = self.state.get_contact(contact_id)
            if rec is None:
                raise RoutingError("unknown_contact")
            score = float(rec["enqueued_at"]) - q.boost_seconds(rec["tier"], bool(rec["urgent"]))
            res = self._run(self.state.transfer_queue(agent_id, contact_id, queue, score, now), now)
        else:
            assert to_agent is not None   # exactly one of the two, checked above
            res = self._run(self.state.transfer_agent(agent_id, contact_id, to_agent, now), now)
        return contact_from(res["contact"])

    # -------------------------------------------------------------------------------- the loop
    def dispatch(self, limit: int = 1000) -> list[Offer]:
        """Routing decisions until nothing is left to decide (or ``limit``): the offers made. When the
        store says more are pending, up to DISPATCH_BATCH decisions go in one round trip (a Redis
        pipeline of separate FCALLs: each decision stays one atomic step)."""
        offers: list[Offer] = []
        done, batch = 0, 1
        while done < limit:
            now = self.clock()
            results = self.state.dispatch_many(now, min(batch, limit - done))
            for res in results:
                if res is None:
                    self.pending = False
                    return offers
                done += 1
                self._run(res, now)
                offers += [Offer(cid, aid, q, ch, float(exp)) for cid, aid, q, ch, exp in res.get("offers") or ()]
            left = int((results[-1] or {}).get("more", 1))   # not None: a None result returned above
            self.pending = left > 0
            if not left:
                break
            batch = min(left, self.DISPATCH_BATCH)
        return offers

    def decide(self) -> list[Offer] | None:
        """One routing decision (one atomic store step): the offers it made, possibly none; None when
        nothing was left to decide. Afterwards ``pending`` says whether more is left to decide."""
        now = self.clock()
        res = self.state.dispatch_one(now)
        if res is None:
            self.pending = False
            return None
        self.pending = int(res.get("more", 1)) > 0
        self._run(res, now)
        return [Offer(cid, aid, q, ch, float(exp)) for cid, aid, q, ch, exp in res.get("offers") or ()]

    def tick(self) -> None:
        """Offer timeouts (missed offers, and break after max_missed_offers in a row), wrap-up ends
        (code ``timeout``), overflow steps, and the end of reject cool-downs."""
        now = self.clock()
        for _ in range(100):
            res = self._run(self.state.expire(now, 1000), now)
            if len(res.get("events") or ()) < 1000:
                break

    # ------------------------------------------------------------------------------------- views
    def _view(self, a: dict[str, Any]) -> AgentView:
        prof = AgentProfile(a["agent_id"], a["name"], dict(a["skills"]), tuple(a["languages"]),
                            dict(a["capacity"]))
        return AgentView(agent_id=a["agent_id"], name=a["name"], state=AgentState(a["state"]),
                         presence=Presence(a["presence"]), reason=a.get("reason"), profile=prof,
                         offers=[a["offer"]] if a.get("offer") else [], contacts=list(a["contacts"]),
                         state_since=float(a["since"]), missed=int(a["missed"]), load=dict(a["load"]),
                         queues={q: int(v[0]) for q, v in a["mem"].items()})

    def agent(self, agent_id: str) -> AgentView | None:
        a = self.state.get_agent(agent_id)
        return self._view(a) if a else None

    def agents(self) -> list[AgentView]:
        recs = self.state.get_agents(self.state.agent_ids())
        return [self._view(a) for a in recs if a is not None]

    def waiting(self, queue: str | None = None) -> list[Contact]:
        """Waiting contacts in the order they will be served (all queues merged by score if None)."""
        names = [queue] if queue else list(self.config.queues)
        recs = [r for q in names for r in (self.state.get_contact(cid) for cid in self.state.waiting_ids(q)) if r]
        if queue is None:
            recs.sort(key=lambda r: (float(r["score"]), r["m"]))
        return [contact_from(r) for r in recs]

    def snapshot(self) -> dict[str, Any]:
        """Live figures per queue: waiting, offered, longest_wait_s, agents by state (of the agents
        logged in and qualified for the queue), logged_in, available_slots per channel, aht_s."""
        now = self.clock()
        views = {v.agent_id: v for v in self.agents()}
        out: dict[str, Any] = {"at": now, "queues": {}}
        for name in self.config.queues:
            st = self.state.queue_stats(name)
            by_state = {s.value: 0 for s in AgentState}
            for aid in st["agents"]:
                v = views.get(aid)
                if v is not None:
                    by_state[v.state.value] += 1
            out["queues"][name] = {
                "waiting": st["waiting"], "offered": st["queued"] - st["waiting"],
                "longest_wait_s": 0.0 if st["oldest"] is None else max(0.0, now - float(st["oldest"])),
                "agents": by_state, "logged_in": len(st["agents"]), "available_slots": st["staff"],
                "aht_s": float(st["aht"])}
        totals = {s.value: 0 for s in AgentState}
        for v in views.values():
            totals[v.state.value] += 1
        out["agents"] = totals
        out["logged_in"] = len(views)
        return out


def build_router(settings: Any = None, clock: Callable[[], float] = time.time,
                 listeners: Iterable[Listener] = (), *, redis_client: Any = None) -> Router:
    """The Router for a settings-like object: Redis state when it has a non-empty ``redis_url`` (keys
    under ``redis_prefix``, default "hotline:routing"), else in memory; queues from ``routing_config``
    (a TOML path) or the packaged data/queues.toml."""
    config = load_routing_config(getattr(settings, "routing_config", None) or None)
    url = getattr(settings, "redis_url", "") or ""
    if redis_client is not None or url:
        import redis

        from hotline.store.state.redis import RedisState
        client = redis_client or redis.Redis.from_url(url)
        state: RoutingState = RedisState(client, getattr(settings, "redis_prefix", "") or "hotline:routing")
    else:
        from hotline.store.state.memory import MemoryState
        state = MemoryState()
    return Router(config, state, clock, listeners)
