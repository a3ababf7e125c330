"""Personal data a customer types, masked before it is stored in a transcript, a hand-off or a log.

Secrets that answer a prompt (a password, a code) are never stored at all (the channel knows the step);
this catches what comes inside free text: ID numbers, and a password or card PIN given with its word.
"""

from __future__ import annotations

import re

_ID_NUMBER = re.compile(r"(?<![0-9])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9])|(?<![0-9])(\d{6})\d{6}(\d{3})(?![0-9])")
_SECRET_AFTER_WORD = re.compile(r"(密码|口令|验证码|PIN|pin|password|code)(\s*[:：是为]?\s*)(\*?\d{4,20})")
_LONG_DIGITS = re.compile(r"(?<![0-9])\d{16,20}(?![0-9])")   # card serials and PINs typed together


def _mask_id(m: re.Match[str]) -> str:
    if m.group(1):
        return f"{m.group(1)}********{m.group(2)[:0]}****"
    return f"{m.group(3)}******{m.group(4)[:0]}***"


def redact(text: str) -> str:
    """The text with ID numbers, passwords, codes and card PINs masked."""
    text = _SECRET_AFTER_WORD.sub(lambda m: m.group(1) + m.group(2) + "******", text)
    text = _ID_NUMBER.sub(_mask_id, text)
    return _LONG_DIGITS.sub(lambda m: m.group(0)[:4] + "*" * (len(m.group(0)) - 4), text)
