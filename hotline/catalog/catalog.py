"""The loaded catalogue: businesses by code, by category, and by SMS command."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator

from hotline.catalog.schema import Auth, Business, Category, Policy


def command_key(text: str) -> str:
    """The form SMS commands are matched in: NFKC (full-width → ASCII), upper case, no spaces."""
    return "".join(unicodedata.normalize("NFKC", text).upper().split())


class Catalog:
    def __init__(self, categories: Iterable[Category], businesses: Iterable[Business],
                 policies: dict[str, Policy] | None = None) -> None:
        self.categories: dict[str, Category] = {c.code: c for c in categories}
        self.policies: dict[str, Policy] = dict(policies or {})
        self.by_code: dict[str, Business] = {}
        self.commands: dict[tuple[str, str], Business] = {}   # (port, command key) → business
        self.prefixes: dict[str, list[Business]] = {}         # KT → [order.data_pack, subscribe.vas …]
        self.catch_all: dict[str, Business] = {}              # port → the business taking any text sent to it
        for b in businesses:
            if b.code in self.by_code:
                raise ValueError(f"business {b.code}: field code: defined twice")
            self.by_code[b.code] = b
        for b in self.by_code.values():
            if b.parent and b.parent not in self.by_code:
                raise ValueError(f"business {b.code}: field code: nests under {b.parent}, which is not defined")
            for cmd in b.sms.commands:
                for port in b.sms.ports:
                    key = (port, command_key(cmd))
                    if not key[1]:
                        raise ValueError(f"business {b.code}: field sms.commands: empty command")
                    if key in self.commands:
                        raise ValueError(f"business {b.code}: field sms.commands: {cmd!r} on {port} is "
                                         f"already {self.commands[key].code}'s")
                    self.commands[key] = b
            for p in b.sms.prefixes:
                self.prefixes.setdefault(command_key(p), []).append(b)
            if b.sms.catch_all:
                for port in b.sms.ports:
                    self.catch_all.setdefault(port, b)

    # ------------------------------------------------------------------ policy, one rule for every channel
    def policy(self, b: Business) -> Policy:
        return self.policies.get(b.handler) or _DEFAULT_POLICY

    def role(self, b: Business) -> str:
        return b.role or self.policy(b).role

    def confirmed(self, b: Business) -> bool:
        """Anything that costs money or changes the account is confirmed, on every channel."""
        return b.confirm or self.policy(b).changes

    def needs_subscriber(self, b: Business) -> bool:
        return self.policy(b).subject or b.auth is not Auth.NONE

    def cancels(self, b: Business, params: dict | None = None) -> bool:
        return self.policy(b).cancels or (params or {}).get("action") == "off"

    def with_role(self, role: str) -> Business | None:
        """The business playing a role (the menu, the hand-off to a person …), if the catalogue has one."""
        return next((b for b in self.by_code.values() if self.role(b) == role and (b.role or b.parent is None)),
                    None)

    def canceller(self, product_code: str, kind: str) -> tuple[Business, dict[str, str]] | None:
        """The business that ends a product: its own, else the generic one for its kind, else a feature's off."""
        from hotline.catalog.schema import SlotType
        for b in self.by_code.values():
            if self.policy(b).cancels and b.preset.get("product") == product_code:
                return b, {"product": product_code}
        for b in self.by_code.values():
            if self.policy(b).cancels and not b.preset and any(
                    s.type is SlotType.PRODUCT and kind in s.kinds for s in b.slots):
                return b, {"product": product_code}
        for b in self.by_code.values():
            off = b.slot("action")
            if b.preset.get("product") == product_code and off is not None and "off" in off.choices:
                return b, {"product": product_code, "action": "off"}
        return None

    def get(self, code: str) -> Business:
        return self.by_code[code]

    def __contains__(self, code: str) -> bool:
        return code in self.by_code

    def __iter__(self) -> Iterator[Business]:
        return iter(self.by_code.values())

    def __len__(self) -> int:
        return len(self.by_code)

    def children(self, code: str) -> list[Business]:
        return [b for b in self.by_code.values() if b.parent == code]

    def in_category(self, category: str) -> list[Business]:
        return [b for b in self.by_code.values() if b.category == category]

    def menu_categories(self) -> list[Category]:
        return sorted((c for c in self.categories.values() if c.menu), key=lambda c: c.menu)

    def summaries(self) -> list[dict]:
        return [b.summary() for b in self.by_code.values()]


_DEFAULT_POLICY = Policy()
