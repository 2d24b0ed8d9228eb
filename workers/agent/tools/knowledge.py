"""The help-centre articles and the `search_knowledge_base` tool over them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workers.agent.tools.bm25 import BM25Index, tokenize

SNIPPET_CHARS = 400
TOP_K = 3
# Titles count more than body text: a query naming the topic should find its article first.
TITLE_WEIGHT = 3


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    topic: str
    body: str


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=500)


class KnowledgeBase:
    def __init__(self, articles: list[Article]) -> None:
        self.articles = articles
        docs = [tokenize(f"{a.title} " * TITLE_WEIGHT + f"{a.topic} {a.body}") for a in articles]
        self._index = BM25Index(docs)

    @classmethod
    def bundled(cls) -> KnowledgeBase:
        text = resources.files("workers.agent").joinpath("data/knowledge_base.json").read_text()
        return cls([Article(**a) for a in json.loads(text)["articles"]])

    def search(self, query: str, k: int = TOP_K) -> list[Article]:
        return [self.articles[i] for i, _ in self._index.top(tokenize(query), k)]

    def search_result(self, args: SearchArgs) -> tuple[dict[str, Any], str]:
        """(the JSON the model sees, a one-line summary for an escalation's `gathered`)."""
        found = self.search(args.query)
        payload = {
            "articles": [
                {"id": a.id, "title": a.title, "snippet": a.body[:SNIPPET_CHARS]} for a in found
            ]
        }
        titles = ", ".join(repr(a.title) for a in found) or "no match"
        return payload, f"kb: {titles}"
