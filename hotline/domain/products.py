"""Products the operator sells: plans, add-on packs, value-added services and network features.

The rules here decide whether a subscriber may order a product and what it costs now; the
reference back end keeps the products themselves as data (``hotline/bss/products.toml``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hotline.domain.errors import Conflict, InsufficientBalance, NotEligible, UnknownProduct
from hotline.domain.subscriber import Brand, PaymentType, StarLevel, Status, Subscriber


class ProductKind(str, Enum):
    PLAN = "plan"
    DATA_PACK = "data_pack"
    VOICE_PACK = "voice_pack"
    VAS = "vas"
    FEATURE = "feature"

    @property
    def name_zh(self) -> str:
        return {"plan": "套餐", "data_pack": "流量包", "voice_pack": "语音包", "vas": "增值业务",
                "feature": "功能"}[self.value]


class Billing(str, Enum):
    MONTHLY = "monthly"  # charged every cycle while subscribed
    ONE_OFF = "one_off"  # charged once; valid until the end of the cycle


class Effective(str, Enum):
    IMMEDIATE = "immediate"
    NEXT_CYCLE = "next_cycle"

    @property
    def name_zh(self) -> str:
        return "立即生效" if self is Effective.IMMEDIATE else "次月生效"


class Product(BaseModel):
    """One product. Fees in fen; data in MB; voice in minutes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z0-9_]+\.[a-z0-9_.]+$")
    kind: ProductKind
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    fee_fen: int = Field(ge=0)
    billing: Billing = Billing.MONTHLY
    effective: Effective = Effective.IMMEDIATE
    voice_min: int = Field(0, ge=0)
    data_mb: int = Field(0, ge=0)
    sms: int = Field(0, ge=0)
    provider: str = "中国移动"
    sp_port: str = "10086"
    sms_code: str = Field("", pattern=r"^$|^[A-Z0-9]{1,12}$")  # the product argument of KT/QX commands
    brands: tuple[Brand, ...] = ()
    payment_types: tuple[PaymentType, ...] = ()
    min_star: StarLevel = StarLevel.NONE
    exclusive_group: str = ""
    excludes: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    description_zh: str = ""
    description_en: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Product:
        if self.kind is ProductKind.PLAN and self.billing is not Billing.MONTHLY:
            raise ValueError("a plan is billed monthly")
        if self.includes and self.kind is not ProductKind.PLAN:
            raise ValueError("only plans include other products")
        return self

    @property
    def fee_text_zh(self) -> str:
        unit = "/月" if self.billing is Billing.MONTHLY else "（当月有效）"
        return f"{yuan(self.fee_fen)}元{unit}"

    @property
    def fee_text_en(self) -> str:
        unit = "/month" if self.billing is Billing.MONTHLY else " (this month)"
        return f"¥{yuan(self.fee_fen)}{unit}"


def yuan(fen: int) -> str:
    """Integer fen as yuan text: 5670 → '56.70', -120 → '-1.20'."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


class ProductCatalog:
    """All products by code, with the cross-references checked."""

    def __init__(self, products: Iterable[Product]) -> None:
        self.by_code: dict[str, Product] = {}
        for p in products:
            if p.code in self.by_code:
                raise ValueError(f"product {p.code}: duplicate code")
            self.by_code[p.code] = p
        sms_codes: dict[str, str] = {}
        for p in self.by_code.values():
            if p.sms_code:
                if p.sms_code in sms_codes:
                    raise ValueError(f"product {p.code}: SMS code {p.sms_code} is already {sms_codes[p.sms_code]}'s")
                sms_codes[p.sms_code] = p.code
            for ref in (*p.excludes, *p.includes):
                if ref not in self.by_code:
                    raise ValueError(f"product {p.code}: refers to unknown product {ref}")

    def by_sms_code(self, sms_code: str) -> Product | None:
        return next((p for p in self.by_code.values() if p.sms_code == sms_code), None)

    def get(self, code: str) -> Product:
        try:
            return self.by_code[code]
        except KeyError:
            raise UnknownProduct(f"没有找到产品“{code}”，请核对产品编码。",
                                 f"There is no product '{code}'; check the product code.",
                                 product=code) from None

    def of_kind(self, *kinds: ProductKind) -> list[Product]:
        return [p for p in self.by_code.values() if p.kind in kinds]

    def __iter__(self):
        return iter(self.by_code.values())

    def __len__(self) -> int:
        return len(self.by_code)


def require_active(sub: Subscriber) -> None:
    if sub.status is not Status.ACTIVE:
        raise NotEligible(f"您的号码当前为“{sub.status.name_zh}”状态，暂不能办理该业务。",
                          f"Your number is {sub.status.name_en}; this cannot be ordered now.",
                          status=sub.status.value)


def check_eligible(product: Product, sub: Subscriber, active_codes: set[str],
                   catalog: ProductCatalog) -> None:
    """Raise unless ``sub`` may order ``product`` now, given the codes it already has."""
    require_active(sub)
    if product.brands and sub.brand not in product.brands:
        brands = "、".join(b.name_zh for b in product.brands)
        raise NotEligible(f"“{product.name_zh}”仅限{brands}客户办理。",
                          f"{product.name_en} is only for {', '.join(b.name_en for b in product.brands)} customers.",
                          product=product.code)
    if product.payment_types and sub.payment_type not in product.payment_types:
        raise NotEligible(f"“{product.name_zh}”仅限{product.payment_types[0].name_zh}客户办理。",
                          f"{product.name_en} is only for {product.payment_types[0].value} customers.",
                          product=product.code)
    if sub.star_level < product.min_star:
        raise NotEligible(f"“{product.name_zh}”需{product.min_star.name_zh}及以上客户办理，"
                          f"您当前为{sub.star_level.name_zh}。",
                          f"{product.name_en} needs {product.min_star.name_en} or above; "
                          f"you are {sub.star_level.name_en}.",
                          product=product.code)
    if product.code in active_codes and product.billing is not Billing.ONE_OFF:  # one-off packs stack
        raise Conflict(f"您已订购“{product.name_zh}”，无需重复办理。",
                       f"You already have {product.name_en}.", product=product.code)
    for code in active_codes:
        other = catalog.by_code.get(code)
        if other is None:
            continue
        clash = (product.exclusive_group and other.exclusive_group == product.exclusive_group) \
            or code in product.excludes or product.code in other.excludes
        if clash:
            raise Conflict(f"“{product.name_zh}”与您已订购的“{other.name_zh}”不能同时办理，请先退订后再试。",
                           f"{product.name_en} cannot be combined with your {other.name_en}; cancel that first.",
                           product=product.code, conflicts_with=code)


def check_affordable(sub: Subscriber, amount_fen: int, what_zh: str, what_en: str) -> None:
    """Refuse a charge the account cannot cover (prepaid: balance; postpaid: balance + credit)."""
    if amount_fen > 0 and sub.available_fen - amount_fen < 0:
        raise InsufficientBalance(
            f"您的可用余额为{yuan(sub.available_fen)}元，不足以支付{what_zh}费用{yuan(amount_fen)}元，请充值后再办理。",
            f"Your available balance ¥{yuan(sub.available_fen)} does not cover {what_en} "
            f"(¥{yuan(amount_fen)}); please recharge first.",
            needed_fen=amount_fen, available_fen=sub.available_fen)
