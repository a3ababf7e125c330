"""Turning what a customer typed into typed slot values, with a polite refusal when it does not fit."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from hotline.catalog.schema import Slot, SlotType
from hotline.domain.billing import MAX_RECHARGE_FEN, MAX_SLOT_INT, MAX_TEXT_CHARS, Clock, cycle_of, prev_cycle
from hotline.domain.errors import InvalidInput, UnknownProduct
from hotline.domain.geo import find_city
from hotline.domain.identity import is_valid_id_number
from hotline.domain.msisdn import normalize_msisdn
from hotline.domain.products import Product, ProductCatalog

# Whole-text patterns (always used with fullmatch) over ASCII digits only: NFKC turns full-width digits
# into ASCII, and other scripts' digits (٣, ३) are not amounts, numbers or months.
_MONEY = re.compile(r"([0-9]{1,7})(?:\.([0-9]{1,2}))?(?:元|块|块钱|RMB|CNY)?", re.I)
_PHONE = re.compile(r"\+?[0-9]{3,20}")
_INT = re.compile(r"[0-9]{1,12}")
_PASSWORD = re.compile(r"[0-9]{4,8}")
_MONTH_FULL = re.compile(r"([0-9]{4})(?:年|-|/|\.)?([0-9]{1,2})月?")
_MONTH_ONLY = re.compile(r"([0-9]{1,2})月?(?:份)?")
MAX_RAW_CHARS = 2000   # what is read of a value at all: beyond, it is refused before any parsing


def clean(raw: Any) -> str:
    return unicodedata.normalize("NFKC", str(raw)).strip()


def find_product(raw: str, products: ProductCatalog, kinds: tuple[str, ...] = ()) -> Product:
    """A product by code, SMS code or name (exact, then the only one whose name contains the text)."""
    text = clean(raw)
    pool = [p for p in products if not kinds or p.kind.value in kinds]
    upper = text.upper()
    for p in pool:
        if text == p.code or (p.sms_code and upper == p.sms_code) or text == p.name_zh \
                or text.lower() == p.name_en.lower():
            return p
    if text:
        hits = [p for p in pool if text in p.name_zh or text.lower() in p.name_en.lower()]
        if len(hits) == 1:
            return hits[0]
    raise UnknownProduct(f"没有找到产品“{text}”，请核对产品编码。",
                         f"There is no product '{text}'; check the product code.", product=text)


def parse(slot: Slot, raw: Any, products: ProductCatalog, clock: Clock) -> Any:
    """``raw`` as the slot's type, or ``InvalidInput`` saying what was expected."""
    if isinstance(raw, str) and len(raw) > MAX_RAW_CHARS:
        raise InvalidInput(f"内容过长，请不要超过{MAX_TEXT_CHARS}个字。",
                           f"That is too long; keep it within {MAX_TEXT_CHARS} characters.")
    text = clean(raw)
    if slot.type is SlotType.PRODUCT:
        return find_product(text, products, slot.kinds).code
    if slot.type is SlotType.MONEY:
        m = _MONEY.fullmatch(text.replace(" ", ""))
        try:
            fen = int(Decimal(f"{m.group(1)}.{m.group(2) or 0}") * 100) if m else 0
        except InvalidOperation:
            fen = 0
        if fen <= 0:
            raise InvalidInput(f"金额“{_shown(text)}”不正确，请输入以元为单位的正数，如50。",
                               f"'{_shown(text)}' is not an amount; give a positive number of yuan, e.g. 50.")
        if fen > MAX_RECHARGE_FEN:   # no money slot takes more than one recharge may
            raise InvalidInput(f"金额不能超过{MAX_RECHARGE_FEN // 100}元。",
                               f"The amount cannot exceed ¥{MAX_RECHARGE_FEN // 100}.")
        return fen
    if slot.type is SlotType.INT:
        if not _INT.fullmatch(text):
            raise InvalidInput(f"“{_shown(text)}”不是有效的数字。", f"'{_shown(text)}' is not a number.")
        number = int(text)
        if number > MAX_SLOT_INT:
            raise InvalidInput(f"数字不能超过{MAX_SLOT_INT}。", f"The number cannot exceed {MAX_SLOT_INT}.")
        return number
    if slot.type is SlotType.MSISDN:
        return normalize_msisdn(text)
    if slot.type is SlotType.PHONE:
        digits = re.sub(r"[\s-]", "", text)
        if not _PHONE.fullmatch(digits):
            raise InvalidInput(f"“{_shown(text)}”不是有效的电话号码。", f"'{_shown(text)}' is not a telephone number.")
        return digits
    if slot.type is SlotType.ID_NUMBER:
        value = text.upper()
        if not is_valid_id_number(value):
            raise InvalidInput("证件号码格式不正确，请输入18位居民身份证号码。",
                               "The ID number is not valid; give the 18-character resident ID number.")
        return value
    if slot.type is SlotType.PASSWORD:
        if not _PASSWORD.fullmatch(text):
            raise InvalidInput("密码须为数字。", "The password is digits only.")
        return text
    if slot.type is SlotType.CARD_PIN:   # never echoed back: it is a secret
        pin = re.sub(r"[\s-]", "", text)
        if not re.fullmatch(r"\d{18}", pin):
            raise InvalidInput("充值卡密码应为18位数字。", "The card PIN is 18 digits.")
        return pin
    if slot.type is SlotType.CHOICE:
        upper = text.upper()
        for value, words in slot.choices.items():
            if upper == value.upper() or any(upper == w.upper() for w in words):
                return value
        options = "、".join(w for words in slot.choices.values() for w in words[:1])
        raise InvalidInput(f"“{text}”不是可选项，请回复：{options}。",
                           f"'{text}' is not one of the options: {', '.join(slot.choices)}.")
    if slot.type is SlotType.MONTH:
        return parse_month(text, clock)
    if slot.type is SlotType.CITY:
        hit = find_city(text)
        if hit is None:
            raise InvalidInput(f"没有找到城市“{text}”。", f"There is no city '{text}'.")
        return hit[1].name_zh
    if not text:
        raise InvalidInput("内容不能为空。", "The text cannot be empty.")
    if len(text) > MAX_TEXT_CHARS:   # refused, not cut: a complaint cut short would say something else
        raise InvalidInput(f"内容过长，请不要超过{MAX_TEXT_CHARS}个字。",
                           f"That is too long; keep it within {MAX_TEXT_CHARS} characters.")
    return text


