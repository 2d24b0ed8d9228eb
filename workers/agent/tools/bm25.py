"""A tiny offline BM25 (Okapi) ranker: no downloads, no dependencies, microseconds a query."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from has have how i if in is it its my me "
    "not of on or our so that the their then there this to was we what when where which who "
    "why will with you your please hi hello thanks thank".split()
)


def _stem(word: str) -> str:
    # Crude plural/verb folding is enough for help-centre text: "refunds" ~ "refund".
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            if suffix in ("ing", "ed") and len(word) > 3 and word[-1] == word[-2]:
                word = word[:-1]  # "cancelling" -> "cancel", "shipped" -> "ship"
            return word
    return word


def tokenize(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


class BM25Index:
    """Ranks documents given as token lists; `k1` and `b` are the usual Okapi constants."""

    def __init__(self, docs: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self._k1 = k1
        self._b = b
        self._tf = [Counter(d) for d in docs]
        self._len = [len(d) for d in docs]
        self._avg_len = (sum(self._len) / len(docs)) if docs else 0.0
        df: Counter[str] = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        n = len(docs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: Sequence[str]) -> list[float]:
        out = [0.0] * len(self._tf)
        terms = [t for t in set(query) if t in self._idf]
        for i, tf in enumerate(self._tf):
            norm = self._k1 * (1 - self._b + self._b * self._len[i] / (self._avg_len or 1.0))
            score = 0.0
            for t in terms:
                f = tf.get(t, 0)
                if f:
                    score += self._idf[t] * f * (self._k1 + 1) / (f + norm)
            out[i] = score
        return out

    def top(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        ranked = sorted(enumerate(self.scores(query)), key=lambda p: (-p[1], p[0]))
        return [(i, s) for i, s in ranked[:k] if s > 0]
