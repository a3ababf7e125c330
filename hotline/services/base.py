"""What a handler receives and returns, and the registry of handlers by name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hotline.bss.port import Actor
from hotline.catalog.schema import Business, Slot
from hotline.domain.errors import InvalidInput

if TYPE_CHECKING:
    from hotline.services.service import Services


@dataclass(frozen=True)
class Request:
    business: Business
    msisdn: str
    params: dict[str, Any]
    actor: Actor
    key: str                 # idempotency key: the same key never charges twice
    lang: str = "zh"

    @property
    def channel(self) -> str:
        return self.actor.channel

    @property
    def en(self) -> bool:
        return self.lang.startswith("en")


@dataclass
class Outcome:
    """A handler's result: fields for the reply templates, and which templates to send, in order."""

    data: dict[str, Any] = field(default_factory=dict)
    parts: tuple[str, ...] = ("ok",)
    changed: bool = False        # the account or a record was changed
    sensitive: bool = False      # the reply holds a secret (a new password): never stored or logged


Handler = Callable[["Services", Request], Awaitable[Outcome]]
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if name in HANDLERS:
            raise ValueError(f"handler {name} registered twice")
        HANDLERS[name] = fn
        return fn
    return register


class MissingSlot(InvalidInput):
    """A required parameter was not given; channels ask for it (offering the choices when there are some)."""

    code = "missing_slot"

    def __init__(self, business: Business, slot: Slot) -> None:
        super().__init__(slot.prompt_zh or f"请提供{slot.name}。",
                         slot.prompt_en or f"Please give the {slot.name}.",
                         business=business.code, slot=slot.name)
        self.business = business
        self.slot = slot
