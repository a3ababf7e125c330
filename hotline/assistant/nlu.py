"""小贝's understanding: which business (or dialogue act) an utterance asks for, how sure, and its slots.

The model is built from the catalogue itself: every business's example utterances and names, plus the
dialogue acts and out-of-scope examples in ``data/acts.toml``. Features are character n-grams, jieba
words and pinyin syllables of the text with its entities masked (so "十二月的流量" and "三月的流量"
look alike, and the homophone 刘量 still reads *liu liang*); a linear SVM scores the intents and a
temperature fitted on cross-validated scores turns them into calibrated probabilities. Anything below
the out-of-scope threshold, fitted the same way, is ``out_of_scope``.

Training takes about a minute; the model is cached under a key of the catalogue's content, so it is
rebuilt only when the catalogue (or this code) changes, and loads in well under a second.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import time
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jieba
import joblib
import numpy as np
import sklearn
from pypinyin import Style, lazy_pinyin
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from hotline.assistant.entities import Entity, EntityExtractor
from hotline.catalog.catalog import Catalog

log = logging.getLogger("hotline.nlu")

MODEL_VERSION = "1"
OOS = "out_of_scope"
ACTS = ("act.affirm", "act.deny", "act.greet", "act.thanks", "act.goodbye")
ACTS_FILE = Path(__file__).parent / "data" / "acts.toml"
CATALOG_DIR = Path(__file__).parent.parent / "catalog" / "data"

jieba.setLogLevel(logging.WARNING)

# Masked entities become one private-use character each, so n-grams treat them as one symbol.
_PLACEHOLDER = {"<money>": "\ue000", "<data>": "\ue001", "<month>": "\ue002", "<date>": "\ue003",
                "<phone>": "\ue004", "<product>": "\ue005", "<province>": "\ue006", "<city>": "\ue007",
                "<number>": "\ue008", "<msisdn>": "\ue004"}
_MASKS = set(_PLACEHOLDER.values())
# Words every pack or service name has: what is left tells one child business from its siblings.
_GENERIC = re.compile(r"（[^）]*）|\([^)]*\)|开通|办理|退订|取消|关闭|流量|套餐|业务|会员|定向|月包|日包|周包|包月|"
                      r"当月有效|语音|分钟|短信|国内|通用|服务|功能|呼叫|转移|[包的个元月]|\d+|gb?|mb?")


def _pairs(text: str) -> set[str]:
    t = text.replace(" ", "")
    return {t[i:i + 2] for i in range(len(t) - 1)}
# What a customer says about a pack's period, and which packs it fits.
_PERIODS = (
    (re.compile(r"月包|包月|每月|每个月|按月|连续包|自动续|长期"), lambda p: p.billing.value == "monthly"),
    (re.compile(r"当月|这个月|本月|临时|一次性|就这个月|月底"), lambda p: "当月" in p.name_zh),
    (re.compile(r"日包|一天|当天|今天|24小时"), lambda p: "日" in p.name_zh),
    (re.compile(r"周包|一周|一星期|7天|七天"), lambda p: "周" in p.name_zh),
)
_FILLERS = re.compile(r"^(?:(?:喂+|你好|您好|那个|嗯+|恩+|呃+|哎|唉|请问|麻烦(?:你|您)?|小贝)[,，。.!！~～ ]*)+")


def normalize(text: str) -> str:
    """NFKC (full-width → ASCII), lower case, collapsed spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def default_cache_dir() -> Path:
    """Where trained models are kept: ``HOTLINE_NLU_CACHE``, else the user's cache directory."""
    env = os.environ.get("HOTLINE_NLU_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hotline" / "nlu"


# ---------------------------------------------------------------------- training data
def load_acts(path: Path = ACTS_FILE) -> dict[str, list[str]]:
    """Dialogue acts and out-of-scope examples: code → utterances."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    acts: dict[str, list[str]] = {}
    for entry in data.get("act", []):
        acts.setdefault(entry["code"], []).extend(entry["examples"])
    return acts


def trained_as(catalog: Catalog, code: str) -> str:
    """The class a business is learnt as: a specific business that only fixes the product of its
    parent (order.data_pack.1g_month) is learnt as the parent; the product named picks it back."""
    b = catalog.by_code[code]
    parent = catalog.by_code.get(b.parent or "")
    if parent is not None and b.preset and set(b.preset) <= {"product", "plan"} and b.handler == parent.handler:
        return parent.code
    return code


def training_data(catalog: Catalog, acts: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """(texts, classes) from the catalogue's examples and names and the acts file."""
    texts: list[str] = []
    labels: list[str] = []
    seen: set[tuple[str, str]] = set()
    for b in catalog:
        label = trained_as(catalog, b.code)
        for t in (*b.examples, b.name_zh):
            key = normalize(t)
            if key and (key, label) not in seen:
                seen.add((key, label))
                texts.append(t)
                labels.append(label)
    for code, examples in acts.items():
        for t in examples:
            texts.append(t)
            labels.append(code)
    return texts, labels


def content_key(paths: Iterable[Path]) -> str:
    """A key over the training inputs and the model's own version: a change anywhere retrains."""
    h = hashlib.sha256(f"{MODEL_VERSION}:{sklearn.__version__}:{jieba.__version__}".encode())
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update((Path(__file__).parent / "entities.py").read_bytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------- features
class Featurizer:
    """Text → feature strings: char 1–3-grams, jieba words and word pairs, pinyin syllables and pairs.

    Numbers, sizes, sums, months, dates and phone numbers are masked: they say which one, not what for.
    Product names stay, and the product each one names (found even through a typo or homophone, 和才云)
    and its kind are features too. Businesses that only preset their parent's product are learnt as
    the parent ("开通咪咕音乐" and "开通和彩云" are both subscribe.vas); the product found in the text
    then picks the specific business (``NLU._specific``).
    """

    MASKED = {"money", "data", "month", "date", "msisdn", "phone", "number"}

    def __init__(self, extractor: EntityExtractor) -> None:
        self.extractor = extractor
        self.kinds = {code: p.kind.value for code, p in extractor.products.items()}

    def entities(self, norm: str, today: dt.date) -> list[Entity]:
        return self.extractor.extract(norm, today)

    def __call__(self, text: str, entities: Sequence[Entity] | None = None) -> list[str]:
        norm = normalize(text)
        if entities is None:
            entities = self.entities(norm, _TRAIN_DAY)
        out, pos, extra = [], 0, []
        for e in entities:
            if e.type in self.MASKED:
                out.append(norm[pos:e.start])
                out.append(_PLACEHOLDER.get(f"<{e.type}>", "\ue008"))
                pos = e.end
            if e.type == "product":
                extra += [f"prod:{e.value}", f"kind:{self.kinds.get(str(e.value), '')}"]
        out.append(norm[pos:])
        t = "".join(out)
        t = _FILLERS.sub("", t) or t
        compact = t.replace(" ", "")
        feats = [f"c:{compact[i:i + n]}" for n in (1, 2, 3) for i in range(len(compact) - n + 1)]
        words = [w for w in jieba.lcut(t) if w.strip()]
        feats += [f"w:{w}" for w in words]
        feats += [f"w2:{a}|{b}" for a, b in zip(words, words[1:])]
        syl = [s for s in lazy_pinyin(compact, style=Style.NORMAL, errors="ignore") if s.isalpha()]
        feats += [f"p:{s}" for s in syl]
        feats += [f"p2:{a}{b}" for a, b in zip(syl, syl[1:])]
        if len(compact) <= 3:
            feats.append(f"short:{compact}")
        return feats + extra


_TRAIN_DAY = dt.date(2026, 6, 15)   # relative months in training examples resolve against any fixed day


# ---------------------------------------------------------------------- results
@dataclass(frozen=True)
class Understanding:
    text: str
    intent: str
    confidence: float
    entities: tuple[Entity, ...] = ()
    alternatives: tuple[tuple[str, float], ...] = ()   # the next best intents with their probabilities
    scored: str = ""          # what the classifier said before specificity and rejection

    @property
    def slots(self) -> dict[str, Any]:
        """Entity type → value (a list when the utterance holds several of one type)."""
        out: dict[str, Any] = {}
        for e in self.entities:
            if e.type in out:
                prev = out[e.type]
                out[e.type] = (prev if isinstance(prev, list) else [prev]) + [e.value]
            else:
                out[e.type] = e.value
        return out

    def first(self, type_: str) -> Entity | None:
        return next((e for e in self.entities if e.type == type_), None)

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "intent": self.intent, "confidence": round(self.confidence, 4),
                "slots": self.slots, "alternatives": [[c, round(p, 4)] for c, p in self.alternatives]}


@dataclass
class Metrics:
    cv_accuracy: float = 0.0
    cv_in_scope_accuracy: float = 0.0
    cv_oos_recall: float = 0.0
    examples: int = 0
    intents: int = 0
    seconds: float = 0.0
    folds: int = 0


# ---------------------------------------------------------------------- the model
@dataclass
class IntentModel:
    vectorizer: TfidfVectorizer
    clf: LinearSVC
    classes: np.ndarray
    temperature: float
    threshold: float
    key: str
    metrics: Metrics = field(default_factory=Metrics)

    def scores(self, X) -> np.ndarray:
        return self.clf.decision_function(X)

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        return _softmax(scores / self.temperature)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _identity(features: list[str]) -> list[str]:
    return features


MIN_DF = 2   # a feature seen in one example only is noise (and most of the model's size)
C = 1.0   # the SVM's regularisation, chosen by cross-validation on the training examples


def train(catalog: Catalog, extractor: EntityExtractor, *, acts: dict[str, list[str]] | None = None,
          key: str = "", folds: int = 4, seed: int = 7) -> IntentModel:
    """Fit the intent model; the temperature and the out-of-scope threshold come from cross-validation."""
    started = time.perf_counter()
    acts = load_acts() if acts is None else acts
    texts, labels = training_data(catalog, acts)
    featurizer = Featurizer(extractor)
    y = np.array(labels)
    # Cross-validated scores: what the model says about examples it has not seen.
    counts = Counter(labels)
    k = max(2, min(folds, min(counts.values())))
    cv_scores: np.ndarray | None = None
    classes: np.ndarray | None = None
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    cv_pred = np.empty(len(texts), dtype=object)
    # Features are computed once; each fold refits the weighting and the classifier on its own part.
    feats = [featurizer(t) for t in texts]
    for tr, te in skf.split(texts, y):
        vec = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, min_df=MIN_DF, dtype=np.float32)
        Xtr = vec.fit_transform([feats[i] for i in tr])
        clf = LinearSVC(C=C, max_iter=5000).fit(Xtr, y[tr])
        s = clf.decision_function(vec.transform([feats[i] for i in te]))
        if cv_scores is None:
            classes = clf.classes_
            cv_scores = np.zeros((len(texts), len(classes)), dtype=np.float32)
        assert classes is not None   # set with cv_scores by the first fold
        # a fold may miss a rare class; align columns by name
        col = {c: j for j, c in enumerate(classes)}
        full = np.full((len(te), len(classes)), -10.0, dtype=np.float32)
        for j, c in enumerate(clf.classes_):
            full[:, col[c]] = s[:, j]
        cv_scores[te] = full
        cv_pred[te] = classes[full.argmax(axis=1)]
    assert cv_scores is not None and classes is not None
    truth_idx = np.array([np.where(classes == c)[0][0] for c in labels])

    def nll(t: float) -> float:
        p = _softmax(cv_scores / t)
        return float(-np.log(p[np.arange(len(texts)), truth_idx] + 1e-12).mean())

    temperature = float(minimize_scalar(nll, bounds=(0.01, 5.0), method="bounded").x)
    probs = _softmax(cv_scores / temperature)
    top = probs.max(axis=1)
    threshold = _fit_threshold(top, cv_pred, y)
    final = np.where(top < threshold, OOS, cv_pred)
    in_scope = y != OOS
    metrics = Metrics(
        cv_accuracy=float((final == y).mean()),
        cv_in_scope_accuracy=float((final[in_scope] == y[in_scope]).mean()),
        cv_oos_recall=float((final[~in_scope] == OOS).mean()) if (~in_scope).any() else 0.0,
        examples=len(texts), intents=len(classes), folds=k)
    vec = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, min_df=MIN_DF, dtype=np.float32)
    clf = LinearSVC(C=C, max_iter=5000).fit(vec.fit_transform(feats), y)
    clf.coef_ = clf.coef_.astype(np.float32)      # half the size on disk, same decisions
    clf.intercept_ = clf.intercept_.astype(np.float32)
    metrics.seconds = time.perf_counter() - started
    return IntentModel(vec, clf, clf.classes_, temperature, threshold, key, metrics)


