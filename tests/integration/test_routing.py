"""The routing engine as agents and customers notice it — the same tests on the in-memory state and on
Redis (real server at 127.0.0.1:6379, a unique key prefix per test, deleted afterwards).

Time is a hand-driven clock: nothing here sleeps.
"""

from __future__ import annotations

import os
import uuid

import pytest

from conftest import need
from hotline.routing.config import load_routing_config
from hotline.routing.engine import Router
from hotline.routing.model import AgentProfile, AgentState, Channel, ContactStatus, NewContact, Presence, RoutingError
from hotline.store.state.memory import MemoryState

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def redis_client():
    import redis
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        client.ping()
        return client
    except Exception:  # noqa: BLE001
        return None


def drop_prefix(client, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i:i + 500])


@pytest.fixture(params=["memory", "redis"])
def state(request):
    if request.param == "memory":
        yield MemoryState()
        return
    client = redis_client()
    need(client is not None, f"Redis is not reachable at {REDIS_URL}")
    from hotline.store.state.redis import RedisState
    prefix = f"test:routing:{uuid.uuid4().hex[:12]}"
    try:
        yield RedisState(client, prefix)
    finally:
        drop_prefix(client, prefix)
        client.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def events():
    return []


@pytest.fixture
def router(state, clock, events):
    return Router(load_routing_config(), state, clock, [events.append])


def agent(router, aid, skills, *, langs=("zh",), cap=None, available=True):
    router.login(AgentProfile(aid, f"Agent {aid}", skills, tuple(langs), cap or {"voice": 1, "chat": 3}))
    if available:
        router.set_presence(aid, Presence.AVAILABLE)


def voice(category="query", **kw):
    return NewContact(channel=Channel.VOICE, category=category, **kw)


def offered_to(router, contact_id):
    return sorted(router.contact(contact_id).offered_to)


def kinds(events, kind):
    return [e for e in events if e.kind == kind]


# ------------------------------------------------------------------------------------- queue choice
def test_queue_is_chosen_from_category_tier_language_and_urgency(router):
    assert router.enqueue(voice("query")).queue == "billing"
    assert router.enqueue(voice("payment")).queue == "billing"
    assert router.enqueue(voice("order")).queue == "orders"
    assert router.enqueue(voice("cancel")).queue == "orders"
    assert router.enqueue(voice("broadband")).queue == "broadband"
    assert router.enqueue(voice("care")).queue == "complaints"
    assert router.enqueue(voice("query", urgent=True)).queue == "complaints"
    assert router.enqueue(voice("order", tier="vip")).queue == "vip"
    assert router.enqueue(voice("query", language="en")).queue == "english"
    assert router.enqueue(voice("consult")).queue == "general"
    assert router.enqueue(voice("query", queue="general")).queue == "general"
    with pytest.raises(RoutingError) as err:
        router.enqueue(voice(queue="nowhere"))
    assert err.value.code == "unknown_queue"


def test_enqueue_with_a_given_id_is_idempotent(router):
    a = router.enqueue(voice(contact_id="h-1", context={"handoff_id": 7}))
    b = router.enqueue(voice(contact_id="h-1"))
    assert a.contact_id == b.contact_id == "h-1"
    assert [c.contact_id for c in router.waiting("billing")] == ["h-1"]
    assert router.contact("h-1").context == {"handoff_id": 7}


# ---------------------------------------------------------------------------------------- priority
def test_vip_counts_as_having_waited_longer_and_ties_are_fifo(router, clock):
    first = router.enqueue(voice("query", queue="billing"))
    second = router.enqueue(voice("query", queue="billing"))
    clock.advance(30)
    vip = router.enqueue(voice("query", queue="billing", tier="vip"))        # boost 90 s > 30 s waited
    urgent = router.enqueue(voice("query", queue="billing", urgent=True))    # boost 60 s > 30 s
    clock.advance(100)
    late_vip = router.enqueue(voice("query", queue="billing", tier="vip"))   # 90 s < 130 s waited
    order = [c.contact_id for c in router.waiting("billing")]
    assert order == [vip.contact_id, urgent.contact_id, first.contact_id, second.contact_id, late_vip.contact_id]
    assert router.position(vip.contact_id)[0] == 1
    assert router.position(late_vip.contact_id)[0] == 5


