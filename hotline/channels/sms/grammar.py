"""The SMS command grammar: what a text sent to 10086 asks for.

Letter codes are case-insensitive; full-width characters, spaces and stray punctuation are
normalised; ``#`` separates parameters (``BGMM#旧密码#新密码#新密码``); ``KT``/``QX`` and other
prefixes take a product's SMS code (``KTLL1``). Nothing here knows a particular business: every
command comes from the catalogue.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from hotline.catalog.catalog import Catalog, command_key
from hotline.catalog.schema import Business, SlotType
from hotline.domain.products import ProductCatalog

MAIN_PORT = "10086"
STRAY = "。，,.!！?？、~～;；:：\"'“”‘’()（）【】[]<>《》「」 \t\r\n"
YES = frozenset({"是", "Y", "YES", "1", "确认", "确定", "是的"})
_SERIALS = re.compile(r"[0-9]{1,3}(?:\s*[,，、]\s*[0-9]{1,3}){0,49}")   # whole text (fullmatch)


def normalize(text: str) -> str:
    """NFKC (full-width → ASCII), single spaces, no stray punctuation around the message."""
    t = " ".join(unicodedata.normalize("NFKC", text).split())
    stripped = t.strip(STRAY)
    return stripped if stripped else t.strip()


def is_yes(text: str) -> bool:
    return command_key(normalize(text)) in YES


def serials(text: str) -> list[str] | None:
    """``1,3`` / ``1，3`` / ``2`` → ['1', '3']; None when the text is not a list of serial numbers."""
    t = normalize(text)
    if not _SERIALS.fullmatch(t):
        return None
    return [s for s in re.split(r"\s*[,，、]\s*", t) if s]


def password_reply(text: str) -> tuple[str, bool] | None:
    """A reply to the password prompt: (password, was_short) or None when it is not one.

    A six-digit password is sent as is; a shorter one (legacy) must carry a leading ``*``.
    """
    t = command_key(normalize(text))
    if re.fullmatch(r"[0-9]{6}", t):
        return t, False
    m = re.fullmatch(r"\*([0-9]{1,6})", t)
    if m:
        return m.group(1), len(m.group(1)) < 6
    return None


@dataclass
class Parsed:
    business: Business
    params: dict[str, Any] = field(default_factory=dict)   # raw values, bound by the service layer
    command: str = ""


def parse(catalog: Catalog, products: ProductCatalog, port: str, text: str) -> Parsed | None:
    t = normalize(text)
    catch_all = catalog.catch_all.get(port)
    if catch_all is not None:
        parts = [p.strip() for p in re.split(r"[*＊]", t, maxsplit=max(len(catch_all.sms.args) - 1, 0))]
        return Parsed(catch_all, dict(zip(catch_all.sms.args, parts)), "")
    head_raw, *args = t.split("#")
    head = command_key(head_raw)
    args = [a.strip() for a in args]
    b = catalog.commands.get((port, head)) or catalog.commands.get((MAIN_PORT, head))
    if b is not None:
        params = dict(zip(b.sms.args, args))
        for cmd, values in b.sms.sets.items():
            if command_key(cmd) == head:
                params.update(values)
        return Parsed(b, params, head)
    for prefix in sorted(catalog.prefixes, key=len, reverse=True):
        if not head.startswith(prefix):
            continue
        code = head[len(prefix):] or (command_key(args[0]) if args else "")
        product = products.by_sms_code(code)
        if product is None:
            continue
        for generic in catalog.prefixes[prefix]:
            slot = next(s for s in generic.slots if s.type is SlotType.PRODUCT)
            if product.kind.value not in slot.kinds:
                continue
            specific = next((c for c in catalog.children(generic.code)
                             if c.preset.get(slot.name) == product.code), None)
            if specific is not None:
                return Parsed(specific, {}, head)
            return Parsed(generic, {slot.name: product.code}, head)
    return None


def suggestions(catalog: Catalog, text: str, limit: int = 3) -> list[tuple[str, Business]]:
    """The closest commands to an unknown text: (command, business), letter codes and Chinese alike."""
    key = command_key(normalize(text)).split("#")[0]
    if not key:
        return []
    commands = {cmd: b for (port, cmd), b in catalog.commands.items() if port == MAIN_PORT}
    if key.isascii():
        pool = [c for c in commands if c.isascii()]
        hits = difflib.get_close_matches(key, pool, n=limit * 3, cutoff=0.5)
    else:
        chars = set(key)
        scored = []
        for cmd in commands:
            if cmd.isascii():
                continue
            overlap = len(chars & set(cmd)) / len(chars | set(cmd))
            if overlap > 0:
                scored.append((-overlap, len(cmd), cmd))
        hits = [cmd for _, _, cmd in sorted(scored)][: limit * 3]
    out: list[tuple[str, Business]] = []
    for cmd in hits:
        b = commands[cmd]
        if all(b.code != seen.code for _, seen in out):
            letter = next((command_key(c) for c in b.sms.commands if command_key(c).isascii()
                           and not command_key(c).isdigit()), cmd)
            out.append((letter, b))
        if len(out) == limit:
            break
    return out
