"""Hybrid search over one tenant's help centre: fielded BM25 and dense vectors, fused.

Each retriever ranks sections; an article takes the rank of its best section in each list,
and reciprocal rank fusion (`sum of weight / (k + rank)`) orders the articles. Dense hits
below `min_similarity` are not hits at all, so a question the help centre does not cover
finds nothing rather than the least bad article: the agent then says so or escalates.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.knowledge.analyze import language_script, script_of
from shared.knowledge.cache import IndexCache
from shared.knowledge.embed import Embedder, estimate_tokens
from shared.knowledge.index import KnowledgeIndex, SectionRef, Vectors, Weights
from shared.knowledge.spend import CallBudget, embedding_cost_micros
from shared.pricing import PriceTable

Mode = Literal["hybrid", "lexical", "dense"]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "dense")
SNIPPET_CHARS = 300
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True, slots=True)
class SearchConfig:
    weights: Weights = field(default_factory=Weights)
    fusion: Literal["score", "rrf"] = "score"
    # score fusion: cosine + lexical_boost * bm25 / (bm25 + bm25_half)
    lexical_boost: float = 0.02
    bm25_half: float = 5.0
    # rrf: sum over the two lists of weight / (rrf_k + rank)
    rrf_k: int = 60
    dense_weight: float = 1.0
    candidates: int = 50  # sections each retriever hands to fusion
    # A hit is relevant when its cosine reaches min_similarity, or when its best lexical
    # section holds at least min_coverage of the query's terms (exact words: codes, names).
    min_similarity: float = 0.15
    min_coverage: float = 0.5


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    title: str
    url: str
    source: str
    section: str
    score: float
    snippet: str
    text: str  # the whole section: the passage the agent reads

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "section": self.section,
            "score": round(self.score, 6),
            "snippet": self.snippet,
        }


class Searcher:
    """Searches any tenant's index through the process's cache; thread-safe."""

    def __init__(
        self,
        cache: IndexCache,
        embedder: Embedder,
        prices: PriceTable | None = None,
        config: SearchConfig | None = None,
    ) -> None:
        self.cache = cache
        self.embedder = embedder
        self.config = config or SearchConfig()
        self._prices = prices

    def search(
        self,
        tenant: str,
        query: str,
        limit: int = 3,
        *,
        budget: CallBudget | None = None,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        """Up to `limit` articles of `tenant`, best first; [] when none is relevant.

        With provider embeddings, the query's embedding is drawn from `budget` (the ticket's
        reservation); without a budget, or when it does not fit, the search is lexical."""
        index = self.cache.get(tenant)
        if index is None or not query.strip():
            return []
        vector = None
        if mode != "lexical":
            vector = self._query_vector(index, query, budget)
        return rank(index, query, vector, self.config, limit, mode)

    def _query_vector(
        self, index: KnowledgeIndex, query: str, budget: CallBudget | None
    ) -> Vectors | None:
        if index.vectors is None or index.meta.get("embedder") != self.embedder.name:
            return None  # imported with another embedder: its vectors are not comparable
        if script_of(query) not in {language_script(lang) for lang in index.languages}:
            return None  # a script no article is written in: vectors would only be noise
        model = self.embedder.priced_model
        if model is None:
            vector: Vectors = self.embedder.embed([query]).vectors[0]
            return vector
        if budget is None or self._prices is None:
            return None
        call_id = f"kb-query-{uuid.uuid4().hex[:12]}"
        worst = embedding_cost_micros(self._prices, model, estimate_tokens([query]))
        if not budget.draw(call_id, worst):
            return None
        tokens = 0
        try:
            embedded = self.embedder.embed([query])
            tokens = embedded.tokens
            paid: Vectors = embedded.vectors[0]
            return paid
        finally:
            budget.settle(call_id, embedding_cost_micros(self._prices, model, tokens))


def rank(
    index: KnowledgeIndex,
    query: str,
    vector: Vectors | None,
    config: SearchConfig,
    limit: int,
    mode: Mode = "hybrid",
) -> list[Hit]:
    terms = index.query_terms(query)
    lexical: list[SectionRef] = []
    dense: list[SectionRef] = []
    if mode != "dense":
        lexical = index.lexical(terms, config.candidates, config.weights)
    if mode != "lexical" and vector is not None:
        dense = index.dense(vector, config.candidates)
    lex = _best_by_article(lexical)
    den = _best_by_article(dense)
    if mode == "lexical":
        eligible = list(lex)
    else:
        eligible = [a for a, ref in den.items() if ref.score >= config.min_similarity]
        if mode == "hybrid":
            eligible += [
                a for a in lex if a not in eligible and _covers(index, lex[a], terms, config)
            ]
    if config.fusion == "rrf" and mode == "hybrid":
        scores = _rrf(eligible, lexical, dense, config)
    else:
        scores = {a: _fused(den.get(a), lex.get(a), config, mode) for a in eligible}
    ordered = sorted(scores, key=lambda a: (-scores[a], a))[:limit]
    return [
        _hit(index, a, _section(a, lexical, dense, config, mode), scores[a], terms) for a in ordered
    ]


def _best_by_article(refs: list[SectionRef]) -> dict[int, SectionRef]:
    best: dict[int, SectionRef] = {}
    for ref in refs:  # best first: an article's first section is its best
        best.setdefault(ref.article, ref)
    return best


def _fused(
    den: SectionRef | None, lex: SectionRef | None, config: SearchConfig, mode: Mode
) -> float:
    lexical = lex.score if lex else 0.0
    if mode == "lexical":
        return lexical
    cosine = den.score if den else 0.0
    if mode == "dense":
        return cosine
    return cosine + config.lexical_boost * lexical / (lexical + config.bm25_half)


def _rrf(
    eligible: list[int], lexical: list[SectionRef], dense: list[SectionRef], config: SearchConfig
) -> dict[int, float]:
    scores = dict.fromkeys(eligible, 0.0)
    for weight, refs in ((1.0, lexical), (config.dense_weight, dense)):
        ranked = list(_best_by_article(refs))
        for n, article in enumerate(ranked, start=1):
            if article in scores:
                scores[article] += weight / (config.rrf_k + n)
    return scores


def _covers(index: KnowledgeIndex, ref: SectionRef, terms: list[str], config: SearchConfig) -> bool:
    """Whether the section (with its article's title) holds enough of the query's terms."""
    if not terms:
        return False
    heading, text = index.section(ref.row)
    title = index.article_meta(ref.article)["title"]
    found = set(index.query_terms(f"{title}\n{heading}\n{text}"))
    return sum(t in found for t in set(terms)) >= config.min_coverage * len(set(terms))


def _section(
    article: int,
    lexical: list[SectionRef],
    dense: list[SectionRef],
    config: SearchConfig,
    mode: Mode,
) -> int:
    """The article's section that scores best on its own: the passage to show."""
    cos = {r.row: r.score for r in dense if r.article == article}
    bm25 = {r.row: r.score for r in lexical if r.article == article}
    rows = set(cos) | set(bm25)

    def own(row: int) -> float:
        lexical = bm25.get(row, 0.0)
        if mode == "lexical":
            return lexical
        return cos.get(row, 0.0) + config.lexical_boost * lexical / (lexical + config.bm25_half)

    return max(sorted(rows), key=own)


def _hit(index: KnowledgeIndex, article: int, row: int, score: float, terms: list[str]) -> Hit:
    meta = index.article_meta(article)
    heading, text = index.section(row)
    return Hit(
        id=meta["id"],
        title=meta["title"],
        url=meta["url"],
        source=meta["source"],
        section=heading,
        score=score,
        snippet=snippet(index, text, terms),
        text=text,
    )


def snippet(index: KnowledgeIndex, text: str, terms: Sequence[str]) -> str:
    """From the sentence with the most query terms, up to SNIPPET_CHARS."""
    wanted = set(terms)
    start, best = 0, 0
    if wanted:
        starts = _sentence_starts(text)
        for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
            found = len(wanted.intersection(index.query_terms(text[begin:end])))
            if found > best:
                start, best = begin, found
    cut = text[start : start + SNIPPET_CHARS]
    prefix = "…" if start else ""
    if start + SNIPPET_CHARS < len(text):
        cut = cut.rsplit(" ", 1)[0] + "…"
    return prefix + cut.replace("\n", " ")


def _sentence_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _SENTENCE.finditer(text) if m.end() < len(text)]
