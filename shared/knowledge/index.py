"""One tenant's help centre at one version, searchable in memory: an SQLite database holding
the articles, their sections, each section's vector and an FTS5 full-text index.

The import builds it once and stores its image (`sqlite3.serialize`) in Redis; every worker
loads that image (`deserialize`, milliseconds) instead of analysing the text again. FTS5
ranks articles with BM25 per column, weighted (title, then headings and tags, then body: one
row an article, so scoring reads a third of the rows it would with one a section); vectors
rank sections. The terms FTS5 holds come from `analyze.py`, so every locale is analysed in
Python the same way at import and at query time. An image written by another analyzer
version is re-indexed on load.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shared.knowledge.analyze import ANALYZER_VERSION, analyzer_for, language
from shared.knowledge.model import Article, Section

Vectors = npt.NDArray[np.float32]
MAX_DF_SHARE = 0.5
SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles(idx INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, hash TEXT NOT NULL,
  title TEXT NOT NULL, url TEXT NOT NULL, source TEXT NOT NULL, locale TEXT NOT NULL,
  tags TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE sections(row INTEGER PRIMARY KEY, article INTEGER NOT NULL, pos INTEGER NOT NULL,
  heading TEXT NOT NULL, text TEXT NOT NULL, vec BLOB);
CREATE INDEX sections_article ON sections(article, pos);
"""
# Contentless: the text lives in `sections`; the FTS table keeps only what ranking needs.
FTS_SCHEMA = (
    "CREATE VIRTUAL TABLE fts USING fts5(title, heads, body, content='', "
    "tokenize='unicode61 remove_diacritics 0')"
)


@dataclass(frozen=True, slots=True)
class Weights:
    """BM25 weight of a match in each field: a query naming the topic finds its title first."""

    title: float = 4.0
    heads: float = 2.0
    body: float = 1.0


@dataclass(frozen=True, slots=True)
class SectionRef:
    row: int
    article: int  # index into `KnowledgeIndex.ids`
    score: float


