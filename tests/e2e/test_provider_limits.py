"""The provider's own rate limits, read from its headers, hold admissions back (parked, not
failed) so the second thing to break doesn't."""

from __future__ import annotations

from pathlib import Path

from shared.models import OutcomeStatus, Ticket
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import demo_tenants_file, generic_ticket, tkey, wait_for, worker_intake
from workers.runtime import RunningWorker


def test_nearly_exhausted_provider_window_parks_new_tickets(
    namespace: str, private_simulator: SimulatorProcess, tmp_path: Path
) -> None:
    # Given a provider that allows only 3 requests a minute
    private_simulator.faults(rpm=3)
    # (the demo tenants: an order ticket looks the requester up, three calls in all)
    tenants = demo_tenants_file(private_simulator.base_url, tmp_path)
    settings = make_settings(
        namespace, llm_base_url=private_simulator.base_url, llm_api_key="sk-t", tenants_file=tenants
    )
    with RunningWorker(settings, threads=1) as worker:
        ctx = worker.ctx
        intake = worker_intake(worker)
        # When one ticket uses up the window (about three calls) and another arrives
        intake.submit(Ticket.model_validate(generic_ticket(1)))
        assert wait_for(
            lambda: (o := ctx.outcomes.get(tkey("T-1"))) is not None and o.status.is_final
        )
        intake.submit(Ticket.model_validate(generic_ticket(2)))
        # Then the second waits in the parking lot for the window to reset, unpaid and unfailed
        assert wait_for(
            lambda: (
                (o := ctx.outcomes.get(tkey("T-2"))) is not None
                and o.status == OutcomeStatus.PARKED
            )
        )
        parked = ctx.outcomes.get(tkey("T-2"))
        assert parked is not None and parked.reason == "provider_rate_limit"
        assert ctx.ledger.reserved() == 0
        assert private_simulator.stats()["requests"] <= 3 + 1
