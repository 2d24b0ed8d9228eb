"""OpenAI's response shapes: a chat completion, and the same as server-sent event chunks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.simulator.policy import ToolCall

FINGERPRINT = "fp_paceline_sim"
_CHUNK_CHARS = 48  # small enough to exercise a client's reassembly, large enough to be fast


@dataclass(frozen=True, slots=True)
class Completion:
    id: str
    created: int
    model: str
    content: str | None
    tool_call: ToolCall | None
    tool_call_id: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _tool_calls(self) -> list[dict[str, Any]] | None:
        if self.tool_call is None:
            return None
        function = {"name": self.tool_call.name, "arguments": self.tool_call.arguments}
        return [{"id": self.tool_call_id, "type": "function", "function": function}]

    def to_json(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content, "refusal": None}
        tool_calls = self._tool_calls()
        if tool_calls is not None:
            message["tool_calls"] = tool_calls
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": self.finish_reason,
        }
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": self.usage(),
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }

    def sse_events(self, include_usage: bool) -> Iterator[bytes]:
        """The completion as `data:` lines, then usage (when asked) and `[DONE]`."""
        for chunk in self.chunks(include_usage):
            yield event(chunk)
        yield DONE

    def chunks(self, include_usage: bool) -> Iterator[dict[str, Any]]:
        """The `chat.completion.chunk` documents of the stream, usage last when asked."""
        for delta, finish in self._deltas():
            yield self._chunk([_choice(delta, finish)], include_usage)
        if include_usage:
            yield {**self._chunk([], False), "usage": self.usage()}

    def _deltas(self) -> Iterator[tuple[dict[str, Any], str | None]]:
        yield {"role": "assistant", "content": "" if self.tool_call is None else None}, None
        if self.tool_call is not None:
            head = {"name": self.tool_call.name, "arguments": ""}
            yield (
                {
                    "tool_calls": [
                        {"index": 0, "id": self.tool_call_id, "type": "function", "function": head}
                    ]
                },
                None,
            )
            for piece in _pieces(self.tool_call.arguments):
                yield {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}, None
        else:
            for piece in _pieces(self.content or ""):
                yield {"content": piece}, None
        yield {}, self.finish_reason

    def _chunk(self, choices: list[dict[str, Any]], include_usage: bool) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        }
        if include_usage:
            chunk["usage"] = None
        return chunk


def _choice(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}


def _pieces(text: str) -> Iterator[str]:
    for start in range(0, len(text), _CHUNK_CHARS):
        yield text[start : start + _CHUNK_CHARS]


DONE = b"data: [DONE]\n\n"


def event(doc: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n"
