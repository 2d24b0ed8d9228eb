"""compose.yaml through Debian's `docker-compose config` (no daemon needed) and its settings."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from shared.settings import load_settings
from tests.deploy.conftest import DEPLOY

COMPOSE = DEPLOY / "compose.yaml"
needs_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose not installed (Debian: apt-get install docker-compose; .ci/run does)",
)


def compose_config() -> str:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("PACELINE_") and k != "POSTGRES_PASSWORD"
    }  # fmt: skip
    done = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config"],
        capture_output=True, text=True, timeout=60, env=env, cwd=DEPLOY,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_compose
def test_compose_is_valid_and_has_the_stack() -> None:
    # Given the compose file / When docker-compose resolves it
    config: dict[str, Any] = yaml.safe_load(compose_config())
    services = config["services"]
    # Then the stack is there, Redis keeps an AOF, workers are replicated, the simulator is opt-in
    assert {"redis", "postgres", "webhook", "worker", "scheduler", "archiver", "prometheus",
            "grafana"} <= set(services)  # fmt: skip
    assert services["archiver"]["command"] == ["archive"]
    assert services["archiver"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # (docker-compose 1.29 lists profiled services in `config`; the profile keeps it opt-in)
    assert services["simulator"]["profiles"] == ["simulator"]
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["worker"]["command"][:1] == ["worker"]
    assert services["webhook"]["command"] == ["webhook", "--host", "0.0.0.0", "--port", "8000"]
    assert services["scheduler"]["command"] == ["scheduler"]
    mounts = " ".join(str(v) for v in services["prometheus"]["volumes"])
    assert str(DEPLOY / "prometheus") in mounts
    assert str(DEPLOY / "grafana" / "dashboards") in " ".join(
        str(v) for v in services["grafana"]["volumes"]
    )


@needs_compose
def test_compose_environment_is_valid_settings() -> None:
    # Given the environment compose gives the paceline services (secrets passed through unset)
    config: dict[str, Any] = yaml.safe_load(compose_config())
    for name in ("webhook", "worker", "scheduler", "archiver"):
        env = {
            k: str(v) for k, v in config["services"][name]["environment"].items() if v is not None
        }
        # Then every name is a known setting and every value parses
        settings = load_settings(env)
        assert settings.redis_url == "redis://redis:6379/0"
        assert settings.database_url == "postgresql://paceline:paceline@postgres:5432/paceline"


def test_compose_file_parses_without_the_binary() -> None:
    # The structural facts above that do not need docker-compose, so they are always checked.
    doc = yaml.safe_load(COMPOSE.read_text())
    assert "--appendonly" in doc["services"]["redis"]["command"]
    assert doc["services"]["simulator"]["profiles"] == ["simulator"]


def test_metrics_are_scraped_on_the_internal_port_not_the_public_one() -> None:
    # Given the compose file and the Prometheus scrape config it mounts
    doc = yaml.safe_load(COMPOSE.read_text())
    port = doc["x-paceline-env"]["PACELINE_METRICS_PORT"]
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    # Then every paceline job scrapes that port, the webhook's public 8000 never
    targets = [t for t in jobs["paceline-webhook"]["static_configs"][0]["targets"]]
    targets += jobs["paceline-scheduler"]["static_configs"][0]["targets"]
    assert all(t.endswith(f":{port}") for t in targets), targets
    assert jobs["paceline-worker"]["dns_sd_configs"][0]["port"] == int(port)
    # And only the webhook's public port is published on the host
    assert doc["services"]["webhook"]["ports"] == ["8000:8000"]