def test_a_freed_agent_takes_the_highest_priority_contact(router, clock):
    agent(router, "a1", {"billing": 8}, available=False)
    normal = router.enqueue(voice("query"))
    clock.advance(10)
    vip = router.enqueue(voice("query", tier="vip", queue="billing"))
    router.dispatch()
    router.set_presence("a1", Presence.AVAILABLE)
    offers = router.dispatch()
    assert [(o.contact_id, o.agent_id) for o in offers] == [(vip.contact_id, "a1")]
    assert router.contact(normal.contact_id).status is ContactStatus.WAITING


# -------------------------------------------------------------------------------------- strategies
def test_longest_idle_agent_gets_the_contact(router, clock):
    agent(router, "a1", {"billing": 8})
    clock.advance(5)
    agent(router, "a2", {"billing": 8})
    clock.advance(5)
    c = router.enqueue(voice("query"))
    offers = router.dispatch()
    assert [(o.contact_id, o.agent_id) for o in offers] == [(c.contact_id, "a1")]
    assert router.agent("a1").state is AgentState.OFFERED
    assert router.agent("a2").state is AgentState.AVAILABLE


def test_best_skill_prefers_proficiency_then_idle_time(router, clock):
    agent(router, "low", {"orders": 6})
    agent(router, "high", {"orders": 9})
    clock.advance(1)
    agent(router, "high2", {"orders": 9})
    c = router.enqueue(voice("order"))
    assert [o.agent_id for o in router.dispatch()] == ["high"]
    router.accept("high", c.contact_id)
    c2 = router.enqueue(voice("order"))
    assert [o.agent_id for o in router.dispatch()] == ["high2"]
    router.accept("high2", c2.contact_id)
    router.enqueue(voice("order"))
    assert [o.agent_id for o in router.dispatch()] == ["low"]


def test_round_robin_remembers_where_it_stopped(router, clock):
    for aid in ("r1", "r2", "r3"):
        agent(router, aid, {"vip": 9})
    got = []
    for _ in range(6):
        c = router.enqueue(voice("query", tier="vip"))
        (offer,) = router.dispatch()
        got.append(offer.agent_id)
        router.accept(offer.agent_id, c.contact_id)
        router.wrap_up(offer.agent_id, c.contact_id, "solved")
        clock.advance(1)
    assert got[:3] == sorted(got[:3]) and len(set(got[:3])) == 3
    assert got[3:] == got[:3]


def test_fewest_contacts_spreads_chats(router, clock):
    agent(router, "b1", {"broadband": 7})
    agent(router, "b2", {"broadband": 7})
    loads = []
    for _ in range(4):
        c = router.enqueue(NewContact(channel=Channel.CHAT, category="broadband"))
        (offer,) = router.dispatch()
        router.accept(offer.agent_id, c.contact_id)
        loads.append(offer.agent_id)
        clock.advance(1)
    assert sorted(loads) == ["b1", "b1", "b2", "b2"]
    assert router.agent("b1").load["chat"] == 2 and router.agent("b2").load["chat"] == 2


def test_ring_all_offers_everyone_first_accept_wins(router, events):
    for aid in ("e1", "e2", "e3"):
        agent(router, aid, {"english": 5}, langs=("zh", "en"))
    agent(router, "zh_only", {"english": 9})
    c = router.enqueue(voice("query", language="en"))
    offers = router.dispatch()
    assert sorted(o.agent_id for o in offers) == ["e1", "e2", "e3"]
    router.accept("e2", c.contact_id)
    assert router.contact(c.contact_id).agent_id == "e2"
    assert router.agent("e1").offers == [] and router.agent("e3").offers == []
    assert sorted(e.agent_id for e in kinds(events, "offer_withdrawn")) == ["e1", "e3"]
    with pytest.raises(RoutingError) as err:
        router.accept("e1", c.contact_id)
    assert err.value.code == "not_offered"