class KnowledgeIndex:
    """Thread-safe: queries on the one connection are serialised by a lock (each is ~1 ms)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._df: dict[str, int] | None = None  # term -> articles holding it, read once
        self.meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        rows = db.execute("SELECT id, title, url, source FROM articles ORDER BY idx").fetchall()
        self.ids: list[str] = [r[0] for r in rows]
        self._meta = [{"id": r[0], "title": r[1], "url": r[2], "source": r[3]} for r in rows]
        self._pos = {article_id: i for i, article_id in enumerate(self.ids)}
        self.languages = sorted(json.loads(self.meta.get("languages", "[]")))
        sec = db.execute("SELECT row, article, vec FROM sections ORDER BY row").fetchall()
        self._rows = np.array([r[0] for r in sec], dtype=np.int64)
        self._section_article = np.array([r[1] for r in sec], dtype=np.int64)
        dim = int(self.meta.get("dim", "0"))
        self.vectors: Vectors | None = None
        if dim and sec and all(r[2] is not None for r in sec):
            packed = b"".join(r[2] for r in sec)
            self.vectors = (
                np.frombuffer(packed, dtype=np.float16).reshape(-1, dim).astype(np.float32)
            )

    # --- building and storing ------------------------------------------------------------
    @classmethod
    def build(
        cls,
        articles: Sequence[Article],
        vectors: dict[str, Vectors],
        meta: dict[str, str],
    ) -> KnowledgeIndex:
        """`vectors[id]` holds one row per section of that article (or is missing: no dense)."""
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.executescript(SCHEMA)
        db.execute(FTS_SCHEMA)
        dims = {v.shape[1] for v in vectors.values()}
        langs = sorted({language(a.locale) for a in articles})
        meta = {**meta, "analyzer": ANALYZER_VERSION, "languages": json.dumps(langs)}
        meta["dim"] = str(dims.pop()) if len(dims) == 1 and len(vectors) == len(articles) else "0"
        db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        row = 0
        for idx, article in enumerate(articles):
            db.execute(
                "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (idx, article.id, article.content_hash(), article.title, article.url,
                 article.source, article.locale, json.dumps(list(article.tags)),
                 article.updated_at),
            )  # fmt: skip
            vecs = vectors.get(article.id) if meta["dim"] != "0" else None
            for pos, section in enumerate(article.sections):
                blob = vecs[pos].astype(np.float16).tobytes() if vecs is not None else None
                db.execute(
                    "INSERT INTO sections VALUES (?, ?, ?, ?, ?, ?)",
                    (row, idx, pos, section.heading, section.text, blob),
                )
                row += 1
        _index_terms(db)
        db.commit()
        return cls(db)

    @classmethod
    def from_image(cls, image: bytes) -> KnowledgeIndex:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.deserialize(image)
        (analyzer,) = db.execute("SELECT value FROM meta WHERE key = 'analyzer'").fetchone()
        if analyzer != ANALYZER_VERSION:
            db.execute("DROP TABLE fts")
            db.execute(FTS_SCHEMA)
            _index_terms(db)
            db.execute("UPDATE meta SET value = ? WHERE key = 'analyzer'", (ANALYZER_VERSION,))
            db.commit()
        return cls(db)

    def image(self) -> bytes:
        with self._lock:
            return self._db.serialize()

    # --- reading articles ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    @property
    def section_count(self) -> int:
        return len(self._rows)

    def hashes(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT id, hash FROM articles").fetchall())

    def article(self, article_id: str) -> Article | None:
        idx = self._pos.get(article_id)
        return None if idx is None else self._article(idx)

    def articles(self) -> Iterator[Article]:
        for idx in range(len(self.ids)):
            yield self._article(idx)

    def article_vectors(self, article_id: str) -> Vectors | None:
        """The rows of `vectors` for this article's sections, in order (for re-use)."""
        idx = self._pos.get(article_id)
        if idx is None or self.vectors is None:
            return None
        rows: Vectors = self.vectors[self._section_article == idx]
        return rows

    def article_meta(self, idx: int) -> dict[str, str]:
        """id, title, url and source of the article at `idx`."""
        return self._meta[idx]

    def section(self, row: int) -> tuple[str, str]:
        """(heading, text) of one section."""
        with self._lock:
            got = self._db.execute(
                "SELECT heading, text FROM sections WHERE row = ?", (row,)
            ).fetchone()
        return (str(got[0]), str(got[1])) if got else ("", "")

    def _article(self, idx: int) -> Article:
        with self._lock:
            a = self._db.execute(
                "SELECT id, title, url, source, locale, tags, updated_at FROM articles "
                "WHERE idx = ?",
                (idx,),
            ).fetchone()
            secs = self._db.execute(
                "SELECT heading, text FROM sections WHERE article = ? ORDER BY pos", (idx,)
            ).fetchall()
        return Article(
            id=a[0], title=a[1], url=a[2], source=a[3], locale=a[4],
            tags=tuple(json.loads(a[5])), updated_at=a[6],
            sections=tuple(Section(h, t) for h, t in secs),
        )  # fmt: skip

    # --- ranking ------------------------------------------------------------------------
    def query_terms(self, query: str) -> list[str]:
        """The query analysed the way each of this index's languages was."""
        terms: list[str] = []
        for lang in self.languages or ["en"]:
            for term in analyzer_for(lang).terms(query):
                if term not in terms:
                    terms.append(term)
        return terms

    def sections_of(self, idx: int) -> list[tuple[int, str, str]]:
        """(row, heading, text) of each section of the article at `idx`, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT row, heading, text FROM sections WHERE article = ? ORDER BY pos", (idx,)
            ).fetchall()
        return [(int(r), str(h), str(t)) for r, h, t in rows]

    def lexical(
        self, terms: Sequence[str], limit: int, weights: Weights
    ) -> list[tuple[int, float]]:
        """(article, BM25) of articles matching any term, best first (higher is better)."""
        if not terms:
            return []
        with self._lock:
            terms = self._telling(terms)
            if not terms:
                return []
            match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
            rows = self._db.execute(
                "SELECT rowid, bm25(fts, ?, ?, ?) AS s FROM fts WHERE fts MATCH ? "
                "ORDER BY s LIMIT ?",
                (weights.title, weights.heads, weights.body, match, limit),
            ).fetchall()
        return [(int(r), -float(s)) for r, s in rows]

    def _telling(self, terms: Sequence[str]) -> list[str]:
        """The terms that occur, less those in over MAX_DF_SHARE of the sections: BM25 gives
        such a word almost no weight, and matching it would score most of the index.
        Called under the lock."""
        if self._df is None:
            self._db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, fts, 'row')")
            self._df = dict(self._db.execute("SELECT term, doc FROM temp.vocab"))
        df = self._df
        present = [t for t in terms if df.get(t)]
        telling = [t for t in present if df[t] <= MAX_DF_SHARE * len(self.ids)]
        if not telling and present:  # every word is common: the rarest still orders them
            telling = [min(present, key=lambda t: df[t])]
        return telling

    def dense(self, query_vector: Vectors, limit: int) -> list[SectionRef]:
        """Sections by cosine similarity to the (unit) query vector, best first."""
        if self.vectors is None or not len(self.vectors):
            return []
        # einsum, not `@`: BLAS spreads a matrix-vector product over threads, which on a busy
        # worker (its own threads, other processes) made the slowest searches 10x slower;
        # einsum's single loop takes ~0.6 ms for 15,000 sections whatever the load.
        sims = np.einsum("ij,j->i", self.vectors, query_vector)
        k = min(limit, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [SectionRef(int(r), int(self._section_article[r]), float(sims[r])) for r in top]


def _index_terms(db: sqlite3.Connection) -> None:
    """Fill the FTS table, a row an article, each analysed in its article's language."""
    articles = db.execute("SELECT idx, title, tags, locale FROM articles ORDER BY idx")
    batch: list[tuple[int, str, str, str]] = []
    for idx, title, tags, locale in articles.fetchall():
        analyzer = analyzer_for(locale)
        sections = db.execute(
            "SELECT heading, text FROM sections WHERE article = ? ORDER BY pos", (idx,)
        ).fetchall()
        headings = " ".join(dict.fromkeys(h for h, _ in sections if h))
        heads = analyzer.terms(headings + " " + " ".join(json.loads(tags)))
        body = analyzer.terms("\n".join(t for _, t in sections))
        batch.append((idx, " ".join(analyzer.terms(title)), " ".join(heads), " ".join(body)))
    db.executemany("INSERT INTO fts(rowid, title, heads, body) VALUES (?, ?, ?, ?)", batch)
