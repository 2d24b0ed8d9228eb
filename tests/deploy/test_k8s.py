"""Kubernetes manifests: schema-valid (kubernetes-validate, strict), consistent, loadable."""

from __future__ import annotations

import copy
import secrets
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shared.errors import SettingsError
from shared.messages import queue_for
from shared.models import Lane
from shared.settings import load_settings
from tests.deploy.conftest import DEPLOY

K8S = DEPLOY / "k8s"
K8S_VERSION = "1.30.0"
COMMANDS = {"webhook", "worker", "scheduler", "archive", "simulator"}
KEDA_SPEC_FIELDS = {
    "scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval", "cooldownPeriod",
    "triggers", "advanced", "fallback", "idleReplicaCount",
}  # fmt: skip


def docs() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found += [(path, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return found


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in docs() if d["kind"] == kind}


def test_every_manifest_validates_against_the_kubernetes_schema() -> None:
    # Given every manifest but KEDA's CRD and kustomize's file (not in the schemas)
    checked = 0
    for _path, doc in docs():
        if doc["kind"] in {"ScaledObject", "Kustomization"}:
            continue
        # When validated strictly (unknown fields are errors) / Then it passes
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        checked += 1
    assert checked >= 10


def test_the_validator_catches_a_broken_manifest() -> None:
    # Given a deployment with a misspelt field / Then validation fails (the check has teeth)
    broken = copy.deepcopy(by_kind("Deployment")["paceline-worker"])
    broken["spec"]["replcas"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_kustomization_lists_every_file() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_deployments_run_the_cli_as_non_root() -> None:
    deployments = by_kind("Deployment")
    assert {"paceline-webhook", "paceline-worker", "paceline-scheduler",
            "paceline-archiver"} <= set(deployments)  # fmt: skip
    assert deployments["paceline-scheduler"]["spec"]["replicas"] == 2  # leader election
    for name, dep in deployments.items():
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        (container,) = pod["containers"]
        assert container["args"][0] in COMMANDS, name
        refs = {next(iter(e.values()))["name"] for e in container["envFrom"]}
        assert refs == {"paceline-settings", "paceline-secrets"}, name


def test_webhook_probes() -> None:
    (container,) = by_kind("Deployment")["paceline-webhook"]["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"] == ["webhook", "--host", "0.0.0.0", "--port", "8000"]


def test_configmap_is_valid_settings_and_the_secret_is_created_out_of_band() -> None:
    # Given the environment a pod gets from the ConfigMap
    env = {k: str(v) for k, v in by_kind("ConfigMap")["paceline-settings"]["data"].items()}
    # When loaded as the processes do / Then every name is known and every value parses
    settings = load_settings(env)
    assert settings.namespace == "paceline"
    # And the history database is named by the Secret, not the ConfigMap
    assert settings.database_url is None
    # And no Secret is applied: none ships with values anyone could read in the repository
    assert not by_kind("Secret")


def test_the_example_secrets_cannot_run_and_real_values_can() -> None:
    # Given the example Secrets (not applied), their placeholders as the processes would read them
    text = (K8S / "examples" / "secret.yaml").read_text()
    example = {d["metadata"]["name"]: d["stringData"] for d in yaml.safe_load_all(text) if d}
    env = dict(by_kind("ConfigMap")["paceline-settings"]["data"])
    # When loaded with its placeholders / Then the process refuses to start, naming one
    with pytest.raises(SettingsError, match="too weak"):
        load_settings({**env, **example["paceline-secrets"]})
    # When each placeholder is replaced by a generated value (as the comment says) / Then it runs
    password = secrets.token_hex(24)
    real = {
        k: v.replace("REPLACE_ME", password if "DATABASE" in k else secrets.token_hex(32))
        for k, v in example["paceline-secrets"].items()
    }
    settings = load_settings({**env, **real})
    assert settings.ops_token is not None and settings.webhook_secret("generic") is not None
    # And the history database is the PostgreSQL service, whose password Secret is the other
    assert settings.database_url is not None
    host = settings.database_url.split("@")[1].split(".")[0]
    assert host in by_kind("Service") and by_kind("StatefulSet")[host]
    assert set(example) == {"paceline-secrets", "paceline-postgres"}
    for name in example:
        assert f"kubectl -n paceline create secret generic {name}" in text


def test_metrics_are_scraped_on_the_internal_port_only() -> None:
    port = by_kind("ConfigMap")["paceline-settings"]["data"]["PACELINE_METRICS_PORT"]
    assert port == "9108"
    for name, dep in by_kind("Deployment").items():
        # Every pod is scraped on the metrics port, never on the webhook's public port
        annotations = dep["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == port, name
    # And the public Service exposes the webhook's http port alone
    (svc_port,) = by_kind("Service")["paceline-webhook"]["spec"]["ports"]
    assert svc_port["targetPort"] == "http"


def test_keda_scaledobject_scales_workers_on_the_live_list() -> None:
    # Given the ScaledObject (KEDA's CRD is not in the schemas: checked structurally)
    (obj,) = by_kind("ScaledObject").values()
    assert obj["apiVersion"] == "keda.sh/v1alpha1"
    spec = obj["spec"]
    assert set(spec) <= KEDA_SPEC_FIELDS
    assert spec["scaleTargetRef"]["name"] in by_kind("Deployment")
    assert spec["scaleTargetRef"]["name"] == "paceline-worker"
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    (trigger,) = spec["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "redis"
    assert all(isinstance(v, str) for v in meta.values()), "KEDA metadata values are strings"
    assert int(meta["listLength"]) > 0
    # Then the list is the live queue dramatiq writes under the configured namespace
    ns = by_kind("ConfigMap")["paceline-settings"]["data"]["PACELINE_NAMESPACE"]
    assert meta["listName"] == f"{ns}:dq:{queue_for(Lane.LIVE)}" == "paceline:dq:tickets_live"
    redis_host = meta["address"].split(".")[0]
    assert redis_host in by_kind("Service")


def test_pdbs_select_existing_pods() -> None:
    labels = [d["spec"]["template"]["metadata"]["labels"] for d in by_kind("Deployment").values()]
    for name, pdb in by_kind("PodDisruptionBudget").items():
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= lab.items() for lab in labels), name
