"""Mobile numbers (MSISDN): validation and normalisation for mainland China Mobile numbers."""

from __future__ import annotations

import re

from hotline.domain.errors import InvalidMsisdn

# Number segments (号段) assigned to China Mobile, by their first three digits.
CHINA_MOBILE_SEGMENTS: frozenset[str] = frozenset(
    [str(n) for n in range(134, 140)]
    + ["147", "150", "151", "152", "157", "158", "159", "172", "178",
       "182", "183", "184", "187", "188", "195", "197", "198"]
)

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u3000()（）]")
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９＋", "0123456789+")


def normalize_msisdn(raw: object) -> str:
    """Return the 11-digit national number, or raise ``InvalidMsisdn`` with a bilingual message.

    Accepts ``+86``/``0086``/``86`` prefixes, spaces, dashes, brackets and full-width digits.
    """
    if not isinstance(raw, str):
        raise InvalidMsisdn("手机号码格式不正确，请输入11位中国移动手机号码。",
                            "The phone number is not valid: enter an 11-digit China Mobile number.")
    s = _SEPARATORS.sub("", raw.translate(_FULLWIDTH_DIGITS))
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("0086"):
        s = s[4:]
    elif s.startswith("86") and len(s) == 13:
        s = s[2:]
    if len(s) != 11 or not s.isascii() or not s.isdigit() or s[0] != "1":
        raise InvalidMsisdn("手机号码格式不正确，请输入11位中国移动手机号码。",
                            "The phone number is not valid: enter an 11-digit China Mobile number.",
                            value=str(raw)[:32])
    if s[:3] not in CHINA_MOBILE_SEGMENTS:
        raise InvalidMsisdn(f"号码{s}不是中国移动号码，本服务仅受理中国移动号码。",
                            f"{s} is not a China Mobile number; this service handles China Mobile numbers only.",
                            value=s)
    return s


def is_valid_msisdn(raw: object) -> bool:
    try:
        normalize_msisdn(raw)
    except InvalidMsisdn:
        return False
    return True


def mask_msisdn(msisdn: str) -> str:
    """138****8000 — for logs and lists where the full number is not needed."""
    return msisdn[:3] + "****" + msisdn[7:]
