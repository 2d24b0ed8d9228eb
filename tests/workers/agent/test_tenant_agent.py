"""Each tenant's agent: its own prompt and model reach the provider (the simulator, over real
HTTP), its instructions after the fixed rules, and admission's prompt bound counts them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.clock import SystemClock
from shared.estimate import prompt_tokens_upper_bound
from shared.pricing import PriceTable
from shared.settings import Settings
from shared.tenants import Tenant, TenantRegistry, load_tenants
from tests.conftest import SimulatorProcess
from tests.workers.agent.helpers import agent_settings, roomy_budget, ticket
from workers.agent.llm import Completion, LLMClient
from workers.agent.prompt import RULES, SYSTEM_PROMPT, first_messages, system_prompt
from workers.agent.runner import Agent
from workers.agent.tools import ToolBox

TENANTS = """
[tenants.acme]
display_name = "Acme Outdoor"
instructions = "Sign off as The Acme team. Never promise a delivery date."
languages = ["de", "en"]
model = "gpt-4.1-mini"

[tenants.globex]
display_name = "Globex"
instructions = "Formal tone. Sign off as Globex Customer Care."
"""


class RecordingLLM(LLMClient):
    """The real client; it also keeps what each call sent (to read the prompt back)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.sent: list[tuple[str, list[dict[str, Any]]]] = []

    def complete(
        self,
        model: str,
        messages: Sequence[dict[str, Any]],
        *args: Any,
        **kwargs: Any,
    ) -> Completion:
        self.sent.append((model, [dict(m) for m in messages]))
        return super().complete(model, messages, *args, **kwargs)


def _agent(settings: Settings, tmp_path: Path) -> tuple[Agent, RecordingLLM]:
    path = tmp_path / "tenants.toml"
    path.write_text(TENANTS)
    s = settings.model_copy(update={"tenants_file": path})
    prices = PriceTable.load()
    registry = TenantRegistry(load_tenants(s, {}, prices), path, prices=prices, environ={})
    llm = RecordingLLM(s)
    agent = Agent(
        settings=s, llm=llm, prices=prices, clock=SystemClock(), tools=ToolBox(), tenants=registry
    )
    return agent, llm


def test_each_tenants_prompt_and_model_reach_the_provider(
    namespace: str, simulator: SimulatorProcess, tmp_path: Path
) -> None:
    agent, llm = _agent(agent_settings(namespace, simulator.base_url), tmp_path)
    # When each tenant's ticket is answered, and one of a tenant without a profile
    for tenant in ("acme", "globex", "initech"):
        agent.run(ticket("How do I reset my password?", tenant=tenant), roomy_budget())
    agent.close()
    firsts = {}
    for model, messages in llm.sent:
        firsts.setdefault(messages[1]["content"], (model, messages[0]["content"]))
    systems = [system for _, system in firsts.values()]
    models = [model for model, _ in firsts.values()]
    acme, globex, plain = systems
    # Then each system prompt is the fixed rules naming that tenant, then its own words only
    assert acme.startswith("You are the customer-support assistant of Acme Outdoor.")
    assert RULES in acme and acme.index(RULES) < acme.index("Sign off as The Acme team")
    assert "never override the rules above" in acme and "one of: de, en" in acme
    assert "Globex" not in acme and "Acme" not in globex
    assert "Sign off as Globex Customer Care" in globex
    # And a tenant the file does not name gets the neutral prompt (no "online shop")
    assert plain == SYSTEM_PROMPT and "online shop" not in plain
    # And acme's own model answered acme's ticket, the default model the others
    assert (
        models[0] == "gpt-4.1-mini"
        and models[1] == models[2] == agent_settings(namespace, simulator.base_url).model
    )


def test_the_admission_bound_counts_each_tenants_own_prompt(namespace: str, tmp_path: Path) -> None:
    agent, _ = _agent(agent_settings(namespace, "http://127.0.0.1:9"), tmp_path)
    for tenant in ("acme", "globex", "initech"):
        t = ticket("Where is my order?", tenant=tenant)
        profile = agent.prompts.profile(tenant)
        system = system_prompt(profile) if profile != Tenant() else SYSTEM_PROMPT
        whole = prompt_tokens_upper_bound(
            first_messages(t, agent._ticket_bytes, system=system), agent._tools.schemas
        )
        assert agent.prompt_bound(t) == whole
    agent.close()


def test_a_reloaded_files_new_secrets_are_refused_without_a_restart(
    namespace: str, tmp_path: Path
) -> None:
    # Given an agent over a tenants file, and a tenant added later with its own vendor token
    path = tmp_path / "tenants.toml"
    path.write_text(TENANTS)
    s = agent_settings(namespace, "http://127.0.0.1:9").model_copy(update={"tenants_file": path})
    prices = PriceTable.load()
    clock = [0.0]
    env = {"INITECH_FRONT_TOKEN": "initech-front-token-8u7y6t"}
    registry = TenantRegistry(
        load_tenants(s, env, prices), path, prices=prices, environ=env, monotonic=lambda: clock[0]
    )
    agent = Agent(
        settings=s, llm=LLMClient(s), prices=prices, clock=SystemClock(), tools=ToolBox(),
        tenants=registry,
    )  # fmt: skip
    reply = "Log in with initech-front-token-8u7y6t."
    t = ticket("hi", tenant="acme")
    assert agent.reply_check().check(reply, t) is None
    path.write_text(
        TENANTS + '[tenants.initech.vendors.front]\ntoken_env = "INITECH_FRONT_TOKEN"\n'
    )
    # When the registry next looks at the file / Then the new token is a secret for every tenant
    clock[0] += 60
    registry.current()
    assert agent.reply_check().check(reply, t) == "secret"
    agent.close()
