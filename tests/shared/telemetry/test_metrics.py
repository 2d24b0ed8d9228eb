"""The metric names the dashboards and alerts rely on, the label guard, and the servers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from shared.errors import LabelRejected
from shared.metrics import Metrics, exposed_names
from shared.metrics_server import metrics_response, start_metrics_server

EXPECTED = {
    "paceline_spend_micros": ["scope"],
    "paceline_reserved_micros": ["scope"],
    "paceline_ceiling_micros": [],
    "paceline_pace_micros_per_hour": [],
    "paceline_admission_decisions_total": ["decision", "reason", "lane"],
    "paceline_parked": ["lane"],
    "paceline_dead_letters_total": ["reason"],
    "paceline_dlq_size": [],
    "paceline_circuit_state": [],
    "paceline_queue_depth": ["queue"],
    "paceline_queue_oldest_age_seconds": ["queue"],
    "paceline_agent_steps_bucket": ["le"],
    "paceline_llm_tokens_total": ["kind", "model"],
    "paceline_llm_calls_total": ["model", "status"],
    "paceline_ticket_latency_seconds_bucket": ["lane", "le", "status"],
    "paceline_tickets_total": ["lane", "status"],
    "paceline_connector_calls_total": ["code", "connector", "tenant"],
    "paceline_webhook_requests_total": ["source", "status"],
    "paceline_live_rung": [],
    "paceline_forecast_live_tickets": [],
    "paceline_projected_spend_micros": [],
    "paceline_live_reserve_micros": [],
    "paceline_live_line": [],
    "paceline_slo_first_responses": ["kind", "result"],
    "paceline_resolutions": ["scope"],
    "paceline_resolution_rate": ["scope"],
    "paceline_cost_per_resolution_micros": ["scope"],
    "paceline_resolutions_awaiting": [],
}


def exercised() -> Metrics:
    m = Metrics(CollectorRegistry())
    m.collect_ledger_gauges(
        spend_micros={"global": 1_200_000, "tenant:acme": 300_000},
        reserved_micros={"global": 50_000},
        ceiling_micros=50_000_000,
        pace_micros_per_hour=2_083_333,
    )
    m.admission(decision="defer", reason="pace", lane="live")
    m.set_parked("live", 3)
    m.dead_lettered("provider_unavailable")
    m.set_dlq_size(1)
    m.set_circuit("half-open")
    m.set_queue("tickets_live", depth=7, oldest_age_s=12.5)
    m.agent_finished(3)
    m.llm_call(model="gpt-4o-mini", status="ok", prompt_tokens=900, completion_tokens=120,
               cached_tokens=100)  # fmt: skip
    m.ticket_finished(lane="live", status="answered", latency_s=4.2)
    m.connector_call(tenant="acme", connector="lookup_orders", code="timeout")
    m.webhook_request(source="generic", status=202)
    m.set_live_plan(rung=1, forecast_tickets=900, projected_micros=49_000_000,
                    reserve_micros=20_000_000, line=4,
                    first_responses={"within": 7, "past": 0, "handoff_within": 2,
                                     "handoff_past": 0})  # fmt: skip
    m.set_resolutions(
        {"global": {"resolutions": 4, "resolution_rate": 0.8, "cost_per_resolution_micros": 9_000},
         "tenant:acme": {"resolutions": 0, "resolution_rate": None,
                         "cost_per_resolution_micros": None}},
        awaiting=6,
    )  # fmt: skip
    return m


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.setdefault(s.name, []).append((dict(s.labels), s.value))
    return found


def test_every_metric_is_exposed_with_its_labels() -> None:
    # Given every setter called once / When rendered
    body, content_type = _render(exercised())
    # Then each expected series is there with exactly its label names
    found = samples(body)
    assert content_type.startswith("text/plain")
    for name, labels in EXPECTED.items():
        assert name in found, name
        assert sorted(found[name][0][0]) == sorted(labels), name
    assert found["paceline_circuit_state"][0][1] == 1
    tokens = {s[0]["kind"]: s[1] for s in found["paceline_llm_tokens_total"]}
    assert tokens == {"input": 800, "cached_input": 100, "output": 120}
    slo = {(s[0]["kind"], s[0]["result"]): s[1] for s in found["paceline_slo_first_responses"]}
    assert slo[("answer", "within")] == 7 and slo[("handoff", "within")] == 2
    per = {s[0]["scope"]: s[1] for s in found["paceline_cost_per_resolution_micros"]}
    # No resolutions yet: no figure rather than a division by zero
    assert per == {"global": 9_000}
    assert found["paceline_resolutions_awaiting"][0][1] == 6


def _render(m: Metrics) -> tuple[str, str]:
    response = metrics_response(m.registry)
    return response.body.decode(), response.media_type


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.admission(decision="admit", reason="ok", lane="ann@example.com"),
        lambda m: m.set_parked("a@b.co", 1),
        lambda m: m.dead_lettered("x@y.org"),
        lambda m: m.set_queue("q@x", depth=1, oldest_age_s=0),
        lambda m: m.llm_call(model="gpt@evil.com", status="ok"),
        lambda m: m.ticket_finished(lane="live", status="hi there@x.com", latency_s=1),
        lambda m: m.webhook_request(source="generic", status="ann@example.com"),
        lambda m: m.collect_ledger_gauges(
            spend_micros={"user:ann@example.com": 1},
            reserved_micros={},
            ceiling_micros=1,
            pace_micros_per_hour=1,
        ),
        lambda m: m.webhook_request(source="my refund never came", status=202),
    ],
)
def test_no_label_accepts_an_email_or_text(call: Callable[[Metrics], None]) -> None:
    # Given metrics / When a label value is an email or free text / Then it is refused
    m = Metrics(CollectorRegistry())
    with pytest.raises(LabelRejected):
        call(m)
    assert "@" not in _render(m)[0]


def test_two_instances_do_not_collide() -> None:
    # Given two registries in one process (building the second would raise "Duplicated
    # timeseries" had the first registered anything globally)
    first, second = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    # When only the first counts something
    first.dead_lettered("provider_rejected")
    # Then only the first exposes it, and neither touched prometheus_client's default registry
    label = {"reason": "provider_rejected"}
    assert first.registry.get_sample_value("paceline_dead_letters_total", label) == 1
    assert second.registry.get_sample_value("paceline_dead_letters_total", label) is None
    assert REGISTRY.get_sample_value("paceline_dead_letters_total", label) is None
    assert exposed_names(first.registry) == exposed_names(second.registry)


def test_metrics_server_serves_the_registry_over_http() -> None:
    # Given a server on a free port
    m = exercised()
    server = start_metrics_server(m.registry, 0, addr="127.0.0.1")
    try:
        # When scraped
        resp = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    finally:
        server.stop()
    # Then it returns the same series
    assert resp.status_code == 200
    assert 'paceline_queue_depth{queue="tickets_live"} 7.0' in resp.text


def test_counts_through_cached_children_land_where_labels_would_put_them() -> None:
    registry = CollectorRegistry()
    m = Metrics(registry)
    for _ in range(3):
        m.ticket_finished(lane="live", status="answered", latency_s=1.5)
        m.llm_call(model="gpt-4o-mini", status="answered", prompt_tokens=30,
                   completion_tokens=7, cached_tokens=10, calls=3)  # fmt: skip
    assert (
        registry.get_sample_value("paceline_tickets_total", {"status": "answered", "lane": "live"})
        == 3
    )
    assert (
        registry.get_sample_value(
            "paceline_llm_calls_total", {"model": "gpt-4o-mini", "status": "answered"}
        )
        == 9
    )
    assert (
        registry.get_sample_value(
            "paceline_llm_tokens_total", {"kind": "input", "model": "gpt-4o-mini"}
        )
        == 60
    )
    # A refused value is refused every time, never cached
    for _ in range(2):
        with pytest.raises(LabelRejected):
            m.ticket_finished(lane="ann@example.com", status="answered", latency_s=1)
