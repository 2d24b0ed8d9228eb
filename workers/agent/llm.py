"""The provider client: one chat completion per call, no hidden retries, errors classified.

`max_retries=0` on the SDK so every attempt is seen, drawn from the budget and bounded by the
agent's own retry policy (the SDK would otherwise retry twice, unbudgeted). OpenAI and any
compatible endpoint go through `openai.OpenAI`; Azure OpenAI through `openai.AzureOpenAI`, where
the model name is the deployment. Answers are read leniently, the way compatible servers send
them: arguments as an object, a tool call without an id, usage missing or implausible.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from shared.errors import ProviderRejected
from shared.pricing import Usage
from shared.settings import Settings
from workers.agent.provider_errors import classify

# A key is required by the SDK even for endpoints that ignore it (the simulator).
PLACEHOLDER_API_KEY = "unset"


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model wrote it; may be invalid


@dataclass(frozen=True)
class AssistantMessage:
    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The message as it goes back into the conversation."""
        out: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        return out


@dataclass(frozen=True)
class Completion:
    message: AssistantMessage
    # None when the provider sent no usage, or one that cannot be true (no prompt tokens for a
    # prompt, no output tokens for an answer): the caller then bills the call's worst case.
    usage: Usage | None
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str | None = None


def build_sdk_client(settings: Settings) -> openai.OpenAI:
    """The SDK client for the configured provider, without its own retries."""
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    timeout = openai.Timeout(settings.llm_timeout_s, connect=settings.llm_connect_timeout_s)
    if settings.llm_provider == "azure":
        return openai.AzureOpenAI(
            azure_endpoint=str(settings.azure_endpoint),
            api_version=settings.azure_api_version,
            api_key=key or PLACEHOLDER_API_KEY,
            max_retries=0,
            timeout=timeout,
        )
    return openai.OpenAI(
        base_url=settings.llm_base_url,
        api_key=key or PLACEHOLDER_API_KEY,
        max_retries=0,
        timeout=timeout,
    )


class LLMClient:
    """Thread-safe: one instance serves every worker thread (the SDK's pool is shared)."""

    def __init__(self, settings: Settings) -> None:
        self._timeout_s = settings.llm_timeout_s
        self._connect_timeout_s = settings.llm_connect_timeout_s
        self._client = build_sdk_client(settings)

    def complete(
        self,
        model: str,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None,
        max_tokens: int,
        *,
        timeout_s: float | None = None,
    ) -> Completion:
        """One attempt. Raises the classified paceline error on any provider failure."""
        total_s = (
            self._timeout_s if timeout_s is None else max(min(timeout_s, self._timeout_s), 0.001)
        )
        timeout = openai.Timeout(total_s, connect=min(self._connect_timeout_s, total_s))
        # Messages and tools go as `extra_body`, the SDK's documented way to send JSON as it is.
        # Typed, the SDK walks every nested key through its TypedDict transformer (aliases,
        # dates, base64 files): an identity for plain chat messages and JSON-schema tools that
        # cost 1.25 ms of a two-call ticket's 4 ms of SDK CPU here. The bytes sent are the same;
        # the typed `messages=[]` is overridden by `extra_body` when the body is built.
        body: dict[str, Any] = {"messages": list(messages)}
        if tools:
            body["tools"] = list(tools)
        try:
            raw = self._client.chat.completions.with_raw_response.create(
                model=model,
                messages=[],
                max_tokens=max_tokens,
                timeout=timeout,
                extra_body=body,
            )
            parsed = raw.parse()
        except openai.OpenAIError as exc:
            raise classify(exc) from None
        if not parsed.choices:
            raise ProviderRejected("provider answered without choices", reason="bad_response")
        choice = parsed.choices[0]
        calls = tuple(_tool_calls(choice.message.tool_calls))
        content = choice.message.content
        return Completion(
            message=AssistantMessage(content=content, tool_calls=calls),
            usage=_trusted_usage(parsed.usage, answered=bool(content or calls)),
            headers={k.lower(): v for k, v in raw.headers.items()},
            finish_reason=choice.finish_reason,
        )

    def close(self) -> None:
        self._client.close()


def _trusted_usage(raw: Any, *, answered: bool) -> Usage | None:
    if raw is None:
        return None
    usage = Usage.from_openai(raw)
    # Every request has a prompt, and an answer has at least one token: a zero there is a
    # count the server skipped (a cached prompt on some local servers), not a free call.
    if usage.prompt_tokens <= 0 or (answered and usage.completion_tokens <= 0):
        return None
    return usage


def _tool_calls(raw_calls: Sequence[Any] | None) -> list[ToolCall]:
    # Custom (non-function) tool calls are never offered by us; ignore them if they appear.
    # The SDK builds these without validation, so fields keep whatever type the server sent:
    # arguments as a JSON object (some local servers) become JSON text, a missing id "".
    out: list[ToolCall] = []
    for call in raw_calls or ():
        fn = getattr(call, "function", None)
        if fn is None:
            continue
        arguments = fn.arguments
        if arguments is None:
            arguments = ""
        elif not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        call_id = call.id if isinstance(call.id, str) else ""
        out.append(ToolCall(id=call_id, name=str(fn.name or ""), arguments=arguments))
    return out
