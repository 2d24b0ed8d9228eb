"""Offline upper bounds on a call's tokens, for reservations (no tokenizer download).

Why a byte count is a safe bound: every BPE tokenizer OpenAI uses (cl100k, o200k) covers all
256 single bytes, and merging only ever reduces the count, so a text never encodes to more
tokens than it has UTF-8 bytes. On top of that, each chat message costs a few framing tokens
(role, separators: 3-4 in OpenAI's published accounting; we take 8), tool schemas are sent as
JSON (bounded by their bytes), and the reply is bounded by `max_tokens`, which the provider
enforces. The margin is large for English (about 4 bytes a token) and that is the price of
never passing a cap; the unused part of a draw is returned at settle time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

MESSAGE_OVERHEAD_TOKENS = 8
REQUEST_OVERHEAD_TOKENS = 16
# Typical English ratio, used only where a *likely* (not worst) figure is wanted: dry runs.
TYPICAL_BYTES_PER_TOKEN = 4


def _bytes(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def prompt_tokens_upper_bound(
    messages: Iterable[Mapping[str, Any]], tools: Iterable[Mapping[str, Any]] | None = None
) -> int:
    """At least as many tokens as the provider will count for this prompt."""
    total = REQUEST_OVERHEAD_TOKENS
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS
        total += _bytes(message.get("content"))
        total += _bytes(message.get("tool_calls"))
        total += _bytes(message.get("name"))
    if tools:
        total += sum(_bytes(t) for t in tools)
    return total


def typical_tokens(text: str) -> int:
    """A likely (not guaranteed) token count, for cost estimates shown to people."""
    return max(1, _bytes(text) // TYPICAL_BYTES_PER_TOKEN)
