"""Redis memory reaches a plateau under steady load (issue 23): retention shortened to minutes.

The real intake, worker (agent against the simulator over HTTP) and scheduler share one
ManualClock. Tickets arrive at a steady rate for many retention periods; every simulated minute
the scheduler ticks (its sweep deletes outcomes past `PACELINE_OUTCOME_RETENTION_S`). What the
sweep keeps must stop growing once a retention has passed, while the tickets keep coming; the
keys Redis expires itself (dedupe claims, reservations, reply markers) must carry a TTL no
longer than theirs (Redis's clock is not the injected one, so they are checked, not waited for).
"""

from __future__ import annotations

from typing import cast

import pytest
import redis

from shared.clock import ManualClock
from shared.keys import OUTCOME_SWEEP_GRACE_S, RESERVATION_EXTRA_TTL_S, Keys
from shared.models import OutcomeStatus, Ticket
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import generic_ticket, tkey, wait_for, worker_intake
from workers.runtime import RunningWorker
from workers.scheduler import Scheduler

RETENTION_S = 300  # five minutes
PER_MINUTE = 4
MINUTES = 24


def _kept_bytes(r: redis.Redis, keys: Keys) -> tuple[int, int]:
    """(ticket hashes, bytes of them + the index + the counts) in this namespace."""
    hashes = list(r.scan_iter(match=keys.ticket("*"), count=1000))
    total = sum(cast(int, r.memory_usage(k, samples=0) or 0) for k in hashes)
    for k in (keys.outcomes_index, keys.outcomes_counts):
        total += cast(int, r.memory_usage(k, samples=0) or 0)
    return len(hashes), total


@pytest.mark.slow
def test_outcomes_plateau_at_their_retention_under_steady_load(
    namespace: str, private_simulator: SimulatorProcess, r: redis.Redis
) -> None:
    settings = make_settings(
        namespace,
        llm_base_url=private_simulator.base_url,
        llm_api_key="sk-test",
        outcome_retention_s=RETENTION_S,
        dedupe_window_s=600,
    )
    keys = Keys(namespace)
    clock = ManualClock(1_764_000_000.0 + 9 * 3600)
    sched = Scheduler(settings, clock=clock, client=r)
    sizes: list[tuple[int, int, int]] = []  # (tickets so far, hashes kept, bytes kept)
    with RunningWorker(settings, threads=4, clock=clock) as worker:
        intake = worker_intake(worker, dedupe_window_s=settings.dedupe_window_s)
        store = worker.ctx.outcomes
        n = 0
        # Given tickets at a steady rate, for almost five retention periods
        for _ in range(MINUTES):
            batch = [f"T-{n + i}" for i in range(PER_MINUTE)]
            for i in range(PER_MINUTE):
                intake.submit(Ticket.model_validate(generic_ticket(n + i)))
            n += PER_MINUTE
            # (each answered before the clock moves on: arrivals a minute apart)
            assert wait_for(lambda b=batch: _all_final(store, b), timeout_s=60)  # type: ignore[misc]
            clock.advance(60)
            sched.tick()
            sizes.append((n, *_kept_bytes(r, keys)))
    # Then what is kept stops growing after one retention (plus the sweep's minute), while the
    # tickets keep arriving: bounded by the tickets of the last six minutes
    after = [s for s in sizes if s[0] > PER_MINUTE * (RETENTION_S // 60 + 2)]
    assert after and after[-1][0] >= 3 * after[0][0] // 2
    bound = PER_MINUTE * (RETENTION_S // 60 + 1)
    assert all(hashes <= bound for _, hashes, _ in after), sizes
    assert max(b for *_, b in after) <= 1.15 * min(b for *_, b in after), sizes
    # And the counts agree with what is kept (never the tickets ever seen)
    summary = store.summary()
    assert summary["total"] == r.zcard(keys.outcomes_index) == sizes[-1][1] < n
    assert summary[OutcomeStatus.ANSWERED.value] == sizes[-1][1]
    # And every key Redis expires itself carries a TTL within its retention
    # (the tickets' threads are swept with them)
    assert len(list(r.scan_iter(match=keys.thread("*"), count=1000))) == sizes[-1][1]
    for pattern, most_s in (
        (keys.ticket("*"), RETENTION_S + OUTCOME_SWEEP_GRACE_S),
        (keys.thread("*"), RETENTION_S + OUTCOME_SWEEP_GRACE_S),
        (f"{namespace}:dedupe:*", settings.dedupe_window_s),
        (keys.reservation("*"), settings.reservation_lease_s + RESERVATION_EXTRA_TTL_S),
    ):
        shared_keys = (keys.reservation("leases"), keys.reservation("by_ticket"))
        found = [k for k in r.scan_iter(match=pattern, count=1000) if k not in shared_keys]
        assert found, pattern
        assert all(0 < cast(int, r.ttl(k)) <= most_s for k in found), pattern


def _all_final(store: OutcomeStore, ticket_ids: list[str]) -> bool:
    outcomes = [store.get(tkey(t)) for t in ticket_ids]
    return all(o is not None and o.status.is_final for o in outcomes)
