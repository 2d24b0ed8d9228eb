"""A compressed budget day: the real ledger, parking lot and scheduler on a ManualClock.

What is real: Redis, the admission script (caps, pace bucket, live reserve, model ladder),
`ParkingLot`, `Scheduler.tick()` (pace, release, alerts). What is synthetic: the tickets and
their costs (see sim_traffic.py) and the worker, which calls `Ledger.admit/draw/settle/release`
directly instead of running the agent. Workers are never the bottleneck here (every queued
ticket is tried at once), so waits measure budget, not threads. The run uses a private
namespace, deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import dramatiq
import redis

from shared.clock import ManualClock, day_bounds_s
from shared.ledger import AdmissionRequest, Candidate, Ledger
from shared.messages import actor_for
from shared.models import Lane
from shared.settings import Settings, price_table
from shared.stores.parking import ParkingLot
from workers.admission.envelope import model_ladder
from workers.scheduler.scheduler import Scheduler
from workers.scheduler.sim_traffic import SimTicket, Traffic

MODE = "synthetic tickets (seeded log-normal costs); ledger called directly, no agent, no provider"
# A fixed day, so runs compare; its local midnight is found in the configured time zone.
SIM_EPOCH_S = 1_764_000_000.0
LANES_BY_PRIORITY = (Lane.LIVE, Lane.REDRIVE, Lane.REPLAY)


@dataclass(frozen=True)
class SimConfig:
    hours: float = 24.0
    demand_x: float = 3.0
    with_replay: bool = False
    step_s: int = 60
    seed: int = 7
    tickets_per_day: int = 2_000  # what the ceiling pays for at 1x demand, on the first model
    replay_tickets: int | None = None  # default: a whole day's ceiling worth
    envelope_x: float = 4.0  # the per-ticket envelope, in mean tickets


@dataclass
class HourRow:
    hour: int
    spent_usd: float = 0.0
    cumulative_usd: float = 0.0
    pace_line_usd: float = 0.0
    admitted: int = 0
    deferred: int = 0
    degraded: int = 0
    live_admitted: int = 0
    replay_admitted: int = 0
    parked: int = 0


@dataclass
class SimResult:
    ceiling_micros: int
    burst_micros: int
    spent_micros: int = 0
    hours: list[HourRow] = field(default_factory=list)
    live_waits_ms: list[int] = field(default_factory=list)
    live_arrived: int = 0
    replay_admitted: int = 0
    max_ahead_micros: int = 0  # most that spend ran ahead of the pace line, at any step
    max_committed_micros: int = 0  # spent + reserved, at its highest
    alerts: list[str] = field(default_factory=list)

    def live_wait_p95_s(self) -> float:
        if not self.live_waits_ms:
            return 0.0
        ordered = sorted(self.live_waits_ms)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] / 1000

    def hours_doc(self) -> list[dict[str, Any]]:
        return [asdict(h) for h in self.hours]


class _Day:
    """One simulated run; `run()` drives it step by step."""

    def __init__(self, base: Settings, cfg: SimConfig, client: redis.Redis) -> None:
        ceiling = base.daily_ceiling_usd
        self.settings = base.model_copy(
            update={
                "namespace": f"{base.namespace}-sim-{uuid.uuid4().hex[:8]}",
                "tenant_daily_cap_usd": ceiling,
                "user_daily_cap_usd": ceiling,
                "pacing": "even",
                "alert_webhook_url": None,
            }
        )
        self.cfg = cfg
        self.r = client
        start_s, _ = day_bounds_s(SIM_EPOCH_S, self.settings.tz)
        self.start_ms = int(start_s * 1000)
        self.clock = ManualClock(start_s)
        self.sched = Scheduler(
            self.settings, clock=self.clock, client=client, enqueue=self._enqueue
        )
        self.ledger: Ledger = self.sched.ledger
        self.lot: ParkingLot = self.sched.lot
        self.queues: dict[Lane, deque[dict[str, Any]]] = {lane: deque() for lane in Lane}
        self.mean_micros = self.settings.ceiling_micros // cfg.tickets_per_day
        self.candidates = self._ladder()
        self.sched.envelope_micros = min(c.full_micros for c in self.candidates)
        self.traffic = Traffic(cfg.seed, cfg.tickets_per_day, cfg.demand_x)
        self.result = SimResult(self.settings.ceiling_micros, self.ledger.burst_micros())

    def _ladder(self) -> list[Candidate]:
        prices = price_table(self.settings)
        models = model_ladder(self.settings)
        first = prices.price(models[0]).output
        self.factor = {m: prices.price(m).output / first for m in models}
        full = int(self.mean_micros * self.cfg.envelope_x)
        return [
            Candidate(m, int(full * self.factor[m]), int(self.mean_micros * self.factor[m] / 4))
            for m in models
        ]

    # --- the worker, synthetic --------------------------------------------------------
    def _enqueue(self, message: dramatiq.Message[Any]) -> None:
        self.queues[Lane(message.kwargs["lane"])].append(dict(message.args[0]))

    def _try(self, doc: dict[str, Any], lane: Lane, row: HourRow) -> None:
        d = self.ledger.admit(
            AdmissionRequest(
                ticket_key=f"sim:{lane.value}:{doc['seq']}",
                tenant_id=doc["tenant_id"],
                requester_id=doc["requester_id"],
                lane=lane.value,
                candidates=self.candidates,
            )
        )
        now_ms = int(self.clock.now_s() * 1000)
        if d.kind != "admit" or d.reservation_id is None or d.model is None:
            message: dramatiq.Message[Any] = dramatiq.Message(
                queue_name=lane.queue_name,
                actor_name=actor_for(lane),
                args=(doc,),
                kwargs={"lane": lane.value},
                options={},
            )
            self.lot.park(message, lane, d.until_ms, d.reason)
            row.deferred += 1
            return
        cost = int(self.mean_micros * self.factor[d.model] * doc["cost_draw"])
        cost = max(min(cost, d.grant_micros), 1)  # the agent shortens its answer to fit
        self.ledger.draw(d.reservation_id, "c1", cost)
        self.ledger.settle(d.reservation_id, "c1", cost)
        self.ledger.release(d.reservation_id)
        row.admitted += 1
        row.degraded += int(d.reason.endswith(":degraded"))
        if lane is Lane.LIVE:
            row.live_admitted += 1
            self.result.live_waits_ms.append(now_ms - int(doc["arrival_ms"]))
        else:
            row.replay_admitted += 1
            self.result.replay_admitted += 1

    def _drain(self, row: HourRow) -> None:
        # The worker serves live first: one actor priority per lane (shared/messages.py).
        for lane in LANES_BY_PRIORITY:
            q = self.queues[lane]
            while q:
                self._try(q.popleft(), lane, row)

    # --- the day ------------------------------------------------------------------------
    def run(self) -> SimResult:
        cfg = self.cfg
        step_ms = cfg.step_s * 1000
        steps = int(cfg.hours * 3600 / cfg.step_s)
        if cfg.with_replay:
            # Its own random stream, so the live traffic is the same with and without replay.
            history = Traffic(cfg.seed + 1, cfg.tickets_per_day, 1.0)
            n = cfg.replay_tickets if cfg.replay_tickets is not None else cfg.tickets_per_day
            for _ in range(n):
                self.queues[Lane.REPLAY].append(_doc(history.ticket(self.start_ms, 1_000_000_000)))
        row = HourRow(0)
        for i in range(steps):
            t0 = self.start_ms + i * step_ms
            hour = (t0 - self.start_ms) // 3_600_000
            if hour != row.hour:
                self._close_hour(row)
                row = HourRow(hour)
            self.clock.set(t0 / 1000)
            self.result.alerts += self.sched.tick().alerts
            self._drain(row)
            arrivals = self.traffic.arrivals(t0, step_ms, int(hour) % 24)
            self.result.live_arrived += len(arrivals)
            for tk in arrivals:
                self.clock.set(tk.arrival_ms / 1000)
                self._try(_doc(tk), Lane.LIVE, row)
            self._measure()
        self.clock.set((self.start_ms + steps * step_ms) / 1000 - 0.001)
        self._close_hour(row)
        self.result.spent_micros = self._books()[0]
        return self.result

    def _books(self) -> tuple[int, int]:
        day = self.ledger.day()
        return self.ledger.spent("global", day), self.ledger.reserved("global", day)

    def _pace_line_micros(self) -> int:
        start_s, end_s = day_bounds_s(self.clock.now_s(), self.settings.tz)
        frac = (self.clock.now_s() - start_s) / (end_s - start_s)
        return int(self.result.ceiling_micros * frac)

    def _measure(self) -> None:
        spent, reserved = self._books()
        ahead = spent - self._pace_line_micros()
        self.result.max_ahead_micros = max(self.result.max_ahead_micros, ahead)
        self.result.max_committed_micros = max(self.result.max_committed_micros, spent + reserved)

    def _close_hour(self, row: HourRow) -> None:
        spent, _ = self._books()
        prev = self.result.hours[-1].cumulative_usd if self.result.hours else 0.0
        row.cumulative_usd = spent / 1_000_000
        row.spent_usd = round(row.cumulative_usd - prev, 6) if row.hour % 24 else row.cumulative_usd
        row.pace_line_usd = round(self._pace_line_micros() / 1_000_000, 6)
        row.parked = self.lot.size()
        self.result.hours.append(row)

    def cleanup(self) -> None:
        batch: list[str] = []
        for key in self.r.scan_iter(match=f"{self.settings.namespace}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                self.r.unlink(*batch)
                batch = []
        if batch:
            self.r.unlink(*batch)


def _doc(tk: SimTicket) -> dict[str, Any]:
    return {
        "seq": tk.seq,
        "arrival_ms": tk.arrival_ms,
        "tenant_id": tk.tenant_id,
        "requester_id": tk.requester_id,
        "cost_draw": tk.cost_draw,
    }


def simulate(base: Settings, cfg: SimConfig, client: redis.Redis) -> SimResult:
    day = _Day(base, cfg, client)
    try:
        return day.run()
    finally:
        day.sched.close()
        day.cleanup()


def simulate_pair(
    base: Settings, cfg: SimConfig, client: redis.Redis
) -> tuple[SimResult, SimResult]:
    """The same live traffic without, then with, a replay batch alongside."""
    without = simulate(base, SimConfig(**{**asdict(cfg), "with_replay": False}), client)
    with_ = simulate(base, SimConfig(**{**asdict(cfg), "with_replay": True}), client)
    return without, with_
