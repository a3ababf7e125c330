"""Subscriber model: brands, star levels, account status and its legal transitions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum, IntEnum

from hotline.domain.errors import IllegalTransition


class Brand(str, Enum):
    GOTONE = "gotone"      # 全球通: premium, mostly postpaid
    MZONE = "mzone"        # 动感地带: youth, prepaid
    EASYOWN = "easyown"    # 神州行: mass market, prepaid

    @property
    def name_zh(self) -> str:
        return {"gotone": "全球通", "mzone": "动感地带", "easyown": "神州行"}[self.value]

    @property
    def name_en(self) -> str:
        return {"gotone": "GoTone", "mzone": "M-Zone", "easyown": "EasyOwn"}[self.value]


class PaymentType(str, Enum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"

    @property
    def name_zh(self) -> str:
        return "预付费" if self is PaymentType.PREPAID else "后付费"


class StarLevel(IntEnum):
    """China Mobile's customer star rating (客户星级), from spend and tenure.

    0 means not yet rated (准星级). Five-star customers are split into gold and diamond, the top
    tier; ``is_vip`` (five-star and above) gets priority service.
    """

    NONE = 0
    ONE = 1
    TWO = 2
    THREE = 3
    FOUR = 4
    FIVE_GOLD = 5
    FIVE_DIAMOND = 6

    @property
    def name_zh(self) -> str:
        return ["准星级", "一星级", "二星级", "三星级", "四星级", "五星级（金）", "五星级（钻）"][self]

    @property
    def name_en(self) -> str:
        return ["unrated", "1 star", "2 stars", "3 stars", "4 stars", "5 stars (gold)",
                "5 stars (diamond)"][self]

    @property
    def is_vip(self) -> bool:
        return self >= StarLevel.FIVE_GOLD


class Status(str, Enum):
    ACTIVE = "active"
    SUSPENDED_VOLUNTARY = "suspended_voluntary"  # 停机保号
    SUSPENDED_ARREARS = "suspended_arrears"      # 欠费停机
    LOST = "lost"                                # 挂失
    CLOSED = "closed"                            # 销户

    @property
    def name_zh(self) -> str:
        return {"active": "正常", "suspended_voluntary": "停机保号", "suspended_arrears": "欠费停机",
                "lost": "挂失", "closed": "已销户"}[self.value]

    @property
    def name_en(self) -> str:
        return {"active": "active", "suspended_voluntary": "voluntarily suspended",
                "suspended_arrears": "suspended for arrears", "lost": "reported lost",
                "closed": "closed"}[self.value]


# Legal status transitions. Leaving LOST goes back to ACTIVE, or to arrears suspension when the
# account ran out of credit meanwhile; a closed number is final.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.ACTIVE: frozenset({Status.SUSPENDED_VOLUNTARY, Status.SUSPENDED_ARREARS, Status.LOST,
                              Status.CLOSED}),
    Status.SUSPENDED_VOLUNTARY: frozenset({Status.ACTIVE, Status.LOST, Status.CLOSED}),
    Status.SUSPENDED_ARREARS: frozenset({Status.ACTIVE, Status.LOST, Status.CLOSED}),
    Status.LOST: frozenset({Status.ACTIVE, Status.SUSPENDED_ARREARS, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}


def check_transition(current: Status, target: Status) -> None:
    """Raise ``IllegalTransition`` unless ``current → target`` is allowed."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(
            f"号码当前状态为“{current.name_zh}”，不能办理“{target.name_zh}”。",
            f"The number is {current.name_en}; it cannot become {target.name_en}.",
            current=current.value, target=target.value)


@dataclass
class Subscriber:
    """One subscriber's account as the back end keeps it. Money in integer fen."""

    id: int
    msisdn: str
    name: str
    id_number: str
    brand: Brand
    payment_type: PaymentType
    star_level: StarLevel
    province: str
    city: str
    join_date: dt.date
    language: str
    status: Status
    plan_code: str
    balance_fen: int
    credit_limit_fen: int = 0
    points: int = 0
    password_hash: str = ""
    pw_failures: int = 0
    pw_fail_day: dt.date | None = None
    marketing_opt_out: bool = False
    cycle: int = 0
    version: int = 0
    next_plan_code: str | None = None
    changed: set[str] = field(default_factory=set, repr=False, compare=False)

    @property
    def available_fen(self) -> int:
        """What may still be spent: the balance plus the postpaid credit limit."""
        return self.balance_fen + self.credit_limit_fen

    @property
    def in_arrears(self) -> bool:
        return self.available_fen < 0

    def set(self, **values: object) -> None:
        """Change fields and remember which, so the store writes only those."""
        for key, value in values.items():
            setattr(self, key, value)
            self.changed.add(key)

    def transition(self, target: Status) -> None:
        check_transition(self.status, target)
        self.set(status=target)
