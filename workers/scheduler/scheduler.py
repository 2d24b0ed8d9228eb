"""The scheduler: one leader at a time sets the pace, releases parked work and raises alerts.

Each `tick()` (once a second in `paceline scheduler`; tests and `simulate` call it by hand on
a ManualClock): hold the lease -> reap expired reservations -> forecast the rest of the day's
live demand -> set the pace (shaped by the forecast) -> plan the live lane (its rung of the
ladder, the reserve replay leaves it, the wait in its line) -> release due parked tickets,
live first, no more than the bucket can pay for, and every live ticket at its SLO's decide-by
whatever the bucket holds (admission then answers it or hands it off) -> alerts -> resolve
the answered tickets whose resolution window closed (shared/conversation). A standby's
tick only tries to take the lease, so running two schedulers is safe: only the leader
releases, and the parking lot's release moves each member out atomically, so two ticks can
never both release one ticket.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import redis

from shared.clock import Clock
from shared.conversation.resolutions import CLOSE_BATCH, Resolutions
from shared.keys import Keys
from shared.ledger import Ledger
from shared.models import Lane
from shared.settings import Settings, price_table
from shared.stores.dead_letters import DeadLetterRegistry
from shared.stores.demand import DemandStore
from shared.stores.live_plan import LivePlan, read_plan, write_plan
from shared.stores.outcomes import OutcomeStore
from shared.stores.parking import LINE_OFFSET_MS, ParkingLot
from workers.admission.envelope import model_ladder
from workers.admission.slo import SloPolicy
from workers.scheduler.alerts import Alerts
from workers.scheduler.forecast import Forecast, Forecaster
from workers.scheduler.leader import DEFAULT_LEASE_MS, LeaderLease
from workers.scheduler.live_plan import PlanInputs, plan_live
from workers.scheduler.pace import Pacer, PaceState

log = logging.getLogger("paceline.scheduler")

Enqueue = Callable[[dramatiq.Message[Any]], object]
# Most tickets one tick releases whatever the bucket holds (pacing off, or a huge burst).
MAX_RELEASE_PER_TICK = 5_000
NON_LIVE = (Lane.REDRIVE, Lane.REPLAY)
# Resolution windows one tick closes at most (in batches of CLOSE_BATCH): a backlog after
# downtime drains over a few ticks without holding up the pace.
MAX_RESOLVE_PER_TICK = 10 * CLOSE_BATCH
# Dead letters past their retention are deleted by the leader every this many ticks.
SWEEP_EVERY_TICKS = 600
# Outcomes past theirs, every this many seconds of the clock (one ZRANGEBYSCORE when none are).
OUTCOME_SWEEP_EVERY_S = 60


@dataclass
class TickReport:
    leader: bool
    token: int | None = None
    rate_micros_per_h: int = 0
    tokens_micros: int = 0
    reaped: int = 0
    released: dict[str, int] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    swept: int = 0
    outcomes_swept: int = 0
    resolved: int = 0
    plan: LivePlan | None = None


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        client: redis.Redis,
        enqueue: Enqueue | None = None,
        lease_ms: int = DEFAULT_LEASE_MS,
        instance_id: str | None = None,
        typical_envelope_micros: int | None = None,
        max_release_per_tick: int = MAX_RELEASE_PER_TICK,
        alerts: Alerts | None = None,
        tick_s: float = 1.0,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.keys = Keys(settings.namespace)
        self._r = client
        self.ledger = Ledger(client, self.keys, settings, clock)
        self.lot = ParkingLot(client, self.keys)
        self.lease = LeaderLease(client, self.keys, lease_ms=lease_ms, instance_id=instance_id)
        self.pacer = Pacer(client, self.keys, settings, clock, self.ledger)
        self.alerts = alerts or Alerts(client, self.keys, settings, clock)
        self.max_release = max_release_per_tick
        self.envelope_micros = typical_envelope_micros or _cheapest_envelope(settings)
        prices = price_table(settings)
        self.ladder = model_ladder(settings, prices)
        self.demand = DemandStore(client, self.keys, settings.tz)
        self.forecaster = Forecaster(self.demand, settings, clock, prices)
        self.slo = SloPolicy.from_settings(settings, tick_s)
        self._enqueue = enqueue
        self._forecast: Forecast | None = None
        self._plan: LivePlan | None = None
        self._broker: dramatiq.Broker | None = None
        self.dead_letters = DeadLetterRegistry(client, self.keys, clock)
        self.outcomes = OutcomeStore(client, self.keys, settings.outcome_retention_s)
        self.resolutions = Resolutions(client, self.keys)
        self._ticks = 0
        self._next_outcome_sweep_s = float("-inf")

    # --- one tick ----------------------------------------------------------------------
    def tick(self) -> TickReport:
        if not self.lease.hold():
            return TickReport(leader=False)
        report = TickReport(leader=True, token=self.lease.token)
        report.reaped = self.ledger.reap()
        forecast = self._forecast = self.forecaster.forecast(self.ladder)
        pace = self.pacer.update(forecast)
        report.rate_micros_per_h = pace.rate_micros_per_h
        report.tokens_micros = pace.tokens_micros
        report.plan = self._plan = self.plan(forecast, pace)
        report.released = self.release(pace)
        report.alerts = [a.name for a in self.alerts.check(pace.ceiling_micros)]
        report.resolved = self.close_resolution_windows()
        self._ticks += 1
        if self._ticks % SWEEP_EVERY_TICKS == 1:
            report.swept = self.dead_letters.sweep(
                int(self.clock.now_s() * 1000), self.settings.dlq_retention_days
            )
        if (now_s := self.clock.now_s()) >= self._next_outcome_sweep_s:
            self._next_outcome_sweep_s = now_s + OUTCOME_SWEEP_EVERY_S
            report.outcomes_swept = self.outcomes.sweep(int(now_s * 1000))
        return report

    def close_resolution_windows(self) -> int:
        """Answered tickets with no customer message within the window: resolved."""
        now_ms = int(self.clock.now_s() * 1000)
        window_ms = int(self.settings.resolution_window_h * 3_600_000)
        resolved = seen = 0
        while seen < MAX_RESOLVE_PER_TICK:
            n, looked = self.resolutions.close_due(now_ms, window_ms, CLOSE_BATCH)
            resolved, seen = resolved + n, seen + looked
            if looked < CLOSE_BATCH:
                break
        return resolved

    def release_again(self) -> dict[str, int]:
        """Another release within the tick, with the bucket as it is now (a caller that ran
        what the tick released at once: `simulate`, whose ticks are a minute apart)."""
        return self.release(self.pacer.update(self._forecast))

    def plan(self, forecast: Forecast, pace: PaceState) -> LivePlan:
        """Decide the live lane's rung and reserve for the rest of the day; written where the
        admission script reads the pace."""
        now_ms = int(self.clock.now_s() * 1000)
        plan = plan_live(
            forecast,
            PlanInputs(
                now_ms=now_ms,
                day=self.ledger.day(),
                day_end_ms=pace.day_end_ms,
                ceiling_micros=pace.ceiling_micros,
                committed_micros=pace.committed_micros,
                rate_micros_per_h=pace.rate_micros_per_h,
                line=self.lot.line_length(),
                burst_micros=pace.burst_micros,
                decide_after_ms=self.slo.decide_after_ms,
                ladder=self.ladder,
                previous=read_plan(self._r, self.keys),
            ),
        )
        pipe = self._r.pipeline(transaction=False)
        write_plan(pipe, self.keys, plan)
        pipe.execute()
        return plan

    def release(self, pace: PaceState) -> dict[str, int]:
        """Release due tickets, live first, as many as the bucket can pay for; under the SLO,
        also every live ticket in line that reached its decide-by."""
        now_ms = int(self.clock.now_s() * 1000)
        released: dict[str, int] = {}
        if self.slo.active:
            # Line members are due at acceptance - LINE_OFFSET_MS: those accepted at least
            # `decide_after_ms` ago are due at this earlier "now" (parking.py).
            at_decide_by = now_ms - LINE_OFFSET_MS - self.slo.decide_after_ms
            released = self._release_lanes(at_decide_by, self.max_release, (Lane.LIVE,))
        if self.settings.pacing != "even":
            return _merge(
                released,
                self._release_lanes(now_ms, self.max_release, (Lane.LIVE, *NON_LIVE)),
            )
        tokens = pace.tokens_micros
        paid = self._release_lanes(now_ms, self._affordable(tokens), (Lane.LIVE,))
        # Replay and redrive only get what lies beyond the live lane's share of the burst.
        left = tokens - paid.get(Lane.LIVE.value, 0) * self.envelope_micros
        keep = pace.burst_micros * self.settings.live_reserve_pct // 100
        if self._plan is not None and self._plan.plan_ms:
            keep = max(keep, self._plan.live_floor)
        left -= keep
        paid.update(self._release_lanes(now_ms, self._affordable(left), NON_LIVE))
        return _merge(released, paid)

    def _affordable(self, tokens_micros: int) -> int:
        if tokens_micros <= 0:
            return 0
        # At least one: admission may still grant a partial envelope to a short ticket.
        return min(max(tokens_micros // self.envelope_micros, 1), self.max_release)

    def _release_lanes(self, now_ms: int, limit: int, lanes: tuple[Lane, ...]) -> dict[str, int]:
        if limit <= 0:
            return {}
        if self._enqueue is not None:
            return self.lot.release_due(now_ms, self._enqueue, limit=limit, lanes=lanes)
        broker = self.broker()
        if _same_redis(self.settings):
            return self.lot.release_due_into_redis(
                now_ms, self.keys.dramatiq_namespace, limit=limit, lanes=lanes
            )
        return self.lot.release_due(now_ms, broker.enqueue, limit=limit, lanes=lanes)

    def broker(self) -> dramatiq.Broker:
        if self._broker is None:
            from shared.broker import build_broker

            self._broker = build_broker(self.settings)
        return self._broker

    # --- the process -------------------------------------------------------------------
    def run(self, stop: threading.Event, *, interval_s: float = 1.0) -> None:
        """Tick until `stop` is set; always give the lease up on the way out."""
        was_leader = False
        try:
            while not stop.is_set():
                try:
                    report = self.tick()
                except redis.RedisError as exc:
                    log.warning("scheduler tick failed: %s", type(exc).__name__)
                    report = TickReport(leader=self.lease.is_leader)
                if report.leader != was_leader:
                    log.info(
                        "scheduler %s",
                        "leads" if report.leader else "stands by",
                        extra={"instance": self.lease.instance_id, "token": report.token},
                    )
                    was_leader = report.leader
                stop.wait(interval_s)
        finally:
            self.close()

    def close(self) -> None:
        try:
            self.lease.release()
        finally:
            if self._broker is not None:
                self._broker.close()
                self._broker = None


def _cheapest_envelope(settings: Settings) -> int:
    prices = price_table(settings)
    return min(
        prices.worst_case_micros(m, 0, settings.request_token_cap)
        for m in model_ladder(settings, prices)
    )


def _merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {lane: a.get(lane, 0) + b.get(lane, 0) for lane in a.keys() | b.keys()}


def _same_redis(settings: Settings) -> bool:
    """The fast release writes dramatiq's keys with the ledger's client: same server only."""
    return settings.effective_broker_url == settings.redis_url
