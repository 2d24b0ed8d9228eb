"""A configuration error stops a process at start; it never reaches a ticket or the DLQ."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.errors import SettingsError
from shared.models import OutcomeStatus
from shared.pricing import PriceTable
from shared.settings import load_settings, price_table
from tests.conftest import REDIS_URL, ROOT, SimulatorProcess, make_settings
from tests.helpers import wait_for, worker_intake
from tests.workers.agent.helpers import ticket
from workers.runtime import RunningWorker

DEPLOYMENT = "my-gpt4o-deployment"
ALIASES = json.dumps({DEPLOYMENT: "gpt-4o"})


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PACELINE_MODEL": DEPLOYMENT}, f"PACELINE_MODEL: no price for model '{DEPLOYMENT}'"),
        ({"PACELINE_MODEL_LADDER": "gpt-4o-mini,cheap-one"}, "PACELINE_MODEL_LADDER: no price"),
        ({"PACELINE_MODEL_ALIASES": '{"x": "nope"}'}, "PACELINE_MODEL_ALIASES: alias 'x'"),
        ({"PACELINE_MODEL_ALIASES": "{not json"}, "PACELINE_MODEL_ALIASES: not valid JSON"),
        ({"PACELINE_LLM_PROVIDER": "azure"}, "PACELINE_AZURE_ENDPOINT: required"),
    ],
)
def test_an_unpriced_model_is_one_line_naming_the_setting_and_the_model(
    env: dict[str, str], needle: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_aliases_price_a_deployment_as_its_model(tmp_path: Path) -> None:
    # From the setting
    s = load_settings({"PACELINE_MODEL": DEPLOYMENT, "PACELINE_MODEL_ALIASES": ALIASES})
    prices = price_table(s)
    assert prices.price(DEPLOYMENT) == PriceTable.load().price("gpt-4o")
    assert prices.priced_as(DEPLOYMENT) == "gpt-4o"
    # Or from the pricing file, with the file's own models; the setting wins on a clash
    pricing = tmp_path / "prices.json"
    pricing.write_text(
        json.dumps(
            {
                "aliases": {"gw-small": "house-model", DEPLOYMENT: "gpt-4o-mini"},
                "house-model": {"input": 1, "output": 2},
            }
        )
    )
    s = load_settings(
        {
            "PACELINE_MODEL": "gw-small",
            "PACELINE_MODEL_LADDER": DEPLOYMENT,
            "PACELINE_PRICING_FILE": str(pricing),
            "PACELINE_MODEL_ALIASES": ALIASES,
        }
    )
    prices = price_table(s)
    assert prices.price("gw-small").output == 2_000_000
    assert prices.priced_as(DEPLOYMENT) == "gpt-4o"
    # And every other model a configuration can use is checked the same way
    prices.require_priced(["gpt-4o-mini-2024-07-18"], "PACELINE_EMBEDDING_MODEL")
    with pytest.raises(SettingsError, match="PACELINE_EMBEDDING_MODEL: no price for model 'e5'"):
        prices.require_priced(["e5"], "PACELINE_EMBEDDING_MODEL")


def _cli(namespace: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
    environ.update({"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace, **env})
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture
def deployment_sim() -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess("--seed", "7", "--deployments", DEPLOYMENT)
    yield sim
    sim.stop()


def test_no_ticket_is_dead_lettered_for_a_model_without_a_price(
    namespace: str, deployment_sim: SimulatorProcess
) -> None:
    simulator = deployment_sim
    good = make_settings(
        namespace, llm_base_url=simulator.base_url, model=DEPLOYMENT,
        model_ladder=DEPLOYMENT, model_aliases=ALIASES,
    )  # fmt: skip
    # Given tickets waiting on the queue
    waiting = RunningWorker(good, threads=2)
    intake = worker_intake(waiting)
    for n in range(3):
        intake.submit(ticket("I never get the 2FA code on my phone.", f"Code {n}"))
    # When a worker (and every other process) starts with the deployment but no price for it
    for command in (("worker", "--threads", "1"), ("scheduler",), ("webhook",)):
        done = _cli(namespace, *command, PACELINE_MODEL=DEPLOYMENT,
                    PACELINE_LLM_BASE_URL=simulator.base_url)  # fmt: skip
        # Then it refuses to start, with one line naming the setting and the model
        assert done.returncode == 3, (command, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert lines == [
            f"paceline: PACELINE_MODEL: no price for model '{DEPLOYMENT}'; add it to "
            "PACELINE_PRICING_FILE or map it to a priced model in PACELINE_MODEL_ALIASES"
        ], command
    # And nothing was taken off the queue or dead-lettered
    ctx = waiting.ctx
    assert ctx.dead_letters.size() == 0
    assert ctx.outcomes.summary()["pending"] == 3
    # When the alias is configured, the same tickets are answered, billed as gpt-4o
    with waiting:
        assert wait_for(lambda: ctx.outcomes.summary()["pending"] == 0, timeout_s=30)
        outcomes = list(ctx.outcomes.iter_outcomes())
        assert ctx.dead_letters.size() == 0
    assert [o.status for o in outcomes] == [OutcomeStatus.ANSWERED] * 3
    assert all(o.model == DEPLOYMENT and o.cost_micros > 0 for o in outcomes)
    assert simulator.stats()["by_model"].get(DEPLOYMENT, 0) >= 6


def test_a_model_the_provider_does_not_offer_parks_tickets_instead_of_dead_lettering(
    namespace: str, simulator: SimulatorProcess
) -> None:
    # Given a priced alias the provider has never heard of (a typo in a deployment name)
    settings = make_settings(
        namespace, llm_base_url=simulator.base_url, model="my-typo-deployment",
        model_ladder="my-typo-deployment", model_aliases='{"my-typo-deployment": "gpt-4o"}',
    )  # fmt: skip
    with RunningWorker(settings, threads=2) as worker:
        ctx = worker.ctx
        intake = worker_intake(worker)
        for n in range(2):
            intake.submit(ticket("Where is my parcel?", f"Parcel {n}"))
        # Then the tickets wait for the operator, with the provider's reason; none is dead
        assert wait_for(lambda: ctx.outcomes.summary()["parked"] == 2, timeout_s=30)
        outcomes = list(ctx.outcomes.iter_outcomes())
        assert ctx.dead_letters.size() == 0
    assert {o.reason for o in outcomes} == {"provider_not_found"}
