"""A tenant's own first-response SLO: admission decides by it, and its tickets wait in the live
line by their own decide-by, so the scheduler's release at decide-by is on time for them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dramatiq.middleware import SkipMessage

from shared.clock import ManualClock
from shared.messages import ticket_message
from shared.models import Lane, Ticket
from shared.stores.live_plan import LivePlan, write_plan
from shared.stores.parking import LINE_OFFSET_MS
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import generic_ticket
from workers.admission.middleware import AdmissionMiddleware
from workers.message_shape import read_ticket_message
from workers.worker_context import WorkerContext

DAY_S = 1_764_028_800  # 2025-11-25 00:00 UTC
TENANTS = "[tenants.acme]\nlive_max_wait_s = 300\n"


@pytest.fixture
def ctx(namespace: str, simulator: SimulatorProcess, tmp_path: Path) -> Iterator[WorkerContext]:
    path = tmp_path / "tenants.toml"
    path.write_text(TENANTS)
    settings = make_settings(
        namespace, llm_base_url=simulator.base_url, llm_api_key="sk-test", tenants_file=path
    )
    context = WorkerContext.build(settings, clock=ManualClock(DAY_S + 12 * 3600), threads=2)
    yield context
    context.close()


def _line_behind(ctx: WorkerContext, wait_ms: int) -> None:
    doc: dict[str, Any] = {
        "plan_ms": ctx.now_ms(), "plan_day": "2025-11-25", "live_rung": 0,
        "live_model": ctx.settings.model, "reserve_rung": 0, "live_reserve": 0,
        "live_floor": 0, "live_wait_ms": wait_ms, "forecast_tickets": 100,
        "forecast_basis": "history", "cost_micros": 1_000, "projected_micros": 0, "line": 3,
    }  # fmt: skip
    pipe = ctx.redis.pipeline()
    write_plan(pipe, ctx.keys, LivePlan(**doc))
    pipe.execute()


def _arrive(ctx: WorkerContext, tenant: str) -> Any:
    ticket = Ticket.model_validate(generic_ticket(f"{tenant}-1", tenant_id=tenant))
    return ticket_message(ticket, Lane.LIVE, at_ms=ctx.now_ms())


def test_a_tenants_shorter_slo_is_released_from_the_line_at_its_own_decide_by(
    ctx: WorkerContext,
) -> None:
    # Given a line the pace reaches in a minute, and a ticket each of acme (SLO 300 s) and of
    # a tenant on the settings' SLO (900 s)
    _line_behind(ctx, 60_000)
    accepted_ms = ctx.now_ms()
    mw = AdmissionMiddleware(ctx)
    for tenant in ("acme", "globex"):
        with pytest.raises(SkipMessage):
            mw.before_process_message(None, _arrive(ctx, tenant))  # type: ignore[arg-type]
    assert ctx.parking.line_length() == 2
    # When the scheduler releases the line as it does (by the settings' decide-by)
    acme_by = accepted_ms + mw._terms.get("acme").slo.decide_after_ms
    globex_by = accepted_ms + ctx.slo.decide_after_ms
    assert acme_by < globex_by

    def release(now_ms: int) -> list[str]:
        due = now_ms - LINE_OFFSET_MS - ctx.slo.decide_after_ms
        out: list[Any] = []
        ctx.parking.release_due(due, out.append, lanes=(Lane.LIVE,))
        read = [read_ticket_message(m.actor_name, m.args, m.kwargs).ticket for m in out]
        return [t.tenant_id for t in read if t is not None]

    # Then acme's ticket comes out at acme's decide-by, the other at the settings'
    assert release(acme_by - 1) == []
    assert release(acme_by) == ["acme"]
    assert release(globex_by - 1) == []
    assert release(globex_by) == ["globex"]
