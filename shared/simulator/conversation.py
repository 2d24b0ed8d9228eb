"""Where a conversation stands: the tool calls made so far and what the tools answered."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.simulator.ticket import content_text

SEARCH_TOOL = "search_knowledge_base"


@dataclass(frozen=True, slots=True)
class Conversation:
    system: str
    tool_calls_made: tuple[str, ...]  # names, in order
    first_article_title: str | None  # from the latest search result that found any
    first_article_url: str | None = None  # the same article's URL
    searched_nothing: bool = False  # searches were made and none found an article

    @property
    def turn(self) -> int:
        """How many tool calls the model has already made: the index of the next step."""
        return len(self.tool_calls_made)


def read_conversation(messages: Sequence[Mapping[str, Any]]) -> Conversation:
    system = ""
    names: list[str] = []
    name_by_id: dict[str, str] = {}
    title: str | None = None
    url: str | None = None
    searches = 0
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer") and not system:
            system = content_text(message.get("content"))
        elif role == "assistant":
            for call in message.get("tool_calls") or ():
                name = _call_name(call)
                names.append(name)
                if isinstance(call, Mapping) and isinstance(call.get("id"), str):
                    name_by_id[call["id"]] = name
        elif role == "tool" and name_by_id.get(str(message.get("tool_call_id"))) == SEARCH_TOOL:
            searches += 1
            found = _first_article(content_text(message.get("content")))
            if found is not None:
                title, url = found
    return Conversation(
        system=system,
        tool_calls_made=tuple(names),
        first_article_title=title,
        first_article_url=url,
        searched_nothing=searches > 0 and title is None,
    )


def _call_name(call: Any) -> str:
    if isinstance(call, Mapping):
        function = call.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return str(function["name"])
    return ""


def _first_article(result: str) -> tuple[str, str | None] | None:
    """(title, url) of the first article of a search result, or None when it found none."""
    try:
        doc = json.loads(result)
    except ValueError:
        return None
    articles = doc.get("articles") if isinstance(doc, dict) else None
    if isinstance(articles, list) and articles and isinstance(articles[0], dict):
        title, url = articles[0].get("title"), articles[0].get("url")
        if isinstance(title, str) and title:
            return title, url if isinstance(url, str) and url else None
    return None
