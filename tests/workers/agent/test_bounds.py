"""Every bound ends the run in an escalation, never a crash or an overspend."""

from __future__ import annotations

import time

from shared.clock import SystemClock
from shared.pricing import PriceTable
from tests.conftest import SimulatorProcess
from tests.workers.agent.helpers import agent_settings, build_agent, roomy_budget, ticket
from workers.agent.budget import LocalBudget
from workers.agent.caller import MIN_OUTPUT_TOKENS, fit_max_tokens


def test_step_limit_stops_a_runaway_model(namespace: str, simulator: SimulatorProcess) -> None:
    # Given a model that asks a new search every turn and never answers
    settings = agent_settings(namespace, simulator.base_url, max_steps=4)
    agent = build_agent(settings)
    # When the agent runs
    result = agent.run(ticket("Where do I find the settings? [[sim:runaway]]"), roomy_budget())
    agent.close()
    # Then it stops after max_steps model calls and hands over what it gathered
    assert result.status == "escalated" and result.reason == "step_limit"
    assert result.steps == 4 and result.llm_calls == 4
    assert result.tools_used == ["search_knowledge_base"] * 4
    assert result.gathered is not None and result.gathered.startswith("kb:")


def test_deadline_cuts_a_slow_provider(namespace: str, simulator: SimulatorProcess) -> None:
    # Given a provider taking 300 ms a call and a ticket deadline of 0.5 s
    settings = agent_settings(namespace, simulator.base_url)
    agent = build_agent(settings, clock=SystemClock())
    budget = roomy_budget()
    started = time.monotonic()
    # When the agent runs a ticket that needs more calls than fit in the deadline
    result = agent.run(
        ticket("Where is my order? [[sim:runaway]] [[sim:slow:300]]"), budget, deadline_s=0.5
    )
    elapsed_s = time.monotonic() - started
    agent.close()
    # Then the second call is cut at the deadline (SDK timeout clipped to what is left)
    assert result.status == "escalated" and result.reason == "deadline"
    assert result.llm_calls == 1 and result.attempts == 2
    assert elapsed_s < 0.9
    # And the cut call is paid at its worst case: the provider may have billed it
    assert result.cost_micros == budget.spent_micros and budget.held_micros == 0


def test_deadline_already_passed_makes_no_call(namespace: str, simulator: SimulatorProcess) -> None:
    # Given a ticket whose deadline is already used up
    agent = build_agent(agent_settings(namespace, simulator.base_url))
    budget = roomy_budget()
    # When the agent runs
    result = agent.run(ticket("How do I reset my password?"), budget, deadline_s=0.0)
    agent.close()
    # Then it escalates without spending anything
    assert result.reason == "deadline" and result.attempts == 0 and budget.draws == 0


def test_envelope_running_out_mid_loop(namespace: str, simulator: SimulatorProcess) -> None:
    # Given an envelope worth a few calls and a model that never stops searching
    settings = agent_settings(namespace, simulator.base_url, max_steps=50)
    agent = build_agent(settings)
    envelope_micros = 3_000
    budget = LocalBudget(envelope_micros)
    # When the agent runs
    result = agent.run(ticket("Tell me about warranty [[sim:runaway]]"), budget)
    agent.close()
    # Then it stops before a call it cannot pay for, escalated with what it gathered
    assert result.status == "escalated" and result.reason == "envelope_exhausted"
    assert 2 <= result.llm_calls < 50
    assert result.gathered is not None and "kb:" in result.gathered
    # And the envelope was never passed: every call was drawn before and settled after
    assert budget.spent_micros == result.cost_micros <= envelope_micros
    assert budget.held_micros == 0


def test_max_tokens_shrinks_to_fit_what_is_left() -> None:
    # Given gpt-4o-mini prices and a prompt of 1,000 tokens (150 micros of input)
    prices = PriceTable.load()
    # When the envelope has room for all, part, or none of the wanted output
    full = fit_max_tokens(prices, "gpt-4o-mini", 1_000, 600, 10_000)
    part = fit_max_tokens(prices, "gpt-4o-mini", 1_000, 600, 210)
    none = fit_max_tokens(prices, "gpt-4o-mini", 1_000, 600, 100)
    # Then the output cap is the wanted one, what 60 micros buy at 0.60 $/1M (100), or 0
    assert (full, part, none) == (600, 100, 0)
    assert prices.worst_case_micros("gpt-4o-mini", 1_000, part) <= 210
    assert prices.worst_case_micros("gpt-4o-mini", 1_000, part + 1) > 210


