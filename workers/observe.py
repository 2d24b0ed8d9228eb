"""What a process tells Prometheus and the ops page: per-ticket counters and state gauges.

Two kinds of numbers, from two places:
- events (admission decisions, outcomes, agent steps, tokens, latency, dead letters) are
  counted by `ObserveMiddleware` in the worker that saw them, after the fact, from the
  message's admission options and the outcome the actor recorded (one HGETALL per ticket);
- state (spend and reserved by scope, parked by lane, DLQ size, circuit, queue depth and age)
  lives in Redis and is read by `StateGauges` when Prometheus scrapes, at most every
  `STATE_REFRESH_S`. Only the webhook app and the scheduler export state: every worker
  exporting the same global numbers would multiply them in a `sum()`.

The day's cumulative spend is sampled into `<ns>:ops:spend_hourly:<day>` (hour -> max spent
seen in it) on scrapes and after tickets, so the ops page can draw spend against the pace line.
"""

from __future__ import annotations

import errno
import logging
import re
import threading
import time
from typing import Any, cast

import dramatiq
import redis
from dramatiq.middleware import Middleware
from prometheus_client import CollectorRegistry

from shared.clock import Clock, SystemClock, day_bounds_s
from shared.keys import LEDGER_DAY_TTL_S, Keys
from shared.ledger import Ledger
from shared.messages import is_ticket_actor, queue_for
from shared.metrics import Metrics, MetricsServer, start_metrics_server
from shared.models import Lane, Outcome, OutcomeStatus
from shared.settings import Settings
from shared.stores.circuit import ProviderCircuit
from shared.stores.dead_letters import DeadLetterRegistry
from shared.stores.outcomes import OutcomeStore
from shared.stores.parking import ParkingLot

log = logging.getLogger("paceline.observe")

STATE_REFRESH_S = 2.0
SPEND_SAMPLE_EVERY_S = 1.0
# Worker processes on one host take the next free port above `metrics_port`.
PORT_TRIES = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/\-]")

# KEYS: 1 the day's books, 2 hourly series   ARGV: 1 hour, 2 ttl s
# Spend only grows within a day, so each hour keeps the largest value seen in it.
_SAMPLE = """
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent:global') or '0')
local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
if spent > cur then
  redis.call('HSET', KEYS[2], ARGV[1], spent)
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
end
return spent
"""


def safe_label(value: str | None) -> str:
    """A label from a reason code: never an email, never free text."""
    if not value or "@" in value:
        return "other"
    return _UNSAFE.sub("_", value)[:120]


class SpendSeries:
    """Today's cumulative spend by hour of the budget day (settings' time zone)."""

    def __init__(self, client: redis.Redis, settings: Settings, clock: Clock) -> None:
        self._r = client
        self._keys = Keys(settings.namespace)
        self._settings = settings
        self._clock = clock
        self._ledger = Ledger(client, self._keys, settings, clock)
        self._sample = client.register_script(_SAMPLE)

    def hour_now(self) -> float:
        now_s = self._clock.now_s()
        start_s, _ = day_bounds_s(now_s, self._settings.tz)
        return (now_s - start_s) / 3600

    def sample(self) -> int:
        """Record the spend as of now in this hour's slot; returns it (micros)."""
        day = self._ledger.day()
        spent = self._sample(
            keys=[self._keys.books(day), self._keys.spend_hourly(day)],
            args=[int(self.hour_now()), LEDGER_DAY_TTL_S],
        )
        return int(spent)

    def hourly(self) -> list[tuple[int, int]]:
        """(hour, cumulative micros) for every hour of the day so far, gaps carried forward;
        the current hour's value is the spend right now."""
        spent_now = self.sample()
        raw = cast(dict[str, str], self._r.hgetall(self._keys.spend_hourly(self._ledger.day())))
        by_hour = {int(h): int(v) for h, v in raw.items()}
        points: list[tuple[int, int]] = []
        running = 0
        current = int(self.hour_now())
        for hour in range(current + 1):
            running = max(running, by_hour.get(hour, 0))
            points.append((hour, running))
        points[-1] = (current, spent_now)
        return points


