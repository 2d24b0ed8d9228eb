"""One chat-completion request, end to end: validate, limit, delay, fail or answer, count.

Runs on a single event loop, so the shared state (stats, window, cache, draw counter) needs no
lock; every wait is an `asyncio.sleep` so a slow request never holds up the others.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shared.clock import Clock, SystemClock
from shared.simulator import faults, wording
from shared.simulator.config import ErrorKind, SimConfig
from shared.simulator.dialects import RequestShape
from shared.simulator.embeddings import embeddings
from shared.simulator.faults import ErrorReply
from shared.simulator.policy import Decision, ToolCall, decide
from shared.simulator.ratelimit import SlidingWindow
from shared.simulator.responses import Completion
from shared.simulator.stats import Stats
from shared.simulator.ticket import read_ticket
from shared.simulator.usage import PromptCache, prompt_tokens, tokens_of_bytes, truncate_to_tokens

DEFAULT_CONTEXT_TOKENS = 128_000
CONTEXT_TOKENS = {
    "gpt-4o-mini": 128_000,
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-4-turbo": 128_000,
}
# What a `long` answer runs to when the request sets no max_tokens.
DEFAULT_LONG_TOKENS = 4096


@dataclass(frozen=True, slots=True)
class Answer:
    completion: Completion
    headers: dict[str, str]
    stream: bool
    include_usage: bool
    shape: RequestShape = field(default_factory=RequestShape)
    # Azure's content filter withheld the answer (finish_reason `content_filter`).
    output_filtered: bool = False


@dataclass(frozen=True, slots=True)
class _Request:
    model: str
    messages: list[Mapping[str, Any]]
    tools: list[Mapping[str, Any]] | None
    tool_choice: Any
    max_tokens: int | None
    stream: bool
    include_usage: bool
    continuous_usage: bool = False


class Simulator:
    def __init__(self, config: SimConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.stats = Stats()
        self.cache = PromptCache()
        self.window = SlidingWindow(self.clock)
        self._draws = 0

    def reconfigure(self, changes: dict[str, Any]) -> SimConfig:
        self.config = self.config.updated(changes)
        if "seed" in changes:
            self._draws = 0  # a new seed replays its fault sequence from the start
        return self.config

    def reset(self) -> None:
        self.stats.reset()
        self.cache.clear()
        self.window.clear()
        self._draws = 0

    def serves(self, model: str) -> bool:
        return model in CONTEXT_TOKENS or model in self.config.deployment_names()

    async def chat(
        self, raw: bytes, body: Any, *, deployment: str | None = None
    ) -> Answer | ErrorReply:
        """One chat completion; `deployment` (Azure's path) names the model and turns on
        Azure's content filter directives."""
        self.stats.started()
        status = 499  # the client went away (the task was cancelled) before an answer
        try:
            result = await self._chat(raw, body, deployment)
            status = result.status if isinstance(result, ErrorReply) else 200
            return result
        finally:
            self.stats.finished(status)

    async def _chat(self, raw: bytes, body: Any, deployment: str | None) -> Answer | ErrorReply:
        draw_index = self._draws
        self._draws += 1
        request = _parse(body)
        if isinstance(request, ErrorReply):
            return request
        if deployment is not None:
            request = replace(request, model=deployment)
            ticket = read_ticket(request.messages)
            if ticket.directive("content_filter") is not None:
                self.stats.errors_by_kind["content_filter"] += 1
                return faults.content_filtered()
        elif not self.serves(request.model):
            return faults.model_not_found(request.model)
        self.stats.by_model[request.model] += 1
        prompt = prompt_tokens(request.messages, request.tools)
        context = CONTEXT_TOKENS.get(request.model, DEFAULT_CONTEXT_TOKENS)
        if prompt + (request.max_tokens or 0) > context:
            self.stats.errors_by_kind["context_window"] += 1
            return faults.context_length_exceeded(context, prompt + (request.max_tokens or 0))
        config = self.config
        verdict = self.window.admit(prompt, config.rpm, config.tpm)
        if not verdict.allowed:
            self.stats.errors_by_kind[f"rate_limit_{verdict.limit}"] += 1
            refusal = faults.rate_limited(verdict.limit, verdict.retry_after_ms)
            return _with_headers(refusal, verdict.headers)
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        if faults.should_fail(config, draw_index):
            return _with_headers(await self._fault(config), verdict.headers)
        decision = decide(request.messages, request.tools, request.tool_choice, config.seed)
        if decision.slow_ms:
            await asyncio.sleep(decision.slow_ms / 1000)
        repeat_prompt = self.cache.seen(request.messages)
        completion = self._complete(raw, request, decision, prompt)
        self.window.add_tokens(completion.completion_tokens)
        shape = RequestShape(request.tool_choice, repeat_prompt, request.continuous_usage)
        filtered = deployment is not None and (
            read_ticket(request.messages).directive("content_filter_output") is not None
        )
        return Answer(
            completion, verdict.headers, request.stream, request.include_usage, shape, filtered
        )

    async def embed(self, body: Any) -> dict[str, Any] | ErrorReply:
        """An embeddings request: the same faults and latency as a chat, then the vectors."""
        self.stats.started()
        status = 499
        try:
            draw_index = self._draws
            self._draws += 1
            config = self.config
            if config.latency_ms:
                await asyncio.sleep(config.latency_ms / 1000)
            result: dict[str, Any] | ErrorReply
            if faults.should_fail(config, draw_index):
                result = await self._fault(config)
            else:
                result = embeddings(body)
            if isinstance(result, ErrorReply):
                status = result.status
            else:
                status = 200
                self.stats.by_model[str(result["model"])] += 1
                self.stats.prompt_tokens += int(result["usage"]["prompt_tokens"])
            return result
        finally:
            self.stats.finished(status)

    async def _fault(self, config: SimConfig) -> ErrorReply:
        self.stats.errors_by_kind[config.error_kind.value] += 1
        if config.error_kind is ErrorKind.TIMEOUT:
            # Longer than the client waits: the client sees its own timeout, not this 504.
            await asyncio.sleep(config.timeout_s)
        return faults.error_reply(config.error_kind, config)

    def _complete(
        self, raw: bytes, request: _Request, decision: Decision, prompt: int
    ) -> Completion:
        digest = hashlib.sha256(str(self.config.seed).encode() + b"\x1f" + raw).hexdigest()
        content, tool_call, cut = _output(decision, request.max_tokens)
        produced = tool_call.arguments if tool_call is not None else content or ""
        completion_tokens = tokens_of_bytes(len(produced.encode("utf-8")))
        finish = "length" if cut else ("tool_calls" if tool_call is not None else "stop")
        cached = self.cache.cached_tokens(request.messages)
        self._count(decision, tool_call, finish, prompt, completion_tokens, cached, request.stream)
        return Completion(
            id=f"chatcmpl-sim{digest[:24]}",
            created=int(self.clock.now_s()),
            model=request.model,
            content=content,
            tool_call=tool_call,
            tool_call_id=f"call_{digest[24:48]}",
            finish_reason=finish,
            prompt_tokens=prompt,
            completion_tokens=completion_tokens,
            cached_tokens=cached,
        )

    def _count(
        self,
        decision: Decision,
        tool_call: ToolCall | None,
        finish: str,
        prompt: int,
        completion: int,
        cached: int,
        stream: bool,
    ) -> None:
        stats = self.stats
        stats.prompt_tokens += prompt
        stats.completion_tokens += completion
        stats.cached_tokens += cached
        stats.streamed += int(stream)
        stats.by_rule[decision.rule] += 1
        stats.finish_reasons[finish] += 1
        if tool_call is not None:
            stats.tool_calls += 1
            stats.tool_calls_by_name[tool_call.name] += 1


def _output(decision: Decision, max_tokens: int | None) -> tuple[str | None, ToolCall | None, bool]:
    """The content or tool call, cut to max_tokens; and whether it was cut."""
    if decision.tool_call is not None:
        arguments, cut = truncate_to_tokens(decision.tool_call.arguments, max_tokens)
        return None, ToolCall(decision.tool_call.name, arguments), cut
    if decision.fill_max_tokens:
        budget = max_tokens or DEFAULT_LONG_TOKENS
        text, _ = truncate_to_tokens(wording.long_text(budget * 4), budget)
        return text, None, True
    content, cut = truncate_to_tokens(decision.content or "", max_tokens)
    return content, None, cut


def _with_headers(reply: ErrorReply, headers: dict[str, str]) -> ErrorReply:
    return ErrorReply(
        reply.status,
        reply.message,
        reply.type,
        reply.code,
        reply.param,
        {**headers, **reply.headers},
    )


def _parse(body: Any) -> _Request | ErrorReply:
    if not isinstance(body, dict):
        return faults.invalid_request("The request body must be a JSON object.")
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) for m in messages)
    ):
        return faults.invalid_request(
            "'messages' must be a non-empty array of objects.", "messages"
        )
    tools = body.get("tools")
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, dict) for t in tools)
    ):
        return faults.invalid_request("'tools' must be an array of objects.", "tools")
    limits = [body.get("max_tokens"), body.get("max_completion_tokens")]
    for value in limits:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            return faults.invalid_request("max_tokens must be a positive integer.", "max_tokens")
    given = [v for v in limits if v is not None]
    model = body.get("model")
    options = body.get("stream_options")
    stream = body.get("stream") is True
    return _Request(
        model=model if isinstance(model, str) and model else "gpt-4o-mini",
        messages=messages,
        tools=tools or None,
        tool_choice=body.get("tool_choice"),
        max_tokens=min(given) if given else None,
        stream=stream,
        include_usage=stream and isinstance(options, dict) and options.get("include_usage") is True,
        continuous_usage=isinstance(options, dict)
        and options.get("continuous_usage_stats") is True,
    )


def model_ids() -> Sequence[str]:
    return tuple(CONTEXT_TOKENS)