def _fit_threshold(top: np.ndarray, pred: np.ndarray, truth: np.ndarray) -> float:
    """The confidence below which an answer is rejected as out of scope: best accuracy on held-out data."""
    best, best_acc = 0.0, -1.0
    for t in np.linspace(0.05, 0.6, 56):
        acc = float((np.where(top < t, OOS, pred) == truth).mean())
        if acc > best_acc + 1e-9:
            best, best_acc = float(t), acc
    return best


# ---------------------------------------------------------------------- understanding at run time
class NLU:
    """Loaded model + entity extractor + the catalogue's nesting, ready to understand utterances."""

    def __init__(self, model: IntentModel, extractor: EntityExtractor, catalog: Catalog,
                 clock_today=None) -> None:
        self.model = model
        self.extractor = extractor
        self.featurizer = Featurizer(extractor)
        self.catalog = catalog
        self._today = clock_today or dt.date.today
        self._children: dict[str, list[tuple[str, str]]] = {}   # parent → [(child, preset product)]
        self._marks: dict[str, set[str]] = {}                  # child → character pairs only its names have
        for b in catalog:
            product = b.preset.get("product") or b.preset.get("plan")
            if b.parent and product:
                self._children.setdefault(b.parent, []).append((b.code, product))
                p = extractor.products.get(product)
                names = [b.name_zh] + ([p.name_zh] if p else [])
                self._marks[b.code] = {m for n in names for m in _pairs(_GENERIC.sub("", normalize(n)))}

    @classmethod
    def build(cls, catalog: Catalog, products, *, cache_dir: Path | None = None, retrain: bool = False,
              clock_today=None) -> NLU:
        """Load the cached model for this catalogue, training (and caching) it first if needed."""
        extractor = EntityExtractor(products)
        model = load_or_train(catalog, extractor, cache_dir=cache_dir, retrain=retrain)
        return cls(model, extractor, catalog, clock_today)

    def understand(self, text: str, *, expect: Sequence[str] = (), within: str = "") -> Understanding:
        """The intent of one utterance. ``expect`` lists intents the dialogue is waiting for (a
        yes/no after a confirmation): they win over a marginally better guess. ``within`` keeps to the
        intents whose code starts with it."""
        norm = normalize(text)
        if not norm.strip(" ?？。.!！,，~～…"):
            return Understanding(text, OOS, 1.0)
        entities = tuple(self.extractor.extract(norm, self._today()))
        feats = self.featurizer(norm, entities)
        X = self.model.vectorizer.transform([feats])
        probs = self.model.probabilities(self.model.scores(X))[0]
        if within:   # the dialogue's context says which kind of business this is ("那话费呢" after a query)
            inside = np.char.startswith(self.model.classes.astype(str), within)
            if inside.any():
                probs = np.where(inside, probs, 0.0)
                probs = probs / probs.sum()
        order = np.argsort(-probs)[:4]
        best = str(self.model.classes[order[0]])
        conf = float(probs[order[0]])
        if not expect and not self._known(feats):   # nothing in it the model has seen: 阿巴阿巴
            return Understanding(text, OOS, 1.0 - conf, entities, (), best)
        alts = tuple((str(self.model.classes[i]), float(probs[i])) for i in order[1:])
        if expect:
            for code, p in alts:
                if code in expect and p >= conf * 0.5:
                    best, conf = code, p
                    break
        scored = best
        if conf < self.model.threshold and best not in expect:
            best = OOS
        best = self._specific(best, entities, norm)
        return Understanding(text, best, conf, entities, alts, scored)

    def _by_marks(self, code: str, text: str) -> str | None:
        """A child whose distinctive name part the text shares (欧洲 of 欧洲流量日包, 遇忙 of 遇忙转移)."""
        pairs = _pairs(normalize(text))
        scored = sorted(((len(self._marks.get(child, set()) & pairs), child)
                         for child, _ in self._children.get(code, [])), reverse=True)
        if scored and scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
            return scored[0][1]
        return None

    def _known(self, feats: list[str]) -> bool:
        """Whether the utterance has a word or a character pair the training examples have too."""
        vocab = self.model.vectorizer.vocabulary_
        return any(f in vocab for f in feats
                   if f.startswith("w:") or (f.startswith("c:") and len(f) >= 4 and not _MASKS & set(f[2:])))

    def _specific(self, code: str, entities: Sequence[Entity], text: str = "") -> str:
        """The most specific business that fits: a named product picks the child business presetting it
        (under the recognised business, or beside it when a sibling names another product); without a
        name, a size (1G, 100分钟) and a period (当月, 月包, 日包) pick a pack when only one fits."""
        products = {e.value for e in entities if e.type == "product"}
        b = self.catalog.by_code.get(code)
        if b is None:
            return code
        for parent in (code, b.parent or ""):
            for child, product in self._children.get(parent, []):
                if product in products:
                    return child
        named = self._by_marks(code, text)
        if named:
            return named
        sizes = {e.value for e in entities if e.type == "data"}
        minutes = {e.value for e in entities if e.type == "number" and text[e.end:e.end + 2] == "分钟"}
        if not sizes and not minutes:
            return code
        fits = []
        for child, product in self._children.get(code, []):
            p = self.extractor.products.get(product)
            if p is not None and (p.data_mb in sizes or p.voice_min in minutes):
                fits.append((child, p))
        for cue, test in _PERIODS:
            if len(fits) > 1 and cue.search(text):
                fits = [(c, p) for c, p in fits if test(p)]
        return fits[0][0] if len(fits) == 1 else code


