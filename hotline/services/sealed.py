"""Secrets a customer gives in the middle of a business (a card PIN, a new password) kept sealed.

The flow keeps its state between messages in the database (an SMS session, a conversation). A secret
slot's value waits there until the step that uses it, and must not be readable there: it is stored as a
Fernet token (AES-128-CBC with an HMAC-SHA256 tag, from ``cryptography``) under the server's state key,
and dropped once the business has run. The key is ``HOTLINE_STATE_KEY``, or one made into the data dir.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "sealed:"


class Sealer:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, value: str) -> str:
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str) -> str | None:
        """The clear value of a sealed one (None when the key changed or it was tampered with)."""
        if not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            return None


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)
