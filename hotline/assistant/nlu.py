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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

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
_PLACEHOLDER_RE = re.compile("|".join(re.escape(k) for k in _PLACEHOLDER))
_FILLERS = re.compile(r"^(?:喂+|你好|您好|那个|嗯+|呃+|哎|唉|请问|麻烦)[,，。.!！ ]*")


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


def training_data(catalog: Catalog, acts: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """(texts, intents) from the catalogue's examples and names and the acts file."""
    texts: list[str] = []
    labels: list[str] = []
    for b in catalog:
        if "assistant" not in b.channels and not b.examples:
            continue
        seen = set()
        for t in (*b.examples, b.name_zh):
            key = normalize(t)
            if key and key not in seen:
                seen.add(key)
                texts.append(t)
                labels.append(b.code)
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
    """Text → feature strings: char 1–3-grams, jieba words and word pairs, pinyin syllables and pairs."""

    def __init__(self, extractor: EntityExtractor) -> None:
        self.extractor = extractor

    def masked(self, text: str) -> str:
        text = _FILLERS.sub("", normalize(text)) or normalize(text)
        return _PLACEHOLDER_RE.sub(lambda m: _PLACEHOLDER[m.group(0)], self.extractor.mask(text))

    def __call__(self, text: str) -> list[str]:
        t = self.masked(text)
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
        return feats


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


C = 0.6   # the SVM's regularisation, chosen by cross-validation on the training examples


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
        vec = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, dtype=np.float32)
        Xtr = vec.fit_transform([feats[i] for i in tr])
        clf = LinearSVC(C=C, class_weight="balanced", max_iter=5000).fit(Xtr, y[tr])
        s = clf.decision_function(vec.transform([feats[i] for i in te]))
        if cv_scores is None:
            classes = clf.classes_
            cv_scores = np.zeros((len(texts), len(classes)), dtype=np.float32)
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
    vec = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, dtype=np.float32)
    clf = LinearSVC(C=C, class_weight="balanced", max_iter=5000).fit(vec.fit_transform(feats), y)
    vec.analyzer = featurizer
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
        self.catalog = catalog
        self._today = clock_today or dt.date.today
        self._children: dict[str, list[tuple[str, str]]] = {}   # parent → [(child, preset product)]
        for b in catalog:
            product = b.preset.get("product") or b.preset.get("plan")
            if b.parent and product:
                self._children.setdefault(b.parent, []).append((b.code, product))
        self.model.vectorizer.analyzer = Featurizer(extractor)

    @classmethod
    def build(cls, catalog: Catalog, products, *, cache_dir: Path | None = None, retrain: bool = False,
              clock_today=None) -> "NLU":
        """Load the cached model for this catalogue, training (and caching) it first if needed."""
        extractor = EntityExtractor(products)
        model = load_or_train(catalog, extractor, cache_dir=cache_dir, retrain=retrain)
        return cls(model, extractor, catalog, clock_today)

    def understand(self, text: str, *, expect: Sequence[str] = ()) -> Understanding:
        """The intent of one utterance. ``expect`` lists intents the dialogue is waiting for (a
        yes/no after a confirmation): they win over a marginally better guess."""
        norm = normalize(text)
        if not norm.strip(" ?？。.!！,，~～…"):
            return Understanding(text, OOS, 1.0)
        entities = tuple(self.extractor.extract(norm, self._today()))
        X = self.model.vectorizer.transform([text])
        probs = self.model.probabilities(self.model.scores(X))[0]
        order = np.argsort(-probs)[:4]
        best = str(self.model.classes[order[0]])
        conf = float(probs[order[0]])
        alts = tuple((str(self.model.classes[i]), float(probs[i])) for i in order[1:])
        if expect:
            for code, p in alts:
                if code in expect and p >= conf * 0.5:
                    best, conf = code, p
                    break
        scored = best
        if conf < self.model.threshold and best not in expect:
            best = OOS
        best = self._specific(best, entities)
        return Understanding(text, best, conf, entities, alts, scored)

    def _specific(self, code: str, entities: Sequence[Entity]) -> str:
        """The most specific business that fits: a named product picks the child business presetting it
        (under the recognised business, or beside it when a sibling names another product)."""
        products = {e.value for e in entities if e.type == "product"}
        b = self.catalog.by_code.get(code)
        if not products or b is None:
            return code
        for parent in (code, b.parent or ""):
            for child, product in self._children.get(parent, []):
                if product in products:
                    return child
        return code


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
            model = joblib.load(path)
            if isinstance(model, IntentModel) and model.key == key:
                return model
        except Exception:  # a corrupt or foreign cache file: rebuild it
            log.warning("nlu: could not load %s; retraining", path)
    log.info("nlu: training the intent model (catalogue changed or first run)")
    model = train(catalog, extractor, key=key)
    cache_dir.mkdir(parents=True, exist_ok=True)
    model.vectorizer.analyzer = "char"   # the featurizer holds the extractor; it is re-attached on load
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    joblib.dump(model, tmp)
    os.replace(tmp, path)
    return model


def _product_files() -> list[Path]:
    return [Path(__file__).parent.parent / "bss" / "products.toml"]
