"""`search_knowledge_base`: the ticket's own tenant's help centre, through a searcher the
worker hands in (the agent never touches Redis), and what the model receives from it.

Each article comes with its title, URL and the passage that matched (its section), so the
reply can cite it. When nothing matches, the result says so, and that the answer must not be
invented: the model then tells the customer or escalates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.knowledge.search import Hit
from shared.knowledge.spend import CallBudget

TOP_K = 3
# Three passages fit the agent's per-step share of the context (8 KB) with room to spare.
PASSAGE_CHARS = 1_500
NOTHING_FOUND = (
    "No article in this help centre covers this. Tell the customer you could not find it "
    "in the help centre, or escalate; do not invent an answer."
)


class KnowledgeSearch(Protocol):
    def search(
        self, tenant: str, query: str, limit: int = 3, *, budget: CallBudget | None = None
    ) -> list[Hit]: ...


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=500)


@dataclass(frozen=True, slots=True)
class Found:
    """An article a search returned: what a reply may cite."""

    id: str
    title: str
    url: str


def search_result(hits: Sequence[Hit]) -> tuple[dict[str, Any], str]:
    """(the JSON the model sees, a one-line summary for an escalation's `gathered`)."""
    if not hits:
        return {"articles": [], "note": NOTHING_FOUND}, "kb: no article found"
    articles = [
        {
            "id": h.id,
            "title": h.title,
            "url": h.url,
            "section": h.section,
            "text": h.text[:PASSAGE_CHARS],
        }
        for h in hits
    ]
    titles = ", ".join(repr(h.title) for h in hits)
    return {"articles": articles}, f"kb: {titles}"


def cited(reply: str, found: Sequence[Found]) -> list[str]:
    """The ids of the found articles the reply cites, by URL or by title, in found order."""
    lowered = reply.casefold()
    ids: list[str] = []
    for article in found:
        by_url = bool(article.url) and article.url.casefold() in lowered
        if (by_url or article.title.casefold() in lowered) and article.id not in ids:
            ids.append(article.id)
    return ids