# ------------------------------------------------------------------------------ eligibility, capacity
def test_capacity_per_channel_and_one_offer_at_a_time(router):
    agent(router, "c1", {"general": 5}, cap={"voice": 1, "chat": 3})
    chats = [router.enqueue(NewContact(channel=Channel.CHAT, category="consult")) for _ in range(5)]
    taken = []
    for _ in range(5):
        offers = router.dispatch()
        assert len(offers) <= 1                      # never two outstanding offers
        for o in offers:
            router.accept(o.agent_id, o.contact_id)
            taken.append(o.contact_id)
    assert taken == [c.contact_id for c in chats[:3]]
    assert router.agent("c1").load["chat"] == 3 and router.agent("c1").state is AgentState.BUSY
    call = router.enqueue(voice("consult"))
    (offer,) = router.dispatch()                     # a voice slot is still free
    assert offer.contact_id == call.contact_id
    router.accept("c1", call.contact_id)
    assert router.dispatch() == []
    assert router.agent("c1").contacts == sorted(taken + [call.contact_id])


def test_language_and_skill_level_must_match(router):
    agent(router, "novice", {"billing": 2})
    router.enqueue(voice("query"))
    router.enqueue(voice("query", language="en"))
    assert router.dispatch() == []


def test_agents_on_break_or_offline_get_nothing(router):
    agent(router, "a1", {"general": 5}, available=False)
    router.enqueue(voice("consult"))
    assert router.dispatch() == []
    router.set_presence("a1", Presence.BREAK, "lunch")
    assert router.dispatch() == []
    view = router.agent("a1")
    assert view.state is AgentState.BREAK and view.reason == "lunch"
    router.set_presence("a1", Presence.AVAILABLE)
    assert len(router.dispatch()) == 1


def test_going_on_break_withdraws_the_offer(router, events):
    agent(router, "a1", {"general": 5})
    c = router.enqueue(voice("consult"))
    router.dispatch()
    router.set_presence("a1", Presence.BREAK, "meeting")
    assert router.contact(c.contact_id).status is ContactStatus.WAITING
    assert router.position(c.contact_id)[0] == 1
    assert kinds(events, "offer_withdrawn")[0].agent_id == "a1"


# ------------------------------------------------------------------------------- timeouts and reject
def test_missed_offers_return_the_contact_and_put_the_agent_on_break(router, clock, events):
    agent(router, "slow", {"billing": 8})
    first = router.enqueue(voice("query"))
    second = router.enqueue(voice("query"))
    router.dispatch()
    clock.advance(16)                                          # offer_timeout 15 s
    router.tick()
    assert router.contact(first.contact_id).status is ContactStatus.WAITING
    assert router.position(first.contact_id)[0] == 1          # back at its place
    assert router.agent("slow").missed == 1
    assert router.agent("slow").state is AgentState.AVAILABLE
    (offer,) = router.dispatch()                               # not the same contact right away
    assert offer.contact_id == second.contact_id
    clock.advance(16)
    router.tick()
    view = router.agent("slow")
    assert view.state is AgentState.BREAK and view.reason == "missed_offers" and view.missed == 2
    assert [e.data.get("missed") for e in kinds(events, "offer_timeout")] == [1, 2]
    assert router.dispatch() == []


def test_accepting_resets_the_missed_count(router, clock):
    agent(router, "a1", {"billing": 8})
    router.enqueue(voice("query"))
    router.dispatch()
    clock.advance(16)
    router.tick()
    assert router.agent("a1").missed == 1
    clock.advance(20)                                          # the cool-down is over
    router.tick()
    (offer,) = router.dispatch()
    router.accept("a1", offer.contact_id)
    assert router.agent("a1").missed == 0


