"""Alert rules: parsed, complete, querying only metrics that exist; promtool when installed."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, defined_metrics, metrics_in

RULES = DEPLOY / "prometheus" / "alerts.yml"
REQUIRED_ALERTS = {
    "PacelineSpendAheadOfPace",
    "PacelineCeiling80Percent",
    "PacelineCeilingReached",
    "PacelineDeadLettersGrowing",
    "PacelineCircuitOpen",
    "PacelineQueueStale",
    "PacelineNoWorkers",
    "PacelineHistoryBacklog",
    "PacelineArchiverDown",
}


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_required_alert_is_there_with_its_fields() -> None:
    # Given the rule file / Then each required alert exists and is complete
    found = {r["alert"]: r for r in rules()}
    assert REQUIRED_ALERTS <= set(found)
    for name, rule in found.items():
        assert rule["expr"].strip(), name
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"], name
        assert "for" in rule, name


def test_alerts_query_only_defined_metrics() -> None:
    defined = defined_metrics()
    for rule in rules():
        assert metrics_in(rule["expr"]) <= defined, rule["alert"]


def test_thresholds_match_the_runbook() -> None:
    found = {r["alert"]: r for r in rules()}
    assert "0.8 * paceline_ceiling_micros" in found["PacelineCeiling80Percent"]["expr"]
    assert (
        "== 2" in found["PacelineCircuitOpen"]["expr"]
        and found["PacelineCircuitOpen"]["for"] == "2m"
    )
    assert "> 300" in found["PacelineQueueStale"]["expr"]
    # The backlog threshold is a setting the archiver exports, not a number in this file
    assert found["PacelineHistoryBacklog"]["expr"].strip() == (
        "max(paceline_history_backlog) > max(paceline_history_backlog_alert)"
    )


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (Debian: prometheus)"
)
def test_promtool_accepts_rules_and_config() -> None:
    for args in (["check", "rules", str(RULES)],
                 ["check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")]):  # fmt: skip
        done = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