_LOADED: dict[str, IntentModel] = {}   # models already loaded in this process, by content key


def load_or_train(catalog: Catalog, extractor: EntityExtractor, *, cache_dir: Path | None = None,
                  retrain: bool = False) -> IntentModel:
    cache_dir = cache_dir or default_cache_dir()
    key = content_key([*CATALOG_DIR.glob("*.toml"), ACTS_FILE, *_product_files()])
    if key in _LOADED and not retrain:
        return _LOADED[key]
    model = _load_or_train(catalog, extractor, cache_dir, key, retrain)
    _LOADED[key] = model
    return model


def _load_or_train(catalog: Catalog, extractor: EntityExtractor, cache_dir: Path, key: str,
                   retrain: bool) -> IntentModel:
    path = cache_dir / f"intent-{key}.joblib"
    if path.exists() and not retrain:
        try:
            model = joblib.load(path, mmap_mode="r")   # the weights are mapped, not read: loads in a blink
            if isinstance(model, IntentModel) and model.key == key:
                return model
        except Exception:  # a corrupt or foreign cache file: rebuild it
            log.warning("nlu: could not load %s; retraining", path)
    log.info("nlu: training the intent model (catalogue changed or first run)")
    model = train(catalog, extractor, key=key)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    joblib.dump(model, tmp)
    os.replace(tmp, path)
    for old in cache_dir.glob("intent-*.joblib"):   # models of earlier catalogues are never used again
        if old != path:
            old.unlink(missing_ok=True)
    return model


def _product_files() -> list[Path]:
    """The product data the features read: the products and the words customers call them by."""
    here = Path(__file__).parent
    return [here.parent / "bss" / "products.toml", here / "data" / "product_words.toml"]