class StateGauges:
    """Reads the state gauges from Redis (and RabbitMQ's queue counts when it is the broker)."""

    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        *,
        clock: Clock | None = None,
        broker: dramatiq.Broker | None = None,
    ) -> None:
        self._settings = settings
        self._r = client
        self._clock = clock or SystemClock()
        self._keys = Keys(settings.namespace)
        self._broker = broker
        self.ledger = Ledger(client, self._keys, settings, self._clock)
        self.parking = ParkingLot(client, self._keys)
        self.dead_letters = DeadLetterRegistry(client, self._keys)
        self.circuit = ProviderCircuit(client, self._keys, settings, self._clock)
        self.spend = SpendSeries(client, settings, self._clock)
        self._amqp = settings.effective_broker_url.startswith(("amqp://", "amqps://"))
        self._prefix = settings.namespace if self._amqp else None

    @property
    def clock(self) -> Clock:
        return self._clock

    def queues(self) -> dict[str, dict[str, float]]:
        """Per lane queue: waiting messages and the age of the oldest (seconds)."""
        names = [queue_for(lane, self._prefix) for lane in Lane]
        if self._amqp:
            found: dict[str, dict[str, float]] = {}
            for name in names:
                # RabbitMQ tells the count, not the age of the head, without consuming it.
                counts = getattr(self._broker, "get_queue_message_counts", None)
                depth = int(counts(name)[0]) if counts is not None else 0
                found[name] = {"depth": depth, "oldest_age_s": 0.0}
            return found
        dq = self._keys.dramatiq_namespace
        pipe = self._r.pipeline(transaction=False)
        for name in names:
            pipe.llen(f"{dq}:{name}")
            pipe.lindex(f"{dq}:{name}", 0)
        replies = pipe.execute()
        heads = {n: replies[2 * i + 1] for i, n in enumerate(names) if replies[2 * i + 1]}
        pipe = self._r.pipeline(transaction=False)
        for name, head in heads.items():
            pipe.hget(f"{dq}:{name}.msgs", head)
        encoded = dict(zip(heads, pipe.execute(), strict=True))
        now_ms = self._clock.now_s() * 1000
        out: dict[str, dict[str, float]] = {}
        for i, name in enumerate(names):
            age_s = 0.0
            if encoded.get(name):
                stamp = dramatiq.Message.decode(str(encoded[name]).encode()).message_timestamp
                age_s = max(now_ms - stamp, 0) / 1000
            out[name] = {"depth": int(replies[2 * i]), "oldest_age_s": age_s}
        return out

    def snapshot(self) -> dict[str, Any]:
        books = self.ledger.day_books()
        now_s = self._clock.now_s()
        _, end_s = day_bounds_s(now_s, self._settings.tz)
        ceiling = self.ledger.caps().get("global", self._settings.ceiling_micros)
        spent, reserved = books["spent"].get("global", 0), books["reserved"].get("global", 0)
        remaining_h = max((end_s - now_s) / 3600, 1 / 60)
        self.spend.sample()
        return {
            # Requesters are personal data: only global and tenant scopes become labels.
            "spent": {s: v for s, v in books["spent"].items() if not s.startswith("user:")},
            "reserved": {s: v for s, v in books["reserved"].items() if not s.startswith("user:")},
            "ceiling_micros": ceiling,
            "pace_micros_per_hour": int(max(ceiling - spent - reserved, 0) / remaining_h),
            "parked": self.parking.counts_by_lane(),
            "dlq_size": self.dead_letters.size(),
            "circuit": self.circuit.snapshot(),
            "queues": self.queues(),
        }

    def apply(self, metrics: Metrics) -> dict[str, Any]:
        snap = self.snapshot()
        metrics.collect_ledger_gauges(
            spend_micros={safe_label(k): v for k, v in snap["spent"].items()},
            reserved_micros={safe_label(k): v for k, v in snap["reserved"].items()},
            ceiling_micros=snap["ceiling_micros"],
            pace_micros_per_hour=snap["pace_micros_per_hour"],
        )
        for lane, count in snap["parked"].items():
            metrics.set_parked(lane, count)
        metrics.set_dlq_size(snap["dlq_size"])
        metrics.set_circuit(snap["circuit"]["state"])
        for queue, q in snap["queues"].items():
            metrics.set_queue(queue, depth=int(q["depth"]), oldest_age_s=q["oldest_age_s"])
        return snap


