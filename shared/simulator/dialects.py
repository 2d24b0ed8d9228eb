"""What OpenAI-compatible servers send differently from OpenAI, applied to the simulator's answers.

Each dialect reproduces behaviour its server has shipped (docs/providers.md has the sources):
- `vllm`: ids `chatcmpl-<hex>` and tool-call ids `chatcmpl-tool-<hex>`; `usage` without
  `prompt_tokens_details` (no cached tokens unless the server opts in); a `stop_reason` beside
  `finish_reason`, which is `stop`, not `tool_calls`, for a call forced by `tool_choice`;
  `stream_options.continuous_usage_stats` puts the running usage on every chunk; no rate-limit
  headers; errors as `{"object": "error", "code": 400, ...}`.
- `ollama`: `finish_reason` `stop` on a tool call; short `call_<8>` ids; `arguments` as a JSON
  object (the native API's shape) instead of a string; `usage` with no details, whose
  `prompt_tokens` is 0 when the prompt's prefix was served before (a cached prompt was not
  counted); a stream never carries usage (`stream_options` ignored); no rate-limit headers.
- `litellm` (the proxy in front of a local backend): tool calls with an empty id, the same on
  every turn; `cached_tokens: null` and `completion_tokens_details: null`; the backend's
  rate-limit headers passed on as `llm_provider-x-ratelimit-*` beside its own `x-litellm-*`;
  error codes as strings ("429").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from shared.simulator.config import Dialect
from shared.simulator.faults import ErrorReply
from shared.simulator.responses import Completion

LITELLM_VERSION = "1.100.0"
# gpt-4o-mini's list price per token, for the proxy's cost header (USD).
_COST_PER_PROMPT_TOKEN = 0.15e-6
_COST_PER_COMPLETION_TOKEN = 0.60e-6


@dataclass(frozen=True, slots=True)
class RequestShape:
    """What a dialect needs to know about the request it answers."""

    tool_choice: Any = None
    repeat_prompt: bool = False
    continuous_usage: bool = False


def _hex(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def _forced(tool_choice: Any) -> bool:
    return tool_choice == "required" or isinstance(tool_choice, Mapping)


def _usage(c: Completion, dialect: Dialect, shape: RequestShape) -> dict[str, Any]:
    usage = c.usage()
    if dialect is Dialect.VLLM:
        return {
            "prompt_tokens": c.prompt_tokens,
            "total_tokens": c.prompt_tokens + c.completion_tokens,
            "completion_tokens": c.completion_tokens,
            "prompt_tokens_details": None,
        }
    if dialect is Dialect.OLLAMA:
        prompt = 0 if shape.repeat_prompt else c.prompt_tokens
        return {
            "prompt_tokens": prompt,
            "completion_tokens": c.completion_tokens,
            "total_tokens": prompt + c.completion_tokens,
        }
    if dialect is Dialect.LITELLM:
        usage["prompt_tokens_details"] = {"cached_tokens": None, "audio_tokens": None}
        usage["completion_tokens_details"] = None
    return usage


def _call_id(c: Completion, dialect: Dialect) -> str:
    if dialect is Dialect.VLLM:
        return "chatcmpl-tool-" + _hex(c.tool_call_id, 32)
    if dialect is Dialect.OLLAMA:
        return "call_" + "".join(chr(97 + int(h, 16) % 26) for h in _hex(c.tool_call_id, 8))
    if dialect is Dialect.LITELLM:
        return ""
    return c.tool_call_id


def _finish(c: Completion, dialect: Dialect, shape: RequestShape) -> str:
    if c.tool_call is not None and c.finish_reason == "tool_calls":
        if dialect is Dialect.OLLAMA or (dialect is Dialect.VLLM and _forced(shape.tool_choice)):
            return "stop"
    return c.finish_reason


def _top(doc: dict[str, Any], c: Completion, dialect: Dialect) -> None:
    doc.pop("service_tier", None)
    if dialect is Dialect.VLLM:
        doc["id"] = "chatcmpl-" + _hex(c.id, 32)
        doc["system_fingerprint"] = None
    elif dialect is Dialect.OLLAMA:
        doc["id"] = f"chatcmpl-{int(_hex(c.id, 6), 16) % 1000}"
        doc["system_fingerprint"] = "fp_ollama"
    else:
        doc["id"] = "chatcmpl-" + _hex(c.id, 8) + "-" + _hex(c.id + "u", 4) + "-" + _hex(c.id, 12)
        doc["system_fingerprint"] = None


def completion_body(c: Completion, dialect: Dialect, shape: RequestShape) -> dict[str, Any]:
    doc = c.to_json()
    if dialect is Dialect.OPENAI:
        return doc
    _top(doc, c, dialect)
    choice = doc["choices"][0]
    message = choice["message"]
    message.pop("refusal", None)
    choice["finish_reason"] = _finish(c, dialect, shape)
    if dialect is Dialect.VLLM:
        choice["stop_reason"] = None
    for call in message.get("tool_calls") or ():
        call["id"] = _call_id(c, dialect)
        if dialect is Dialect.OLLAMA:
            try:
                call["function"]["arguments"] = json.loads(call["function"]["arguments"])
            except ValueError:
                pass  # what the model wrote is not JSON: it stays text
    doc["usage"] = _usage(c, dialect, shape)
    return doc


def completion_chunks(
    c: Completion, dialect: Dialect, shape: RequestShape, include_usage: bool
) -> Iterator[dict[str, Any]]:
    if dialect is Dialect.OPENAI:
        yield from c.chunks(include_usage)
        return
    with_usage = include_usage and dialect is not Dialect.OLLAMA
    produced = 0
    for chunk in c.chunks(with_usage):
        _top(chunk, c, dialect)
        if not chunk["choices"]:  # the closing usage chunk
            if not (dialect is Dialect.VLLM and shape.continuous_usage):
                yield {**chunk, "usage": _usage(c, dialect, shape)}
            continue
        choice = chunk["choices"][0]
        delta = choice["delta"]
        for call in delta.get("tool_calls") or ():
            if "id" in call:
                call["id"] = _call_id(c, dialect)
            produced += len(call.get("function", {}).get("arguments", "").encode())
        produced += len((delta.get("content") or "").encode())
        if choice["finish_reason"] is not None:
            choice["finish_reason"] = _finish(c, dialect, shape)
        if dialect is Dialect.VLLM and with_usage and shape.continuous_usage:
            done = min(-(-produced // 4), c.completion_tokens)
            chunk["usage"] = {
                "prompt_tokens": c.prompt_tokens,
                "total_tokens": c.prompt_tokens + done,
                "completion_tokens": done,
            }
        elif dialect is Dialect.OLLAMA:
            chunk.pop("usage", None)
        yield chunk


def response_headers(
    c: Completion | None, dialect: Dialect, headers: dict[str, str]
) -> dict[str, str]:
    if dialect is Dialect.OPENAI:
        return headers
    kept = {k: v for k, v in headers.items() if not k.startswith("x-ratelimit-")}
    if dialect is not Dialect.LITELLM:
        return kept
    kept.update(
        {f"llm_provider-{k}": v for k, v in headers.items() if k.startswith("x-ratelimit-")}
    )
    kept["x-litellm-version"] = LITELLM_VERSION
    if c is not None:
        kept["x-litellm-model-id"] = _hex(c.model, 16)
        cost = (
            c.prompt_tokens * _COST_PER_PROMPT_TOKEN
            + c.completion_tokens * _COST_PER_COMPLETION_TOKEN
        )
        kept["x-litellm-response-cost"] = f"{cost:.8f}"
    return kept


def error_body(reply: ErrorReply, dialect: Dialect) -> dict[str, Any]:
    if dialect is Dialect.VLLM:
        kind = "BadRequestError" if reply.status < 500 else "InternalServerError"
        return {"object": "error", "message": reply.message, "type": kind, "param": reply.param,
                "code": reply.status}  # fmt: skip
    if dialect is Dialect.LITELLM:
        return {"error": {"message": f"litellm.APIError: {reply.message}", "type": None,
                          "param": reply.param, "code": str(reply.status)}}  # fmt: skip
    return reply.body()
