"""Azure OpenAI through the SDK's AzureOpenAI client against the simulator's Azure face."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from shared.clock import SystemClock
from shared.errors import ProviderMisconfigured, ProviderRateLimited
from shared.keys import Keys
from shared.models import OutcomeStatus
from shared.pricing import PriceTable, Usage
from shared.settings import Settings, price_table
from shared.stores.provider_limits import ProviderLimits
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import wait_for, worker_intake
from tests.workers.agent.helpers import demo_tools, roomy_budget, ticket
from workers.agent.llm import LLMClient
from workers.agent.runner import Agent
from workers.runtime import RunningWorker

KEY = "f3c9a1b27d4e4f0a9b8c7d6e5f4a3b2c"  # the shape of an Azure resource key
DEPLOYMENT = "my-gpt4o-deployment"
QUESTION = "I never get the 2FA code on my phone when I sign in."


@pytest.fixture(scope="module")
def azure_sim() -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess("--seed", "7", "--api-key", KEY, "--deployments", DEPLOYMENT)
    yield sim
    sim.stop()


def _settings(namespace: str, sim: SimulatorProcess, **env: object) -> Settings:
    values: dict[str, object] = {
        "llm_provider": "azure", "azure_endpoint": sim.root_url, "llm_api_key": KEY,
        "model": DEPLOYMENT, "model_ladder": DEPLOYMENT,
        "model_aliases": json.dumps({DEPLOYMENT: "gpt-4o"}),
    }  # fmt: skip
    values.update(env)
    return make_settings(namespace, **values)


def _agent(settings: Settings) -> Agent:
    return Agent(settings=settings, llm=LLMClient(settings), prices=price_table(settings),
                 clock=SystemClock(), tools=demo_tools(settings))  # fmt: skip


def test_a_deployment_answers_and_is_billed_as_the_model_it_aliases(
    namespace: str, azure_sim: SimulatorProcess
) -> None:
    agent = _agent(_settings(namespace, azure_sim))
    before = azure_sim.stats()["by_model"].get(DEPLOYMENT, 0)
    try:
        result = agent.run(ticket(QUESTION, "Two-factor code"), roomy_budget())
    finally:
        agent.close()
    assert result.status == "answered" and result.llm_calls == 2
    # The requests went out under the deployment's name, the bill at gpt-4o's prices
    assert azure_sim.stats()["by_model"][DEPLOYMENT] == before + 2
    usage = Usage(result.prompt_tokens, result.cached_tokens, result.completion_tokens)
    at_gpt4o = PriceTable.load().cost_micros("gpt-4o", usage)
    assert at_gpt4o <= result.cost_micros <= at_gpt4o + result.llm_calls


@pytest.mark.parametrize(
    ("directive", "reason"),
    [("[[sim:content_filter]]", "content_filter:violence"),
     ("[[sim:content_filter_output]]", "content_filter:output")],
)  # fmt: skip
def test_a_content_filter_refusal_escalates_with_its_reason(
    namespace: str, azure_sim: SimulatorProcess, directive: str, reason: str
) -> None:
    agent = _agent(_settings(namespace, azure_sim))
    try:
        result = agent.run(ticket(f"My question. {directive}", "Hello"), roomy_budget())
    finally:
        agent.close()
    # Then it is escalated at once, with the reason, never retried
    assert (result.status, result.reason, result.attempts) == ("escalated", reason, 1)


def test_a_content_filtered_ticket_is_escalated_by_the_worker_not_dead_lettered(
    namespace: str, azure_sim: SimulatorProcess
) -> None:
    with RunningWorker(_settings(namespace, azure_sim), threads=2) as worker:
        ctx = worker.ctx
        worker_intake(worker).submit(ticket("Hello [[sim:content_filter]]", "Hi"))
        assert wait_for(lambda: ctx.outcomes.summary()["escalated"] == 1, timeout_s=30)
        [outcome] = list(ctx.outcomes.iter_outcomes())
        assert ctx.dead_letters.size() == 0
    assert outcome.status == OutcomeStatus.ESCALATED
    assert outcome.reason == "content_filter:violence"


def test_rate_limits_are_read_the_way_azure_sends_them(namespace: str, r: redis.Redis) -> None:
    sim = SimulatorProcess("--seed", "7", "--api-key", KEY, "--rpm", "1",
                           "--deployments", DEPLOYMENT)  # fmt: skip
    client = LLMClient(_settings(namespace, sim))
    messages = [{"role": "user", "content": "hello"}]
    try:
        done = client.complete(DEPLOYMENT, messages, None, 50)
        # A success carries only what is left, no limit and no reset
        assert done.headers["x-ratelimit-remaining-requests"] == "0"
        assert "x-ratelimit-reset-requests" not in done.headers and done.headers["apim-request-id"]
        limits = ProviderLimits(r, Keys(namespace), SystemClock())
        limits.observe(done.headers)
        state = limits.state()
        assert state["remaining_requests"] == 0
        assert 9_000 <= state["reset_requests_ms"] - state["observed_ms"] <= 10_000
        # And a 429 says when to come back, in Azure's headers and body
        with pytest.raises(ProviderRateLimited) as info:
            client.complete(DEPLOYMENT, messages, None, 50)
        # (the minute's window frees its one request a minute after it was made)
        assert info.value.retry_after_s is not None and 50 < info.value.retry_after_s <= 60
    finally:
        client.close()
        sim.stop()


@pytest.mark.parametrize(
    ("env", "reason"),
    [({"llm_api_key": "0" * 32}, "provider_unauthorized"),
     ({"model": "no-such-deployment", "model_ladder": "no-such-deployment",
       "model_aliases": '{"no-such-deployment": "gpt-4o"}'}, "provider_not_found")],
)  # fmt: skip
def test_a_wrong_key_or_deployment_is_a_configuration_error(
    namespace: str, azure_sim: SimulatorProcess, env: dict[str, str], reason: str
) -> None:
    settings = _settings(namespace, azure_sim, **env)
    client = LLMClient(settings)
    try:
        with pytest.raises(ProviderMisconfigured) as info:
            client.complete(settings.model, [{"role": "user", "content": "hi"}], None, 50)
    finally:
        client.close()
    assert info.value.reason == reason
