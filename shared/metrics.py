"""Prometheus metrics: one `Metrics` per process, on a registry the entry point builds.

Nothing registers at import time (no default registry), so tests and several components in one
process never collide. Label values go through `label_value`, which refuses anything that could
be personal data (an `@`, spaces, long text): tenants may be labels, requesters never.

Multi-process workers: each process serves its own registry on its own port
(`start_metrics_server(registry, base_port + index)`), and Prometheus scrapes every one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.errors import LabelRejected

GLOBAL_SCOPE = "global"
CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/\-]")
_LABEL_RE = re.compile(r"^[A-Za-z0-9_.:/\-]{1,120}$")
STEP_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50)
# Parked tickets wait for budget for hours: the latency buckets reach a day.
LATENCY_BUCKETS_S = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 900, 3600, 4 * 3600, 86400)


def label_value(value: str) -> str:
    if "@" in value or not _LABEL_RE.match(value):
        raise LabelRejected("metric label refused: must be an id or code, never an email or text")
    return value


def safe_label(value: str | None) -> str:
    """A label from a reason code: never an email, never free text."""
    if not value or "@" in value:
        return "other"
    return _UNSAFE.sub("_", value)[:120]


def tenant_scope(tenant_id: str) -> str:
    return label_value(f"tenant:{tenant_id}")


class Metrics:
    """Every paceline metric, with small typed setters the components call."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        r = registry
        self.spend = Gauge("paceline_spend_micros", "Spent today (µ$)", ["scope"], registry=r)
        self.reserved = Gauge(
            "paceline_reserved_micros", "Outstanding reservations (µ$)", ["scope"], registry=r
        )
        self.ceiling = Gauge("paceline_ceiling_micros", "Daily ceiling (µ$)", registry=r)
        self.pace = Gauge("paceline_pace_micros_per_hour", "Pace bucket refill", registry=r)
        self.admissions = Counter(
            "paceline_admission_decisions",
            "Admission decisions",
            ["decision", "reason", "lane"],
            registry=r,
        )
        self.parked = Gauge("paceline_parked", "Tickets parked", ["lane"], registry=r)
        self.dead_letters = Counter(
            "paceline_dead_letters", "Tickets dead-lettered", ["reason"], registry=r
        )
        self.dlq_size = Gauge(
            "paceline_dlq_size", "Entries in the dead-letter registry", registry=r
        )
        self.circuit_state = Gauge(
            "paceline_circuit_state", "Provider circuit: 0 closed, 1 half-open, 2 open", registry=r
        )
        self.queue_depth = Gauge("paceline_queue_depth", "Messages queued", ["queue"], registry=r)
        self.queue_oldest_age = Gauge(
            "paceline_queue_oldest_age_seconds", "Age of the oldest queued message", ["queue"],
            registry=r,
        )  # fmt: skip
        self.agent_steps = Histogram(
            "paceline_agent_steps", "Agent steps per ticket", buckets=STEP_BUCKETS, registry=r
        )
        self.llm_tokens = Counter(
            "paceline_llm_tokens", "Tokens billed", ["kind", "model"], registry=r
        )
        self.llm_calls = Counter(
            "paceline_llm_calls", "Provider calls", ["model", "status"], registry=r
        )
        self.usage_missing = Counter(
            "paceline_usage_missing",
            "Provider answers without a usable usage, billed at the call's worst case",
            ["model"],
            registry=r,
        )
        self.ticket_latency = Histogram(
            "paceline_ticket_latency_seconds",
            "Accepted to final outcome",
            ["lane", "status"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.connector_calls = Counter(
            "paceline_connector_calls",
            "Tenants' data connector calls by result code",
            ["tenant", "connector", "code"],
            registry=r,
        )
        self.tickets = Counter("paceline_tickets", "Final outcomes", ["status", "lane"], registry=r)
        self.webhook_requests = Counter(
            "paceline_webhook_requests", "Webhook requests", ["source", "status"], registry=r
        )
        self.history_backlog = Gauge(
            "paceline_history_backlog", "History stream entries not yet archived", registry=r
        )
        self.history_backlog_alert = Gauge(
            "paceline_history_backlog_alert",
            "Backlog at which the archive alert fires (PACELINE_ARCHIVE_BACKLOG_ALERT_ENTRIES)",
            registry=r,
        )
        self.history_archived = Counter(
            "paceline_history_archived", "History entries archived", ["result"], registry=r
        )
        # The live lane's plan and its first-response SLO (docs/slo.md).
        self.live_rung = Gauge(
            "paceline_live_rung", "Live lane's rung of the ladder (0: default model)", registry=r
        )
        self.forecast_tickets = Gauge(
            "paceline_forecast_live_tickets", "Live tickets forecast for the rest of the day",
            registry=r,
        )  # fmt: skip
        self.projected_spend = Gauge(
            "paceline_projected_spend_micros", "Day's spend projected on the live rung (µ$)",
            registry=r,
        )  # fmt: skip
        self.live_reserve = Gauge(
            "paceline_live_reserve_micros", "Left for live tickets by replay and redrive (µ$)",
            registry=r,
        )  # fmt: skip
        self.live_line = Gauge(
            "paceline_live_line", "Live tickets waiting in line for the pace", registry=r
        )
        self.first_responses = Gauge(
            "paceline_slo_first_responses", "Live first responses today, by SLO result",
            ["result", "kind"], registry=r,
        )  # fmt: skip

        # Today's resolutions per scope (global, tenant:<t>): docs/conversations.md.
        self.resolutions = Gauge(
            "paceline_resolutions", "Tickets resolved today", ["scope"], registry=r
        )
        self.resolution_rate = Gauge(
            "paceline_resolution_rate",
            "Share resolved of today's handled tickets already decided",
            ["scope"],
            registry=r,
        )
        self.cost_per_resolution = Gauge(
            "paceline_cost_per_resolution_micros",
            "Today's model spend divided by today's resolutions (µ$)",
            ["scope"],
            registry=r,
        )
        self.resolutions_awaiting = Gauge(
            "paceline_resolutions_awaiting", "Answered tickets whose window is open", registry=r
        )

    # --- the ledger (the scheduler calls this on each tick) ---------------------------
    def collect_ledger_gauges(
        self,
        *,
        spend_micros: Mapping[str, int],
        reserved_micros: Mapping[str, int],
        ceiling_micros: int,
        pace_micros_per_hour: int,
    ) -> None:
        for scope, micros in spend_micros.items():
            self.spend.labels(label_value(scope)).set(micros)
        for scope, micros in reserved_micros.items():
            self.reserved.labels(label_value(scope)).set(micros)
        self.ceiling.set(ceiling_micros)
        self.pace.set(pace_micros_per_hour)

    def set_live_plan(
        self,
        *,
        rung: int,
        forecast_tickets: int,
        projected_micros: int,
        reserve_micros: int,
        line: int,
        first_responses: Mapping[str, int],
    ) -> None:
        self.live_rung.set(rung)
        self.forecast_tickets.set(forecast_tickets)
        self.projected_spend.set(projected_micros)
        self.live_reserve.set(reserve_micros)
        self.live_line.set(line)
        for field, count in first_responses.items():
            kind, _, result = field.rpartition("_")
            self.first_responses.labels(result, kind or "answer").set(count)

    def set_resolutions(self, by_scope: Mapping[str, Mapping[str, Any]], awaiting: int) -> None:
        """`by_scope`: scope -> the report's JSON figures (shared/conversation/report.py)."""
        for scope, doc in by_scope.items():
            label = label_value(scope)
            self.resolutions.labels(label).set(doc["resolutions"])
            if doc["resolution_rate"] is not None:
                self.resolution_rate.labels(label).set(doc["resolution_rate"])
            if doc["cost_per_resolution_micros"] is not None:
                self.cost_per_resolution.labels(label).set(doc["cost_per_resolution_micros"])
        self.resolutions_awaiting.set(awaiting)

    # --- admission and parking ---------------------------------------------------------
    def _child(self, metric: Any, *values: str) -> Any:
        """`metric.labels(*values)`, each value checked by `label_value`, looked up once per
        set of values: every ticket counts into the same few children, and prometheus_client
        checks, joins and locks its way to the child on every `labels()` call."""
        key = (metric, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*(label_value(v) for v in values))
        return child

    def admission(self, *, decision: str, reason: str, lane: str) -> None:
        self._child(self.admissions, decision, reason, lane).inc()

    def set_parked(self, lane: str, count: int) -> None:
        self.parked.labels(label_value(lane)).set(count)

    # --- failures ----------------------------------------------------------------------
    def dead_lettered(self, reason: str) -> None:
        self._child(self.dead_letters, reason).inc()

    def set_dlq_size(self, count: int) -> None:
        self.dlq_size.set(count)

    def set_circuit(self, state: str) -> None:
        self.circuit_state.set(CIRCUIT_STATES[state.replace("-", "_")])

    # --- queues ------------------------------------------------------------------------
    def set_queue(self, queue: str, *, depth: int, oldest_age_s: float) -> None:
        self.queue_depth.labels(label_value(queue)).set(depth)
        self.queue_oldest_age.labels(label_value(queue)).set(oldest_age_s)

    # --- the agent and the provider ----------------------------------------------------
    def agent_finished(self, steps: int) -> None:
        self.agent_steps.observe(steps)

    def usage_was_missing(self, model: str) -> None:
        self._child(self.usage_missing, model).inc()

    def llm_call(
        self,
        *,
        model: str,
        status: str,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cached_tokens: int = 0,
        calls: int = 1,
    ) -> None:
        """`calls` model calls (a ticket's, counted when it ends) and their tokens."""
        self._child(self.llm_calls, model, status).inc(calls)
        # Cached input is part of prompt_tokens in the API's usage; count it apart.
        tokens = self.llm_tokens
        self._child(tokens, "input", model).inc(max(prompt_tokens - cached_tokens, 0))
        self._child(tokens, "cached_input", model).inc(cached_tokens)
        self._child(tokens, "output", model).inc(completion_tokens)

    def connector_call(self, *, tenant: str, connector: str, code: str) -> None:
        self.connector_calls.labels(
            label_value(tenant), label_value(connector), label_value(code)
        ).inc()

    # --- outcomes and intake -----------------------------------------------------------
    def ticket_finished(self, *, lane: str, status: str, latency_s: float) -> None:
        self._child(self.tickets, status, lane).inc()
        self._child(self.ticket_latency, lane, status).observe(latency_s)

    # --- the history archive ------------------------------------------------------------
    def set_history_backlog(self, entries: int, *, alert_at: int) -> None:
        self.history_backlog.set(entries)
        self.history_backlog_alert.set(alert_at)

    def history_entries(self, *, written: int, rejected: int) -> None:
        if written:
            self.history_archived.labels("written").inc(written)
        if rejected:
            self.history_archived.labels("rejected").inc(rejected)

    def webhook_request(self, *, source: str, status: int | str) -> None:
        self.webhook_requests.labels(label_value(source), label_value(str(status))).inc()


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exposed_names(registry: CollectorRegistry) -> set[str]:
    """Every series name `registry` can expose (what dashboards and alert rules may query)."""
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names
