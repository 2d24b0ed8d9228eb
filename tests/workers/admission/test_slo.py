"""The live lane's first-response SLO at admission: the policy's decisions, and what a worker
does with them (the live line, the planned rung, a hand-off to a person)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dramatiq.middleware import SkipMessage

from shared.budget_status import set_cap
from shared.clock import ManualClock
from shared.ledger import AdmissionRequest, Candidate
from shared.messages import ticket_message
from shared.models import Lane, OutcomeStatus, Ticket
from shared.settings import Settings
from shared.stores.demand import DemandStore
from shared.stores.live_plan import LivePlan, write_plan
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import CallbackReceiver, generic_ticket, tkey, wait_for, worker_intake
from tests.workers.scheduler.helpers import DAY_S
from workers.admission.middleware import AdmissionMiddleware
from workers.admission.slo import SloPolicy, Step, cheapest_request
from workers.runtime import RunningWorker, worker_metrics
from workers.worker_context import WorkerContext

POLICY = SloPolicy(slo_ms=900_000, agent_ms=60_000, tick_ms=1_000, over_slo="cheapest")
AT = 1_000_000  # accepted at (ms)


@pytest.mark.parametrize(
    ("over_slo", "reason", "until", "now", "step"),
    [
        # Within its decide-by (accepted + 900 s - 60 s - 1 s): waits in line for the pace
        ("cheapest", "pace", AT + 600_000, AT, Step.LINE),
        ("handoff", "pace", AT + 839_000, AT + 1_000, Step.LINE),
        # Money held in flight comes back in a second: a short park, not the line
        ("cheapest", "global_cap_held", AT + 1_000, AT, Step.PARK),
        # The pace cannot serve it in time: the cheapest model, or a hand-off at once
        ("cheapest", "pace", AT + 839_001, AT, Step.CHEAPEST),
        ("handoff", "pace", AT + 900_000, AT, Step.HANDOFF),
        ("cheapest", "global_daily_cap", AT + 86_400_000, AT, Step.CHEAPEST),
        # Looked at again at (or after) its decide-by, whatever the ledger's estimate
        ("handoff", "pace", AT + 840_000, AT + 839_000, Step.HANDOFF),
        # Not the pace's: caps already acknowledge the customer; pauses and gates are the
        # operator's and the provider's; `wait` is the behaviour without an SLO
        ("cheapest", "user_daily_cap", AT + 86_400_000, AT, Step.PARK),
        ("cheapest", "tenant_paused", AT + 86_400_000, AT, Step.PARK),
        ("wait", "pace", AT + 86_400_000, AT, Step.PARK),
    ],
)
def test_what_a_deferred_live_ticket_becomes(
    over_slo: str, reason: str, until: int, now: int, step: Step
) -> None:
    policy = SloPolicy(900_000, 60_000, 1_000, over_slo)
    assert policy.decide_after_ms == 839_000
    got, park_until = policy.after_defer(reason, until, AT, now)
    assert got is step
    if step in (Step.LINE, Step.PARK):
        assert park_until == until


def test_the_cheapest_request_asks_for_the_last_rung_as_a_ticket_past_its_slo() -> None:
    ladder = (Candidate("gpt-4o-mini", 10, 1), Candidate("gpt-4.1-nano", 7, 1))
    new = cheapest_request(AdmissionRequest("k", "acme", "u", "live", ladder))
    from_line = cheapest_request(AdmissionRequest("k", "acme", "u", "line", ladder))
    assert (new.lane, from_line.lane) == ("slo", "slo_line")
    assert new.candidates == (ladder[1],) == from_line.candidates


# --- a worker carrying the decisions out ------------------------------------------------


@pytest.fixture
def ctx(namespace: str, simulator: SimulatorProcess) -> Iterator[WorkerContext]:
    settings = make_settings(namespace, llm_base_url=simulator.base_url, llm_api_key="sk-test")
    context = WorkerContext.build(settings, clock=ManualClock(DAY_S + 12 * 3600), threads=2)
    yield context
    context.close()


def plan(settings: Settings, now_ms: int, **fields: Any) -> LivePlan:
    doc: dict[str, Any] = {
        "plan_ms": now_ms, "plan_day": "2025-11-24", "live_rung": 0,
        "live_model": settings.model, "reserve_rung": 0, "live_reserve": 0, "live_floor": 0,
        "live_wait_ms": 0, "forecast_tickets": 100, "forecast_basis": "history",
        "cost_micros": 1_000, "projected_micros": 0, "line": 0,
    }  # fmt: skip
    doc.update(fields)
    return LivePlan(**doc)


def show(ctx: WorkerContext, live_plan: LivePlan) -> None:
    pipe = ctx.redis.pipeline()
    write_plan(pipe, ctx.keys, live_plan)
    pipe.execute()


def arrive(ctx: WorkerContext, n: int | str) -> Any:
    ticket = Ticket.model_validate(generic_ticket(n))
    return ticket_message(ticket, Lane.LIVE, at_ms=ctx.now_ms())


def test_a_new_ticket_behind_a_line_waits_in_it_and_runs_when_released(
    ctx: WorkerContext,
) -> None:
    # Given live tickets already waiting, and the pace expected to reach a newcomer in 10 min
    show(ctx, plan(ctx.settings, ctx.now_ms(), line=3, live_wait_ms=600_000))
    message = arrive(ctx, "queued")
    # When admission sees the newcomer
    with pytest.raises(SkipMessage):
        AdmissionMiddleware(ctx).before_process_message(None, message)  # type: ignore[arg-type]
    # Then it waits in the live line, in order of arrival, with nothing reserved for it
    outcome = ctx.outcomes.get(tkey("T-queued"))
    assert outcome is not None and outcome.status == OutcomeStatus.PARKED
    assert outcome.reason == "pace"
    assert ctx.parking.line_length() == 1 and ctx.ledger.reserved("global") == 0
    # When the scheduler releases it from the line, it is admitted ahead of newcomers
    released: list[Any] = []
    ctx.parking.release_due(ctx.now_ms(), released.append, lanes=(Lane.LIVE,))
    (again,) = released
    assert again.options.get("in_line") is True
    AdmissionMiddleware(ctx).before_process_message(None, again)  # type: ignore[arg-type]
    assert again.options["paceline"]["reservation_id"]


def test_a_ticket_the_pace_cannot_reach_in_time_is_handed_off_at_once(
    ctx: WorkerContext,
) -> None:
    # Given a line the pace will take 20 minutes to reach (longer than the 15-minute SLO)
    show(ctx, plan(ctx.settings, ctx.now_ms(), line=40, live_wait_ms=1_200_000))
    message = arrive(ctx, "late")
    # When admission sees a new live ticket (the cheapest model cannot jump the line either)
    with pytest.raises(SkipMessage):
        AdmissionMiddleware(ctx).before_process_message(None, message)  # type: ignore[arg-type]
    # Then it is handed to a person now: escalated for the SLO, acknowledged, nothing spent
    outcome = ctx.outcomes.get(tkey("T-late"))
    assert outcome is not None and outcome.status == OutcomeStatus.ESCALATED
    assert outcome.reason == "slo_handoff" and outcome.escalation_target == "vendor_default"
    assert outcome.reply and "member of our team" in outcome.reply and "T-late" in outcome.reply
    assert "ann@example.com" not in outcome.reply
    assert outcome.cost_micros == 0 and outcome.llm_calls == 0 and outcome.latency_ms == 0
    assert ctx.parking.size() == 0 and ctx.ledger.reserved("global") == 0
    # And it counts as a first response within the SLO
    demand = DemandStore(ctx.redis, ctx.keys, ctx.settings.tz)
    assert demand.first_responses(ctx.ledger.day())["handoff_within"] == 1


def test_the_live_lane_runs_on_the_rung_the_scheduler_planned(ctx: WorkerContext) -> None:
    # Given a plan that stepped the live lane down to the ladder's second model
    show(ctx, plan(ctx.settings, ctx.now_ms(), live_rung=1, live_model="gpt-4o-mini"))
    message = arrive(ctx, "rung")
    # When admission admits a live ticket
    AdmissionMiddleware(ctx).before_process_message(None, message)  # type: ignore[arg-type]
    # Then it runs on that model
    assert message.options["paceline"]["model"] == "gpt-4o-mini"
    # And once the plan is stale (no scheduler for two minutes), on the default model again
    ctx.clock.sleep(121)
    later = arrive(ctx, "stale")
    AdmissionMiddleware(ctx).before_process_message(None, later)  # type: ignore[arg-type]
    assert later.options["paceline"]["model"] == ctx.settings.model


@pytest.mark.parametrize("over_slo", ["cheapest", "handoff", "wait"])
def test_past_the_ceiling_a_worker_hands_off_and_calls_back(
    over_slo: str, namespace: str, simulator: SimulatorProcess
) -> None:
    settings = make_settings(
        namespace, llm_base_url=simulator.base_url, llm_api_key="sk-test", over_slo=over_slo
    )
    with CallbackReceiver() as callback, RunningWorker(settings, threads=2) as worker:
        ctx = worker.ctx
        # Given a ceiling spent for the day (an operator set it to one micro-dollar)
        set_cap(ctx.ledger, "global", "0.000001", who="test")
        # When a live ticket arrives with a callback URL
        worker_intake(worker).submit(
            Ticket.model_validate(generic_ticket("over", callback_url=callback.url))
        )
        assert wait_for(lambda: (o := ctx.outcomes.get(tkey("T-over"))) is not None and o.status
                        != OutcomeStatus.PENDING)  # fmt: skip
        outcome = ctx.outcomes.get(tkey("T-over"))
        assert outcome is not None
        if over_slo == "wait":
            # Then, waiting, it is parked for tomorrow's budget (the behaviour without an SLO)
            assert outcome.status == OutcomeStatus.PARKED
            assert outcome.reason == "global_daily_cap"
            return
        # Then it is handed off at once, and the ticketing system hears so
        assert outcome.status == OutcomeStatus.ESCALATED and outcome.reason == "slo_handoff"
        assert wait_for(lambda: len(callback.received) == 1)
        body = callback.received[0]["body"]
        assert body["status"] == "escalated" and body["reason"] == "slo_handoff"
        assert body["reply"] == outcome.reply and body["escalation_target"] == "vendor_default"
        assert ctx.ledger.spent("global") == 0 and ctx.parking.size() == 0
        # And the worker's metrics count it as admission's hand-off, a final escalation
        reg = worker_metrics(ctx).registry
        handoff = {"decision": "handoff", "reason": "slo_handoff", "lane": "live"}
        assert wait_for(
            lambda: reg.get_sample_value("paceline_admission_decisions_total", handoff) == 1
        )
        done = {"status": "escalated", "lane": "live"}
        assert reg.get_sample_value("paceline_tickets_total", done) == 1
