"""What a simulated day measured: per hour, and for the day (`paceline simulate`'s figures)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class HourRow:
    hour: int
    arrived: int = 0
    answered: int = 0
    degraded: int = 0  # answered on a model below the default
    handed_off: int = 0
    past_slo: int = 0  # first responses later than the SLO
    exhausted: int = 0  # admitted, then out of envelope before the answer (escalated)
    replay_admitted: int = 0
    spent_usd: float = 0.0
    cumulative_usd: float = 0.0
    pace_line_usd: float = 0.0
    line: int = 0  # live tickets waiting at the end of the hour
    rung: str = ""  # the model the live lane ran on at the end of the hour
    p95_first_response_s: float = 0.0


@dataclass
class SimResult:
    policy: str
    demand_x: float
    models: list[str]
    ceiling_micros: int
    burst_micros: int
    slo_s: int
    forecast: str = "none"  # the forecast's basis at the start of the day
    spent_micros: int = 0
    hours: list[HourRow] = field(default_factory=list)
    live_arrived: int = 0
    answered_by_model: dict[str, int] = field(default_factory=dict)
    handoffs_within: int = 0
    handoffs_past: int = 0
    exhausted: int = 0
    first_response_ms: list[int] = field(default_factory=list)
    handoff_ms: list[int] = field(default_factory=list)
    past_slo: int = 0  # first responses past the SLO, and tickets still waiting past it
    waiting_at_end: int = 0
    replay_admitted: int = 0
    max_ahead_micros: int = 0  # most that spend ran ahead of the pace line, at any step
    max_committed_micros: int = 0  # spent + reserved, at its highest
    alerts: list[str] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return sum(self.answered_by_model.values())

    @property
    def handoffs(self) -> int:
        return self.handoffs_within + self.handoffs_past

    def share(self, n: int) -> float:
        return round(100 * n / self.live_arrived, 2) if self.live_arrived else 0.0

    def first_response_s(self, pct: float) -> float:
        ordered = sorted(self.first_response_ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(pct / 100 * len(ordered)))] / 1000

    def summary(self) -> dict[str, Any]:
        """The day in figures: what `paceline simulate --json` prints per policy (amounts in
        micro-dollars; the JSON adds their `_usd` twins)."""
        return {
            "policy": self.policy,
            "demand_x": self.demand_x,
            "forecast": self.forecast,
            "live_arrived": self.live_arrived,
            "answered": self.answered,
            "answered_pct": self.share(self.answered),
            "answered_by_model": {m: self.answered_by_model.get(m, 0) for m in self.models},
            "answered_by_model_pct": {
                m: self.share(self.answered_by_model.get(m, 0)) for m in self.models
            },
            "degraded": self.answered - self.answered_by_model.get(self.models[0], 0),
            "handed_off": {"within_slo": self.handoffs_within, "past_slo": self.handoffs_past},
            "handed_off_pct": self.share(self.handoffs),
            "escalated_out_of_envelope": self.exhausted,
            "past_slo": self.past_slo,
            "waiting_at_end": self.waiting_at_end,
            "first_response_s": {
                "p50": self.first_response_s(50),
                "p95": self.first_response_s(95),
                "p99": self.first_response_s(99),
            },
            "slo_s": self.slo_s,
            "ceiling_micros": self.ceiling_micros,
            "spent_micros": self.spent_micros,
            "spent_pct": round(100 * self.spent_micros / self.ceiling_micros, 2),
            "max_committed_micros": self.max_committed_micros,
            "max_ahead_of_pace_micros": self.max_ahead_micros,
            "burst_micros": self.burst_micros,
            "replay_admitted": self.replay_admitted,
            "alerts": self.alerts,
        }

    def hours_doc(self) -> list[dict[str, Any]]:
        return [asdict(h) for h in self.hours]
