"""Dense vectors for sections and queries: in process by default, the provider's if asked.

The default is wordllama's static embedding model, whose weights ship inside its wheel: no
network, no per-call cost, ~0.15 s to load. Its 0.4 loader looks for the tokenizer where the
wheel does not put it and would try to download it; loading from the package's own folder
with downloads disabled reads the bundled files. `PACELINE_EMBEDDING_MODEL` switches to the
provider's `/v1/embeddings` (priced from the price table; see `spend.py` for who pays).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from shared.errors import KnowledgeError
from shared.knowledge.index import Vectors
from shared.knowledge.model import Article
from shared.settings import Settings

WORDLLAMA = "wordllama/l2_supercat_256"
# Per request to the provider: OpenAI takes up to 2,048 inputs and ~300k tokens a request.
PROVIDER_BATCH_INPUTS = 256
PROVIDER_BATCH_BYTES = 200_000
PLACEHOLDER_API_KEY = "unset"


@dataclass(frozen=True, slots=True)
class Embedded:
    vectors: Vectors  # one unit-length row per text
    tokens: int  # what the provider billed (0 in process)


class Embedder(Protocol):
    name: str  # stored with the vectors: a different embedder's vectors are never compared
    priced_model: str | None  # the price table's model when each call costs money

    def embed(self, texts: Sequence[str]) -> Embedded: ...


def section_texts(article: Article) -> list[str]:
    """What is embedded for each section: the article's title, the heading, the text."""
    out = []
    for section in article.sections:
        head = f"{article.title}. {section.heading}." if section.heading else f"{article.title}."
        out.append(f"{head}\n{section.text}")
    return out


def unit_rows(matrix: Any) -> Vectors:
    vectors = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = (vectors / norms).astype(np.float32)
    return unit


class WordLlamaEmbedder:
    name = WORDLLAMA
    priced_model: str | None = None

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                wordllama = _import_wordllama()
                self._model = wordllama.WordLlama.load(
                    cache_dir=Path(wordllama.__file__).parent, disable_download=True
                )
            return self._model

    def embed(self, texts: Sequence[str]) -> Embedded:
        if not texts:
            return Embedded(np.zeros((0, 256), dtype=np.float32), 0)
        model = self._load()
        return Embedded(unit_rows(model.embed(list(texts), batch_size=32)), 0)


class ProviderEmbedder:
    """The provider's `/v1/embeddings` through the openai SDK, with no hidden retries."""

    def __init__(self, settings: Settings, model: str) -> None:
        import openai

        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        self.name = f"provider/{model}"
        self.priced_model: str | None = model
        self._model = model
        self._client = openai.OpenAI(
            base_url=settings.llm_base_url,
            api_key=key or PLACEHOLDER_API_KEY,
            max_retries=0,
            timeout=settings.llm_timeout_s,
        )

    def embed(self, texts: Sequence[str]) -> Embedded:
        import openai

        rows: list[list[float]] = []
        tokens = 0
        for batch in _batches(texts):
            try:
                reply = self._client.embeddings.create(
                    model=self._model, input=batch, encoding_format="float"
                )
            except openai.APIError as exc:
                status = getattr(exc, "status_code", None)
                raise KnowledgeError(
                    f"embeddings from {self._model} failed: {type(exc).__name__}"
                    + (f" (HTTP {status})" if status else "")
                ) from None
            ordered = sorted(reply.data, key=lambda d: d.index)
            if len(ordered) != len(batch):
                raise KnowledgeError(f"embeddings from {self._model}: wrong number of vectors")
            rows.extend(list(d.embedding) for d in ordered)
            tokens += int(reply.usage.prompt_tokens if reply.usage else 0)
        return Embedded(unit_rows(rows) if rows else np.zeros((0, 1), np.float32), tokens)

    def close(self) -> None:
        self._client.close()


def _import_wordllama() -> Any:
    """wordllama calls `logging.basicConfig(level=INFO)` when imported: in a process whose
    logging is not configured yet (a command) that would print every library's INFO lines.
    The root logger is put back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import wordllama

    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    return wordllama


def estimate_tokens(texts: Sequence[str]) -> int:
    """An upper bound on the tokens `texts` bill: a token is at least one byte."""
    return sum(len(t.encode("utf-8")) for t in texts)


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedding_model:
        return ProviderEmbedder(settings, settings.embedding_model)
    return WordLlamaEmbedder()


def _batches(texts: Sequence[str]) -> list[list[str]]:
    out: list[list[str]] = []
    current: list[str] = []
    size = 0
    for text in texts:
        n = len(text.encode("utf-8"))
        if current and (len(current) >= PROVIDER_BATCH_INPUTS or size + n > PROVIDER_BATCH_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(text or " ")
        size += n
    if current:
        out.append(current)
    return out
