"""The simulator's pure parts: token accounting, durations, config, ticket reading, runners."""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import ConfigError
from shared.estimate import prompt_tokens_upper_bound
from shared.simulator.config import ErrorKind, SimConfig
from shared.simulator.ratelimit import format_duration
from shared.simulator.server import command, start_in_thread
from shared.simulator.ticket import read_ticket
from shared.simulator.usage import prompt_tokens, truncate_to_tokens
from tests.conftest import ROOT, free_port
from tests.shared.simulator.helpers import TOOLS, ask, client

_call = st.fixed_dictionaries(
    {
        "id": st.text(max_size=8),
        "type": st.just("function"),
        "function": st.fixed_dictionaries({"name": st.text(max_size=10), "arguments": st.text()}),
    }
)
_message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "user", "assistant", "tool"]),
        "content": st.none() | st.text(),
    },
    optional={"tool_calls": st.lists(_call, max_size=2)},
)


@settings(max_examples=300, deadline=None)
@given(messages=st.lists(_message, min_size=1, max_size=6), with_tools=st.booleans())
def test_prompt_tokens_never_exceed_the_estimator_bound(
    messages: list[dict[str, Any]], with_tools: bool
) -> None:
    tools = TOOLS if with_tools else None
    assert prompt_tokens(messages, tools) <= prompt_tokens_upper_bound(messages, tools)


@given(text=st.text(), max_tokens=st.integers(min_value=1, max_value=50))
def test_truncation_respects_the_token_cap_and_characters(text: str, max_tokens: int) -> None:
    cut, was_cut = truncate_to_tokens(text, max_tokens)
    assert len(cut.encode()) <= max_tokens * 4
    assert text.startswith(cut)
    assert was_cut == (cut != text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.02, "20ms"), (1, "1s"), (17.5, "17.5s"), (60, "1m0s"), (360, "6m0s"), (0, "0ms")],
)
def test_durations_in_openai_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_config_updates_are_checked() -> None:
    config = SimConfig().updated({"error_kind": "timeout", "error_rate": "0.5", "latency_ms": 10})
    assert (config.error_kind, config.error_rate, config.latency_ms) == (ErrorKind.TIMEOUT, 0.5, 10)
    for bad in ({"error_rate": -0.1}, {"nope": 1}, {"latency_ms": 1.5}, {"rpm": 0}, {"seed": True}):
        with pytest.raises(ConfigError):
            config.updated(bad)


def test_ticket_reading_takes_the_subject_line_and_directives() -> None:
    text = (
        "Ticket T-1.\n<ticket>\nFrom: Ann\nSubject: Broken kettle lid\n\n"
        "[[sim:slow:120]] [[sim:loop]]\n</ticket>"
    )
    ticket = read_ticket([{"role": "user", "content": text}])
    assert ticket.subject == "Broken kettle lid"
    assert ticket.keywords() == "broken kettle lid"
    assert ticket.directives == (("slow", 120), ("loop", None))


def test_runs_in_a_thread_from_the_command_it_builds() -> None:
    # Given a simulator started in this process
    port = free_port()
    running = start_in_thread("127.0.0.1", port, SimConfig(seed=3, latency_ms=1))
    try:
        # Then it answers, and `command` rebuilds the same configuration as CLI flags
        assert ask(
            client(running.base_url), [{"role": "user", "content": "hi"}], tools=None
        ).choices
        argv = command("127.0.0.1", port, SimConfig(seed=3, latency_ms=1))
        assert argv[argv.index("--seed") + 1] == "3" and argv[argv.index("--latency-ms") + 1] == "1"
    finally:
        running.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.base_url}/models", timeout=1)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_cli_stops_cleanly_on_a_signal_even_mid_request(signum: int) -> None:
    # Given `paceline simulator` with every request hanging in a timeout fault
    port = free_port()
    cfg = SimConfig(error_rate=1.0, error_kind=ErrorKind.TIMEOUT, timeout_s=30)
    proc = subprocess.Popen(command("127.0.0.1", port, cfg), cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(f"{url}/v1/models", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{url}/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "x"}]},
                timeout=0.3,
            )
        # When it receives SIGTERM or Ctrl-C's SIGINT
        started = time.monotonic()
        proc.send_signal(signum)
        # Then it exits 0 within its graceful-shutdown bound
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
