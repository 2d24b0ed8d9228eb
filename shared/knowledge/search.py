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

    def close(self) -> None:
        """Close the store's connections and a provider embedder's client."""
        self.cache.store.close()
        close = getattr(self.embedder, "close", None)
        if close is not None:
            close()

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
    lexical: list[tuple[int, float]] = []
    dense: list[SectionRef] = []
    if mode != "dense":
        lexical = index.lexical(terms, config.candidates, config.weights)
    if mode != "lexical" and vector is not None:
        dense = index.dense(vector, config.candidates)
    lex = dict(lexical)
    den: dict[int, SectionRef] = {}
    for ref in dense:  # best first: an article's first section in the list is its best
        den.setdefault(ref.article, ref)
    if mode == "lexical":
        eligible = list(lex)
    else:
        eligible = [a for a, ref in den.items() if ref.score >= config.min_similarity]
        if mode == "hybrid":
            eligible += _covered(index, lex, eligible, terms, config, limit)
    if config.fusion == "rrf" and mode == "hybrid":
        scores = _rrf(eligible, list(lex), list(den), config)
    else:
        scores = {a: _fused(den.get(a), lex.get(a), config, mode) for a in eligible}
    ordered = sorted(scores, key=lambda a: (-scores[a], a))[:limit]
    return [_hit(index, a, _section(index, a, dense, terms), scores[a], terms) for a in ordered]


def _fused(den: SectionRef | None, bm25: float | None, config: SearchConfig, mode: Mode) -> float:
    lexical = bm25 or 0.0
    if mode == "lexical":
        return lexical
    cosine = den.score if den else 0.0
    if mode == "dense":
        return cosine
    return cosine + config.lexical_boost * lexical / (lexical + config.bm25_half)


def _rrf(
    eligible: list[int], lexical: list[int], dense: list[int], config: SearchConfig
) -> dict[int, float]:
    """Reciprocal rank fusion of the two article rankings (kept to compare, not shipped)."""
    scores = dict.fromkeys(eligible, 0.0)
    for weight, ranked in ((1.0, lexical), (config.dense_weight, dense)):
        for n, article in enumerate(ranked, start=1):
            if article in scores:
                scores[article] += weight / (config.rrf_k + n)
    return scores


def _covered(
    index: KnowledgeIndex,
    lex: dict[int, float],
    eligible: list[int],
    terms: list[str],
    config: SearchConfig,
    limit: int,
) -> list[int]:
    """Lexical-only articles that hold enough of the query's terms, best BM25 first, only as
    many as could still make the answer: with score fusion an article without a relevant
    vector scores below every article with one (lexical_boost < min_similarity)."""
    wanted = limit if config.fusion == "rrf" else limit - len(eligible)
    unique = set(terms)
    found: list[int] = []
    checked = 0
    for article in lex:
        if len(found) >= wanted or checked >= 3 * limit:
            break
        if article in eligible:
            continue
        checked += 1
        meta = index.article_meta(article)
        text = "\n".join(f"{h}\n{t}" for _, h, t in index.sections_of(article))
        held = set(index.query_terms(f"{meta['title']}\n{text}"))
        if len(unique & held) >= config.min_coverage * len(unique):
            found.append(article)
    return found


def _section(index: KnowledgeIndex, article: int, dense: list[SectionRef], terms: list[str]) -> int:
    """The passage to show: the article's section closest to the query's vector, else the
    one holding the most of its terms (the first on a tie)."""
    for ref in dense:
        if ref.article == article:
            return ref.row
    sections = index.sections_of(article)
    wanted = set(terms)
    best = max(sections, key=lambda s: len(wanted & set(index.query_terms(f"{s[1]}\n{s[2]}"))))
    return best[0]


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
