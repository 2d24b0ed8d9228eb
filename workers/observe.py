"""Per-ticket counters: what happened to each ticket message a worker handled.

Events (admission decisions, outcomes, agent steps, tokens, latency, dead letters) are
counted by `ObserveMiddleware` in the worker that saw them, after the fact, from the
message's admission options and the outcome the actor recorded (one HGETALL per ticket).
State (spend, parked, queues, DLQ, circuit) is not counted here: it lives in Redis and is
read by `shared.stores.gauges.StateGauges` when Prometheus scrapes the webhook app or the
scheduler. After tickets the middleware also samples the day's spend for the ops chart.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import Middleware

from shared.clock import Clock
from shared.keys import Keys, ticket_key
from shared.messages import is_ticket_actor
from shared.metrics import Metrics, safe_label
from shared.models import Lane, Outcome, OutcomeStatus
from shared.settings import Settings
from shared.stores.outcomes import OutcomeStore
from shared.stores.spend import SpendSeries
from workers.admission.slo import HANDOFF_REASON

log = logging.getLogger("paceline.observe")

SPEND_SAMPLE_EVERY_S = 1.0
# What admission decided for a message it skipped, by the outcome it wrote for it (a live
# ticket handed to a person for the first-response SLO is escalated by admission).
_SKIPPED = {
    OutcomeStatus.PARKED: "defer",
    OutcomeStatus.REJECTED: "reject",
    OutcomeStatus.ESCALATED: "handoff",
}


class ObserveMiddleware(Middleware):
    """Counts what happened to each ticket message; never raises into the worker."""

    def __init__(
        self,
        metrics: Metrics,
        client: redis.Redis,
        settings: Settings,
        clock: Clock,
        outcomes: OutcomeStore | None = None,
    ):
        self.metrics = metrics
        # The actor's own store, so what it just wrote is read without a round trip.
        self._outcomes = outcomes or OutcomeStore(
            client, Keys(settings.namespace), settings.outcome_retention_s
        )
        self._clock = clock
        self._spend = SpendSeries(client, settings, clock)
        self._next_sample_s = float("-inf")
        self._lock = threading.Lock()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if not is_ticket_actor(message.actor_name):
            return
        try:
            self._processed(message)
        except Exception as exc:
            log.warning("ticket metrics not recorded: %s", type(exc).__name__)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        if not is_ticket_actor(message.actor_name):
            return
        try:
            self._skipped(message)
        except Exception as exc:
            log.warning("skip metrics not recorded: %s", type(exc).__name__)

    def _processed(self, message: Any) -> None:
        opts = message.options.get("paceline") or {}
        lane = safe_label(message.kwargs.get("lane", Lane.LIVE.value))
        if opts.get("admitted") is not None:
            self.metrics.admission(decision="admit", reason=safe_label(opts["admitted"]), lane=lane)
        outcome = self._own_outcome(message)
        if outcome is not None and outcome.status.is_final:
            self._finished(outcome, lane)
        self._maybe_sample()

    def _skipped(self, message: Any) -> None:
        lane = safe_label(message.kwargs.get("lane", Lane.LIVE.value))
        outcome = self._own_outcome(message)
        decision = _SKIPPED.get(outcome.status) if outcome is not None else None
        # (an escalation is admission's only when it is the SLO's hand-off; any other was the
        # agent's, and this message a duplicate delivery of its ticket)
        if decision == "handoff" and outcome is not None and outcome.reason != HANDOFF_REASON:
            decision = None
        if outcome is None or decision is None:
            self.metrics.admission(decision="skip", reason="duplicate", lane=lane)
            return
        self.metrics.admission(decision=decision, reason=safe_label(outcome.reason), lane=lane)
        if outcome.status.is_final:
            self._finished(outcome, lane)

    def _own_outcome(self, message: Any) -> Outcome | None:
        """The outcome this message wrote (not an older or newer event's)."""
        try:
            doc = message.args[0]
            key = ticket_key(
                str(doc["tenant_id"]), str(doc.get("source", "generic")), str(doc["ticket_id"])
            )
        except (IndexError, KeyError, TypeError, AttributeError):
            return None
        outcome = self._outcomes.take_written(key, message.message_id)
        if outcome is None:
            outcome = self._outcomes.get(key)
        if outcome is None or outcome.job_id != message.message_id:
            return None
        return outcome

    def _finished(self, outcome: Outcome, lane: str) -> None:
        m = self.metrics
        status = outcome.status.value
        latency_ms = outcome.latency_ms or 0
        if not latency_ms and outcome.enqueued_at_ms:
            latency_ms = max(int(self._clock.now_s() * 1000) - outcome.enqueued_at_ms, 0)
        m.ticket_finished(lane=lane, status=status, latency_s=latency_ms / 1000)
        if outcome.status is OutcomeStatus.DEAD_LETTERED:
            m.dead_lettered(safe_label(outcome.reason))
        if outcome.steps:
            m.agent_finished(outcome.steps)
        if outcome.llm_calls and outcome.model:
            m.llm_call(
                model=safe_label(outcome.model),
                status=status,
                prompt_tokens=outcome.prompt_tokens,
                completion_tokens=outcome.completion_tokens,
                cached_tokens=outcome.cached_tokens or 0,
                calls=outcome.llm_calls,
            )

    def _maybe_sample(self) -> None:
        # Throttled per process: the chart needs the hour's spend, not every ticket's.
        now_s = time.monotonic()
        with self._lock:
            if now_s < self._next_sample_s:
                return
            self._next_sample_s = now_s + SPEND_SAMPLE_EVERY_S
        self._spend.sample()
