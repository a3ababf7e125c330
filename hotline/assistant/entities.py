"""Entities in what a customer tells 小贝: amounts, data sizes, months and dates, telephone numbers,
products, places and plain numbers, each typed, valued and located in the text.

Why rules and a dictionary rather than a trained tagger: the values must be exact (fen, MB, YYYYMM), the
product catalogue changes without retraining, and every assistant turn pays for the call (it runs twice
per turn, for the slots and for the intent features). So closed forms are regular expressions compiled
once; product, place and customer words are one dictionary built from the catalogue and
``hotline.domain.geo``; and only the text nothing else claimed is tried against product names by
pinyin (homophones and accents: 和才云 → 和彩云) and by one-character edits (咪咕音会员). Overlapping
candidates resolve longest first, so 1G流量包 is a product, not a data size followed by words.

Spans index the caller's text: full-width characters and capitals are folded one for one, never by a
normalisation that changes the length.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

import cn2an
from pypinyin import Style, lazy_pinyin, pinyin

from hotline.domain.billing import cycle_of, next_cycle
from hotline.domain.geo import PROVINCES, find_city, find_province
from hotline.domain.msisdn import is_valid_msisdn
from hotline.domain.products import Product, ProductKind
from hotline.services.slots import RELATIVE_MONTHS, cycles_back, latest_cycle

STORES_FILE = Path(__file__).resolve().parent.parent / "services" / "data" / "stores.toml"

TYPES = ("money", "data", "month", "date", "msisdn", "phone", "product", "province", "city", "number")
# On spans of equal length the earlier type wins: "充100" is money before it is a service number.
_RANK = {t: i for i, t in enumerate(("money", "data", "date", "month", "product", "msisdn", "phone",
                                     "province", "city", "number"))}


@dataclass(frozen=True)
class Entity:
    """One typed value found in a text.

    ``value`` by type — money: int fen; data: int MB; month: "YYYYMM"; date: "YYYY-MM-DD";
    msisdn / phone: digits; product: product code; province / city: Chinese name ("广东", "深圳");
    number: int.
    """

    type: str
    value: object
    text: str
    start: int
    end: int
    score: float = 1.0   # 1.0 for an exact form; lower for a fuzzy or pinyin product match


# A candidate while extracting: (start, end, type, value, score).
_Cand = tuple[int, int, str, object, float]


# ---------------------------------------------------------------------- folding
# One character for one: full-width ASCII → ASCII, capitals → lower case, ideographic space → space, ￥ → ¥.
_FOLD = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_FOLD.update({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)})
_FOLD.update({c: c - 0xFEE0 + 32 for c in range(0xFF21, 0xFF3B)})
_FOLD.update({0x3000: 0x20, 0xFFE5: 0xA5})


def fold(text: str) -> str:
    """``text`` with full-width forms and capitals folded, keeping every character's position."""
    return text.translate(_FOLD)


# ---------------------------------------------------------------------- numerals
_CN_DIGIT = "零〇一二三四五六七八九"
_CN_ALL = "零〇一二三四五六七八九十百千万两"
_DIGIT_OF = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"〇": "0", "幺": "1"}

# A number as customers write it: 30, 1.5, 2万, 二十五, 两千, 三点五 (a Chinese one starts with a digit
# or 十, so 千万 "by all means" and 百分之 are not numbers).
_NUM = (r"(?:(?<![a-z\d.])(?<!\d,)(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?[万千]?"
        r"|零点[零〇一二三四五六七八九]+"
        rf"|(?<![{_CN_ALL}几])[一二三四五六七八九十两][{_CN_ALL}]*(?:点[{_CN_DIGIT}]+)?)")   # 几十块: no amount


@lru_cache(maxsize=4096)
def to_number(text: str) -> Decimal | None:
    """30 → 30, 1.5 → 1.5, 2万 → 20000, 二十五 → 25, 两千 → 2000, 一百五 → 150; ``None`` if not a number."""
    if not text:
        return None
    if text[0].isdigit():
        scale = {"万": 10000, "千": 1000}.get(text[-1], 1)
        try:
            return Decimal(text.rstrip("万千").replace(",", "")) * scale
        except InvalidOperation:
            return None
    try:
        value = cn2an.cn2an(text, "normal")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return Decimal(str(value))


def _int(text: str) -> int | None:
    n = to_number(text)
    return int(n) if n is not None and n == int(n) else None


def _cn_digits(text: str) -> str:
    """二零二六 → 2026, 幺三八… → 138… (digit by digit; ASCII digits pass through)."""
    return "".join(_DIGIT_OF.get(c, c) for c in text)


# ---------------------------------------------------------------------- regular expressions
_D1 = f"[0-9{_CN_DIGIT[2:]}两]"     # one digit 1–9 for 角/分
_UNIT_AFTER = r"(?:\s?(?:[a-z\d%个兆分月号日年天次条秒周期岁倍折人张台部位]|积分|小时))"

