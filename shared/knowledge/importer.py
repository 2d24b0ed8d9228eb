"""An import: compare with what is served, embed what changed, publish a new version whole.

Idempotent by article id and content hash: an unchanged article keeps its vectors (nothing
is embedded or paid for twice) and an import that changes nothing publishes nothing. All or
nothing: the new version is built and written aside, then published in one atomic step, so
an import that fails or is killed half-way leaves the previous version served.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from shared.errors import ImportOverBudget, KnowledgeError
from shared.knowledge.embed import Embedder, estimate_tokens, section_texts
from shared.knowledge.index import KnowledgeIndex, Vectors
from shared.knowledge.model import Article, Parsed, Skip
from shared.knowledge.spend import CallBudget, embedding_cost_micros
from shared.knowledge.store import ImportLock, KnowledgeStore, new_version
from shared.money import fmt_usd, micros_to_usd
from shared.pricing import PriceTable

TENANT = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
DEFAULT_LOCALES = ("en",)
EMBED_BATCH = 256  # sections per embedding call; the import lock is renewed between batches
Progress = Callable[[str, int, int], None]


def check_tenant(tenant: str) -> str:
    if not TENANT.match(tenant):
        raise KnowledgeError(
            f"unknown tenant name {tenant[:60]!r}: letters, digits, '.', '_' and '-' only"
        )
    return tenant


@dataclass
class ImportSummary:
    tenant: str
    dry_run: bool
    version: str | None = None
    published: bool = False
    locales: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    embedder: str = ""
    embedded_sections: int = 0
    estimate_micros: int = 0
    cost_micros: int = 0
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "dry_run": self.dry_run,
            "version": self.version,
            "published": self.published,
            "locales": self.locales,
            "counts": {
                "added": len(self.added),
                "updated": len(self.updated),
                "unchanged": len(self.unchanged),
                "removed": len(self.removed),
                "skipped": len(self.skipped),
            },
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [{"ref": s.ref, "reason": s.reason} for s in self.skipped],
            "embedder": self.embedder,
            "embedded_sections": self.embedded_sections,
            "estimate_usd": micros_to_usd(self.estimate_micros),
            "cost_usd": micros_to_usd(self.cost_micros),
            "elapsed_s": round(self.elapsed_s, 3),
        }


class Importer:
    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        *,
        prices: PriceTable | None = None,
        spend: Callable[[str], CallBudget] | None = None,
        progress: Progress | None = None,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        """`spend(tenant)` pays for a priced embedder's vectors (the day's books)."""
        self._store = store
        self._embedder = embedder
        self._prices = prices
        self._spend = spend
        self._progress = progress or (lambda stage, done, total: None)
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))

    def run(
        self,
        tenant: str,
        parsed: Parsed,
        *,
        replace_all: bool = False,
        dry_run: bool = False,
        locales: Sequence[str] | None = None,
    ) -> ImportSummary:
        started = time.perf_counter()
        check_tenant(tenant)
        summary = ImportSummary(tenant, dry_run, embedder=self._embedder.name)
        summary.skipped = list(parsed.skipped)
        if dry_run:
            loaded = self._store.load(tenant)
            old = KnowledgeIndex.from_image(loaded[1]) if loaded else None
            self._plan(summary, old, parsed.articles, locales, replace_all)
        else:
            with self._store.locked(tenant) as lock:
                loaded = self._store.load(tenant)
                old = KnowledgeIndex.from_image(loaded[1]) if loaded else None
                summary.version = loaded[0] if loaded else None
                plan = self._plan(summary, old, parsed.articles, locales, replace_all)
                if plan is not None:
                    self._publish(lock, summary, old, *plan)
        summary.elapsed_s = time.perf_counter() - started
        return summary

    def delete(self, tenant: str, article_id: str) -> ImportSummary:
        """A new version without one article (the same atomic path as an import)."""
        check_tenant(tenant)
        summary = ImportSummary(tenant, False, embedder=self._embedder.name)
        with self._store.locked(tenant) as lock:
            loaded = self._store.load(tenant)
            old = KnowledgeIndex.from_image(loaded[1]) if loaded else None
            if old is None or old.article(article_id) is None:
                raise KnowledgeError(f"tenant {tenant!r} has no article {article_id!r}")
            summary.version = loaded[0] if loaded else None
            summary.removed = [article_id]
            summary.locales = _locales_of(old)
            keep = [a for a in old.articles() if a.id != article_id]
            self._publish(lock, summary, old, keep, [])
        return summary

    def _plan(
        self,
        summary: ImportSummary,
        old: KnowledgeIndex | None,
        articles: list[Article],
        locales: Sequence[str] | None,
        replace_all: bool,
    ) -> tuple[list[Article], list[Article]] | None:
        """(every article of the new version, the ones to embed); None: nothing changes."""
        served = [loc.lower() for loc in locales or (_locales_of(old) if old else DEFAULT_LOCALES)]
        summary.locales = served
        wanted: list[Article] = []
        for article in articles:
            if not article.locale:
                article = replace(article, locale=served[0])
            if not _serves(served, article.locale):
                reason = f"locale {article.locale} not served (serves {', '.join(served)})"
                summary.skipped.append(Skip(article.source, reason))
            else:
                wanted.append(article)
        if not wanted:
            first = summary.skipped[0] if summary.skipped else None
            why = f"; first: {first.ref}: {first.reason}" if first else ""
            raise KnowledgeError(
                f"nothing to import for tenant {summary.tenant!r} "
                f"({len(summary.skipped)} skipped{why})"
            )
        old_hashes = old.hashes() if old else {}
        new_ids = {a.id for a in wanted}
        for article in wanted:
            known = old_hashes.get(article.id)
            if known is None:
                summary.added.append(article.id)
            elif known != article.content_hash():
                summary.updated.append(article.id)
            else:
                summary.unchanged.append(article.id)
        kept: list[Article] = []
        if old is not None:
            for article in old.articles():
                if article.id in new_ids:
                    continue
                if replace_all:
                    summary.removed.append(article.id)
                else:
                    kept.append(article)
        same_embedder = old is not None and old.meta.get("embedder") == self._embedder.name
        changed = set(summary.added) | set(summary.updated)
        all_articles = wanted + kept
        to_embed = [a for a in all_articles if a.id in changed or not same_embedder]
        texts = [t for a in to_embed for t in section_texts(a)]
        summary.embedded_sections = len(texts)
        if self._embedder.priced_model and self._prices is not None:
            tokens = estimate_tokens(texts)
            summary.estimate_micros = embedding_cost_micros(
                self._prices, self._embedder.priced_model, tokens
            )
        if not changed and not summary.removed and same_embedder:
            return None
        return all_articles, to_embed

    def _publish(
        self,
        lock: ImportLock,
        summary: ImportSummary,
        old: KnowledgeIndex | None,
        articles: list[Article],
        to_embed: list[Article],
    ) -> None:
        vectors = self._embed(lock, summary, to_embed)
        for article in articles:
            if article.id not in vectors and old is not None:
                reused = old.article_vectors(article.id)
                if reused is not None and len(reused) == len(article.sections):
                    vectors[article.id] = reused
        version = new_version()
        meta = {
            "tenant": summary.tenant,
            "version": version,
            "embedder": self._embedder.name,
            "locales": ",".join(summary.locales),
            "imported_at_ms": str(self._now_ms()),
        }
        self._progress("indexing", 0, 1)
        image = KnowledgeIndex.build(articles, vectors, meta).image()
        self._progress("indexing", 1, 1)
        self._store.stage(lock, version, image)
        self._store.publish(lock, version)
        summary.version, summary.published = version, True

    def _embed(
        self, lock: ImportLock, summary: ImportSummary, articles: list[Article]
    ) -> dict[str, Vectors]:
        texts = [(a.id, t) for a in articles for t in section_texts(a)]
        model = self._embedder.priced_model
        budget = self._spend(summary.tenant) if (model and self._spend) else None
        call_id = f"kb-import-{summary.tenant}"
        if budget is not None and summary.estimate_micros:
            if not budget.draw(call_id, summary.estimate_micros):
                left = int(getattr(budget, "left_micros", 0))
                raise ImportOverBudget(
                    f"import refused: embedding {len(texts)} sections with {model} may cost up "
                    f"to {fmt_usd(summary.estimate_micros)}, and only "
                    f"{fmt_usd(max(left, 0))} is left of today's ceiling",
                    estimate_micros=summary.estimate_micros,
                    left_micros=left,
                )
        rows: list[Vectors] = []
        tokens = 0
        try:
            for start in range(0, len(texts), EMBED_BATCH):
                self._progress("embedding", start, len(texts))
                lock.renew()
                embedded = self._embedder.embed([t for _, t in texts[start : start + EMBED_BATCH]])
                rows.append(embedded.vectors)
                tokens += embedded.tokens
            self._progress("embedding", len(texts), len(texts))
        finally:
            if model and self._prices is not None:
                summary.cost_micros = embedding_cost_micros(self._prices, model, tokens)
                if budget is not None and summary.estimate_micros:
                    budget.settle(call_id, summary.cost_micros)
        if not texts:
            return {}
        matrix = np.vstack(rows)
        out: dict[str, Vectors] = {}
        at = 0
        for article in articles:
            n = len(article.sections)
            out[article.id] = matrix[at : at + n]
            at += n
        return out


def _locales_of(index: KnowledgeIndex | None) -> list[str]:
    if index is None:
        return list(DEFAULT_LOCALES)
    return [loc for loc in index.meta.get("locales", "").split(",") if loc] or list(DEFAULT_LOCALES)


def _serves(served: Sequence[str], locale: str) -> bool:
    """'en-US' is served by 'en' or 'en-us'; 'en' by 'en' or any 'en-*'."""
    loc = locale.lower().replace("_", "-")
    lang = loc.split("-")[0]
    return any(s == loc or s == lang or s.split("-")[0] == loc for s in served)
