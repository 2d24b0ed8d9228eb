"""The agent and `paceline check` through a real LiteLLM proxy in front of the simulator.

Not part of `make test`: the proxy is a heavy install (the `litellm` extra). Run it with
`make test-litellm`, or point PACELINE_TEST_LITELLM_BIN at a `litellm` installed elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.clock import SystemClock
from shared.settings import price_table
from tests.conftest import ROOT, SimulatorProcess, free_port, make_settings
from tests.shared.test_check import check
from tests.workers.agent.helpers import demo_tools, roomy_budget, ticket
from workers.agent.llm import LLMClient
from workers.agent.runner import Agent

pytestmark = pytest.mark.litellm

MASTER_KEY = "sk-plproxy-7f3a9c2e51b84d06a1e5"  # the proxy refuses weak master keys
ALIAS = "support-small"
ALIASES = f'{{"{ALIAS}": "gpt-4o-mini"}}'


def _litellm_bin() -> str | None:
    given = os.environ.get("PACELINE_TEST_LITELLM_BIN")
    if given:
        return given
    return shutil.which("litellm", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = _litellm_bin()
    if binary is None:
        pytest.skip("litellm is not installed (pip install -e '.[litellm]')")
    sim = SimulatorProcess("--seed", "7")
    config = tmp_path_factory.mktemp("litellm") / "config.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {ALIAS}\n"
        f"    litellm_params: {{model: openai/gpt-4o-mini, api_base: '{sim.base_url}',"
        " api_key: anything}\n"
        f"general_settings: {{master_key: {MASTER_KEY}}}\n"
    )
    port = free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # no fetch at start
    proc = subprocess.Popen(
        [binary, "--config", str(config), "--port", str(port), "--host", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health/liveliness", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise RuntimeError("the LiteLLM proxy did not start")
        yield f"{url}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sim.stop()


def test_the_agent_answers_through_the_proxy_under_its_alias(proxy: str, namespace: str) -> None:
    settings = make_settings(namespace, llm_base_url=proxy, llm_api_key=MASTER_KEY, model=ALIAS,
                             model_ladder=ALIAS, model_aliases=ALIASES)  # fmt: skip
    agent = Agent(settings=settings, llm=LLMClient(settings), prices=price_table(settings),
                  clock=SystemClock(), tools=demo_tools(settings))  # fmt: skip
    try:
        results = [
            agent.run(ticket("I never get the 2FA code on my phone.", f"Code {n}"), roomy_budget())
            for n in range(3)
        ]
    finally:
        agent.close()
    for result in results:
        assert result.status == "answered" and result.llm_calls == 2, result.reason
        assert result.usage_missing == 0 and result.cost_micros > 0


def test_check_passes_through_the_proxy_and_sees_its_models(proxy: str) -> None:
    code, doc, _ = check("--json", PACELINE_LLM_BASE_URL=proxy, PACELINE_LLM_API_KEY=MASTER_KEY,
                         PACELINE_MODEL=ALIAS, PACELINE_MODEL_LADDER=ALIAS,
                         PACELINE_MODEL_ALIASES=ALIASES)  # fmt: skip
    assert code == 0 and doc["ok"], doc
    code, doc, _ = check("--json", PACELINE_LLM_BASE_URL=proxy, PACELINE_LLM_API_KEY="anything",
                         PACELINE_MODEL=ALIAS, PACELINE_MODEL_LADDER=ALIAS,
                         PACELINE_MODEL_ALIASES=ALIASES)  # fmt: skip
    assert code == 1 and doc["failed"] == ["provider"]
