"""Map the openai SDK's exceptions onto paceline's error tree, by how each is handled.

Messages carry the status and the provider's error code only: never the request (it holds
ticket text) and never headers (they may echo the key).
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping

import openai

from shared.errors import (
    PacelineError,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)

# Provider-supplied Retry-After values beyond this are treated as "park it", not "sleep".
MAX_RETRY_AFTER_S = 3600.0


# Azure's 429s have come with only a reset in bare seconds, under either spelling.
_AZURE_RESETS = (
    "x-ratelimit-reset-tokens",
    "x-rate-limit-reset-tokens",
    "x-ratelimit-reset-requests",
)


def retry_after_s(headers: Mapping[str, str], now_s: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` (OpenAI's and Azure's), `retry-after` (seconds
    or a date), else a 429's reset in bare seconds (Azure's)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return min(max(float(raw_ms) / 1000.0, 0.0), MAX_RETRY_AFTER_S)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        for name in _AZURE_RESETS:
            try:
                return min(max(float(headers.get(name, "")), 0.0), MAX_RETRY_AFTER_S)
            except ValueError:
                continue
        return None
    try:
        return min(max(float(raw), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if now_s is None:
        return None
    return min(max(when.timestamp() - now_s, 0.0), MAX_RETRY_AFTER_S)


def _code(exc: openai.APIStatusError) -> str:
    return str(exc.code or "") if getattr(exc, "code", None) else ""


def _filtered_categories(exc: openai.APIStatusError) -> str:
    """The categories Azure's content filter flagged (`hate`, `violence`, ...), or ""."""
    body = exc.body if isinstance(exc.body, dict) else {}
    body = body.get("error", body) if isinstance(body.get("error"), dict) else body
    inner = body.get("innererror")
    result = inner.get("content_filter_result") if isinstance(inner, dict) else None
    if not isinstance(result, dict):
        return ""
    flagged = [
        str(name)
        for name, verdict in result.items()
        if isinstance(verdict, dict) and verdict.get("filtered") is True
    ]
    return "+".join(sorted(flagged)[:4])


def classify(exc: openai.OpenAIError, now_s: float | None = None) -> PacelineError:
    """The paceline error for one failed attempt (the caller decides whether to retry)."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderUnavailable("provider timed out", reason="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderUnavailable("provider unreachable", reason="connection_error")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code = _code(exc)
        headers = {k.lower(): v for k, v in exc.response.headers.items()}
        if status == 429:
            if code == "insufficient_quota":
                return ProviderRejected("provider quota exhausted", reason="insufficient_quota")
            wait_s = retry_after_s(headers, now_s)
            return ProviderRateLimited(
                f"provider rate limited (429 {code or 'rate_limit_exceeded'})",
                retry_after_s=wait_s,
                reason="rate_limited",
            )
        if status >= 500:
            return ProviderUnavailable(
                f"provider error {status}",
                retry_after_s=retry_after_s(headers, now_s),
                reason=f"http_{status}",
            )
        if code == "context_length_exceeded":
            return ProviderRejected("prompt exceeds the model's context", reason=code)
        if code == "content_filter":
            categories = _filtered_categories(exc)
            return ProviderRejected(
                "the provider's content filter refused the prompt",
                reason=f"content_filter:{categories}" if categories else "content_filter",
            )
        misconfigured = {401: "unauthorized", 403: "forbidden", 404: "not_found"}
        if status in misconfigured:
            # A wrong key, endpoint, model or deployment: configuration, not this ticket.
            return ProviderMisconfigured(
                f"provider refused our configuration ({status} {code})".strip(),
                reason=f"provider_{misconfigured[status]}",
            )
        reason = {400: "bad_request"}
        return ProviderRejected(
            f"provider refused the request ({status} {code})".strip(),
            reason=reason.get(status, f"http_{status}"),
        )
    return ProviderRejected("unexpected provider response", reason="bad_response")