def _shown(text: str) -> str:
    """What of a refused value is quoted back to the customer (never a whole wall of text)."""
    return text if len(text) <= 20 else text[:20] + "…"


# How many cycles back each relative month word points (shared with the assistant's entity extractor).
RELATIVE_MONTHS = {"本月": 0, "这个月": 0, "这月": 0, "当月": 0, "上月": 1, "上个月": 1, "上上月": 2, "上上个月": 2}


def cycles_back(cycle: int, n: int) -> int:
    """The cycle ``n`` months before ``cycle`` (202601, 1 → 202512)."""
    for _ in range(n):
        cycle = prev_cycle(cycle)
    return cycle


def latest_cycle(month: int, today: dt.date) -> int:
    """The latest cycle of this calendar month that is not in the future: in November 2026, 12 → 202512."""
    year = today.year if month <= today.month else today.year - 1
    return year * 100 + month


def parse_month(text: str, clock: Clock) -> int:
    """A billing cycle (YYYYMM) from 202610, 2026年10月, 10月, 10, 本月, 上月, 上上月."""
    today = clock.today()
    current = cycle_of(today)
    if text in RELATIVE_MONTHS:
        return cycles_back(current, RELATIVE_MONTHS[text])
    m = _MONTH_FULL.fullmatch(text)
    if m and 1 <= int(m.group(2)) <= 12:
        cycle = int(m.group(1)) * 100 + int(m.group(2))
    else:
        m = _MONTH_ONLY.fullmatch(text)
        if not m or not 1 <= int(m.group(1)) <= 12:
            raise InvalidInput(f"“{text}”不是有效的月份，请按“202610”或“10月”的格式输入。",
                               f"'{text}' is not a month; write it as 202610 or 10.")
        cycle = latest_cycle(int(m.group(1)), today)
    if cycle > current:
        raise InvalidInput("不能查询未来月份。", "That month has not come yet.")
    return cycle
