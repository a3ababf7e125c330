"""Domain errors. Each carries a stable code, a zh-CN and an English message, and an HTTP status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule refused the request. Nothing was changed."""

    code = "domain_error"
    status = 400

    def __init__(self, message_zh: str, message_en: str, **detail: Any) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.detail = detail

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang.startswith("en") else self.message_zh

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en,
                "detail": self.detail}


class InvalidInput(DomainError):
    code = "invalid_input"
    status = 422


class InvalidMsisdn(InvalidInput):
    code = "invalid_msisdn"


class NotFound(DomainError):
    code = "not_found"
    status = 404


class SubscriberNotFound(NotFound):
    code = "subscriber_not_found"


class UnknownProduct(NotFound):
    code = "unknown_product"


class IllegalTransition(DomainError):
    code = "illegal_status_transition"
    status = 409


class NotEligible(DomainError):
    code = "not_eligible"
    status = 409


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InsufficientBalance(DomainError):
    code = "insufficient_balance"
    status = 402


class WeakPassword(InvalidInput):
    code = "weak_password"


class WrongPassword(DomainError):
    code = "wrong_password"
    status = 403


class PasswordLocked(DomainError):
    code = "password_locked"
    status = 423


class IdentityMismatch(DomainError):
    code = "identity_mismatch"
    status = 403
