"""Billing cycles (calendar months in the operator's time zone) and usage tariffs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hotline.domain.errors import InvalidInput


def cycle_of(day: dt.date) -> int:
    """The cycle a day belongs to, as YYYYMM (202611)."""
    return day.year * 100 + day.month


def next_cycle(cycle: int) -> int:
    y, m = divmod(cycle, 100)
    return (y + 1) * 100 + 1 if m == 12 else cycle + 1


def prev_cycle(cycle: int) -> int:
    y, m = divmod(cycle, 100)
    return (y - 1) * 100 + 12 if m == 1 else cycle - 1


def cycle_start(cycle: int) -> dt.date:
    return dt.date(cycle // 100, cycle % 100, 1)


def cycle_label_zh(cycle: int) -> str:
    return f"{cycle // 100}年{cycle % 100}月"


class Clock:
    """The operator's wall clock. Tests pass a fixed one."""

    def __init__(self, tz: str = "Asia/Shanghai") -> None:
        self.tz = ZoneInfo(tz)

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.tz)

    def today(self) -> dt.date:
        return self.now().date()

    def timestamp(self) -> float:
        """Seconds since the epoch: the routing engine's time."""
        return self.now().timestamp()


class FixedClock(Clock):
    def __init__(self, at: dt.datetime, tz: str = "Asia/Shanghai") -> None:
        super().__init__(tz)
        self.at = at if at.tzinfo else at.replace(tzinfo=self.tz)

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


@dataclass(frozen=True)
class Tariff:
    """Out-of-allowance rates, in fen."""

    voice_per_min: int = 19     # ¥0.19 per started minute
    sms_each: int = 10          # ¥0.10 per message
    data_per_gb: int = 500      # ¥5 per GB, rounded up to the fen per MB used

    def data_fee(self, mb: int) -> int:
        return -(-mb * self.data_per_gb // 1024)


TARIFF = Tariff()

MAX_RECHARGE_FEN = 500_000   # ¥5,000 per recharge

# The most one usage record may carry. The network cuts longer calls and sessions into several records
# (a partial CDR at least daily), so anything beyond is a fault or an attack: refused, never rated.
MAX_USAGE_PER_RECORD = {
    "call": 24 * 3600,           # seconds: one day on the phone
    "sms": 100,                  # messages: one group send
    "data": 100 * 1024 * 1024,   # KB: 100 GB in one session
}
MAX_POINTS_REDEEMED = 10_000_000   # points in one redemption (¥100,000): beyond any real balance of points
MAX_SLOT_INT = 10_000_000          # a count typed by a customer (points, months, …)
MAX_TEXT_CHARS = 500               # a free-text slot (a complaint, an address)


def check_usage_quantity(kind: str, quantity: int) -> None:
    """Refuse a usage quantity one record cannot hold (``InvalidInput``); the kind must be known."""
    limit = MAX_USAGE_PER_RECORD.get(kind)
    if limit is None:
        raise InvalidInput("用量类型须为 call、sms 或 data。", "Usage kind must be call, sms or data.")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= limit:
        unit_zh, unit_en = {"call": ("秒", "seconds"), "sms": ("条", "messages"), "data": ("KB", "KB")}[kind]
        raise InvalidInput(f"单条用量须为1至{limit}{unit_zh}的整数。",
                           f"One usage record holds 1 to {limit} {unit_en}.", kind=kind, max=limit)
SUSPENSION_FEE_FEN = 500     # 停机保号 keeps the number for ¥5 a month instead of the plan fee

# Bill line categories, by ledger kind.
BILL_CATEGORIES = {"plan_fee": "套餐及固定费", "data_pack_fee": "流量包费", "voice_pack_fee": "语音包费",
                   "vas_fee": "增值业务费", "feature_fee": "功能费", "usage": "通信费",
                   "suspension_fee": "停机保号费"}

# Usage buckets counted per cycle.
BUCKETS = ("voice_min", "data_mb", "sms")
