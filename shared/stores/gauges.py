"""The state gauges: what Redis (and RabbitMQ) say right now, for Prometheus and the ops page.

Spend and reserved by scope, parked by lane, DLQ size, circuit, queue depth and age. Read
when Prometheus scrapes (at most every few seconds, see shared/metrics_server.py). Only the
webhook app and the scheduler export them: every worker exporting the same global numbers
would multiply them in a `sum()`.
"""

from __future__ import annotations

from typing import Any

import dramatiq
import redis

from shared.broker import is_rabbitmq, queue_prefix
from shared.clock import Clock, SystemClock, day_bounds_s
from shared.conversation.report import ResolutionStats, day_stats
from shared.conversation.resolutions import Resolutions
from shared.keys import Keys
from shared.ledger import Ledger
from shared.messages import queue_for
from shared.metrics import Metrics, safe_label
from shared.models import Lane
from shared.settings import Settings
from shared.stores.circuit import ProviderCircuit
from shared.stores.dead_letters import DeadLetterRegistry
from shared.stores.demand import DemandStore
from shared.stores.live_plan import read_plan
from shared.stores.parking import ParkingLot
from shared.stores.spend import SpendSeries


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
        self.demand = DemandStore(client, self._keys, settings.tz)
        self.resolutions = Resolutions(client, self._keys)
        self._amqp = is_rabbitmq(settings)
        self._prefix = queue_prefix(settings)

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
            "live": self.live(ceiling),
            "resolutions": self.resolution_figures(),
            "resolutions_awaiting": self.resolutions.awaiting(),
        }

    def resolution_figures(self) -> dict[str, dict[str, Any]]:
        """Today's resolution figures: `global` and one `tenant:<t>` per tenant."""
        by_tenant = day_stats(self.resolutions, self.ledger, self.ledger.day(), self._settings.tz)
        total = ResolutionStats()
        for stats in by_tenant.values():
            total.add(stats)
        figures = {"global": total.as_json()}
        figures.update({f"tenant:{t}": s.as_json() for t, s in sorted(by_tenant.items())})
        return figures

    def live(self, ceiling_micros: int) -> dict[str, Any]:
        """The live plan while it is fresh (else the default model and the fixed reserve),
        and today's first responses against the SLO."""
        plan = read_plan(self._r, self._keys)
        fresh = plan is not None and plan.fresh(int(self._clock.now_s() * 1000))
        reserve = ceiling_micros * self._settings.live_reserve_pct // 100
        return {
            "rung": plan.live_rung if plan and fresh else 0,
            "forecast_tickets": plan.forecast_tickets if plan and fresh else 0,
            "projected_micros": plan.projected_micros if plan and fresh else 0,
            "reserve_micros": max(reserve, plan.live_reserve if plan and fresh else 0),
            "line": self.parking.line_length(),
            "first_responses": self.demand.first_responses(self.ledger.day()),
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
        metrics.set_live_plan(**snap["live"])
        metrics.set_resolutions(
            {safe_label(k): v for k, v in snap["resolutions"].items()},
            snap["resolutions_awaiting"],
        )
        metrics.set_dlq_size(snap["dlq_size"])
        metrics.set_circuit(snap["circuit"]["state"])
        for queue, q in snap["queues"].items():
            metrics.set_queue(queue, depth=int(q["depth"]), oldest_age_s=q["oldest_age_s"])
        return snap
