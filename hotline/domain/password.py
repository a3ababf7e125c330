"""Service passwords (服务密码): strength rules, a slow KDF, and the daily lockout rule."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets

from hotline.domain.errors import WeakPassword

_DIGITS = "0123456789"


def check_strength(password: str, msisdn: str = "", id_number: str = "") -> None:
    """Refuse passwords that are not 6 digits or are easy to guess."""
    if len(password) != 6 or not password.isascii() or not password.isdigit():
        raise WeakPassword("服务密码须为6位数字。", "The service password must be 6 digits.")
    if len(set(password)) == 1:
        raise WeakPassword("服务密码不能是6位相同的数字，请换一个。",
                           "The password cannot be six identical digits.")
    if password in _DIGITS or password in _DIGITS[::-1] or password in "1234567890" \
            or password in "0987654321":
        raise WeakPassword("服务密码不能是连续递增或递减的数字，请换一个。",
                           "The password cannot be an ascending or descending run.")
    if msisdn and password in msisdn:
        raise WeakPassword("服务密码不能包含手机号码中连续的6位数字。",
                           "The password cannot be six consecutive digits of the phone number.")
    if id_number and password in id_number.upper():
        raise WeakPassword("服务密码不能包含身份证号码中连续的6位数字。",
                           "The password cannot be six consecutive digits of the ID number.")


def hash_password(password: str, n: int = 2**14, salt: bytes | None = None) -> str:
    """scrypt(n, r=8, p=1); the result names its parameters so they can change later."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=8, p=1, maxmem=2**26, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}$8$1${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                               p=int(p), maxmem=2**26, dklen=32)
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def random_password(msisdn: str = "", id_number: str = "") -> str:
    """A random password that passes the strength rules (sent by SMS after a reset)."""
    while True:
        pw = f"{secrets.randbelow(10**6):06d}"
        try:
            check_strength(pw, msisdn, id_number)
            return pw
        except WeakPassword:
            continue


def failures_today(failures: int, fail_day: dt.date | None, today: dt.date) -> int:
    """Wrong entries count per day: yesterday's failures no longer lock."""
    return failures if fail_day == today else 0