_MONEY_SYMBOL = re.compile(r"(?:¥|rmb|cny)\s?(?P<n>\d+(?:\.\d{1,2})?)(?![\d.])")
_MONEY_UNIT = re.compile(
    rf"(?P<n>{_NUM})\s?(?P<u>块钱|块|元|圆|rmb|cny|人民币|yuan(?![a-z]))"
    rf"(?:(?P<j>{_D1})(?P<ju>角|毛)(?:(?P<f>{_D1})分?)?|(?P<j2>{_D1})(?![\d.a-z个兆{_CN_ALL}]))?(?P<q>钱)?")
_MONEY_SMALL = re.compile(rf"(?<![\d{_CN_ALL}])(?P<j>{_D1})(?P<ju>角|毛)(?:(?P<f>{_D1})分?)?(?P<q>钱)?")
_MONEY_FEN = re.compile(rf"(?<![\d{_CN_ALL}.])(?P<f>\d{{1,2}}|[一二三四五六七八九]?十?[一二三四五六七八九]?)分钱")
# A bare amount after a money verb (充两百, 交100) or before 话费 (一百的话费). The number is the span.
_MONEY_VERB = re.compile(
    rf"(?:充值|充|冲值|冲|缴费|缴|交|付款|付|转账|扣费|扣|退款|退还|欠费|欠|花了|话费)了?(?:我)?\s?(?P<n>{_NUM})"
    rf"(?![{_CN_ALL}点.]|{_UNIT_AFTER}|\s?(?:块|元|毛|角|rmb))")
_MONEY_VERB_BEFORE = re.compile(r"(?:充值|充|冲|缴|交|付|扣|退|欠|花|给|用|值|价|要)了?\s?$")
_MONEY_BEFORE = re.compile(rf"(?P<n>{_NUM})\s?(?=的?话费)")

_DATA = re.compile(
    rf"(?P<n>{_NUM}|半)\s?(?P<ge>个)?\s?(?P<u>gb|g|mb|m|兆|tb|t|kb|k)(?![a-z])")
_GENERATIONS = frozenset({"2", "3", "4", "5", "5.5", "6", "2.4"})   # 2G … 5.5G networks, 2.4G Wi-Fi
_NETWORK_AFTER = re.compile(r"的?(?:流量|包|月包|日包|包月|套餐外|流量包)")
_NETWORK_BEFORE = re.compile(r"(?:剩|剩下|还有|只有|用了|用掉|超了|超出|多了|送|加|共|流量)\s?$")
_BROADBAND_AFTER = re.compile(r"\s?的?(?:宽带|带宽|光纤|光猫|网速|速率|bps|b/s|/s)")

_DATA_PACK = re.compile(
    rf"(?P<n>{_NUM}|半)\s?(?P<ge>个)?\s?(?P<u>gb|g|mb|m|兆)(?![a-z])\s?的?(?:流量)?(?P<pk>月包|包月|日包|周包|包)")
_VOICE_PACK = re.compile(rf"(?P<n>{_NUM})\s?分钟的?(?:语音|通话)?(?P<pk>月包|包月|包)")
_PLAN = re.compile(
    rf"(?P<brand>全球通|动感地带|神州行)?(?:5g)?(?:智享|畅享)?(?:套餐)?(?P<n>{_NUM})(?:元|块)?的?"
    r"(?P<kind>套餐|畅听卡|潮玩卡|芒果卡|卡)?")

_MONTH_NUM = r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])"
_DAY_NUM = r"(?:3[01]|[12]\d|0?[1-9]|三十一?|二十[一二三四五六七八九]?|十[一二三四五六七八九]?|[一二三四五六七八九])"
_YEAR = rf"(?:(?<!\d)\d{{4}}|(?<!\d)\d{{2}}|[{_CN_DIGIT}]{{4}}|[{_CN_DIGIT}]{{2}})"
_REL_YEAR = {"今年": 0, "去年": -1, "前年": -2, "明年": 1}
_REL_MONTH = RELATIVE_MONTHS | {"上一个月": 1, "下月": -1, "下个月": -1, "次月": -1}   # -1: the next cycle
# 下月 after 查/看 is mostly 查下 + 月…: "帮我查下月结账单".
_REL_MONTH_RE = "|".join(sorted(map(re.escape, _REL_MONTH), key=len, reverse=True)).replace(
    "下月", "(?<![查看算问说找试])下月")
_NOT_AFTER_NUM = rf"(?<![\d{_CN_ALL}])"

_MONTH_REL = re.compile(_REL_MONTH_RE)
_MONTH_ABS = re.compile(
    rf"(?:(?P<y>{_YEAR})年|(?P<ry>今年|去年|前年|明年)|{_NOT_AFTER_NUM})(?P<m>{_MONTH_NUM})月份?")