def test_reject_puts_the_contact_back_and_another_agent_gets_it(router, clock, events):
    agent(router, "a1", {"billing": 8})
    clock.advance(1)
    agent(router, "a2", {"billing": 8}, available=False)
    c = router.enqueue(voice("query"))
    (offer,) = router.dispatch()
    assert offer.agent_id == "a1"
    router.reject("a1", c.contact_id)
    assert router.agent("a1").missed == 0
    assert router.contact(c.contact_id).status is ContactStatus.WAITING
    assert router.dispatch() == []                             # a1 is not offered it again right away
    router.set_presence("a2", Presence.AVAILABLE)
    assert [o.agent_id for o in router.dispatch()] == ["a2"]
    assert kinds(events, "rejected")[0].agent_id == "a1"


def test_after_the_cooldown_the_rejecting_agent_may_get_it_again(router, clock):
    agent(router, "a1", {"billing": 8})
    c = router.enqueue(voice("query"))
    router.dispatch()
    router.reject("a1", c.contact_id)
    assert router.dispatch() == []
    clock.advance(16)
    router.tick()
    assert [o.contact_id for o in router.dispatch()] == [c.contact_id]


# -------------------------------------------------------------------------------- wrap-up and finish
def test_wrap_up_is_timed_and_can_end_early(router, clock, events):
    agent(router, "a1", {"billing": 8})
    c1 = router.enqueue(voice("query"))
    c2 = router.enqueue(voice("query"))
    router.dispatch()
    router.accept("a1", c1.contact_id)
    clock.advance(100)
    router.finish("a1", c1.contact_id)
    assert router.agent("a1").state is AgentState.WRAP_UP
    assert router.dispatch() == []                             # no offers during wrap-up
    clock.advance(31)                                          # wrap_up_seconds 30
    router.tick()
    done = router.contact(c1.contact_id)
    assert done.status is ContactStatus.DONE
    assert kinds(events, "wrapped_up")[-1].data["code"] == "timeout"
    (offer,) = router.dispatch()
    assert offer.contact_id == c2.contact_id
    router.accept("a1", c2.contact_id)
    router.finish("a1", c2.contact_id)
    router.wrap_up("a1", c2.contact_id, "solved", "explained the bill")
    assert router.contact(c2.contact_id).status is ContactStatus.DONE
    assert kinds(events, "wrapped_up")[-1].data["code"] == "solved"
    assert router.agent("a1").state is AgentState.AVAILABLE


def test_only_the_owner_can_finish(router):
    agent(router, "a1", {"billing": 8})
    agent(router, "a2", {"billing": 8})
    c = router.enqueue(voice("query"))
    (offer,) = router.dispatch()
    other = "a2" if offer.agent_id == "a1" else "a1"
    with pytest.raises(RoutingError) as err:
        router.accept(other, c.contact_id)
    assert err.value.code == "not_offered"
    router.accept(offer.agent_id, c.contact_id)
    with pytest.raises(RoutingError):
        router.finish(other, c.contact_id)
    with pytest.raises(RoutingError) as err:
        router.accept("ghost", c.contact_id)
    assert err.value.code == "unknown_agent"


# ------------------------------------------------------------------ queue length, abandon, callback
def test_a_full_queue_refuses(router, events):
    cfg = router.config.queues["english"]
    for _ in range(cfg.max_length):
        assert router.enqueue(voice(language="en")).status is ContactStatus.WAITING
    refused = router.enqueue(voice(language="en"))
    assert refused.status is ContactStatus.REFUSED
    assert router.contact(refused.contact_id).status is ContactStatus.REFUSED
    assert len(kinds(events, "refused")) == 1


