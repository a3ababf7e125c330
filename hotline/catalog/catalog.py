"""The loaded catalogue: businesses by code, by category, and by SMS command."""

from __future__ import annotations

import unicodedata
from typing import Iterable, Iterator

from hotline.catalog.schema import Business, Category


def command_key(text: str) -> str:
    """The form SMS commands are matched in: NFKC (full-width → ASCII), upper case, no spaces."""
    return "".join(unicodedata.normalize("NFKC", text).upper().split())


class Catalog:
    def __init__(self, categories: Iterable[Category], businesses: Iterable[Business]) -> None:
        self.categories: dict[str, Category] = {c.code: c for c in categories}
        self.by_code: dict[str, Business] = {}
        self.commands: dict[tuple[str, str], Business] = {}   # (port, command key) → business
        self.prefixes: dict[str, list[Business]] = {}         # KT → [order.data_pack, subscribe.vas …]
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