_MONTH_DIGITS = re.compile(
    r"(?<![\d.])(?P<y>(?:19|20)\d{2})(?:(?P<m>0[1-9]|1[0-2])|[-/.](?P<m2>0?[1-9]|1[0-2]))(?!\d|[-/.]\d)")
_DATE_REL = re.compile(r"大前天|前天|昨天|昨日|今天|今日|明天|明日|后天")
_DATE_REL_DAYS = {"大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0, "明天": 1,
                  "明日": 1, "后天": 2}
_DATE_ISO = re.compile(
    r"(?<![\d.])(?P<y>(?:19|20)\d{2})(?P<s>[-/.])(?P<m>0?[1-9]|1[0-2])(?P=s)(?P<d>3[01]|[12]\d|0?[1-9])(?!\d)")
_DATE_MD = re.compile(
    rf"(?:(?P<y>{_YEAR})年|(?P<ry>今年|去年|前年|明年)|{_NOT_AFTER_NUM})(?P<m>{_MONTH_NUM})月"
    rf"(?P<d>{_DAY_NUM})(?:日|号)")
_DATE_DAY = re.compile(
    rf"(?P<rel>{_REL_MONTH_RE})?{_NOT_AFTER_NUM}"
    rf"(?<![\d{_CN_DIGIT}十]月)(?<![证尾工账型信挂编代暗口字番])"   # 一证五号, 尾号, 工号 …
    rf"(?P<d>{_DAY_NUM})(?:日|号)(?!码|线|楼|门|位|院|厅|店|机|卡|段|键|球|床|窗|字|子|人|员|元|双|多|通|终端|游)")

_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s-]?)?(?P<n>1[3-9]\d(?:[\s-]?\d){8})(?![\d])")
_MOBILE_CN = re.compile(rf"(?<![{_CN_ALL}幺])(?P<n>[一幺][三四五六七八九][{_CN_DIGIT}幺]{{9}})(?![{_CN_ALL}幺])")
_LANDLINE = re.compile(r"(?<![\d])\(?(?P<a>010|02\d|0[3-9]\d{2})\)?[\s-]?(?P<b>[1-9]\d{6,7})(?!\d)")
_SERVICE = re.compile(
    r"(?<![\d.])(?P<n>100\d{2}\d{0,6}|106\d{3,15}|12[1-5]\d{2}|9[56]\d{3,4}"
    r"|(?:400|800)[\s-]?\d{3}[\s-]?\d{4}|11[0249]|12[02])(?![\d.])")
_SERVICE_CN = re.compile(rf"(?<![{_CN_ALL}幺])(?P<n>幺零零八六|一零零八六)(?![{_CN_ALL}幺])")
_QUANTITY_AFTER = re.compile(r"\s?(?:[a-z\d%个兆分月年天次条秒岁倍折张台部位块元毛角]|积分|小时)")
_NOT_A_PHONE_BEFORE = re.compile(r"(?:积分|兑换|第|密码|验证码|编号|单号)\s?$")
_SECRET_BEFORE = re.compile(r"(?:密码|验证码|口令|授权码)(?:是|为)?\s?$")

_NUMBER_DIGITS = re.compile(r"(?<![a-z\d.])\d{1,12}(?![a-z\d]|\.\d)")
_NUMBER_CN = re.compile(rf"(?<![{_CN_ALL}])[一二三四五六七八九十两][{_CN_ALL}]+(?![{_CN_ALL}])")
_NOT_NUMBERS = frozenset({"十全十美", "一五一十", "三十六计", "十万火急", "一百个"})

_CJK = re.compile(r"[\u3400-\u9fff]")
_PARTICLES = frozenset("的地得了着过吗呢吧啊呀哦嘛么和与及或是在有个,.!?，。！？ ")


# ---------------------------------------------------------------------- words for products and places
# What customers call products besides their catalogue names and SMS codes, by product code. Only
# codes present in the catalogue are used. (A candidate for an ``aliases`` field in products.toml.)
def customer_words() -> dict[str, tuple[str, ...]]:
    """How customers call products, by product code (``assistant/data/product_words.toml``)."""
    return _product_words()[0]


@functools.cache
def _product_words() -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    with open(Path(__file__).with_name("data") / "product_words.toml", "rb") as fh:
        data = tomllib.load(fh)
    return ({code: tuple(words) for code, words in data.get("words", {}).items()},
            tuple(data.get("sms", {}).get("prefixes", ())))


# Words a value-added service's name may end in that customers leave out (咪咕音乐白金会员 → 咪咕音乐).
_SHORTENABLE = ("白金会员", "钻石会员", "黄金会员", "体育会员", "vip会员", "基础版", "会员", "包月", "短信")
# How a name was obtained; on a name two products share, the better kind decides, or nobody gets it.
_OWN, _CUSTOMER, _DERIVED = 0, 1, 2
# The plain packs a size or a number of minutes picks from: "10GB流量月包", "300分钟语音月包".
_SIZE_PACK = re.compile(r"^\d+(?:gb|mb)流量(?P<pk>月包|日包|周包|包)")
_MINUTE_PACK = re.compile(r"^\d+分钟语音(?P<pk>月包|包)")