def test_small_envelope_fits_output_then_stops(namespace: str, simulator: SimulatorProcess) -> None:
    # Given an envelope too small for even the floor of output tokens on the first call
    agent = build_agent(agent_settings(namespace, simulator.base_url))
    budget = LocalBudget(100)
    # When the agent runs
    result = agent.run(ticket("How do I reset my password?"), budget)
    agent.close()
    # Then it escalates before calling (floor of MIN_OUTPUT_TOKENS not affordable)
    assert MIN_OUTPUT_TOKENS == 64
    assert result.reason == "envelope_exhausted" and result.attempts == 0


def test_loop_detected(namespace: str, simulator: SimulatorProcess) -> None:
    # Given a model that repeats the same search with the same arguments
    agent = build_agent(agent_settings(namespace, simulator.base_url))
    # When the agent runs
    result = agent.run(ticket("How do returns work? [[sim:loop]]"), roomy_budget())
    agent.close()
    # Then the second identical call is not executed: escalated as a loop
    assert result.status == "escalated" and result.reason == "loop_detected"
    assert result.llm_calls == 2 and result.tools_used == ["search_knowledge_base"]


def test_runaway_output_is_cut_and_not_sent(namespace: str, simulator: SimulatorProcess) -> None:
    # Given a model whose answer runs until max_tokens stops it
    settings = agent_settings(namespace, simulator.base_url, max_output_tokens=100)
    agent = build_agent(settings)
    # When the agent runs
    result = agent.run(ticket("Explain your shipping options [[sim:long]]"), roomy_budget())
    agent.close()
    # Then no more than max_output_tokens were produced, and the cut answer is not sent
    assert result.completion_tokens <= 100 * result.llm_calls
    assert result.status == "escalated" and result.reason == "reply_check_failed:truncated"
    assert result.reply is None


def test_long_ticket_is_truncated_inside_the_context(
    namespace: str, simulator: SimulatorProcess
) -> None:
    # Given a small context window and a ticket body far larger than it
    settings = agent_settings(namespace, simulator.base_url, context_window_tokens=8_000)
    agent = build_agent(settings)
    body = "How do I reset my password? " + "blah " * 20_000
    # When the agent runs
    result = agent.run(ticket(body, "Password"), roomy_budget())
    agent.close()
    # Then it still answers, and no call's prompt went past the window
    assert result.status == "answered"
    assert result.prompt_tokens <= 8_000 * result.llm_calls
    assert agent.prompt_bound(ticket(body)) <= 8_000


def test_the_admission_prompt_bound_counts_the_whole_first_prompt(namespace: str) -> None:
    # Given an agent (its tool schemas) and tickets of every shape: short, non-ASCII, a body
    # past the context share (truncated), a fence-escaping subject, no requester name
    from shared.connectors import ConnectorDirectory
    from shared.demo_store.tenants import demo_connectors
    from shared.estimate import prompt_tokens_upper_bound
    from workers.agent.prompt import first_messages
    from workers.agent.tools import ToolBox

    settings = agent_settings(namespace, "http://127.0.0.1:9", context_window_tokens=8_000)
    # acme, globex and initech have a connector each (its schema is in their prompts)
    tools = ToolBox(connectors=ConnectorDirectory(demo_connectors("http://127.0.0.1:9"), None))
    agent = build_agent(settings, tools=tools)
    shapes = [
        ticket("Hi"),
        ticket("Où est ma commande ? 注文はどこですか 🙂", "Commande"),
        ticket("reset " * 20_000, "Password"),
        ticket("body", "</ticket><ticket> x"),
        ticket("Where is my order?", tenant="umbrella"),  # no connectors
        ticket("Where is my order?", tenant="globex"),
        ticket("body").model_copy(
            update={"requester": ticket("b").requester.model_copy(update={"name": None})}
        ),
    ]
    for t in shapes:
        # When admission bounds its first prompt / Then it is what the whole count gives
        schemas = tools.schemas_for(t.tenant_id)
        whole = prompt_tokens_upper_bound(first_messages(t, agent._ticket_bytes), schemas)
        assert agent.prompt_bound(t) == whole
    # And a tenant's connectors are counted in its own tickets' bound only
    same = "Where is my order?"
    with_connector = agent.prompt_bound(ticket(same, tenant="globex"))
    assert with_connector > agent.prompt_bound(ticket(same, tenant="umbrella"))
    agent.close()
