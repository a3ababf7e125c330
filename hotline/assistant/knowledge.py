"""The knowledge base: articles (title, body, tags) answered by BM25 retrieval over jieba tokens.

Every consultation in the catalogue (a business whose handler is ``info``) is an article: its name is
the title, its reply is the body, its ``tags`` are the keywords and its examples the questions, so the answer a
customer gets by name, by SMS command or by a question in their own words is one text kept in one place.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

import jieba
from rank_bm25 import BM25Okapi

from hotline.catalog.catalog import Catalog

# Words that carry no topic: particles, politeness, the operator's own name.
_STOP = set("的 了 吗 呢 吧 啊 呀 嘛 么 我 你 您 他 她 它 我们 你们 是 在 有 和 与 或 就 都 也 还 又 要 想 能 可以 "
            "会 请问 请 一下 一个 这个 那个 怎么 怎样 如何 什么 多少 哪里 为什么 吗 喂 你好 您好 麻烦 帮 帮我 "
            "给 给我 下 个 中国移动 移动 小贝 谢谢 嗯 哦 呃".split())
_PUNCT = re.compile(r"^[\W_]+$")


@dataclass(frozen=True)
class Article:
    id: str            # the consultation's business code
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    tags: tuple[str, ...]
    questions: tuple[str, ...] = ()   # how customers ask it (the business's examples)

    def title(self, lang: str) -> str:
        return self.title_en if lang.startswith("en") else self.title_zh

    def body(self, lang: str) -> str:
        return self.body_en if lang.startswith("en") else self.body_zh


def tokens(text: str) -> list[str]:
    return [w for w in jieba.lcut_for_search(text.lower()) if w.strip() and w not in _STOP and not _PUNCT.match(w)]


class KnowledgeBase:
    def __init__(self, articles: list[Article]) -> None:
        self.articles = articles
        self.by_id = {a.id: a for a in articles}
        # The title and tags weigh more than the body: they are what a question names.
        corpus = [tokens(" ".join([a.title_zh] * 3 + list(a.tags) * 2 + list(a.questions) + [a.body_zh]))
                  for a in articles]
        self._bm25 = BM25Okapi(corpus) if corpus else None

    @classmethod
    def from_catalog(cls, catalog: Catalog, fields: dict[str, str]) -> KnowledgeBase:
        """An article per consultation; ``fields`` fill the reply templates ({portal} …)."""
        articles = []
        for b in catalog:
            if b.handler != "info" or "ok" not in b.reply:
                continue
            t = b.reply["ok"]
            articles.append(Article(b.code, b.name_zh, b.name_en, _fill(t.zh, fields), _fill(t.en, fields),
                                    tuple(b.tags), tuple(b.examples)))
        return cls(articles)

    def search(self, text: str, k: int = 3) -> list[tuple[Article, float]]:
        """The best articles for a question, best first, with their BM25 scores (0 = nothing in common)."""
        q = tokens(text)
        if not q or self._bm25 is None:
            return []
        scores = self._bm25.get_scores(q)
        best = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        return [(self.articles[i], float(scores[i])) for i in best if scores[i] > 0]


def _fill(template: str, fields: dict[str, str]) -> str:
    names = {n for _, n, _, _ in string.Formatter().parse(template) if n}
    return template.format(**{n: fields.get(n, "") for n in names}) if names else template
