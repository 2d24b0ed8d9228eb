"""The ordinary paths through the agent, against the simulator over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.settings import Settings
from tests.conftest import SimulatorProcess
from tests.workers.agent.helpers import agent_settings, build_agent, roomy_budget, ticket
from workers.agent.runner import Agent


@pytest.fixture
def agent_env(namespace: str, simulator: SimulatorProcess) -> Iterator[tuple[Settings, Agent]]:
    settings = agent_settings(namespace, simulator.base_url)
    agent = build_agent(settings)
    yield settings, agent
    agent.close()


def test_order_ticket_looks_up_searches_and_replies(agent_env: tuple[Settings, Agent]) -> None:
    # Given an order question from a requester who is in the sample store
    settings, agent = agent_env
    budget = roomy_budget()
    t = ticket("My refund for the rocket skates has not arrived yet.", "Refund not received")
    # When the agent runs
    result = agent.run(t, budget)
    # Then it looked the requester up, searched, and answered naming the article it found
    assert result.status == "answered", result.reason
    assert result.tools_used == ["lookup_customer_history", "search_knowledge_base", "send_reply"]
    assert result.llm_calls == 3 and result.attempts == 3 and result.steps == 3
    found = next(tr for tr in result.tool_trace if tr.name == "search_knowledge_base")
    assert '"title":"Refund policy"' in found.content
    assert result.reply is not None and "Refund policy" in result.reply
    # citing its title and URL, and the result records the article it drew on
    assert "https://help.example.com/articles/refund-policy" in result.reply
    assert result.articles == ["refund-policy"]
    # And every micro-dollar it reports was settled in the envelope, nothing left held
    assert result.cost_micros == budget.spent_micros > 0
    assert budget.held_micros == 0
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert result.model == settings.model and result.gathered is None


def test_plain_question_takes_two_calls(agent_env: tuple[Settings, Agent]) -> None:
    # Given a how-to question with no order words
    _, agent = agent_env
    # When the agent runs
    result = agent.run(
        ticket("I never get the 2FA code on my phone.", "Two-factor code"), roomy_budget()
    )
    # Then it searched once and replied: two model calls
    assert result.status == "answered"
    assert result.tools_used == ["search_knowledge_base", "send_reply"]
    assert result.llm_calls == 2
    assert result.reply is not None and "Two-factor" in result.reply


def test_escalation_trigger_hands_over_with_the_models_reason(
    agent_env: tuple[Settings, Agent],
) -> None:
    # Given a ticket that threatens legal action
    _, agent = agent_env
    # When the agent runs
    result = agent.run(ticket("I will call my lawyer about this.", "Unacceptable"), roomy_budget())
    # Then the model's escalate_to_human ends the run, escalated, with nothing sent
    assert result.status == "escalated" and result.reply is None
    assert result.reason is not None and result.reason.startswith("requested_by_model:")
    assert "lawyer" in result.reason
    assert result.tools_used == ["escalate_to_human"]


def test_requester_outside_the_store_gets_no_history(agent_env: tuple[Settings, Agent]) -> None:
    # Given an order ticket from a requester the sample store does not know
    _, agent = agent_env
    t = ticket("Where is my order?", "Order status", tenant="globex", requester="u-999")
    # When the agent runs
    result = agent.run(t, roomy_budget())
    # Then the lookup says nothing is on file (no one else's history) and it still answers
    lookup = result.tool_trace[0]
    assert lookup.name == "lookup_customer_history" and '"found":false' in lookup.content
    assert result.status == "answered"


def test_model_override_and_shorter_answers(agent_env: tuple[Settings, Agent]) -> None:
    # Given the worker degrading to a cheaper model with a small output cap
    _, agent = agent_env
    # When the agent runs with those
    result = agent.run(
        ticket("How do I reset my password?", "Password"),
        roomy_budget(),
        model="gpt-4.1-nano",
        max_output_tokens=80,
    )
    # Then the call used that model and stayed inside the cap
    assert result.status == "answered" and result.model == "gpt-4.1-nano"
    assert result.completion_tokens <= 80 * result.llm_calls


def test_no_article_found_says_so_and_cites_nothing(agent_env: tuple[Settings, Agent]) -> None:
    # Given a tenant with no help centre at all
    _, agent = agent_env
    t = ticket("How do I reset my password?", "Password reset", tenant="umbrella")
    # When the agent runs
    result = agent.run(t, roomy_budget())
    # Then it searched, found nothing, and told the customer so: no article invented or cited
    assert result.tools_used == ["search_knowledge_base", "send_reply"]
    found = next(tr for tr in result.tool_trace if tr.name == "search_knowledge_base")
    assert '"articles":[]' in found.content and "do not invent" in found.content
    assert result.status == "answered" and result.articles == []
    assert result.reply is not None and "could not find an article" in result.reply
    assert "help.example.com" not in result.reply and '"' not in result.reply
