"""Queue definitions and queue selection, read from ``data/queues.toml`` (or a file of the same shape).

Python holds no queue names or business rules: the TOML lists the queues, their overflow steps and
priority boosts, and the ordered rules that map a contact (category, business, tier, language,
channel, urgency) to a queue.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

STRATEGIES = ("longest_idle", "best_skill", "round_robin", "fewest_contacts", "ring_all")


class ConfigError(ValueError):
    """The queue file is inconsistent (unknown strategy, unknown queue in a rule, narrowing overflow …)."""


@dataclass(frozen=True)
class OverflowStep:
    after: float                                 # seconds in the queue before the step applies
    min_level: int | None = None                 # new minimum proficiency (None: unchanged)
    add_skills: tuple[str, ...] = ()             # skills accepted from this step on


@dataclass(frozen=True)
class Step:
    """The accumulated acceptance rule in force at one overflow step (step 0 = the queue's own)."""

    after: float
    skills: tuple[str, ...]
    min_level: int


@dataclass(frozen=True)
class QueueConfig:
    name: str
    title_zh: str
    title_en: str
    skill: str
    strategy: str = "longest_idle"
    min_level: int = 1
    sl_seconds: float = 20.0
    sl_target: float = 0.8
    offer_timeout: float = 15.0
    wrap_up_seconds: float = 30.0
    max_length: int = 1000
    initial_aht: float = 240.0                   # handle time assumed before any contact was measured
    boosts: Mapping[str, float] = field(default_factory=dict)
    overflow: tuple[OverflowStep, ...] = ()

    @property
    def steps(self) -> tuple[Step, ...]:
        """Step 0 and every overflow step with the skills and level accumulated so far."""
        out = [Step(0.0, (self.skill,), self.min_level)]
        for o in self.overflow:
            prev = out[-1]
            skills = prev.skills + tuple(s for s in o.add_skills if s not in prev.skills)
            out.append(Step(float(o.after), skills, prev.min_level if o.min_level is None else o.min_level))
        return tuple(out)

    def boost_seconds(self, tier: str, urgent: bool) -> float:
        """Seconds a contact counts as having waited already: its tier's boost plus the urgent boost."""
        return float(self.boosts.get(tier, 0.0)) + (float(self.boosts.get("urgent", 0.0)) if urgent else 0.0)

    def qualification(self, skills: Mapping[str, int]) -> tuple[int, int] | None:
        """(first step at which an agent with these skills may serve the queue, their best proficiency
        among that step's skills), or None when no step accepts them."""
        for i, st in enumerate(self.steps):
            best = max((skills.get(s, 0) for s in st.skills), default=0)
            if best >= st.min_level:
                return i, best
        return None

    def step_at(self, waited: float) -> int:
        """The overflow step in force after ``waited`` seconds in the queue."""
        step = 0
        for i, st in enumerate(self.steps):
            if waited >= st.after:
                step = i
        return step


@dataclass(frozen=True)
class Rule:
    queue: str
    category: tuple[str, ...] = ()
    business_prefix: tuple[str, ...] = ()
    tier: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    urgent: bool | None = None

    def matches(self, category: str | None, business: str | None, tier: str, language: str, channel: str,
                urgent: bool) -> bool:
        return ((not self.category or category in self.category)
                and (not self.business_prefix or any((business or "").startswith(p) for p in self.business_prefix))
                and (not self.tier or tier in self.tier)
                and (not self.language or language in self.language)
                and (not self.channel or channel in self.channel)
                and (self.urgent is None or self.urgent == bool(urgent)))


@dataclass(frozen=True)
class RoutingConfig:
    queues: dict[str, QueueConfig]
    rules: tuple[Rule, ...] = ()
    default_queue: str = "general"
    max_missed_offers: int = 2
    reject_cooldown: float = 15.0
    aht_alpha: float = 0.2
    ring_all_max: int = 20

    def select_queue(self, category: str | None = None, business: str | None = None, tier: str = "normal",
                     language: str = "zh", channel: str = "chat", urgent: bool = False) -> str:
        """The queue for a new contact: the first matching rule of the file, else the default queue."""
        for r in self.rules:
            if r.matches(category, business, tier, language, str(channel), urgent):
                return r.queue
        return self.default_queue

    def queue(self, name: str) -> QueueConfig:
        return self.queues[name]


def _tuple(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    return (v,) if isinstance(v, str) else tuple(v)


def parse_config(doc: Mapping[str, Any]) -> RoutingConfig:
    """A RoutingConfig from the parsed TOML document; raises ConfigError when it is inconsistent."""
    queues: dict[str, QueueConfig] = {}
    for q in doc.get("queue", []):
        q = dict(q)
        name = q.pop("name")
        if name in queues:
            raise ConfigError(f"queue {name!r} defined twice")
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ConfigError(f"queue name {name!r}: use lower-case letters, digits and _ (it is part of keys)")
        overflow = tuple(OverflowStep(after=float(o["after"]), min_level=o.get("min_level"),
                                      add_skills=_tuple(o.get("add_skills"))) for o in q.pop("overflow", []))
        qc = QueueConfig(name=name, overflow=overflow, boosts=dict(q.pop("boosts", {})), **q)
        if qc.strategy not in STRATEGIES:
            raise ConfigError(f"queue {name!r}: unknown strategy {qc.strategy!r} (choose from {STRATEGIES})")
        steps = qc.steps
        for a, b in zip(steps, steps[1:]):
            if b.after <= a.after or b.min_level > a.min_level:
                raise ConfigError(f"queue {name!r}: overflow steps must come later and only widen")
        if qc.offer_timeout <= 0 or qc.wrap_up_seconds < 0 or qc.max_length < 1:
            raise ConfigError(f"queue {name!r}: timers and max_length must be positive")
        queues[name] = qc
    if not queues:
        raise ConfigError("no queue defined")
    rules = []
    for r in doc.get("rule", []):
        rule = Rule(queue=r["queue"], category=_tuple(r.get("category")),
                    business_prefix=_tuple(r.get("business_prefix")), tier=_tuple(r.get("tier")),
                    language=_tuple(r.get("language")), channel=_tuple(r.get("channel")), urgent=r.get("urgent"))
        if rule.queue not in queues:
            raise ConfigError(f"rule for unknown queue {rule.queue!r}")
        rules.append(rule)
    settings = dict(doc.get("routing", {}))
    cfg = RoutingConfig(queues=queues, rules=tuple(rules), **settings)
    if cfg.default_queue not in queues:
        raise ConfigError(f"default_queue {cfg.default_queue!r} is not a queue")
    if cfg.max_missed_offers < 1:
        raise ConfigError("max_missed_offers must be at least 1")
    return cfg


def load_routing_config(path: str | Path | None = None) -> RoutingConfig:
    """The routing configuration from ``path``, or the packaged ``data/queues.toml``."""
    if path is None:
        text = resources.files("hotline.routing").joinpath("data/queues.toml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return parse_config(tomllib.loads(text))
