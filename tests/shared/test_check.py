"""`paceline check`: the doctor, against the real Redis, RabbitMQ and the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REDIS_URL, ROOT, SimulatorProcess
from tests.shared.broker.conftest import AMQP_URL, _rabbit_up

KEY = "sk-sim-0123456789abcdef"


@pytest.fixture(scope="module")
def keyed_sim() -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess("--seed", "7", "--api-key", KEY, "--deployments", "my-dep,gw-alias")
    yield sim
    sim.stop()


def check(*args: str, **env: str) -> tuple[int, dict[str, Any], str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
    environ.update({"PACELINE_REDIS_URL": REDIS_URL, **env})
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "check", *args],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    doc = json.loads(done.stdout) if "--json" in args else {}
    return done.returncode, doc, done.stdout


def rows(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in doc["checks"]:
        out.setdefault(row["name"], []).append(row)
    return out


def test_a_good_configuration_passes_with_versions_and_warnings(
    keyed_sim: SimulatorProcess,
) -> None:
    code, doc, _ = check(
        "--json", PACELINE_LLM_BASE_URL=keyed_sim.base_url, PACELINE_LLM_API_KEY=KEY,
        PACELINE_MODEL="gw-alias", PACELINE_MODEL_ALIASES='{"gw-alias": "gpt-4o"}',
        PACELINE_WEBHOOK_SECRET_ZENDESK="zd-check-secret-0123",
    )  # fmt: skip
    assert code == 0 and doc["ok"] is True and doc["failed"] == []
    got = rows(doc)
    assert got["redis"][0]["version"].count(".") == 2
    assert got["broker"][0]["kind"] == "redis"
    assert abs(got["clock"][0]["offset_ms"]) < 500
    [model] = got["model PACELINE_MODEL"]
    assert (model["model"], model["priced_as"], model["offered"]) == ("gw-alias", "gpt-4o", True)
    assert got["webhooks"][0]["sources"] == ["zendesk"]
    assert (got["outbound"][0]["status"], got["outbound"][0]["private"]) == ("ok", False)
    assert (got["ops token"][0]["status"], got["ops token"][0]["set"]) == ("warn", False)


def test_a_wrong_key_or_a_model_not_offered_fails(keyed_sim: SimulatorProcess) -> None:
    code, doc, _ = check("--json", PACELINE_LLM_BASE_URL=keyed_sim.base_url,
                         PACELINE_LLM_API_KEY="anything")  # fmt: skip
    assert code == 1 and doc["failed"] == ["provider"]
    assert "refused the configured key" in rows(doc)["provider"][0]["detail"]
    code, doc, _ = check(
        "--json", PACELINE_LLM_BASE_URL=keyed_sim.base_url, PACELINE_LLM_API_KEY=KEY,
        PACELINE_MODEL_LADDER="gpt-4o-mini,not-there",
        PACELINE_MODEL_ALIASES='{"not-there": "gpt-4o-mini"}',
    )  # fmt: skip
    assert code == 1 and doc["failed"] == ["model PACELINE_MODEL_LADDER"]
    assert [r["offered"] for r in rows(doc)["model PACELINE_MODEL_LADDER"]] == [True, False]


def test_unreachable_parts_fail_and_bad_settings_exit_3(keyed_sim: SimulatorProcess) -> None:
    code, doc, _ = check("--json", PACELINE_LLM_BASE_URL="http://127.0.0.1:9/v1",
                         PACELINE_REDIS_URL="redis://127.0.0.1:9/0")  # fmt: skip
    assert code == 1 and set(doc["failed"]) == {"redis", "provider"}
    code, doc, _ = check("--json", PACELINE_MODEL="my-gpt4o-deployment")
    assert code == 3 and doc["failed"] == ["settings"]
    assert "PACELINE_MODEL: no price for model 'my-gpt4o-deployment'" in doc["checks"][0]["detail"]


def test_azure_deployments_are_checked_one_by_one(keyed_sim: SimulatorProcess) -> None:
    env = {
        "PACELINE_LLM_PROVIDER": "azure", "PACELINE_AZURE_ENDPOINT": keyed_sim.root_url,
        "PACELINE_LLM_API_KEY": KEY, "PACELINE_MODEL": "my-dep",
        "PACELINE_MODEL_LADDER": "my-dep,missing-dep",
        "PACELINE_MODEL_ALIASES": '{"my-dep": "gpt-4o", "missing-dep": "gpt-4o-mini"}',
    }  # fmt: skip
    before = keyed_sim.stats()["completion_tokens"]
    code, doc, _ = check("--json", **env)
    assert code == 1 and doc["failed"] == ["model PACELINE_MODEL_LADDER"]
    offered = {r["model"]: r["offered"] for r in rows(doc)["model PACELINE_MODEL_LADDER"]}
    assert offered == {"my-dep": True, "missing-dep": False}
    assert keyed_sim.stats()["completion_tokens"] == before  # the probes cost nothing


@pytest.mark.rabbitmq
def test_rabbitmq_answers_with_its_version(keyed_sim: SimulatorProcess) -> None:
    if not _rabbit_up():
        pytest.skip("no RabbitMQ on 127.0.0.1:5672")
    code, doc, _ = check("--json", PACELINE_LLM_BASE_URL=keyed_sim.base_url,
                         PACELINE_LLM_API_KEY=KEY, PACELINE_BROKER_URL=AMQP_URL)  # fmt: skip
    assert code == 0, doc
    broker = rows(doc)["broker"][0]
    assert broker["kind"] == "rabbitmq" and broker["version"][0].isdigit()


def test_the_table_names_every_check(keyed_sim: SimulatorProcess) -> None:
    code, _, out = check(PACELINE_LLM_BASE_URL=keyed_sim.base_url, PACELINE_LLM_API_KEY=KEY)
    assert code == 0
    for name in ("settings", "redis", "clock", "broker", "provider", "webhooks", "outbound",
                 "ops token"):  # fmt: skip
        assert name in out


def test_tenants_keys_and_the_private_networks_setting_are_reported(tmp_path: Path) -> None:
    # Given a tenants file whose variable is set, and private networks allowed
    path = tmp_path / "tenants.toml"
    path.write_text('[tenants.acme.webhooks]\nzendesk = { secret_env = "ACME_ZD_KEY" }\n')
    env = {"PACELINE_TENANTS_FILE": str(path), "PACELINE_ALLOW_PRIVATE_NETWORKS": "true"}
    _, doc, _ = check("--json", **env, ACME_ZD_KEY="acme-zendesk-key-0001")
    got = rows(doc)
    # Then the tenant's key is counted and the setting is a warning
    assert got["webhooks"][0]["tenants"] == ["acme"]
    assert got["outbound"][0]["status"] == "warn"
    # And a variable that is not set fails the check, naming the tenant and the field
    _, doc, _ = check("--json", **env)
    (row,) = rows(doc)["webhooks"]
    assert row["status"] == "fail" and "tenant 'acme': webhooks.zendesk.secret_env" in row["detail"]
