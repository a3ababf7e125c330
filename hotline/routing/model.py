"""The routing engine's vocabulary: channels, presences and states, contacts, offers, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    VIDEO = "video"
    CALLBACK = "callback"
    SMS = "sms"


class Presence(StrEnum):
    """What the agent chose."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    BREAK = "break"


class AgentState(StrEnum):
    """What the agent is, derived from presence, offer and contacts."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    OFFERED = "offered"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    BREAK = "break"


class ContactStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ACTIVE = "active"
    WRAP_UP = "wrap_up"
    DONE = "done"
    ABANDONED = "abandoned"
    REFUSED = "refused"


DEFAULT_CAPACITY: dict[str, int] = {"voice": 1, "chat": 3, "video": 1, "callback": 1, "sms": 3}


@dataclass
class AgentProfile:
    """Given by the desk at login."""

    agent_id: str
    name: str
    skills: dict[str, int]                       # skill -> proficiency 1..10
    languages: tuple[str, ...] = ("zh",)
    capacity: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))


@dataclass
class NewContact:
    channel: Channel
    msisdn: str | None = None
    tier: str = "normal"                         # "normal" | "vip"
    language: str = "zh"
    business: str | None = None                  # catalogue code recognised by the assistant
    category: str | None = None                  # catalogue category
    urgent: bool = False                         # angry customer / complaint
    queue: str | None = None                     # force a queue; None = config.select_queue(...)
    context: dict[str, Any] = field(default_factory=dict)
    contact_id: str | None = None                # None = new uuid hex; a given id makes enqueue idempotent


@dataclass
class Contact:
    """What the router knows of a contact."""

    contact_id: str
    channel: Channel
    queue: str
    msisdn: str | None
    tier: str
    language: str
    business: str | None
    category: str | None
    urgent: bool
    context: dict[str, Any]
    status: ContactStatus
    enqueued_at: float
    agent_id: str | None = None
    offered_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    skill_level_needed: int = 1                  # current minimum proficiency, after overflow
    callback_number: str | None = None
    transfers: int = 0
    # additions beyond routing_api.md
    queued_at: float | None = None               # entered the current queue (overflow counts from here)
    overflow_step: int = 0                       # 0 = the queue's own rule; n = n-th overflow step
    offered_to: tuple[str, ...] = ()             # agents holding an offer for it (several under ring_all)
    finished_at: float | None = None             # talk ended (wrap-up started)
    wrap_code: str | None = None
    wrap_notes: str | None = None


@dataclass
class Offer:
    contact_id: str
    agent_id: str
    queue: str
    channel: str
    expires_at: float


@dataclass
class Event:
    kind: str
    at: float
    contact_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    channel: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


EVENT_KINDS = ("enqueued", "refused", "offered", "accepted", "rejected", "offer_timeout", "offer_withdrawn",
               "abandoned", "callback_requested", "finished", "wrapped_up", "transferred", "overflowed",
               "agent_state")


@dataclass
class AgentView:
    """An agent as the desk and the wallboard see it."""

    agent_id: str
    name: str
    state: AgentState
    presence: Presence
    reason: str | None
    profile: AgentProfile
    offers: list[str]                            # contact ids offered (at most one)
    contacts: list[str]                          # contact ids active or in wrap-up with the agent
    state_since: float
    missed: int                                  # consecutive missed offers
    load: dict[str, int] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)  # queue -> overflow step from which it serves


class RoutingError(Exception):
    """A routing request that cannot be done; ``code`` is stable for the API
    (e.g. ``not_offered``, ``unknown_agent``, ``unknown_contact``, ``over_capacity``)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