# Provincial-level divisions outside hotline.domain.geo (which covers the 31 of the mainland).
_OTHER_REGIONS = {"香港": ("香港特别行政区", "香港特区"), "澳门": ("澳门特别行政区", "澳门特区"),
                  "台湾": ("台湾省", "台湾地区")}
# City names that are everyday words more often than places; their longer forms (朝阳市) still count.
_AMBIGUOUS_PLACES = frozenset({"阿里", "安康", "来宾", "朝阳", "白银", "海北", "玉树", "山南", "中卫"})


def store_cities(path: Path = STORES_FILE) -> list[str]:
    """The cities of the operator's stores (they may name places geo does not list)."""
    try:
        with open(path, "rb") as fh:
            return [s["city"] for s in tomllib.load(fh).get("store", []) if s.get("city")]
    except FileNotFoundError:
        return []


@dataclass(frozen=True, slots=True)
class _Word:
    type: str
    value: object


@dataclass(frozen=True, slots=True)
class _Alias:
    """A product name for fuzzy matching: its text and the reading of each character in it."""

    text: str
    code: str
    exact: tuple[str, ...]   # toneless pinyin, read as a phrase (音乐 → yin yue)
    loose: tuple[str, ...]   # the same with accent pairs merged (zh/z, n/l, ing/in …)


def _phrase_readings(name: str) -> tuple[str, ...]:
    """One reading per character: Chinese runs read as phrases, anything else as itself."""
    out: list[str] = []
    for run in re.findall(r"[\u3400-\u9fff]+|[^\u3400-\u9fff]", name):
        out += lazy_pinyin(run, style=Style.NORMAL) if _CJK.match(run) else [run]
    return tuple(out)


@lru_cache(maxsize=16384)
def _readings(ch: str) -> tuple[frozenset[str], frozenset[str]]:
    """(exact, loose) readings a typed character may stand for: its two commonest (长: zhang, chang),
    never the rare ones (包 as fu). A non-Chinese character reads as itself."""
    if not _CJK.match(ch):
        return frozenset((ch,)), frozenset((ch,))
    exact = frozenset(pinyin(ch, style=Style.NORMAL, heteronym=True)[0][:2])
    return exact, frozenset(_loosen(s) for s in exact)


def _loosen(s: str) -> str:
    """Merge the sounds many speakers (and their input methods) confuse: zh/z ch/c sh/s, n/l, -ng/-n."""
    if s[:2] in ("zh", "ch", "sh"):
        s = s[0] + s[2:]
    if s.startswith("n"):
        s = "l" + s[1:]
    if s.endswith("ng") and len(s) > 2 and s[-3] in "aei":
        s = s[:-1]
    return s


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (the strings are product names: a few characters)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


