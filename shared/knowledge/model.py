"""What a help centre is made of: articles, split into sections at their headings.

An importer turns each source item into an `Article` or a `Skip` (with its one-line reason);
the index and the store only ever see articles.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

# One article's text, all sections together; a larger source item is skipped, not cut.
MAX_ARTICLE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Section:
    heading: str  # "" for the text before the first heading; "A > B" for a nested one
    text: str


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    title: str
    sections: tuple[Section, ...]
    url: str = ""
    source: str = ""  # the path (relative to what was imported) or the vendor's id
    locale: str = ""
    tags: tuple[str, ...] = ()
    updated_at: str = ""

    def content_hash(self) -> str:
        """Changes when anything a search or a citation shows changes; re-imports compare it."""
        doc = self.to_json()
        doc.pop("updated_at", None)  # a re-export that only touched the date is unchanged
        raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    @property
    def text_bytes(self) -> int:
        return sum(len(s.heading.encode()) + len(s.text.encode()) for s in self.sections)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "locale": self.locale,
            "tags": list(self.tags),
            "updated_at": self.updated_at,
            "sections": [{"heading": s.heading, "text": s.text} for s in self.sections],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Article:
        return cls(
            id=str(doc["id"]),
            title=str(doc["title"]),
            sections=tuple(Section(str(s["heading"]), str(s["text"])) for s in doc["sections"]),
            url=str(doc.get("url", "")),
            source=str(doc.get("source", "")),
            locale=str(doc.get("locale", "")),
            tags=tuple(str(t) for t in doc.get("tags", ())),
            updated_at=str(doc.get("updated_at", "")),
        )


@dataclass(frozen=True, slots=True)
class Skip:
    """A source item that was not imported, and why (one line)."""

    ref: str  # a path, "file.json: article 123", "file.csv: row 7"
    reason: str


@dataclass
class Parsed:
    """What reading a source produced: articles in source order, and what was skipped."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    def extend(self, other: Parsed) -> None:
        self.articles.extend(other.articles)
        self.skipped.extend(other.skipped)
