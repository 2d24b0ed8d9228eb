"""Token accounting the way the shared policy defines it (and always under our byte bound).

prompt_tokens = ceil(bytes / 4) over message contents, tool-call arguments and tool schemas,
plus 4 per message. `shared.estimate.prompt_tokens_upper_bound` counts every one of those
bytes once, 8 per message and 16 per request, so it is never below this figure.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from shared.simulator.ticket import content_text

BYTES_PER_TOKEN = 4
MESSAGE_TOKENS = 4
CACHE_MIN_TOKENS = 1024
CACHE_BLOCK_TOKENS = 128
_CACHE_ENTRIES = 10_000


def tokens_of_bytes(size_bytes: int) -> int:
    return -(-size_bytes // BYTES_PER_TOKEN)


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _arguments(call: Any) -> str:
    function = call.get("function") if isinstance(call, Mapping) else None
    arguments = function.get("arguments") if isinstance(function, Mapping) else None
    return arguments if isinstance(arguments, str) else ""


def prompt_tokens(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None
) -> int:
    size = 0
    for message in messages:
        size += _size(content_text(message.get("content")))
        size += sum(_size(_arguments(c)) for c in message.get("tool_calls") or ())
    size += sum(_size(t) for t in tools or ())
    return tokens_of_bytes(size) + MESSAGE_TOKENS * len(messages)


def truncate_to_tokens(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """The text cut to `max_tokens` (on a character boundary) and whether it was cut."""
    if max_tokens is None:
        return text, False
    raw = text.encode("utf-8")
    limit = max_tokens * BYTES_PER_TOKEN
    if len(raw) <= limit:
        return text, False
    return raw[:limit].decode("utf-8", errors="ignore"), True


class PromptCache:
    """System messages seen before: a repeat reports its tokens as cached, like OpenAI."""

    def __init__(self, capacity: int = _CACHE_ENTRIES) -> None:
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._capacity = capacity

    def seen(self, messages: Sequence[Mapping[str, Any]]) -> bool:
        """Whether this system prompt was served before (without recording it)."""
        key = self._key(messages)
        return key is not None and key in self._seen

    @staticmethod
    def _key(messages: Sequence[Mapping[str, Any]]) -> bytes | None:
        system = next((m for m in messages if m.get("role") in ("system", "developer")), None)
        if system is None:
            return None
        return hashlib.sha256(content_text(system.get("content")).encode("utf-8")).digest()

    def cached_tokens(self, messages: Sequence[Mapping[str, Any]]) -> int:
        system = next((m for m in messages if m.get("role") in ("system", "developer")), None)
        if system is None:
            return 0
        text = content_text(system.get("content"))
        key = hashlib.sha256(text.encode("utf-8")).digest()
        seen = key in self._seen
        self._seen[key] = None
        self._seen.move_to_end(key)
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        tokens = tokens_of_bytes(_size(text)) + MESSAGE_TOKENS
        if not seen or tokens < CACHE_MIN_TOKENS:
            return 0
        return tokens - tokens % CACHE_BLOCK_TOKENS

    def clear(self) -> None:
        self._seen.clear()
