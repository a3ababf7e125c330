"""SMS segmentation: how many messages a reply costs, and where it is cut.

A message is GSM-7 when every character is in the GSM 03.38 alphabet (160 septets alone, 153 per
part when concatenated; extension characters such as ``{`` take two), otherwise UCS-2 (70 UTF-16
units alone, 67 per part). Replies are cut at line ends where possible so that no line is torn
across two phones' message bubbles, and never in the middle of a surrogate pair or escape.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

MAX_PARTS = 4
LIMITS = {"gsm7": (160, 153), "ucs2": (70, 67)}


def encoding_of(text: str) -> str:
    return "gsm7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "ucs2"


def _units(c: str, encoding: str) -> int:
    """What one character costs: septets for GSM-7, UTF-16 code units for UCS-2."""
    if encoding == "gsm7":
        return 2 if c in GSM7_EXTENSION else 1
    return 2 if ord(c) > 0xFFFF else 1


def length(text: str, encoding: str | None = None) -> int:
    encoding = encoding or encoding_of(text)
    return sum(_units(c, encoding) for c in text)


@dataclass(frozen=True)
class Segmented:
    encoding: str           # gsm7 | ucs2
    parts: list[str]        # the text of each message, in order

    @property
    def count(self) -> int:
        return len(self.parts)


def split(text: str) -> Segmented:
    """Cut ``text`` into as few messages as its encoding allows, preferring line ends."""
    enc = encoding_of(text)
    single, per_part = LIMITS[enc]
    if length(text, enc) <= single:
        return Segmented(enc, [text])
    parts: list[str] = []
    current, used = "", 0
    for line in text.splitlines(keepends=True):
        cost = length(line, enc)
        if used + cost <= per_part:
            current, used = current + line, used + cost
            continue
        if current:
            parts.append(current)
            current, used = "", 0
        for c in line:  # a line longer than a part: cut it at character boundaries
            u = _units(c, enc)
            if used + u > per_part:
                parts.append(current)
                current, used = "", 0
            current, used = current + c, used + u
    if current:
        parts.append(current)
    return Segmented(enc, parts)


def fit(text: str, overflow_note: str, summary: str | None = None) -> Segmented:
    """``text`` in at most ``MAX_PARTS`` messages.

    A longer reply becomes ``summary`` (when given) or as many whole lines as fit, followed by
    ``overflow_note`` (which points to the web portal for the full content).
    """
    seg = split(text)
    if seg.count <= MAX_PARTS:
        return seg
    if summary is not None:
        return split(f"{summary}\n{overflow_note}")
    lines = text.splitlines()
    while lines:
        lines.pop()
        candidate = split("\n".join(lines) + "\n" + overflow_note)
        if candidate.count <= MAX_PARTS:
            return candidate
    return split(overflow_note)
