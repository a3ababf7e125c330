"""Measuring the NLU on a labelled file: accuracy, macro-F1, out-of-scope precision and recall, the
worst intents and the most frequent confusions.

The file is tab-separated with a header naming the columns ``text`` and ``intent``; an intent cell may
accept several codes separated by ``|``, and a prediction nested under an accepted code (more
specific) counts as right. Further columns are ignored.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

OOS = "out_of_scope"   # the NLU's label for requests the operator does not serve


@dataclass
class Report:
    total: int = 0
    correct: int = 0
    macro_f1: float = 0.0
    oos_precision: float = 0.0
    oos_recall: float = 0.0
    per_intent: dict[str, dict[str, float]] = field(default_factory=dict)
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)   # text, expected, predicted

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def worst(self, n: int = 10) -> list[tuple[str, dict[str, float]]]:
        return sorted(self.per_intent.items(), key=lambda kv: (kv[1]["f1"], -kv[1]["support"]))[:n]

    def as_dict(self, n: int = 10) -> dict:
        return {"total": self.total, "accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4),
                "oos_precision": round(self.oos_precision, 4), "oos_recall": round(self.oos_recall, 4),
                "worst": [{"intent": k, **{m: round(v, 4) for m, v in d.items()}} for k, d in self.worst(n)],
                "confusions": [{"expected": e, "predicted": p, "count": c} for e, p, c in self.confusions[:n]]}


def read_tsv(path: str | Path) -> list[tuple[str, tuple[str, ...]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    if "text" in header and "intent" in header:
        ti, ii, body = header.index("text"), header.index("intent"), rows[1:]
    else:
        ti, ii, body = 0, 1, rows
    return [(r[ti], tuple(c.strip() for c in r[ii].split("|") if c.strip())) for r in body if len(r) > max(ti, ii)]


def matches(predicted: str, accepted: Iterable[str]) -> str | None:
    """The accepted code the prediction counts for (equal, or nested under it), else None."""
    for code in accepted:
        if predicted == code or predicted.startswith(code + "."):
            return code
    return None


def evaluate(rows: list[tuple[str, tuple[str, ...]]], predict: Callable[[str], str]) -> Report:
    rep = Report()
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    support: Counter[str] = Counter()
    confusions: Counter[tuple[str, str]] = Counter()
    for text, accepted in rows:
        pred = predict(text)
        gold = accepted[0]
        hit = matches(pred, accepted)
        rep.total += 1
        support[hit or gold] += 1
        if hit:
            rep.correct += 1
            tp[hit] += 1
        else:
            fn[gold] += 1
            fp[pred] += 1
            confusions[(gold, pred)] += 1
            rep.errors.append((text, "|".join(accepted), pred))
    f1s = []
    for intent in support:
        p = tp[intent] / (tp[intent] + fp[intent]) if tp[intent] + fp[intent] else 0.0
        r = tp[intent] / (tp[intent] + fn[intent]) if tp[intent] + fn[intent] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        rep.per_intent[intent] = {"precision": p, "recall": r, "f1": f1, "support": support[intent]}
        f1s.append(f1)
    rep.macro_f1 = sum(f1s) / len(f1s) if f1s else 0.0
    oos_pred = tp[OOS] + fp[OOS]
    rep.oos_precision = tp[OOS] / oos_pred if oos_pred else 0.0
    rep.oos_recall = tp[OOS] / (tp[OOS] + fn[OOS]) if tp[OOS] + fn[OOS] else 0.0
    rep.confusions = [(e, p, c) for (e, p), c in confusions.most_common()]
    return rep