# ---------------------------------------------------------------------- the extractor
class EntityExtractor:
    """Finds entities in one utterance. Build it once per catalogue (about 5 ms, plus pypinyin's own
    start-up the first time); ``extract`` then takes about 0.1 ms for a short utterance. Thread-safe."""

    PINYIN_MIN = 3   # shorter names (彩铃, 快游) match exactly only: 快有 is not 快游
    EDIT_MIN = 4     # one character off in four or more (咪咕音会员); but 手机号 is not 手机报

    def __init__(self, products: Iterable[Product], *, cities: Iterable[str] | None = None) -> None:
        """``products``: the catalogue (a ProductCatalog or any iterable of products); ``cities``: city
        names beyond hotline.domain.geo's, by default those of the stores in services/data/stores.toml."""
        self.products: dict[str, Product] = {p.code: p for p in products}   # by code; the NLU reads it
        self._words: dict[str, _Word] = {}
        self._add_places(store_cities() if cities is None else cities)
        self._add_products()
        by_first: dict[str, set[int]] = defaultdict(set)
        for key in self._words:
            by_first[key[0]].add(len(key))
        self._lengths = {c: tuple(sorted(ls, reverse=True)) for c, ls in by_first.items()}   # longest first
        self._build_fuzzy()
        self._data_packs: dict[int, list[tuple[str, Product]]] = defaultdict(list)
        self._voice_packs: dict[int, list[tuple[str, Product]]] = defaultdict(list)
        self._plans: dict[int, list[Product]] = defaultdict(list)
        for p in self.products.values():
            name = fold(p.name_zh)
            if p.kind is ProductKind.DATA_PACK and (m := _SIZE_PACK.match(name)):
                self._data_packs[p.data_mb].append((m["pk"], p))
            elif p.kind is ProductKind.VOICE_PACK and (m := _MINUTE_PACK.match(name)):
                self._voice_packs[p.voice_min].append((m["pk"], p))
            elif p.kind is ProductKind.PLAN:
                self._plans[p.fee_fen].append(p)

    # ------------------------------------------------------------------ building
    def _add_places(self, extra_cities: Iterable[str]) -> None:
        for prov in PROVINCES:
            kind = "city" if prov.is_municipality else "province"
            for name in {prov.name_zh, prov.full_name_zh, prov.name_zh + "省", prov.name_zh + "自治区"}:
                if find_province(name) is prov:
                    self._words.setdefault(name, _Word(kind, prov.name_zh))
        for name, long_forms in _OTHER_REGIONS.items():
            for form in (name, *long_forms):
                self._words.setdefault(form, _Word("province", name))
        for prov in PROVINCES:
            for city in prov.cities:
                zh = city.name_zh
                forms = {zh, zh + "市", zh.removesuffix("地区"), zh.removesuffix("盟")}
                forms |= {zh[:n] for n in range(2, len(zh))} | {zh[:n] + "州" for n in range(2, len(zh) - 1)}
                for form in forms:
                    if form in _AMBIGUOUS_PLACES or form in self._words:
                        continue   # a province keeps its name: 吉林 is the province, 吉林市 the city
                    hit = find_city(form)
                    if hit and hit[1] is city:
                        self._words[form] = _Word("city", zh)
        for name in extra_cities:
            name = fold(name.strip())
            hit = find_city(name)
            value = hit[1].name_zh if hit else name.removesuffix("市")
            for form in (value, value + "市", name):
                if len(form) >= 2:
                    self._words.setdefault(form, _Word("city", value))

    def _product_names(self, p: Product) -> dict[str, int]:
        """Names of one product → how they were obtained (its own, a customer word, a shortening)."""
        name = fold(p.name_zh)
        bare = re.sub(r"\([^)]*\)$", "", name)
        names = {name: _OWN, bare: _OWN}
        if p.name_en:
            names.setdefault(fold(p.name_en).strip(), _OWN)
        if p.sms_code:
            code = p.sms_code.lower()
            if len(code) >= 3:   # two letters (CL, MY) are words too often; KTCL still counts
                names.setdefault(code, _OWN)
            for prefix in _product_words()[1]:    # KT / QX … before an SMS code: KTLL1
                names.setdefault(prefix + code, _OWN)
        for word in customer_words().get(p.code, ()):
            names.setdefault(fold(word), _CUSTOMER)
        if p.kind is ProductKind.VAS:
            for suffix in _SHORTENABLE:
                if bare.endswith(suffix) and len(bare) - len(suffix) >= 2:
                    names.setdefault(bare.removesuffix(suffix), _DERIVED)
                    break
        if p.kind is ProductKind.DATA_PACK and bare.endswith("流量包") and not bare[0].isdigit():
            # 夜间流量包 → 夜间流量; 抖音定向流量包 → 抖音定向流量, 抖音流量包, 抖音流量
            for form in {bare, bare.replace("定向", "")}:
                names.setdefault(form, _DERIVED)
                names.setdefault(form.removesuffix("包"), _DERIVED)
        return names

    def _add_products(self) -> None:
        owners: dict[str, dict[str, int]] = defaultdict(dict)
        for p in self.products.values():
            for name, tier in self._product_names(p).items():
                owners[name][p.code] = min(tier, owners[name].get(p.code, tier))
        self._product_words: dict[str, str] = {}
        for name, by_code in owners.items():
            best = min(by_code.values())
            codes = [c for c, tier in by_code.items() if tier == best]
            if len(codes) == 1 and len(name) >= 2:
                self._product_words[name] = codes[0]
                self._words[name] = _Word("product", codes[0])   # a product name wins over a place

    def _build_fuzzy(self) -> None:
        """Chinese product names of three or more characters, indexed by character and position."""
        self._aliases: list[_Alias] = []
        self._positions: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for name, code in self._product_words.items():
            if len(name) < self.PINYIN_MIN or not _CJK.search(name) or " " in name:
                continue
            exact = _phrase_readings(name)
            self._aliases.append(_Alias(name, code, exact, tuple(map(_loosen, exact))))
            for j, c in enumerate(name):
                self._positions[c].append((len(self._aliases) - 1, j))

    # ------------------------------------------------------------------ the public calls
    def extract(self, text: str, today: dt.date) -> list[Entity]:
        """The entities of ``text`` in text order, never overlapping; relative times count from ``today``."""
        t = fold(text)
        cover = bytearray(len(t))
        chosen: list[_Cand] = []

        def take(cands: Iterable[_Cand]) -> None:
            for c in sorted(cands, key=lambda c: (c[0] - c[1], -c[4], _RANK[c[2]], c[0])):
                s, e = c[0], c[1]
                if e > s and 1 not in cover[s:e]:
                    cover[s:e] = b"\x01" * (e - s)
                    chosen.append(c)

        take(self._exact(t, today))
        if self._aliases:
            take(self._fuzzy(t, cover))
        take(self._numbers(t))
        chosen.sort()
        merged: list[_Cand] = []
        for c in chosen:   # 和安圈|防骚扰: two pieces of one product name are one product
            if merged and c[2] == "product" and merged[-1][2] == "product" and merged[-1][3] == c[3] \
                    and merged[-1][1] == c[0]:
                merged[-1] = (merged[-1][0], c[1], "product", c[3], min(merged[-1][4], c[4]))
            else:
                merged.append(c)
        return [Entity(typ, value, text[s:e], s, e, score) for s, e, typ, value, score in merged]

    def mask(self, text: str, today: dt.date | None = None) -> str:
        """``text`` with each entity replaced by ``<type>`` (msisdn and phone both by ``<phone>``), so
        that "查一下十二月的流量" and "查一下三月的流量" look alike to the intent classifier."""
        out, pos = [], 0
        for e in self.extract(text, today or dt.date.today()):
            out.append(text[pos:e.start])
            out.append("<phone>" if e.type == "msisdn" else f"<{e.type}>")
            pos = e.end
        out.append(text[pos:])
        return "".join(out)

    # ------------------------------------------------------------------ exact forms
    def _exact(self, t: str, today: dt.date) -> Iterator[_Cand]:
        yield from self._dictionary(t)
        yield from self._money(t)
        yield from self._data(t)
        yield from self._packs(t)
        yield from self._months_and_dates(t, today)
        yield from self._phones(t)

    def _dictionary(self, t: str) -> Iterator[_Cand]:
        words, lengths, n = self._words, self._lengths, len(t)
        for i, ch in enumerate(t):
            for length in lengths.get(ch, ()):
                if i + length > n:
                    continue
                key = t[i:i + length]
                word = words.get(key)
                if word is None:
                    continue
                if (key[0].isascii() and key[0].isalnum() and i and t[i - 1].isascii() and t[i - 1].isalnum()) \
                        or (key[-1].isascii() and key[-1].isalnum() and i + length < n
                            and t[i + length].isascii() and t[i + length].isalnum()):
                    continue   # LL1 inside LL10 or KTLL1X is not LL1
                yield i, i + length, word.type, word.value, 1.0
                break

    def _money(self, t: str) -> Iterator[_Cand]:
        for m in _MONEY_SYMBOL.finditer(t):
            yield m.start(), m.end(), "money", int(Decimal(m["n"]) * 100), 1.0
        for m in _MONEY_UNIT.finditer(t):
            yuan = to_number(m["n"])
            if yuan is None:
                continue
            jiao = m["j"] or m["j2"]
            if (m["n"] == "一" and m["u"] == "块" and not (jiao or m["q"])
                    and not _MONEY_VERB_BEFORE.search(t, 0, m.start())):
                continue   # 一块 is "together" unless it is 一块钱 or follows 充/交 …
            fen = int(yuan * 100) + 10 * _digit(jiao) + _digit(m["f"])
            yield m.start(), m.end(), "money", fen, 1.0
        for m in _MONEY_SMALL.finditer(t):
            fen = 10 * _digit(m["j"]) + _digit(m["f"])
            if fen:
                yield m.start(), m.end(), "money", fen, 1.0
        for m in _MONEY_FEN.finditer(t):
            if m["f"] and (only_fen := _int(m["f"])):
                yield m.start(), m.end(), "money", only_fen, 1.0
        for rx in (_MONEY_VERB, _MONEY_BEFORE):
            for m in rx.finditer(t):
                digits = m["n"]
                if digits[0].isdigit() and len(digits.split(".")[0]) > 4:
                    continue   # 充13800138000: a number, not an amount
                if not digits[0].isdigit() and not any(c in "十百千万点" for c in digits):
                    continue   # 扣了一笔, 扣两份: a count, not an amount
                yuan = to_number(digits)
                if yuan:
                    yield m.start("n"), m.end("n"), "money", int(yuan * 100), 1.0

    def _data(self, t: str) -> Iterator[_Cand]:
        for m in _DATA.finditer(t):
            mb = self._megabytes(m, t)
            if mb:
                yield m.start(), m.end(), "data", mb, 1.0

    @staticmethod
    def _megabytes(m: re.Match, t: str) -> int | None:
        """The size a data match names, unless the words around it say it is something else."""
        unit, n = m["u"], m["n"]
        if unit == "g" and not m["ge"] and n in _GENERATIONS and not _NETWORK_AFTER.match(t, m.end()) \
                and not _NETWORK_BEFORE.search(t, max(0, m.start() - 4), m.start()):
            return None   # 4G网速, 5G信号: the network generation, not gigabytes
        if unit in ("m", "mb", "兆") and _BROADBAND_AFTER.match(t, m.end()):
            return None   # 300M宽带, 千兆光纤: a line speed
        return _size_mb(m)

    def _packs(self, t: str) -> Iterator[_Cand]:
        """A size with 包 (1G月包, 10个G的包, 100分钟语音包) or an amount with 套餐/卡 (全球通128) when it names
        one product."""
        for m in _DATA_PACK.finditer(t):
            hit = self._pick(self._data_packs.get(_size_mb(m) or -1, []), m["pk"])
            if hit:
                yield m.start(), m.end(), "product", hit[0], hit[1]
        for m in _VOICE_PACK.finditer(t):
            minutes = _int(m["n"])
            hit = self._pick(self._voice_packs.get(minutes or -1, []), m["pk"])
            if hit:
                yield m.start(), m.end(), "product", hit[0], hit[1]
        for m in _PLAN.finditer(t):
            if not (m["brand"] or m["kind"]):
                continue
            yuan = to_number(m["n"])
            plans = self._plans.get(int(yuan * 100) if yuan is not None else -1, [])
            if m["brand"]:
                plans = [p for p in plans if m["brand"] in p.name_zh]
            if m["kind"] and m["kind"] != "套餐":
                plans = [p for p in plans if p.name_zh.endswith(m["kind"])]
            if len(plans) == 1:   # 全球通128 names it; 18元套餐 only implies it
                yield m.start(), m.end(), "product", plans[0].code, 1.0 if m["brand"] else 0.95

    @staticmethod
    def _pick(packs: list[tuple[str, Product]], asked: str) -> tuple[str, float] | None:
        """The pack a size names: the one of the kind asked for (包, 月包, 日包, 周包), else the only one."""
        asked = "月包" if asked == "包月" else asked
        same = [p for kind, p in packs if kind == asked]
        if len(same) == 1:
            return same[0].code, 1.0
        if len(packs) == 1:
            return packs[0][1].code, 0.9
        return None

    def _months_and_dates(self, t: str, today: dt.date) -> Iterator[_Cand]:
        current = cycle_of(today)
        for m in _MONTH_REL.finditer(t):
            back = _REL_MONTH[m.group()]
            cycle = next_cycle(current) if back < 0 else cycles_back(current, back)
            yield m.start(), m.end(), "month", str(cycle), 1.0
        for m in _MONTH_ABS.finditer(t):
            month = _int(m["m"])
            if not month or not 1 <= month <= 12:
                continue
            year = self._year(m, today)
            cycle = year * 100 + month if year else latest_cycle(month, today)
            yield m.start(), m.end(), "month", str(cycle), 1.0
        for m in _MONTH_DIGITS.finditer(t):
            year = int(m["y"])
            if not 1990 <= year <= today.year + 1 or _SECRET_BEFORE.search(t, 0, m.start()):
                continue
            yield m.start(), m.end(), "month", f"{year}{int(m['m'] or m['m2']):02d}", 1.0
        for m in _DATE_REL.finditer(t):
            rel_day = today + dt.timedelta(days=_DATE_REL_DAYS[m.group()])
            yield m.start(), m.end(), "date", rel_day.isoformat(), 1.0
        for m in _DATE_ISO.finditer(t):
            if day := _date(int(m["y"]), int(m["m"]), int(m["d"])):
                yield m.start(), m.end(), "date", day.isoformat(), 1.0
        for m in _DATE_MD.finditer(t):
            month, d = _int(m["m"]), _int(m["d"])
            if not month or not d:
                continue
            year = self._year(m, today) or latest_cycle(month, today) // 100   # 12月1号 in November: last year's
            if day := _date(year, month, d):
                yield m.start(), m.end(), "date", day.isoformat(), 1.0
        for m in _DATE_DAY.finditer(t):
            d = _int(m["d"])
            cycle = current
            if m["rel"]:
                back = _REL_MONTH[m["rel"]]
                cycle = next_cycle(current) if back < 0 else cycles_back(current, back)
            if d and (day := _date(cycle // 100, cycle % 100, d)):
                yield m.start(), m.end(), "date", day.isoformat(), 1.0

    @staticmethod
    def _year(m: re.Match, today: dt.date) -> int | None:
        if m["ry"]:
            return today.year + _REL_YEAR[m["ry"]]
        if m["y"]:
            y = int(_cn_digits(m["y"]))
            return y + 2000 if y < 100 else y
        return None

    def _phones(self, t: str) -> Iterator[_Cand]:
        for m in _MOBILE.finditer(t):
            digits = re.sub(r"[\s-]", "", m["n"])
            yield m.start(), m.end(), "msisdn" if is_valid_msisdn(digits) else "phone", digits, 1.0
        for m in _MOBILE_CN.finditer(t):
            digits = _cn_digits(m["n"])
            yield m.start(), m.end(), "msisdn" if is_valid_msisdn(digits) else "phone", digits, 1.0
        for m in _LANDLINE.finditer(t):
            yield m.start(), m.end(), "phone", m["a"] + m["b"], 1.0
        for m in _SERVICE.finditer(t):
            if _QUANTITY_AFTER.match(t, m.end()) or _NOT_A_PHONE_BEFORE.search(t, 0, m.start()):
                continue   # 110分钟, 积分12345: a quantity that looks like a short number
            yield m.start(), m.end(), "phone", re.sub(r"[\s-]", "", m["n"]), 1.0
        for m in _SERVICE_CN.finditer(t):
            yield m.start(), m.end(), "phone", _cn_digits(m["n"]), 1.0

    # ------------------------------------------------------------------ fuzzy product names
    def _fuzzy(self, t: str, cover: bytearray) -> list[_Cand]:
        """Product names in the text nothing else claimed, read loosely. A name is tried only where at
        least half its characters stand in their places, so most utterances cost a few dictionary looks."""
        out: list[_Cand] = []
        for s, e in _free_runs(cover):
            if e - s < self.PINYIN_MIN:
                continue
            votes: dict[tuple[int, int], int] = {}
            for i in range(s, e):
                for k, j in self._positions.get(t[i], ()):
                    if i - j >= s:
                        votes[(k, i - j)] = votes.get((k, i - j), 0) + 1
            edits: list[tuple[int, int, str]] = []
            for (k, start), shared in votes.items():
                alias = self._aliases[k]
                n = len(alias.text)
                if shared < max(1, n // 2):
                    continue
                if start + n <= e and shared < n and (hit := self._homophone(t[start:start + n], alias, shared)):
                    out.append((start, start + n, "product", alias.code, hit))
                elif n >= self.EDIT_MIN:
                    for size in (n, n - 1, n + 1):
                        window = t[start:start + size]
                        if start + size <= e and self._one_edit(window, alias.text):
                            edits.append((start, start + size, alias.code))
                            break
            if len({code for _, _, code in edits}) == 1:   # one wrong character from two products: no guess
                out += [(a, b, "product", code, 0.75) for a, b, code in edits]
        return out

    @staticmethod
    def _homophone(window: str, alias: _Alias, shared: int) -> float | None:
        """A score when ``window`` reads like ``alias``: every character the same or sounding alike."""
        exact = True
        for c, a, ex, loose in zip(window, alias.text, alias.exact, alias.loose):
            if c == a:
                continue
            r_exact, r_loose = _readings(c)
            if ex not in r_exact:
                if loose not in r_loose:
                    return None
                exact = False
        return round((0.9 if exact else 0.8) - 0.1 * (1 - shared / len(alias.text)), 3)

    @staticmethod
    def _one_edit(window: str, alias: str) -> bool:
        """One character missing (咪咕音会员), a 的 added (节假日的流量包) or, in a name of five or more, replaced
        (5G提速包); the first and last characters stay, and a replacement is no particle (游的流量包)."""
        if window[0] != alias[0] or window[-1] != alias[-1] or window == alias:
            return False
        if len(window) == len(alias):
            diff = [c for c, a in zip(window, alias) if c != a]
            return len(alias) >= 5 and len(diff) == 1 and diff[0] not in _PARTICLES
        if len(window) > len(alias):   # only a 的 may come in between: 抖音的流量, not 游戏把流量
            return any(window[:i] + window[i + 1:] == alias for i, c in enumerate(window) if c in "的之")
        return _edit_distance(window, alias) == 1

    # ------------------------------------------------------------------ what is left: plain numbers
    def _numbers(self, t: str) -> Iterator[_Cand]:
        for m in _NUMBER_DIGITS.finditer(t):
            if m.group()[0] != "0" or len(m.group()) == 1:   # 0755, 001: a code, not a quantity
                yield m.start(), m.end(), "number", int(m.group()), 1.0
        for m in _NUMBER_CN.finditer(t):
            word = m.group()
            if word in _NOT_NUMBERS or not any(c in "十百千万" for c in word):
                continue   # 一一, 三五: not a quantity; 一下, 一个 never reach here (one character)
            n = _int(word)
            if n is not None:
                yield m.start(), m.end(), "number", n, 1.0



def _digit(text: str | None) -> int:
    """One digit of 角 or 分 ("五", "5"); 0 when absent."""
    return (_int(text) or 0) if text else 0


def _size_mb(m: re.Match) -> int | None:
    """MB of a data-size match: 1G → 1024, 1.5G → 1536, 一个G → 1024, 半个G → 512, 两千兆 → 2000."""
    unit, n = m["u"], m["n"]
    if unit in ("t", "tb", "k", "kb"):
        return None   # terabytes and kilobytes are not what a subscriber buys or uses
    if n == "半":
        size = Decimal("0.5") if m["ge"] else None
    else:
        size = to_number(n)
    if size is None:
        return None
    mb = size * 1024 if unit in ("g", "gb") else size
    return int(mb.to_integral_value()) or None


def _date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _free_runs(cover: bytearray) -> Iterator[tuple[int, int]]:
    """(start, end) of each stretch no entity covers."""
    start = None
    for i, c in enumerate(cover):
        if not c and start is None:
            start = i
        elif c and start is not None:
            yield start, i
            start = None
    if start is not None:
        yield start, len(cover)
