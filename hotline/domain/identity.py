"""Synthetic identities: Chinese names and resident ID numbers (GB 11643-1999), plus masking.

Pure functions; generation is deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import datetime as dt
import random
from itertools import accumulate

# ~100 most common surnames, weight ≈ share of the population in 1/10,000
# (approximating the Ministry of Public Security 2020 ranking), plus a few compound surnames.
SURNAMES: dict[str, int] = {
    "王": 710, "李": 700, "张": 670, "刘": 540, "陈": 460, "杨": 320, "黄": 250, "赵": 220, "吴": 200,
    "周": 190, "徐": 160, "孙": 150, "马": 140, "胡": 130, "朱": 130, "郭": 110, "何": 110, "罗": 90,
    "高": 90, "林": 90, "郑": 80, "梁": 70, "谢": 70, "唐": 60, "许": 60, "冯": 60, "宋": 60, "韩": 60,
    "邓": 60, "彭": 50, "曹": 50, "曾": 50, "田": 50, "于": 50, "肖": 50, "潘": 40, "袁": 40, "董": 40,
    "叶": 40, "杜": 40, "丁": 40, "蒋": 40, "程": 40, "余": 40, "吕": 35, "魏": 35, "蔡": 35, "苏": 35,
    "任": 35, "卢": 35, "沈": 30, "姜": 30, "姚": 30, "钟": 30, "崔": 30, "陆": 30, "谭": 30, "汪": 30,
    "石": 30, "付": 30, "贾": 25, "范": 25, "金": 25, "方": 25, "韦": 25, "夏": 25, "廖": 25, "侯": 25,
    "白": 25, "孟": 25, "邹": 25, "秦": 20, "尹": 20, "江": 20, "熊": 20, "薛": 20, "邱": 20, "闫": 20,
    "段": 20, "雷": 20, "季": 15, "史": 15, "陶": 15, "毛": 15, "贺": 15, "龙": 15, "万": 15, "顾": 15,
    "关": 15, "郝": 15, "孔": 15, "向": 15, "龚": 15, "邵": 15, "钱": 15, "武": 15, "戴": 15, "黎": 15,
    "汤": 15, "欧阳": 5, "司马": 2, "上官": 2, "诸葛": 2,
}

# Common given-name characters (mixed male-leaning, female-leaning and neutral).
GIVEN_CHARS: list[str] = list(
    "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林峰建国志文海东亮成博晨阳然轩子豪翔泽睿哲航"
    "天宏振锋毅坤彬春永庆德兵江山松荣贵福生祥顺才新昊铭远瑞卓皓诚立嘉芳娜敏静丽艳娟霞秀玲燕红梅萍莉婷雪琳"
    "颖慧倩欣佳怡晶洁丹月琴云兰凤蓉薇悦瑶璐琪婉妍雨萱涵菲露岚莹娇媛晓思梦诗彤欢一玉金美小家光安乐雅婧可心"
    "若语馨桂英淑珍素翠秋冬青清星辰宸逸凡奕景康正义仁信忠学维长方元和泰宝友良世承兴书奇朝守卫汉中少钰桐楠"
    "琦伊依晴蕾柏恒朗煜铮"
)

_SURNAME_LIST = list(SURNAMES)
_SURNAME_CUM = list(accumulate(SURNAMES.values()))

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Last two area digits: 01-06 城区 (districts), 21-23 县 (counties), 81 县级市 (county-level city).
_COUNTY_CODES = ("01", "02", "03", "04", "05", "06", "21", "22", "23", "81")


def random_name(rng: random.Random) -> str:
    """A 2- or 3-character name (mostly 3); compound surnames take a single given character."""
    surname = rng.choices(_SURNAME_LIST, cum_weights=_SURNAME_CUM)[0]
    given_len = 1 if len(surname) == 2 or rng.random() < 0.15 else 2
    return surname + "".join(rng.choice(GIVEN_CHARS) for _ in range(given_len))


def id_checksum(first17: str) -> str:
    """Check character for the first 17 digits of an ID number (GB 11643-1999, ISO 7064 MOD 11-2)."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError(f"expected 17 digits, got {first17!r}")
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS)) % 11]


def id_birth_date(s: str) -> dt.date | None:
    """Date of birth encoded in an 18-character ID number, or None if it is not a real date."""
    try:
        birth = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return None
    return birth if birth.year >= 1900 else None


def is_valid_id_number(s: str) -> bool:
    """18 characters: 17 digits then a digit or X (x accepted), a real birth date, a valid checksum."""
    if not isinstance(s, str) or len(s) != 18 or not s.isascii():
        return False
    body, check = s[:17], s[17].upper()
    if not body.isdigit() or not (check.isdigit() or check == "X"):
        return False
    return id_birth_date(s) is not None and id_checksum(body) == check


def random_id_number(rng: random.Random, admin_code4: str, birth: dt.date, *,
                     female: bool | None = None) -> str:
    """A valid ID number in the prefecture ``admin_code4`` (e.g. "4403") for ``birth``.

    The 17th digit is odd for men and even for women; ``female=None`` picks either.
    """
    if len(admin_code4) != 4 or not (admin_code4.isascii() and admin_code4.isdigit()):
        raise ValueError(f"expected a 4-digit admin code, got {admin_code4!r}")
    if not 1900 <= birth.year <= 9999:
        raise ValueError(f"birth year out of range: {birth.year}")
    if female is None:
        female = rng.random() < 0.5
    seq = rng.randrange(500) * 2 + (0 if female else 1) or 2  # 001-999, never 000
    body = f"{admin_code4}{rng.choice(_COUNTY_CODES)}{birth:%Y%m%d}{seq:03d}"
    return body + id_checksum(body)


def mask_name(name: str) -> str:
    """Keep the first character: "张三" → "张*", "欧阳娜娜" → "欧***"; a 1-character name → "*"."""
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_id_number(s: str) -> str:
    """Keep the first 6 and last 4 characters: "11010519491231002X" → "110105********002X"."""
    if len(s) <= 10:
        return "*" * len(s)
    return s[:6] + "*" * (len(s) - 10) + s[-4:]
