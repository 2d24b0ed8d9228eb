"""The live lane's first-response SLO: what to do with a live ticket the pace cannot serve.

A live ticket must get a first response within `PACELINE_LIVE_MAX_WAIT_S` of being accepted:
an agent answer, or a hand-off to a person with a polite acknowledgement. A response can come
no later than the agent's own deadline after admission, and a parked ticket is looked at again
at most a scheduler tick after it is due, so each ticket has a *decide-by* time: accepted +
SLO - the agent's deadline - one tick. The scheduler releases every ticket in line at its
decide-by (scheduler.py), so none is looked at later than that.

When admission defers a live ticket for money (the pace, the ceiling, money held in flight),
`after_defer` says what to do, by `PACELINE_OVER_SLO`:
- `wait`: park it until the ledger says, as without an SLO;
- while it can still be answered by its decide-by (the pace's estimate, which counts the line
  ahead of it), it waits in the live line (`LINE`) or, for money held in flight, briefly
  (`PARK`);
- otherwise `cheapest` asks once more, for the ladder's cheapest model (`cheapest_request`:
  what the bucket holds while others wait in the line is theirs, so a new ticket gets it
  only when there is no line), and hands off if even that does not fit; `handoff` hands off
  at once.
Tickets deferred for a requester's or tenant's cap already get their acknowledgement and wait
for the new day; a paused tenant or a closed provider gate is the operator's or provider's
state, not the pace: all of those park as before (docs/slo.md).

`after_defer` is a pure decision; `resolve` adds the cheapest model's second admission.
Admission (middleware.py) and `paceline simulate` both call `resolve` and carry out its step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.ledger import AdmissionRequest, Decision, Ledger
from shared.settings import Settings

# The lanes admission sends for a live ticket released from the live line (a new one joins
# the back of the line while there is one), and for one past its SLO asking for the cheapest
# model, new or from the line.
LINE_LANE = "line"
SLO_LANE = "slo"
SLO_LINE_LANE = "slo_line"
# Set on a message parked in the live line (the parking lot keeps it on release).
LINE_OPTION = "in_line"
HANDOFF_REASON = "slo_handoff"
CHEAPEST_REASON = "slo_cheapest"
# Deferrals for money the pace or the ceiling governs; `_cap_held` ones clear in a second.
_PACE = "pace"
_MONEY = ("pace", "global_daily_cap")
_HELD = "_cap_held"


class Step(StrEnum):
    PARK = "park"  # park until the ledger's time (as without an SLO)
    LINE = "line"  # wait in the live line for the pace, in arrival order
    CHEAPEST = "cheapest"  # ask for the cheapest model once more (`cheapest_request`)
    HANDOFF = "handoff"  # a final escalation to a person, with the acknowledgement
    RUN = "run"  # the cheapest model was admitted: the agent answers


@dataclass(frozen=True)
class Resolution:
    step: Step
    until_ms: int = 0  # PARK: until when
    decision: Decision | None = None  # RUN: the cheapest model's admission


@dataclass(frozen=True)
class SloPolicy:
    slo_ms: int
    agent_ms: int  # the agent's own deadline: the longest an admitted ticket takes
    tick_ms: int  # the longest a due ticket waits to be looked at again
    over_slo: str  # cheapest | handoff | wait

    @classmethod
    def from_settings(cls, settings: Settings, tick_s: float = 1.0) -> SloPolicy:
        return cls(
            slo_ms=settings.live_max_wait_s * 1000,
            agent_ms=int(settings.ticket_deadline_s * 1000),
            tick_ms=int(tick_s * 1000),
            over_slo=settings.over_slo,
        )

    @property
    def active(self) -> bool:
        return self.over_slo != "wait"

    @property
    def decide_after_ms(self) -> int:
        """How long after acceptance a ticket's fate must be settled."""
        return max(self.slo_ms - self.agent_ms - self.tick_ms, 0)

    def decide_by_ms(self, accepted_ms: int) -> int:
        return accepted_ms + self.decide_after_ms

    def after_defer(
        self, reason: str, until_ms: int, accepted_ms: int, now_ms: int
    ) -> tuple[Step, int]:
        """For a live ticket admission deferred: what to do, and until when it parks."""
        governed = reason in _MONEY or reason.endswith(_HELD)
        if not self.active or not governed:
            return Step.PARK, until_ms
        decide_by = self.decide_by_ms(accepted_ms)
        if now_ms < decide_by and until_ms <= decide_by:
            return (Step.LINE if reason == _PACE else Step.PARK), until_ms
        return (Step.CHEAPEST if self.over_slo == "cheapest" else Step.HANDOFF), now_ms

    def resolve(
        self,
        ledger: Ledger,
        req: AdmissionRequest,
        decision: Decision,
        accepted_ms: int,
        now_ms: int,
    ) -> Resolution:
        """What becomes of a deferred live ticket, asking the ledger for the cheapest model
        when the policy says so (RUN when it was admitted, HANDOFF when not)."""
        step, until_ms = self.after_defer(decision.reason, decision.until_ms, accepted_ms, now_ms)
        if step is not Step.CHEAPEST:
            return Resolution(step, until_ms)
        again = ledger.admit(cheapest_request(req))
        if again.kind == "admit":
            return Resolution(Step.RUN, decision=again)
        return Resolution(Step.HANDOFF)


def lane_sent(lane: str, from_line: bool) -> str:
    """The lane admission asks the ledger for: a live ticket from the line says so."""
    return LINE_LANE if from_line and lane == "live" else lane


def cheapest_request(req: AdmissionRequest) -> AdmissionRequest:
    """The same ticket asking for the ladder's cheapest model only, as a ticket past its SLO."""
    lane = SLO_LINE_LANE if req.lane == LINE_LANE else SLO_LANE
    return req._replace(lane=lane, candidates=(req.candidates[-1],))
