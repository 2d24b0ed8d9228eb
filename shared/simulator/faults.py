"""Injected provider failures: a seeded, counter-based draw and OpenAI-shaped error bodies.

The draw for request n is a hash of (seed, n), so a run with the same seed fails on the same
requests no matter how they interleave in time.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from shared.simulator.config import ErrorKind, SimConfig


@dataclass(frozen=True, slots=True)
class ErrorReply:
    status: int
    message: str
    type: str
    code: str | None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def draw(seed: int, counter: int) -> float:
    """A uniform number in [0, 1) fixed by the seed and the request's ordinal."""
    digest = hashlib.blake2b(f"{seed}:{counter}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def should_fail(config: SimConfig, counter: int) -> bool:
    if config.error_rate <= 0.0:
        return False
    return config.error_rate >= 1.0 or draw(config.seed, counter) < config.error_rate


def retry_after_headers(retry_after_ms: int) -> dict[str, str]:
    return {
        "retry-after": str(max(1, math.ceil(retry_after_ms / 1000))),
        "retry-after-ms": str(retry_after_ms),
    }


def error_reply(kind: ErrorKind, config: SimConfig) -> ErrorReply:
    """The response of an injected fault (the `timeout` kind's after its sleep)."""
    if kind is ErrorKind.RATE_LIMIT:
        return rate_limited("requests", config.retry_after_ms)
    if kind is ErrorKind.INSUFFICIENT_QUOTA:
        return ErrorReply(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            "insufficient_quota",
        )
    if kind is ErrorKind.SERVER_ERROR:
        return ErrorReply(
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            "server_error",
        )
    if kind is ErrorKind.UNAVAILABLE:
        return ErrorReply(
            503,
            "The engine is currently overloaded, please try again later.",
            "server_error",
            "service_unavailable",
        )
    if kind is ErrorKind.TIMEOUT:
        return ErrorReply(504, "The request timed out.", "timeout", "timeout")
    return context_length_exceeded(None, None)


def rate_limited(limit: str, retry_after_ms: int) -> ErrorReply:
    return ErrorReply(
        429,
        f"Rate limit reached for {limit} (simulated). Please try again in {retry_after_ms}ms.",
        limit,
        "rate_limit_exceeded",
        headers=retry_after_headers(retry_after_ms),
    )


def context_length_exceeded(limit_tokens: int | None, asked_tokens: int | None) -> ErrorReply:
    detail = (
        f" This model's maximum context length is {limit_tokens} tokens; "
        f"you requested {asked_tokens} tokens."
        if limit_tokens is not None
        else ""
    )
    return ErrorReply(
        400,
        "The request is too long for the model's context window." + detail,
        "invalid_request_error",
        "context_length_exceeded",
        param="messages",
    )


def invalid_request(message: str, param: str | None = None) -> ErrorReply:
    return ErrorReply(400, message, "invalid_request_error", None, param=param)


def model_not_found(model: str) -> ErrorReply:
    return ErrorReply(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    )


def content_filtered() -> ErrorReply:
    """Azure's refusal of a prompt under its content policy (the body is Azure's own)."""
    return ErrorReply(
        400,
        "The response was filtered due to the prompt triggering Azure OpenAI's content "
        "management policy. Please modify your prompt and retry.",
        "content_filter",
        "content_filter",
        param="prompt",
    )