class _RefreshOnScrape:
    """Registered before the metrics, so a scrape refreshes the gauges it is about to read."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.gauges: StateGauges | None = None
        self.metrics: Metrics | None = None
        self._last = float("-inf")
        self._lock = threading.Lock()

    def collect(self) -> list[Any]:
        if self.gauges is None or self.metrics is None:
            return []
        with self._lock:
            if time.monotonic() - self._last < self.every_s:
                return []
            self._last = time.monotonic()
            try:
                self.gauges.apply(self.metrics)
            except Exception as exc:  # a scrape must answer even with Redis down
                log.warning("state gauges not refreshed: %s", type(exc).__name__)
        return []


def build_metrics(
    settings: Settings,
    *,
    client: redis.Redis | None = None,
    clock: Clock | None = None,
    broker: dramatiq.Broker | None = None,
    state: bool = False,
    refresh_s: float = STATE_REFRESH_S,
) -> Metrics:
    """A process's `Metrics` on its own registry; with `state`, gauges refresh on scrape."""
    registry = CollectorRegistry()
    refresher = _RefreshOnScrape(refresh_s)
    registry.register(refresher)
    metrics = Metrics(registry)
    if state and client is not None:
        refresher.gauges = StateGauges(settings, client, clock=clock, broker=broker)
        refresher.metrics = metrics
    return metrics


def start_process_metrics(settings: Settings, metrics: Metrics) -> MetricsServer | None:
    """Serve `metrics` on `metrics_port` (or the next free port above it); None when 0."""
    if settings.metrics_port == 0:
        return None
    for port in range(settings.metrics_port, settings.metrics_port + PORT_TRIES):
        try:
            server = start_metrics_server(metrics.registry, port)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        log.info("metrics on port %d", server.port)
        return server
    log.warning("no free metrics port from %d", settings.metrics_port)
    return None


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
        self._outcomes = outcomes or OutcomeStore(client, Keys(settings.namespace))
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
        if outcome is None or outcome.status not in (OutcomeStatus.PARKED, OutcomeStatus.REJECTED):
            self.metrics.admission(decision="skip", reason="duplicate", lane=lane)
            return
        decision = "defer" if outcome.status is OutcomeStatus.PARKED else "reject"
        self.metrics.admission(decision=decision, reason=safe_label(outcome.reason), lane=lane)
        if outcome.status is OutcomeStatus.REJECTED:
            self._finished(outcome, lane)

    def _own_outcome(self, message: Any) -> Outcome | None:
        """The outcome this message wrote (not an older or newer event's)."""
        try:
            ticket_id = str(message.args[0]["ticket_id"])
        except (IndexError, KeyError, TypeError):
            return None
        outcome = self._outcomes.take_written(ticket_id, message.message_id)
        if outcome is None:
            outcome = self._outcomes.get(ticket_id)
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
            model = safe_label(outcome.model)
            m.llm_calls.labels(model, status).inc(outcome.llm_calls)
            cached = outcome.cached_tokens or 0
            m.llm_tokens.labels("input", model).inc(max(outcome.prompt_tokens - cached, 0))
            m.llm_tokens.labels("cached_input", model).inc(cached)
            m.llm_tokens.labels("output", model).inc(outcome.completion_tokens)

    def _maybe_sample(self) -> None:
        # Throttled per process: the chart needs the hour's spend, not every ticket's.
        now_s = time.monotonic()
        with self._lock:
            if now_s < self._next_sample_s:
                return
            self._next_sample_s = now_s + SPEND_SAMPLE_EVERY_S
        self._spend.sample()