def test_a_contact_back_from_a_missed_offer_counts_once_toward_max_length(router, clock):
    cap = router.config.queues["english"].max_length
    agent(router, "e1", {"english": 5}, langs=("en",))
    first = router.enqueue(voice(language="en"))
    router.dispatch()
    clock.advance(21)                                           # english offer_timeout 20 s
    router.tick()
    assert router.contact(first.contact_id).status is ContactStatus.WAITING
    for _ in range(cap - 1):
        assert router.enqueue(voice(language="en")).status is ContactStatus.WAITING
    assert router.enqueue(voice(language="en")).status is ContactStatus.REFUSED


def test_abandon_while_waiting_and_while_offered(router, events):
    c1 = router.enqueue(voice("query"))
    c2 = router.enqueue(voice("query"))
    router.abandon(c1.contact_id)
    assert router.contact(c1.contact_id).status is ContactStatus.ABANDONED
    assert router.position(c2.contact_id)[0] == 1
    agent(router, "a1", {"billing": 8})
    router.dispatch()
    router.abandon(c2.contact_id)
    assert router.agent("a1").state is AgentState.AVAILABLE and router.agent("a1").offers == []
    assert len(kinds(events, "abandoned")) == 2
    router.abandon(c2.contact_id)                              # a second time changes nothing
    assert len(kinds(events, "abandoned")) == 2


def test_callback_keeps_the_place(router, events):
    c1 = router.enqueue(voice("query"))
    c2 = router.enqueue(voice("query"))
    c3 = router.enqueue(voice("query"))
    cb = router.request_callback(c2.contact_id, "13800138000")
    assert cb.channel is Channel.CALLBACK and cb.callback_number == "13800138000"
    assert [c.contact_id for c in router.waiting("billing")] == [c1.contact_id, c2.contact_id, c3.contact_id]
    assert router.position(c2.contact_id)[0] == 2
    assert kinds(events, "callback_requested")[0].contact_id == c2.contact_id


# ----------------------------------------------------------------------------- position and wait
def test_position_and_estimated_wait_follow_handle_times_and_staffing(router, clock):
    cs = [router.enqueue(voice("query")) for _ in range(3)]
    aht = router.config.queues["billing"].initial_aht
    assert router.position(cs[2].contact_id) == (3, 3 * aht)       # nobody available: as if one
    agent(router, "a1", {"billing": 8})
    agent(router, "a2", {"billing": 8})
    router.dispatch()                                              # both offered: c0, c1
    assert router.position(cs[2].contact_id) == (1, aht / 2)
    for o in ("a1", "a2"):
        view = router.agent(o)
        router.accept(o, view.offers[0])
    clock.advance(60)
    for o in ("a1", "a2"):
        router.wrap_up(o, router.agent(o).contacts[0], "solved")   # handle 60 s each
    alpha = router.config.aht_alpha
    expected = alpha * 60 + (1 - alpha) * (alpha * 60 + (1 - alpha) * aht)
    router.dispatch()
    assert router.contact(cs[2].contact_id).status is ContactStatus.OFFERED
    c4 = router.enqueue(voice("query"))
    pos, wait = router.position(c4.contact_id)
    assert pos == 1 and wait == pytest.approx(expected / 2)


# ------------------------------------------------------------------------------------------ overflow
def test_overflow_widens_to_lower_proficiency_then_other_skills(router, clock, events):
    agent(router, "mid", {"billing": 4})
    agent(router, "gen", {"general": 7}, cap={"voice": 1})
    c1 = router.enqueue(voice("query"))
    c2 = router.enqueue(voice("query"))
    assert router.dispatch() == []
    assert router.contact(c1.contact_id).skill_level_needed == 6
    clock.advance(31)
    router.tick()
    assert [(o.contact_id, o.agent_id) for o in router.dispatch()] == [(c1.contact_id, "mid")]
    assert router.contact(c2.contact_id).skill_level_needed == 3
    clock.advance(30)
    router.tick()
    assert [(o.contact_id, o.agent_id) for o in router.dispatch()] == [(c2.contact_id, "gen")]
    steps = [(e.contact_id, e.data["step"]) for e in kinds(events, "overflowed")]
    assert (c1.contact_id, 1) in steps and (c2.contact_id, 2) in steps


