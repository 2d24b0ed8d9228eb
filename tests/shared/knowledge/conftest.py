"""Fixtures for the help-centre tests: the real Redis (a private namespace each test), the
real in-process embedder (loaded once a session), and folders of articles written per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from shared.clock import ManualClock
from shared.keys import Keys
from shared.knowledge import Importer, ImportSummary, IndexCache, KnowledgeStore, Searcher
from shared.knowledge.embed import Embedder, WordLlamaEmbedder
from shared.knowledge.importers import read_source
from shared.knowledge.search import Hit
from shared.redis_client import make_redis
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DEMO_KB = ROOT / "shared" / "data" / "demo" / "kb"
DEMO_QUESTIONS = ROOT / "shared" / "data" / "demo" / "kb-questions.jsonl"


@pytest.fixture(scope="session")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


def write_article(folder: Path, name: str, body: str, **front: Any) -> Path:
    """A Markdown file, with YAML front matter when `front` names fields."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    head = ""
    if front:
        lines = [f"{k}: {v}" for k, v in front.items()]
        head = "---\n" + "\n".join(lines) + "\n---\n"
    path.write_text(head + body, encoding="utf-8")
    return path


@dataclass
class KB:
    """One process's view: a store, an importer, and a searcher with its own index cache."""

    client: redis.Redis
    keys: Keys
    store: KnowledgeStore
    clock: ManualClock
    cache: IndexCache
    searcher: Searcher
    embedder: Embedder

    def importer(self, **kwargs: Any) -> Importer:
        return Importer(self.store, self.embedder, **kwargs)

    def import_path(self, path: Path | str, tenant: str, **kwargs: Any) -> ImportSummary:
        fmt = kwargs.pop("fmt", "auto")
        return self.importer().run(tenant, read_source(str(path), fmt), **kwargs)

    def search(self, tenant: str, query: str, limit: int = 3, **kwargs: Any) -> list[Hit]:
        self.clock.advance(3600)  # past the refresh interval: always read the latest version
        return self.searcher.search(tenant, query, limit, **kwargs)

    def worker_view(self, refresh_s: float = 5.0) -> Searcher:
        """Another process's searcher: its own cache, checking the store every refresh_s."""
        return Searcher(IndexCache(self.store, self.clock, refresh_s), self.embedder)


@pytest.fixture
def kb(settings: Settings, embedder: WordLlamaEmbedder) -> Iterator[KB]:
    client = make_redis(settings, max_connections=8)
    keys = Keys(settings.namespace)
    store = KnowledgeStore(client, keys)
    clock = ManualClock()
    cache = IndexCache(store, clock, refresh_s=5.0)
    yield KB(client, keys, store, clock, cache, Searcher(cache, embedder), embedder)
    store.close()
    client.close()
