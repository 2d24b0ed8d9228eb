"""A compressed budget day: the real ledger, scheduler and SLO policy on a ManualClock.

What is real: Redis, the admission script (caps, pace bucket, live reserve, model ladder, the
live plan), `ParkingLot` and its live line, `Scheduler.tick()` (forecast, pace, live plan,
release, alerts), the SLO's decisions (`SloPolicy.resolve`, as admission calls it) and the
`DemandStore` the forecast learns from (arrivals counted as intake counts them, runs and first
responses recorded as the worker records them). What is synthetic: the tickets and their
costs (sim_traffic.py), the past days the forecast learns from (their arrivals by hour, each
ticket run on the default model), and the worker, which draws, settles and closes a ticket's
cost itself instead of running the agent; a ticket costing more than its grant runs out of
envelope and is escalated (as the agent does). Workers are never the bottleneck (every queued
ticket is tried at once), and an answer comes `AGENT_S` after admission. The run uses a
private namespace, deleted afterwards.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import Any

import dramatiq
import redis

from shared.clock import ManualClock, day_bounds_s
from shared.ledger import AdmissionRequest, Candidate, Decision
from shared.messages import actor_for
from shared.models import Lane
from shared.pricing import Usage
from shared.settings import Settings, price_table
from workers.admission.slo import LINE_OPTION, SloPolicy, Step, lane_sent
from workers.scheduler.scheduler import Scheduler
from workers.scheduler.sim_result import HourRow, SimResult
from workers.scheduler.sim_traffic import SimPrices, SimTicket, SyntheticUsage, Traffic, UsageSource

MODE = (
    "synthetic tickets priced by the price table; the real ledger, scheduler (forecast, pace, "
    "live plan) and SLO policy on an injected clock; no agent, no provider"
)
# A fixed day, so runs compare; its local midnight is found in the configured time zone.
SIM_EPOCH_S = 1_764_000_000.0
LANES_BY_PRIORITY = (Lane.LIVE, Lane.REDRIVE, Lane.REPLAY)
AGENT_MS = 10_000  # from admission to the answer
POLICIES = ("cheapest", "handoff", "wait")


@dataclass(frozen=True)
class SimConfig:
    hours: float = 24.0
    demand_x: float = 3.0
    with_replay: bool = False
    step_s: int = 60
    seed: int = 7
    tickets_per_day: int = 2_000  # what the ceiling pays for at 1x demand, on the default model
    replay_tickets: int | None = None  # default: a whole day's ceiling worth
    envelope_x: float = 4.0  # the per-ticket envelope, in mean tickets of its model
    over_slo: str | None = None  # None: PACELINE_OVER_SLO
    history_days: int = 7  # past days the forecast learns from (0: a first day)
    history_x: float | None = None  # their demand (None: the same as this day's)


class _Day:
    """One simulated run; `run()` drives it step by step."""

    def __init__(self, base: Settings, cfg: SimConfig, client: redis.Redis, usage: UsageSource):
        ceiling = base.daily_ceiling_usd
        self.settings = base.model_copy(
            update={
                "namespace": f"{base.namespace}-sim-{uuid.uuid4().hex[:8]}",
                "tenant_daily_cap_usd": ceiling,
                "user_daily_cap_usd": ceiling,
                "pacing": "even",
                "alert_webhook_url": None,
                "over_slo": cfg.over_slo or base.over_slo,
            }
        )
        self.cfg = cfg
        self.r = client
        start_s, _ = day_bounds_s(SIM_EPOCH_S, self.settings.tz)
        self.start_ms = int(start_s * 1000)
        self.clock = ManualClock(start_s)
        self.sched = Scheduler(
            self.settings, clock=self.clock, client=client, enqueue=self._enqueue, tick_s=cfg.step_s
        )
        self.ledger, self.lot, self.demand = self.sched.ledger, self.sched.lot, self.sched.demand
        self.slo = SloPolicy.from_settings(self.settings, cfg.step_s)
        self.ladder = self.sched.ladder
        mean = self.settings.ceiling_micros // cfg.tickets_per_day
        self.prices = SimPrices(price_table(self.settings), self.ladder, usage, mean)
        self.full = {m: int(cfg.envelope_x * self.prices.mean_micros[m]) for m in self.ladder}
        self.candidates = [
            Candidate(m, self.full[m], max(self.prices.mean_micros[m] // 4, 1)) for m in self.ladder
        ]
        self.sched.envelope_micros = min(self.full.values())
        self.usage = usage
        self.traffic = Traffic(cfg.seed, cfg.tickets_per_day, cfg.demand_x, usage)
        self.queues: dict[Lane, deque[dict[str, Any]]] = {lane: deque() for lane in Lane}
        self.pending: dict[int, int] = {}  # live tickets without a first response: seq -> at
        self.result = SimResult(
            self.settings.over_slo,
            cfg.demand_x,
            self.ladder,
            self.settings.ceiling_micros,
            self.ledger.burst_micros(),
            self.settings.live_max_wait_s,
        )
        self.row = HourRow(0)
        self.row_waits: list[int] = []

    # --- the past days the forecast learns from -----------------------------------------
    def _history(self) -> None:
        pipe = self.r.pipeline(transaction=False)
        for d in range(1, self.cfg.history_days + 1):
            past_x = self.cfg.demand_x if self.cfg.history_x is None else self.cfg.history_x
            past = Traffic(self.cfg.seed + 1000 + d, self.cfg.tickets_per_day, past_x, self.usage)
            day_s = self.start_ms / 1000 - d * 86_400 + 3_600  # DST-safe: inside that day
            day_start_s, _ = day_bounds_s(day_s, self.settings.tz)
            counts = past.hourly_counts()
            for hour, n in enumerate(counts):
                if n:
                    self.demand.count_arrivals(day_start_s + hour * 3600 + 60, n, pipe)
            rng = random.Random(self.cfg.seed * 7919 + d)
            used = [self.usage.draw(rng) for _ in range(sum(counts))]
            total = sum(self.prices.cost_micros(self.ladder[0], u) for u in used)
            self.demand.record_run(
                pipe, day_start_s + 60, self.ladder[0], cost_micros=total, tickets=len(used),
                prompt_tokens=sum(u.prompt_tokens for u in used),
                cached_tokens=sum(u.cached_tokens for u in used),
                completion_tokens=sum(u.completion_tokens for u in used),
            )  # fmt: skip
        pipe.execute()

    # --- the worker, synthetic --------------------------------------------------------
    def _enqueue(self, message: dramatiq.Message[Any]) -> None:
        self.queues[Lane(message.kwargs["lane"])].append(dict(message.args[0]))

    def _message(self, doc: dict[str, Any], lane: Lane) -> dramatiq.Message[Any]:
        return dramatiq.Message(
            queue_name=lane.queue_name,
            actor_name=actor_for(lane),
            args=(doc,),
            kwargs={"lane": lane.value},
            options={},
            message_timestamp=int(doc["arrival_ms"]),
        )

    def _try(self, doc: dict[str, Any], lane: Lane) -> None:
        req = AdmissionRequest(
            f"sim:{lane.value}:{doc['seq']}",
            doc["tenant_id"],
            doc["requester_id"],
            lane_sent(lane.value, bool(doc.get(LINE_OPTION))),
            self.candidates,
        )
        d = self.ledger.admit(req)
        if d.kind == "admit":
            self._run(doc, lane, d)
            return
        until_ms = d.until_ms
        if lane is Lane.LIVE:
            res = self.slo.resolve(self.ledger, req, d, int(doc["arrival_ms"]), self._now_ms())
            if res.step is Step.RUN and res.decision is not None:
                self._run(doc, lane, res.decision)
                return
            if res.step is Step.HANDOFF:
                self._first_response(doc, handoff=True)
                return
            if res.step is Step.LINE:
                doc = {**doc, LINE_OPTION: True}
                self.lot.park_in_line(self._message(doc, lane), int(doc["arrival_ms"]), d.reason)
                return
            until_ms = res.until_ms
        self.lot.park(self._message(doc, lane), lane, until_ms, d.reason)

    def _run(self, doc: dict[str, Any], lane: Lane, d: Decision) -> None:
        assert d.reservation_id is not None and d.model is not None
        usage = Usage(doc["prompt"], doc["cached"], doc["completion"])
        cost = min(self.prices.cost_micros(d.model, usage), self.full[d.model])
        answered = cost <= d.grant_micros  # else the agent runs out of envelope first
        spend = cost if answered else d.grant_micros
        self.ledger.draw(d.reservation_id, "c1", spend)
        self.ledger.settle(d.reservation_id, "c1", spend)
        self.ledger.release(d.reservation_id)
        pipe = self.r.pipeline(transaction=False)
        self.demand.record_run(
            pipe, self.clock.now_s(), d.model, cost_micros=spend,
            prompt_tokens=usage.prompt_tokens, cached_tokens=usage.cached_tokens,
            completion_tokens=usage.completion_tokens,
        )  # fmt: skip
        pipe.execute()
        if lane is not Lane.LIVE:
            self.row.replay_admitted += 1
            self.result.replay_admitted += 1
            return
        self._first_response(doc, handoff=False, delay_ms=AGENT_MS)
        if not answered:
            self.result.exhausted += 1
            self.row.exhausted += 1
            return
        by_model = self.result.answered_by_model
        by_model[d.model] = by_model.get(d.model, 0) + 1
        self.row.answered += 1
        self.row.degraded += int(d.model != self.ladder[0])

    def _first_response(self, doc: dict[str, Any], *, handoff: bool, delay_ms: int = 0) -> None:
        waited_ms = self._now_ms() + delay_ms - int(doc["arrival_ms"])
        self.pending.pop(int(doc["seq"]), None)
        pipe = self.r.pipeline(transaction=False)
        self.demand.record_first_response(
            pipe, self.clock.now_s(), waited_ms, self.settings.live_max_wait_s, handoff=handoff
        )
        pipe.execute()
        self.result.first_response_ms.append(waited_ms)
        self.row_waits.append(waited_ms)
        late = waited_ms > self.settings.live_max_wait_s * 1000
        self.result.past_slo += int(late)
        self.row.past_slo += int(late)
        if handoff:
            self.result.handoff_ms.append(waited_ms)
            self.row.handed_off += 1
            if late:
                self.result.handoffs_past += 1
            else:
                self.result.handoffs_within += 1

    def _drain(self) -> None:
        # The worker serves live first: one actor priority per lane (shared/messages.py).
        for lane in LANES_BY_PRIORITY:
            q = self.queues[lane]
            while q:
                self._try(q.popleft(), lane)

    def _drain_line(self) -> None:
        """Release the line again while what was released got answered: the real scheduler
        ticks every second, this one every step."""
        while self.lot.line_length():
            answered = self.result.answered + self.result.exhausted
            if not self.sched.release_again().get(Lane.LIVE.value):
                return
            self._drain()
            if self.result.answered + self.result.exhausted == answered:
                return

    # --- the day ------------------------------------------------------------------------
    def run(self) -> SimResult:
        cfg = self.cfg
        self._history()
        step_ms = cfg.step_s * 1000
        steps = int(cfg.hours * 3600 / cfg.step_s)
        if cfg.with_replay:
            # Its own random stream, so the live traffic is the same with and without replay.
            history = Traffic(cfg.seed + 1, cfg.tickets_per_day, 1.0, self.usage)
            n = cfg.replay_tickets if cfg.replay_tickets is not None else cfg.tickets_per_day
            for _ in range(n):
                self.queues[Lane.REPLAY].append(_doc(history.ticket(self.start_ms, 1_000_000_000)))
        for i in range(steps):
            t0 = self.start_ms + i * step_ms
            hour = (t0 - self.start_ms) // 3_600_000
            if hour != self.row.hour:
                self._close_hour()
                self.row = HourRow(hour)
            self.clock.set(t0 / 1000)
            report = self.sched.tick()
            self.result.alerts += report.alerts
            if report.plan is not None:
                self.row.rung = report.plan.live_model
                if i == 0:
                    self.result.forecast = report.plan.forecast_basis
            self._drain()
            self._drain_line()
            for tk in self.traffic.arrivals(t0, step_ms, int(hour) % 24):
                self.clock.set(tk.arrival_ms / 1000)
                self.demand.count_arrivals(self.clock.now_s())  # as intake counts it
                self.result.live_arrived += 1
                self.row.arrived += 1
                self.pending[tk.seq] = tk.arrival_ms
                self._try(_doc(tk), Lane.LIVE)
            self._measure()
        end_ms = self.start_ms + steps * step_ms
        self.clock.set(end_ms / 1000 - 0.001)
        self._close_hour()
        self.result.spent_micros = self._books()[0]
        slo_ms = self.settings.live_max_wait_s * 1000
        self.result.waiting_at_end = len(self.pending)
        self.result.past_slo += sum(1 for at in self.pending.values() if end_ms - at > slo_ms)
        return self.result

    def _now_ms(self) -> int:
        return int(self.clock.now_s() * 1000)

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

    def _close_hour(self) -> None:
        row = self.row
        spent, _ = self._books()
        prev = self.result.hours[-1].cumulative_usd if self.result.hours else 0.0
        row.cumulative_usd = spent / 1_000_000
        row.spent_usd = round(row.cumulative_usd - prev, 6) if row.hour % 24 else row.cumulative_usd
        row.pace_line_usd = round(self._pace_line_micros() / 1_000_000, 6)
        row.line = self.lot.line_length()
        waits = sorted(self.row_waits)
        if waits:
            row.p95_first_response_s = waits[min(len(waits) - 1, int(0.95 * len(waits)))] / 1000
        self.row_waits = []
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
        "prompt": tk.usage.prompt_tokens,
        "cached": tk.usage.cached_tokens,
        "completion": tk.usage.completion_tokens,
    }


def simulate(
    base: Settings, cfg: SimConfig, client: redis.Redis, usage: UsageSource | None = None
) -> SimResult:
    day = _Day(base, cfg, client, usage or SyntheticUsage())
    try:
        return day.run()
    finally:
        day.sched.close()
        day.cleanup()


def simulate_policies(
    base: Settings,
    cfg: SimConfig,
    client: redis.Redis,
    policies: tuple[str, ...] = POLICIES,
    usage: UsageSource | None = None,
) -> list[SimResult]:
    """The same seeded day under each over-SLO policy."""
    return [simulate(base, replace(cfg, over_slo=p), client, usage) for p in policies]


def simulate_pair(
    base: Settings, cfg: SimConfig, client: redis.Redis, usage: UsageSource | None = None
) -> tuple[SimResult, SimResult]:
    """The same live traffic without, then with, a replay batch alongside."""
    without = simulate(base, SimConfig(**{**asdict(cfg), "with_replay": False}), client, usage)
    with_ = simulate(base, SimConfig(**{**asdict(cfg), "with_replay": True}), client, usage)
    return without, with_