# ----------------------------------------------------------------------------------------- transfer
def test_transfer_to_a_queue_keeps_context_and_place(router, clock, events):
    agent(router, "a1", {"billing": 8})
    c = router.enqueue(voice("query", context={"conversation_id": "cv1"}))
    router.dispatch()
    router.accept("a1", c.contact_id)
    clock.advance(60)
    later = router.enqueue(voice("order"))                          # waits in orders, nobody there
    moved = router.transfer("a1", c.contact_id, queue="orders")
    assert moved.queue == "orders" and moved.transfers == 1 and moved.context == {"conversation_id": "cv1"}
    assert moved.status is ContactStatus.WAITING
    assert [x.contact_id for x in router.waiting("orders")] == [c.contact_id, later.contact_id]
    assert router.agent("a1").contacts == [] and router.agent("a1").state is AgentState.AVAILABLE
    assert kinds(events, "transferred")[0].data == {"to_queue": "orders"}


def test_transfer_to_an_agent_falls_back_to_the_queue(router, clock):
    agent(router, "a1", {"billing": 8})
    c = router.enqueue(voice("query"))
    router.dispatch()
    router.accept("a1", c.contact_id)
    with pytest.raises(RoutingError) as err:
        router.transfer("a1", c.contact_id, to_agent="nobody")
    assert err.value.code == "unknown_agent"
    agent(router, "expert", {"general": 3})                        # not even a billing agent
    moved = router.transfer("a1", c.contact_id, to_agent="expert")
    assert moved.offered_to == ("expert",) and moved.status is ContactStatus.OFFERED
    router.reject("expert", c.contact_id)
    back = router.contact(c.contact_id)
    assert back.status is ContactStatus.WAITING and back.queue == "billing" and back.transfers == 1
    clock.advance(20)
    router.tick()
    assert [o.agent_id for o in router.dispatch()] == ["a1"]


# ------------------------------------------------------------------------------ events and views
def test_a_whole_contact_tells_its_story_in_events(router, clock, events):
    agent(router, "a1", {"billing": 8})
    c = router.enqueue(voice("query", msisdn="13800138000"))
    router.dispatch()
    clock.advance(3)
    router.accept("a1", c.contact_id)
    clock.advance(120)
    router.finish("a1", c.contact_id)
    clock.advance(10)
    router.wrap_up("a1", c.contact_id, "solved")
    story = [e.kind for e in events if e.contact_id == c.contact_id]
    assert story == ["enqueued", "offered", "accepted", "finished", "wrapped_up"]
    states = [e.data["state"] for e in events if e.kind == "agent_state" and e.agent_id == "a1"]
    assert states == ["offline", "available", "offered", "busy", "wrap_up", "available"]
    done = router.contact(c.contact_id)
    assert done.answered_at == T0 + 3 and done.ended_at == T0 + 133 and done.agent_id == "a1"
    wrapped = kinds(events, "wrapped_up")[0]
    assert wrapped.data["handle_s"] == pytest.approx(130) and wrapped.queue == "billing"


def test_logout_refused_while_busy_and_snapshot_counts(router, clock):
    agent(router, "a1", {"billing": 8})
    agent(router, "a2", {"billing": 8, "general": 5}, available=False)
    c = router.enqueue(voice("query"))
    router.enqueue(voice("query"))
    router.dispatch()
    router.accept("a1", c.contact_id)
    with pytest.raises(RoutingError) as err:
        router.logout("a1")
    assert err.value.code == "busy"
    clock.advance(45)
    snap = router.snapshot()["queues"]["billing"]
    assert snap["waiting"] == 1 and snap["longest_wait_s"] == pytest.approx(45)
    assert snap["agents"]["busy"] == 1 and snap["agents"]["offline"] == 1 and snap["logged_in"] == 2
    router.logout("a2")
    assert router.agent("a2") is None
    assert [v.agent_id for v in router.agents()] == ["a1"]


