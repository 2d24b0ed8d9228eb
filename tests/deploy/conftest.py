from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from shared.metrics import Metrics, exposed_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC_RE = re.compile(r"\bpaceline_[a-z_]+\b")


def defined_metrics() -> set[str]:
    return exposed_names(Metrics(CollectorRegistry()).registry)


def metrics_in(expr: str) -> set[str]:
    return set(METRIC_RE.findall(expr))
