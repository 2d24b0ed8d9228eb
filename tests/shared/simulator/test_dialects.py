"""The simulator's dialects through the real openai SDK, and the agent coping with each."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from shared.clock import SystemClock
from shared.pricing import PriceTable
from tests.conftest import SimulatorProcess
from tests.shared.simulator.helpers import ask, ticket_messages
from tests.workers.agent.helpers import agent_settings, demo_tools, roomy_budget, ticket
from workers.agent.budget import LocalBudget
from workers.agent.llm import AssistantMessage, LLMClient, ToolCall
from workers.agent.runner import Agent, _unique_call_ids

DIALECTS = ("vllm", "ollama", "litellm")
QUESTION = "I never get the 2FA code on my phone when I sign in."


@pytest.fixture(scope="module", params=DIALECTS)
def dialect_sim(request: pytest.FixtureRequest) -> Iterator[tuple[str, SimulatorProcess]]:
    sim = SimulatorProcess("--seed", "7", "--dialect", request.param)
    yield request.param, sim
    sim.stop()


@pytest.fixture
def sdk(dialect_sim: tuple[str, SimulatorProcess]) -> Iterator[openai.OpenAI]:
    llm = openai.OpenAI(base_url=dialect_sim[1].base_url, api_key="ollama", max_retries=0)
    yield llm
    llm.close()


def _agent(namespace: str, base_url: str, missing: list[str]) -> Agent:
    settings = agent_settings(namespace, base_url)
    return Agent(settings=settings, llm=LLMClient(settings), prices=PriceTable.load(),
                 clock=SystemClock(), tools=demo_tools(settings),
                 on_usage_missing=missing.append)  # fmt: skip


def test_each_dialect_answers_through_the_sdk_the_way_its_server_does(
    dialect_sim: tuple[str, SimulatorProcess], sdk: openai.OpenAI
) -> None:
    name, _ = dialect_sim
    messages = ticket_messages("Two-factor code", QUESTION)
    raw = sdk.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=messages,
        tools=_tools(),  # type: ignore[arg-type]
    )
    done = raw.parse()
    call = done.choices[0].message.tool_calls[0]  # type: ignore[index]
    args = call.function.arguments
    if name == "vllm":
        assert (
            call.id.startswith("chatcmpl-tool-") and done.choices[0].finish_reason == "tool_calls"
        )
        assert done.usage is not None and done.usage.prompt_tokens_details is None
        assert "x-ratelimit-remaining-tokens" not in raw.headers
    elif name == "ollama":
        assert call.id.startswith("call_") and len(call.id) == 13
        assert done.choices[0].finish_reason == "stop"  # not tool_calls
        assert isinstance(args, dict) and args["query"]  # an object, not JSON text
        assert done.usage is not None and done.usage.prompt_tokens_details is None
    else:
        assert call.id == "" and isinstance(args, str)
        assert done.usage is not None and done.usage.completion_tokens_details is None
        assert done.usage.prompt_tokens_details.cached_tokens is None  # type: ignore[union-attr]
        assert raw.headers["llm_provider-x-ratelimit-remaining-tokens"]
        assert float(raw.headers["x-litellm-response-cost"]) > 0


def test_streamed_usage_as_each_server_sends_it(
    dialect_sim: tuple[str, SimulatorProcess], sdk: openai.OpenAI
) -> None:
    name, _ = dialect_sim
    options = {"include_usage": True, "continuous_usage_stats": True}
    chunks = list(
        ask(sdk, ticket_messages("Hi", QUESTION), tools=None, stream=True,
            stream_options=options)  # type: ignore[arg-type]
    )  # fmt: skip
    with_usage = [c for c in chunks if c.usage is not None]
    if name == "ollama":
        assert with_usage == []  # stream_options ignored: no usage at all
    elif name == "vllm":
        assert len(with_usage) == len(chunks)  # the running usage on every chunk
        totals = [c.usage.completion_tokens for c in with_usage]  # type: ignore[union-attr]
        assert totals == sorted(totals) and totals[-1] > 0
    else:
        assert len(with_usage) == 1 and chunks[-1].usage is not None


def test_the_agent_copes_with_each_dialect(
    dialect_sim: tuple[str, SimulatorProcess], namespace: str
) -> None:
    name, sim = dialect_sim
    missing: list[str] = []
    agent = _agent(namespace, sim.base_url, missing)
    try:
        results = [agent.run(ticket(QUESTION, "Two-factor code"), roomy_budget()) for _ in range(3)]
    finally:
        agent.close()
    # Every ticket is answered with the article the search found (tool ids and arguments
    # were read right, and the tool result reached the model as the answer to its call)
    for result in results:
        assert result.status == "answered", result.reason
        assert result.llm_calls == 2 and result.cost_micros > 0
        assert '"' in (result.reply or "")  # the simulator quotes the article's title
    if name == "ollama":
        # A repeated prompt comes back with prompt_tokens 0: never billed as free
        assert missing and results[-1].usage_missing == 2
        assert all(m == "gpt-4.1-mini" for m in missing)  # the default model
    else:
        assert missing == [] and all(r.usage_missing == 0 for r in results)


def test_missing_usage_is_settled_at_the_drawn_worst_case(namespace: str) -> None:
    sim = SimulatorProcess("--seed", "7", "--dialect", "ollama")
    missing: list[str] = []
    agent = _agent(namespace, sim.base_url, missing)
    try:
        agent.run(ticket(QUESTION, "Two-factor code"), roomy_budget())  # the prompt is now known
        budget = LocalBudget(100_000)
        result = agent.run(ticket(QUESTION, "Two-factor code"), budget)
    finally:
        agent.close()
        sim.stop()
    # Then both calls of the second ticket (and the first's second) were settled at what was
    # drawn for them
    assert result.usage_missing == 2 and len(missing) == 3
    assert budget.held_micros == 0 and budget.spent_micros == result.cost_micros
    # (each call's worst case is rounded up on its own: at most a micro-dollar a call above
    # the worst case of the summed tokens, which are the drawn bounds themselves)
    worst = PriceTable.load().worst_case_micros(
        "gpt-4.1-mini", result.prompt_tokens, result.completion_tokens
    )
    assert worst <= result.cost_micros <= worst + result.llm_calls


def test_missing_or_reused_tool_call_ids_are_made_unique_within_a_run() -> None:
    used: set[str] = set()
    first = _unique_call_ids(
        AssistantMessage(None, (ToolCall("", "a", "{}"), ToolCall("", "b", "{}"))), used, "r1", 1
    )
    again = _unique_call_ids(
        AssistantMessage(None, (ToolCall("call_1", "a", "{}"),)), used, "r1", 2
    )
    reused = _unique_call_ids(
        AssistantMessage(None, (ToolCall("call_1", "c", "{}"),)), used, "r1", 3
    )
    ids = [c.id for m in (first, again, reused) for c in m.tool_calls]
    assert all(ids) and len(set(ids)) == len(ids) == 4
    assert again.tool_calls[0].id == "call_1"  # a fresh, unique id is kept as the server sent it


def _tools() -> list[dict[str, object]]:
    from workers.agent.tools.schemas import tool_schemas

    return tool_schemas()
