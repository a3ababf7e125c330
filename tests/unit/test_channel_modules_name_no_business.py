"""One flow, one catalogue: no channel module names a business code, a handler or an SMS command word.

Channels (SMS, web chat, the desk, the API, and their pages) only translate input into the flow's events
and its steps into output; what a business is and how it is said lives in the catalogue. This is the
"one grep" of the architecture, as a test: every string literal of every channel module is compared with
the catalogue's business codes, handler names and SMS commands (service numbers, which are addresses,
excepted).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from hotline.catalog.catalog import command_key
from hotline.catalog.loader import load_catalog
from hotline.services.base import HANDLERS

ROOT = Path(__file__).resolve().parents[2] / "hotline"
CHANNEL_CODE = ("channels", "api", "desk")
CHANNEL_PAGES = ("ui",)
_JS_STRING = re.compile(r"""(["'])((?:\\.|(?!\1).){1,40})\1""")


def _codes() -> set[str]:
    return {b.code for b in load_catalog(handlers=HANDLERS)} | set(HANDLERS)


def _business_words() -> set[str]:
    catalog = load_catalog(handlers=HANDLERS)
    ports = {p for b in catalog for p in (*b.sms.ports, b.sms.reply_port)}
    words = {command_key(w) for b in catalog for w in (*b.sms.commands, *b.sms.prefixes, *b.sms.refuse_all)}
    return ({w for w in words if w} - ports) | _codes()


def test_no_channel_module_names_a_business_a_handler_or_a_command_word():
    words = _business_words()
    found = []
    for part in CHANNEL_CODE:
        for path in sorted((ROOT / part).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                        and command_key(node.value) in words:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    codes = _codes()     # pages: codes and handlers (their UI words — "td", "套餐" — are no commands there)
    for part in CHANNEL_PAGES:
        for path in sorted((ROOT / part).rglob("*.js")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                found += [f"{path.relative_to(ROOT)}:{n} {m.group(2)!r}" for m in _JS_STRING.finditer(line)
                          if m.group(2) in codes]
    assert not found, "business words in channel modules:\n" + "\n".join(found)


def test_the_check_would_see_one():
    """The comparison is live: a channel naming a command or a code would be caught."""
    words = _business_words()
    assert command_key("cxll") in words and "query.balance" in words and "product.cancel" in words
