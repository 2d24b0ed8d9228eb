"""Azure OpenAI's face of the simulator: its paths, its key header, its bodies and headers.

`POST /openai/deployments/{deployment}/chat/completions?api-version=...` with an `api-key`
header; `GET /openai/models?api-version=...`. Differences from OpenAI that a client meets:
- errors are `{"error": {"code": "429", "message": ...}}` (codes as strings, no `type`);
  an unknown deployment is 404 `DeploymentNotFound`; a missing `api-version` 404;
- a prompt refused by the content filter is 400 `content_filter` with an `innererror`
  naming the categories (`[[sim:content_filter]]` in a ticket); an answer withheld is 200
  with `finish_reason: "content_filter"` (`[[sim:content_filter_output]]`);
- bodies carry `prompt_filter_results` and per-choice `content_filter_results`;
- rate-limit headers are only `x-ratelimit-remaining-requests` and `-tokens` (no limit, no
  reset); a 429 says when to come back in `retry-after` (seconds) and `retry-after-ms`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from shared.simulator.faults import ErrorReply
from shared.simulator.responses import Completion

SAFE = {"filtered": False, "severity": "safe"}
CATEGORIES = ("hate", "self_harm", "sexual", "violence")
REGION = "Sweden Central"
_CODES = {500: "InternalServerError", 503: "ServiceUnavailable", 504: "Timeout"}


def filter_results(flagged: str | None = None) -> dict[str, Any]:
    return {
        name: ({"filtered": True, "severity": "medium"} if name == flagged else dict(SAFE))
        for name in CATEGORIES
    }


def error_body(reply: ErrorReply, api_version: str) -> dict[str, Any]:
    if reply.code == "content_filter":
        return {
            "error": {
                "message": reply.message,
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": filter_results("violence"),
                },
            }
        }
    if reply.status == 429:
        wait_s = max(1, math.ceil(int(reply.headers.get("retry-after-ms", "1000")) / 1000))
        message = (
            "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
            f"{api_version} have exceeded token rate limit of your current OpenAI S0 pricing "
            f"tier. Please retry after {wait_s} seconds."
        )
        return {"error": {"code": "429", "message": message}}
    if reply.code in ("context_length_exceeded", None) and reply.status == 400:
        return reply.body()  # the model's own validation errors keep OpenAI's shape
    code = _CODES.get(reply.status, reply.code or str(reply.status))
    return {"error": {"code": code, "message": reply.message}}


def headers(given: dict[str, str], request_id: str) -> dict[str, str]:
    kept = {
        k: v
        for k, v in given.items()
        if k in ("x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens")
        or k.startswith("retry-after")
    }
    kept["apim-request-id"] = request_id
    kept["x-ms-region"] = REGION
    return kept


def decorate(doc: dict[str, Any], output_filtered: bool) -> dict[str, Any]:
    """Azure's additions to a chat completion body."""
    doc.pop("service_tier", None)
    doc["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": filter_results()}]
    for choice in doc.get("choices", ()):
        if output_filtered:
            choice["finish_reason"] = "content_filter"
            choice["message"]["content"] = None
            choice["message"].pop("tool_calls", None)
            choice["content_filter_results"] = filter_results("violence")
        else:
            choice["content_filter_results"] = filter_results()
    return doc


def stream_chunks(completion: Completion, include_usage: bool) -> Iterator[dict[str, Any]]:
    # Azure's stream opens with a chunk holding only the prompt's filter results, no choices.
    results = [{"prompt_index": 0, "content_filter_results": filter_results()}]
    yield {"id": "", "object": "", "created": 0, "model": "", "choices": [],
           "prompt_filter_results": results}  # fmt: skip
    for chunk in completion.chunks(include_usage):
        chunk.pop("service_tier", None)
        for choice in chunk["choices"]:
            choice["content_filter_results"] = filter_results()
        yield chunk


def unauthorized() -> dict[str, Any]:
    return {
        "error": {
            "code": "401",
            "message": "Access denied due to invalid subscription key or wrong API endpoint. "
            "Make sure to provide a valid key for an active subscription and use a correct "
            "regional API endpoint for your resource.",
        }
    }


def deployment_not_found() -> dict[str, Any]:
    return {
        "error": {
            "code": "DeploymentNotFound",
            "message": "The API deployment for this resource does not exist. If you created "
            "the deployment within the last 5 minutes, please wait a moment and try again.",
        }
    }


def resource_not_found() -> dict[str, Any]:
    return {"error": {"code": "404", "message": "Resource not found"}}
