"""What one business (业务) declares: the schema every catalogue file is validated against."""

from __future__ import annotations

import string
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CODE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"
CHANNELS = ("sms", "ivr", "assistant", "web", "agent", "api")
LANGS = ("zh", "en")


class Auth(str, Enum):
    NONE = "none"
    PASSWORD = "password"   # the six-digit service password
    OTP = "otp"             # a one-time code sent by SMS (an SMS from the number itself already proves it)


class SlotType(str, Enum):
    PRODUCT = "product"     # a product code, SMS code or name; ``kinds`` limits which
    MONEY = "money"         # yuan as typed, held as integer fen
    INT = "int"
    TEXT = "text"
    MSISDN = "msisdn"       # a China Mobile number (validated)
    PHONE = "phone"         # any telephone number: landline, service number, another operator's mobile
    ID_NUMBER = "id_number"
    PASSWORD = "password"
    CARD_PIN = "card_pin"   # a top-up card's PIN: a secret like PASSWORD, masked wherever it is kept
    CHOICE = "choice"       # one of ``choices`` (e.g. the on/off action of a feature)
    MONTH = "month"         # a billing cycle: 202610, 10, 10月
    CITY = "city"


SECRET_SLOT_TYPES = frozenset({SlotType.PASSWORD, SlotType.CARD_PIN, SlotType.ID_NUMBER})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Slot(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: SlotType
    required: bool = True
    kinds: tuple[str, ...] = ()                 # product kinds, for type = product
    choices: dict[str, tuple[str, ...]] = {}    # value → words that mean it (开/开通/KT …)
    prompt_zh: str = ""
    prompt_en: str = ""

    @property
    def secret(self) -> bool:
        """What the customer types here is masked in transcripts, hand-offs and logs, on every channel."""
        return self.type in SECRET_SLOT_TYPES

    @model_validator(mode="after")
    def _typed(self) -> Slot:
        if self.type is SlotType.CHOICE and not self.choices:
            raise ValueError("a choice slot lists its choices")
        if self.type is SlotType.PRODUCT and not self.kinds:
            raise ValueError("a product slot names the product kinds it takes")
        return self


class Texts(_Strict):
    """A reply template in both languages, with optional per-channel variants (``sms_zh`` …).

    Templates are ``str.format`` strings over the fields the handler returns.
    """

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    sms_zh: str = ""
    sms_en: str = ""
    ivr_zh: str = ""
    ivr_en: str = ""

    @model_validator(mode="after")
    def _parsable(self) -> Texts:
        for name, value in self:
            if value:
                try:
                    list(string.Formatter().parse(value))
                except ValueError as err:
                    raise ValueError(f"template {name} is not a valid format string: {err}") from None
        return self

    def get(self, channel: str, lang: str) -> str:
        lang = "en" if lang.startswith("en") else "zh"
        return getattr(self, f"{channel}_{lang}", "") or getattr(self, lang)


class SmsSpec(_Strict):
    commands: tuple[str, ...] = ()    # exact commands: letter codes, Chinese commands, aliases
    prefixes: tuple[str, ...] = ()    # codes taking a product argument: KT + product SMS code
    args: tuple[str, ...] = ()        # slots filled, in order, from #-separated parameters
    sets: dict[str, dict[str, str]] = {}  # command → slot values it implies (KTHZ → action = on)
    ports: tuple[str, ...] = ("10086",)  # service numbers it is accepted on
    catch_all: bool = False           # takes any text sent to its ports (10086999 spam reports)
    reply_port: str = "10086"
    menu: bool = True                 # listed in the SMS menu
    refuse_all: tuple[str, ...] = ()  # replies to its numbered listing asking for everything at once: refused


class Business(_Strict):
    code: str = Field(pattern=CODE_PATTERN)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    category: str
    handler: str
    description_zh: str = ""
    slots: tuple[Slot, ...] = ()
    preset: dict[str, str] = {}       # slot values fixed by a specific business (cancel.vas.ringback_tone)
    auth: Auth = Auth.NONE
    confirm: bool = False
    channels: tuple[str, ...] = CHANNELS  # where it can be carried out; elsewhere ``guide`` is replied
    sms: SmsSpec = SmsSpec()
    ivr: str = Field("", pattern=r"^$|^[0-9](-[0-9*#])*$")   # its place in the voice menu: "1-2"
    examples: tuple[str, ...] = ()   # how customers say it, for the assistant's NLU
    tags: tuple[str, ...] = ()       # knowledge-base keywords (a consultation's reply is its article)
    reply: dict[str, Texts] = {}      # outcome → template
    guide: Texts | None = None        # what to do on a channel that cannot carry it out
    role: str = Field("", pattern=r"^$|^(menu|article|human|complaint)$")   # overrides its handler's role

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for c in v:
            if c not in CHANNELS:
                raise ValueError(f"unknown channel {c!r}; channels are {', '.join(CHANNELS)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Business:
        names = [s.name for s in self.slots]
        if len(set(names)) != len(names):
            raise ValueError("slot names repeat")
        for key in self.preset:
            if key not in names:
                raise ValueError(f"preset {key!r} is not one of the slots ({', '.join(names) or 'none'})")
        for arg in self.sms.args:
            if arg not in names:
                raise ValueError(f"sms.args names {arg!r}, which is not a slot")
        for cmd, values in self.sms.sets.items():
            if cmd not in self.sms.commands:
                raise ValueError(f"sms.sets names {cmd!r}, which is not one of sms.commands")
            for key in values:
                if key not in names:
                    raise ValueError(f"sms.sets.{cmd} sets {key!r}, which is not a slot")
        if self.sms.prefixes and not any(s.type is SlotType.PRODUCT for s in self.slots):
            raise ValueError("sms.prefixes need a product slot to take the argument")
        if set(self.channels) != set(CHANNELS) and self.guide is None:
            raise ValueError("a business not carried out on every channel needs a guide for the others")
        return self

    @property
    def parent(self) -> str | None:
        """The generic business this one nests under (``cancel.vas`` for ``cancel.vas.ringback_tone``)."""
        head, _, _ = self.code.rpartition(".")
        return head if "." in head else None

    def slot(self, name: str) -> Slot | None:
        return next((s for s in self.slots if s.name == name), None)

    def text(self, outcome: str, channel: str, lang: str) -> str | None:
        t = self.reply.get(outcome)
        return t.get(channel, lang) if t else None

    def summary(self) -> dict[str, Any]:
        """The public description served to tools (``hotline catalog --json``, ``/api/v1/businesses``)."""
        return {
            "code": self.code, "name_zh": self.name_zh, "name_en": self.name_en, "category": self.category,
            "parent": self.parent, "description_zh": self.description_zh,
            "sms_commands": list(self.sms.commands) + [f"{p}+产品编码" for p in self.sms.prefixes],
            "sms_ports": list(self.sms.ports),
            "auth": self.auth.value, "confirm": self.confirm, "channels": list(self.channels),
            "ivr": self.ivr or None, "handler": self.handler,
            "slots": [{"name": s.name, "type": s.type.value, "required": s.required,
                       **({"kinds": list(s.kinds)} if s.kinds else {}),
                       **({"choices": list(s.choices)} if s.choices else {})} for s in self.slots],
            "preset": dict(self.preset),
            "examples": list(self.examples), "tags": list(self.tags),
        }


class Policy(_Strict):
    """How the flow treats a kind of business on every channel (``catalog/data/policy.toml``)."""

    subject: bool = True      # needs a subscriber (and the assurance that they are who they say)
    changes: bool = False     # costs money or changes the account: always confirmed
    cancels: bool = False     # ends a subscription: offers only what the subscriber may cancel
    role: str = Field("", pattern=r"^$|^(menu|article|human|complaint)$")


class Category(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    menu: int = Field(0, ge=0, le=9)  # its digit in the SMS main menu; 0 = not in the menu
