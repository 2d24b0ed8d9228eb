"""The dashboard: valid JSON, every query on a defined metric, the panels operators need."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.deploy.conftest import DEPLOY, defined_metrics, metrics_in

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "paceline.json"


def panels() -> list[dict[str, Any]]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    assert doc["uid"] == "paceline"
    return list(doc["panels"])


def test_every_query_uses_a_defined_metric() -> None:
    # Given the dashboard / When every target's expression is read
    defined = defined_metrics()
    queried: set[str] = set()
    for panel in panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = metrics_in(target["expr"])
            assert used, f"{panel['title']}: no paceline metric in {target['expr']}"
            queried |= used
    # Then each exists in shared/metrics.py, and the main ones are all shown
    assert queried <= defined, queried - defined
    for name in ("paceline_spend_micros", "paceline_reserved_micros", "paceline_parked",
                 "paceline_dead_letters_total", "paceline_circuit_state", "paceline_queue_depth",
                 "paceline_queue_oldest_age_seconds", "paceline_ticket_latency_seconds_bucket",
                 "paceline_llm_tokens_total", "paceline_admission_decisions_total"):  # fmt: skip
        assert name in queried, name


def test_panels_do_not_overlap_and_ids_are_unique() -> None:
    seen_ids: set[int] = set()
    cells: set[tuple[int, int]] = set()
    for panel in panels():
        assert panel["id"] not in seen_ids
        seen_ids.add(panel["id"])
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))
        assert g["x"] + g["w"] <= 24


def test_provisioning_points_at_the_dashboards() -> None:
    prov = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/paceline.yml").read_text())
    assert prov["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uids = {d["uid"] for d in ds["datasources"]}
    assert all(p["datasource"]["uid"] in uids for p in panels())
