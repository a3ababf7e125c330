"""How the customer feels, from what they wrote: enough to put an angry customer first in the queue.

A lexicon of complaint and anger cues, weighted, with intensifiers and punctuation; no model needed
for the few signals that matter here (is this customer angry; are they complaining).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# cue → weight. Anger: insults and threats; complaint: the customer says something went wrong.
_ANGER = {
    "垃圾": 3, "骗子": 3, "骗钱": 3, "坑人": 3, "坑爹": 3, "流氓": 3, "无耻": 3, "气死": 3, "滚": 2, "妈的": 3,
    "他妈": 3, "tmd": 3, "什么破": 2, "破移动": 3, "烂": 1, "太差劲": 2, "差劲": 2, "恶心": 2, "忍无可忍": 3,
    "受够了": 3, "搞什么": 2, "有病": 2, "乱扣": 3, "乱收费": 3, "偷扣": 3, "吸血": 3, "黑心": 3, "强制": 1,
    "曝光": 3, "工信部": 3, "消协": 3, "媒体": 2, "起诉": 3, "律师": 2, "报警": 2, "退钱": 2,
    "赔钱": 2, "赔偿": 2, "投诉你们": 3, "告你们": 3, "怎么回事": 1, "凭什么": 2, "到底": 1, "离谱": 2,
    "火大": 3, "生气": 2, "愤怒": 3, "不像话": 2, "太过分": 3, "过分": 2, "莫名其妙": 2, "销户": 1,
}
_COMPLAINT = {"投诉": 2, "不满意": 2, "不满": 2, "问题一直": 2, "多次": 1, "好几次": 1, "没人管": 2, "没解决": 2,
              "还没解决": 2, "态度": 1, "催": 1, "扣费": 1, "扣了": 1, "多扣": 2, "没信号": 1, "网速慢": 1}
_POSITIVE = {"谢谢": 1, "感谢": 1, "满意": 1, "太好了": 2, "不错": 1, "很好": 1, "点赞": 2, "表扬": 2, "辛苦": 1}
_315 = re.compile(r"(?<!\d)315(?!\d)")
_NEGATED = re.compile(r"(不|没|没有)(满意|错|好)")


@dataclass(frozen=True)
class Sentiment:
    label: str          # angry | negative | neutral | positive
    score: float        # −1 (angry) … +1 (pleased)
    cues: tuple[str, ...] = ()

    @property
    def angry(self) -> bool:
        return self.label == "angry"

    def as_dict(self) -> dict:
        return {"label": self.label, "score": round(self.score, 2), "cues": list(self.cues)}


def analyse(text: str) -> Sentiment:
    t = text.lower()
    anger = [(c, w) for c, w in _ANGER.items() if c in t]
    if _315.search(t):   # 315 the consumer-rights day, not digits inside a number or a code
        anger.append(("315", 3))
    complaint = [(c, w) for c, w in _COMPLAINT.items() if c in t]
    positive = [(c, w) for c, w in _POSITIVE.items() if c in t and not _NEGATED.search(t)]
    heat = sum(w for _, w in anger) + 0.5 * sum(w for _, w in complaint)
    heat += 1.0 * min(3, len(re.findall(r"[!！]", t))) / 3 + (1 if re.search(r"[?？!！]{2,}", t) else 0)
    warmth = sum(w for _, w in positive)
    score = max(-1.0, min(1.0, (warmth - heat) / 4))
    cues = tuple(c for c, _ in anger + complaint)
    if sum(w for _, w in anger) >= 3 or heat >= 4:
        label = "angry"
    elif heat >= 1.5:
        label = "negative"
    elif warmth and not heat:
        label = "positive"
    else:
        label = "neutral"
    return Sentiment(label, score, cues)