# --------------------------------------------------------------------------- both stores decide alike
def test_memory_and_redis_make_the_same_decisions():
    """A seeded day in a busy centre (200 agents, 1,000 contacts, then 300 rounds of wrap-up, new
    contact, dispatch, accept, with rejects, breaks and timeouts) run on both stores with the same
    clock gives the same offers in the same order: the Lua scripts mirror memory.py step by step."""
    import random

    client = redis_client()
    need(client is not None, f"Redis is not reachable at {REDIS_URL}")
    from hotline.store.state.redis import RedisState
    prefix = f"test:routing:{uuid.uuid4().hex[:12]}"
    categories = ("query", "order", "cancel", "care", "account", "payment", "broadband", "consult")
    skills = ("billing", "orders", "broadband", "care", "general")
    logs = []
    try:
        for state in (MemoryState(), RedisState(client, prefix)):
            rnd = random.Random(5)
            clock = Clock()
            router = Router(load_routing_config(), state, clock)
            log: list = []
            active: list = []

            def dispatch(router=router, log=log, clock=clock, rnd=rnd, active=active):
                for o in router.dispatch():
                    log.append((round(clock.t - T0, 3), o.contact_id[-6:], o.agent_id))
                    try:
                        if rnd.random() < 0.1:
                            router.reject(o.agent_id, o.contact_id)
                        elif rnd.random() < 0.95:
                            router.accept(o.agent_id, o.contact_id)
                            active.append((o.agent_id, o.contact_id))
                    except RoutingError as err:      # ring-all: another agent took it first
                        log.append(err.code)

            def contact(i, rnd=rnd):
                return NewContact(channel=Channel.VOICE if rnd.random() < 0.6 else Channel.CHAT,
                                  category=rnd.choice(categories), tier="vip" if rnd.random() < 0.1 else "normal",
                                  urgent=rnd.random() < 0.05, language="en" if rnd.random() < 0.05 else "zh",
                                  contact_id=f"c{i:06d}")

            for i in range(200):
                sk = {s: rnd.randint(2, 10) for s in rnd.sample(skills, rnd.choice((1, 2, 3)))}
                if rnd.random() < 0.1:
                    sk["vip"] = rnd.randint(5, 10)
                langs = ("zh", "en") if rnd.random() < 0.1 else ("zh",)
                if "en" in langs:
                    sk["english"] = rnd.randint(3, 9)
                router.login(AgentProfile(f"a{i:03d}", f"A{i}", sk, langs, {"voice": 1, "chat": rnd.choice((1, 3))}))
            for i in range(1000):
                router.enqueue(contact(i))
            for i in range(200):
                router.set_presence(f"a{i:03d}", Presence.AVAILABLE)
            dispatch()
            for n in range(300):
                clock.advance(rnd.choice((0.5, 1, 2, 5)))
                if active:
                    aid, cid = active.pop(rnd.randrange(len(active)))
                    router.wrap_up(aid, cid, "done") if rnd.random() < 0.7 else router.finish(aid, cid)
                router.enqueue(contact(1000 + n))
                if rnd.random() < 0.05:
                    router.set_presence(f"a{rnd.randrange(200):03d}", Presence.BREAK, "rest")
                if rnd.random() < 0.05:
                    router.set_presence(f"a{rnd.randrange(200):03d}", Presence.AVAILABLE)
                router.tick()
                dispatch()
            snap = router.snapshot()["queues"]
            logs.append((log, {q: (v["waiting"], v["offered"], v["agents"]) for q, v in snap.items()}))
    finally:
        drop_prefix(client, prefix)
        client.close()
    (mem_log, mem_snap), (red_log, red_snap) = logs
    assert len(mem_log) > 500
    assert red_log == mem_log
    assert red_snap == mem_snap
