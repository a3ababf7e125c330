"""The ``RoutingState`` interface: the routing engine's state behind one set of atomic steps.

Every method is one atomic step over the whole state (a lock in memory, one Lua script call on Redis),
so that several hotline processes sharing Redis never give a contact to two agents nor an agent more
than its capacity. The Router (engine.py) prepares records and turns what the steps return into
events; the decision logic that must be atomic (find the best contact for a free agent or the best
agent for a waiting contact, and claim it) lives in the store.

Records are plain dicts. A contact record has the fields of ``model.Contact`` (plus ``score`` and
``m``, its sort key); an agent record has ``agent_id, name, skills, languages, capacity, load,
presence, reason, offer, offer_exp, wrap, idle, since, state, missed, mem, contacts``. Steps that
change something return ``{"ok": bool, "err": code?, "contact": record?, "events": [...], "offers":
[...]}``; an event is ``[kind, contact_id, agent_id, queue, channel, data]`` and an offer
``[contact_id, agent_id, queue, channel, expires_at]``.

Ordering, identical in every store: waiting contacts by (score, m) where score = enqueued_at − boost
and m = "<12-digit sequence>:<contact_id>" (so ties are FIFO); agents in a pool by (strategy score,
agent_id); dirty agents by (idle since, agent_id); dirty contacts by (score, m).
"""

from __future__ import annotations

from typing import Any, Protocol

Record = dict[str, Any]
Result = dict[str, Any]

PEEK = 8          # entries looked at past declined ones at the head of a waiting list or an agent pool
RETENTION = 3600.0  # seconds a finished, abandoned or refused contact stays readable


def member(seq: int, contact_id: str) -> str:
    """A contact's sort key in waiting lists: sequence first, so equal scores stay first-in first-out."""
    return f"{seq:012d}:{contact_id}"


def queue_params(config: Any) -> dict[str, Any]:
    """What the atomic steps need to know of the configuration (JSON-serialisable)."""
    return {
        "max_missed": config.max_missed_offers, "cooldown": config.reject_cooldown, "alpha": config.aht_alpha,
        "ring_max": config.ring_all_max, "retention": RETENTION,
        "queues": {q.name: {"strategy": q.strategy, "offer_timeout": q.offer_timeout,
                            "wrap": q.wrap_up_seconds, "max_length": q.max_length, "aht": q.initial_aht,
                            "after": [s.after for s in q.steps], "levels": [s.min_level for s in q.steps]}
                   for q in config.queues.values()},
    }


class RoutingState(Protocol):
    """The atomic steps the Router runs over (see the module docstring for records and results)."""

    def configure(self, params: dict[str, Any]) -> None:
        """Store the queue parameters (``queue_params``); every process sharing a store passes the same."""

    # contacts
    def enqueue(self, rec: Record, now: float) -> Result:
        """Add a waiting contact (refused when its queue holds max_length); idempotent on contact_id."""
    def get_contact(self, contact_id: str) -> Record | None: ...
    def abandon(self, contact_id: str, now: float) -> Result: ...
    def request_callback(self, contact_id: str, number: str, now: float) -> Result: ...
    def rank(self, contact_id: str) -> int | None:
        """1-based place among the waiting contacts of its queue, by (score, m); None if not waiting."""
    def waiting_ids(self, queue: str) -> list[str]: ...
    def queue_stats(self, queue: str) -> dict[str, Any]:
        """waiting, queued (waiting + offered), oldest enqueued_at of a queued contact, aht,
        staff (channel -> summed capacity of agents available for the queue), agents (logged-in ids)."""

    # agents
    def login(self, rec: Record, now: float) -> Result: ...
    def logout(self, agent_id: str, now: float) -> Result: ...
    def set_presence(self, agent_id: str, presence: str, reason: str | None, now: float) -> Result: ...
    def get_agent(self, agent_id: str) -> Record | None: ...
    def get_agents(self, agent_ids: list[str]) -> list[Record | None]: ...
    def agent_ids(self) -> list[str]: ...

    # the agent's side of a contact
    def accept(self, agent_id: str, contact_id: str, now: float) -> Result: ...
    def reject(self, agent_id: str, contact_id: str, now: float) -> Result: ...
    def finish(self, agent_id: str, contact_id: str, now: float) -> Result: ...
    def wrap_up(self, agent_id: str, contact_id: str, code: str, notes: str, now: float) -> Result: ...
    def transfer_queue(self, agent_id: str, contact_id: str, queue: str, score: float, now: float) -> Result: ...
    def transfer_agent(self, agent_id: str, contact_id: str, to_agent: str, now: float) -> Result: ...

    # the engine's loop
    def dispatch_one(self, now: float) -> Result | None:
        """One routing decision: the longest-idle dirty agent takes the best waiting contact it may
        serve, else the best dirty contact gets the best free agent(s) of its queue's strategy (marks
        that no longer need a decision are dropped on the way, at most 16 per call).
        None when nothing was left to decide; else the result has ``more``: how many dirty agents and
        contacts are left."""
    def dispatch_many(self, now: float, n: int) -> list[Result | None]:
        """``n`` dispatch_one steps sent together (stopping at the first None); each stays atomic."""
    def expire(self, now: float, limit: int) -> Result:
        """Offer timeouts, wrap-up ends, overflow steps, ended reject cool-downs; at most ``limit`` each."""

    def stats(self) -> dict[str, Any]:
        """Counters the race test checks: claims, max_over (max load − capacity seen at a claim, ≤ 0)."""
