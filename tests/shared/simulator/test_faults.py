"""Injected faults, rate limits and the `/_sim` controls, seen through the openai SDK."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.conftest import SimulatorProcess
from tests.shared.simulator.helpers import ask, client

HELLO = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize(
    ("kind", "exception", "status", "code"),
    [
        ("rate_limit", openai.RateLimitError, 429, "rate_limit_exceeded"),
        ("insufficient_quota", openai.RateLimitError, 429, "insufficient_quota"),
        ("server_error", openai.InternalServerError, 500, None),
        ("unavailable", openai.InternalServerError, 503, None),
        ("context_length", openai.BadRequestError, 400, "context_length_exceeded"),
    ],
)
def test_each_fault_kind_raises_the_right_sdk_exception(
    private_simulator: SimulatorProcess,
    kind: str,
    exception: type[openai.APIStatusError],
    status: int,
    code: str | None,
) -> None:
    # Given every request failing with this kind
    private_simulator.faults(error_rate=1.0, error_kind=kind, retry_after_ms=2500)
    # When the SDK calls
    with pytest.raises(exception) as caught:
        ask(client(private_simulator.base_url), HELLO, tools=None)
    # Then the status, the code and (for rate_limit only) Retry-After are OpenAI's
    error = caught.value
    assert error.status_code == status
    if code is not None:
        assert error.code == code
    headers = error.response.headers
    if kind == "rate_limit":
        assert headers["retry-after"] == "3" and headers["retry-after-ms"] == "2500"
    else:
        assert "retry-after" not in headers
    assert private_simulator.stats()["errors_by_kind"] == {kind: 1}


def test_timeout_outlasts_the_client(private_simulator: SimulatorProcess) -> None:
    # Given a timeout fault that hangs 2 s, and a client that waits 0.3 s
    private_simulator.faults(error_rate=1.0, error_kind="timeout", timeout_s=2)
    # Then the client times out
    with pytest.raises(openai.APITimeoutError):
        ask(client(private_simulator.base_url, timeout=0.3), HELLO, tools=None)
    # And a patient client gets the 504 in the end
    private_simulator.faults(timeout_s=0.2)
    with pytest.raises(openai.InternalServerError) as caught:
        ask(client(private_simulator.base_url), HELLO, tools=None)
    assert caught.value.status_code == 504


def test_faults_change_at_runtime_and_are_returned(private_simulator: SimulatorProcess) -> None:
    # Given a healthy simulator
    llm = client(private_simulator.base_url)
    assert ask(llm, HELLO, tools=None).choices[0].message.content
    # When faults are switched on, then off
    config = private_simulator.faults(error_rate=1, error_kind="unavailable", latency_ms=5)
    with pytest.raises(openai.InternalServerError):
        ask(llm, HELLO, tools=None)
    private_simulator.faults(error_rate=0)
    # Then the new config is returned whole and requests succeed again
    assert config["error_rate"] == 1.0 and config["error_kind"] == "unavailable"
    assert config["latency_ms"] == 5 and config["seed"] == 7 and config["retry_after_ms"] == 1000
    assert ask(llm, HELLO, tools=None).choices[0].message.content


def test_bad_fault_settings_are_refused(private_simulator: SimulatorProcess) -> None:
    url = f"{private_simulator.root_url}/_sim/faults"
    for body in ({"error_rate": 2}, {"error_kind": "meteor"}, {"latency": 5}, {"rpm": "x"}):
        assert httpx.post(url, json=body).status_code == 400, body
    assert httpx.get(url).json()["error_rate"] == 0.0


def fail_pattern(sim: SimulatorProcess, seed: int, n: int) -> list[bool]:
    sim.faults(error_rate=0.5, error_kind="server_error", seed=seed)
    llm = client(sim.base_url)
    pattern = []
    for _ in range(n):
        try:
            ask(llm, HELLO, tools=None)
            pattern.append(False)
        except openai.InternalServerError:
            pattern.append(True)
    return pattern


def test_error_draws_are_deterministic_for_a_seed(private_simulator: SimulatorProcess) -> None:
    # Given an error rate of one half
    # When the same seed is set twice (setting a seed restarts its sequence)
    first = fail_pattern(private_simulator, 3, 30)
    second = fail_pattern(private_simulator, 3, 30)
    other = fail_pattern(private_simulator, 4, 30)
    # Then the same requests fail, about half of them, and another seed fails others
    assert first == second
    assert 5 <= sum(first) <= 25
    assert other != first


def test_stats_count_requests_tokens_and_tool_calls(private_simulator: SimulatorProcess) -> None:
    # Given one plain answer, one tool call and one failure
    llm = client(private_simulator.base_url)
    plain = ask(llm, HELLO, tools=None)
    tool = ask(llm, [{"role": "user", "content": "<ticket>Subject: my order</ticket>"}])
    private_simulator.faults(error_rate=1, error_kind="server_error")
    with pytest.raises(openai.InternalServerError):
        ask(llm, HELLO, tools=None)
    # When the stats are read
    stats = private_simulator.stats()
    # Then they add up to what the SDK saw
    assert plain.usage is not None and tool.usage is not None
    assert stats["requests"] == 3
    assert stats["by_status"] == {"200": 2, "500": 1}
    assert stats["prompt_tokens"] == plain.usage.prompt_tokens + tool.usage.prompt_tokens
    assert (
        stats["completion_tokens"] == plain.usage.completion_tokens + tool.usage.completion_tokens
    )
    assert stats["tool_calls"] == 1 and stats["tool_calls_by_name"] == {
        "lookup_customer_history": 1
    }
    assert stats["errors_by_kind"] == {"server_error": 1}
    assert stats["cached_tokens"] == 0 and stats["in_flight"] == 0
    # And a reset zeroes them
    httpx.post(f"{private_simulator.root_url}/_sim/reset").raise_for_status()
    assert private_simulator.stats()["requests"] == 0


def test_rpm_limit_answers_429_with_headers(private_simulator: SimulatorProcess) -> None:
    # Given a limit of 3 requests per minute
    private_simulator.faults(rpm=3)
    llm = client(private_simulator.base_url)
    remaining = [
        llm.chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO).headers[  # type: ignore[arg-type]
            "x-ratelimit-remaining-requests"
        ]
        for _ in range(3)
    ]
    # When a fourth request comes within the minute
    with pytest.raises(openai.RateLimitError) as caught:
        ask(llm, HELLO, tools=None)
    # Then it is refused as rate_limit_exceeded, saying when to come back
    assert remaining == ["2", "1", "0"]
    assert caught.value.code == "rate_limit_exceeded"
    headers = caught.value.response.headers
    assert 55_000 <= int(headers["retry-after-ms"]) <= 60_000
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-limit-requests"] == "3"


def test_tpm_limit_counts_prompt_and_completion(private_simulator: SimulatorProcess) -> None:
    # Given 200 tokens per minute
    private_simulator.faults(tpm=200)
    llm = client(private_simulator.base_url)
    raw = llm.chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO)  # type: ignore[arg-type]
    usage = raw.parse().usage
    assert usage is not None
    # When a prompt of 190 tokens follows (alone it would fit)
    with pytest.raises(openai.RateLimitError) as caught:
        ask(llm, [{"role": "user", "content": "x" * 744}], tools=None)
    # Then it no longer fits, while the first one's headers showed what was left after its prompt
    assert caught.value.code == "rate_limit_exceeded"
    assert int(raw.headers["x-ratelimit-remaining-tokens"]) == 200 - usage.prompt_tokens
    assert caught.value.response.headers["x-ratelimit-remaining-tokens"] == str(
        200 - usage.total_tokens
    )


def test_a_prompt_over_the_context_window_is_refused(simulator: SimulatorProcess) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client(simulator.base_url), [{"role": "user", "content": "y" * 600_000}], tools=None)
    assert caught.value.code == "context_length_exceeded"


def test_latency_does_not_block_other_requests(private_simulator: SimulatorProcess) -> None:
    # Given 400 ms of latency per request
    private_simulator.faults(latency_ms=400)
    llm = client(private_simulator.base_url)
    # When eight requests run at once
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(
                lambda i: ask(llm, [{"role": "user", "content": f"q{i}"}], tools=None), range(8)
            )
        )
    elapsed_s = time.monotonic() - started
    # Then they overlap: far less than 8 x 400 ms
    assert len(results) == 8
    assert 0.4 <= elapsed_s < 1.6
    assert private_simulator.stats()["max_in_flight"] >= 4
