"""A reservation the actor left open is closed by the admission middleware after it: in the
next admission's round trip (before that decision), within the hold when none comes, and at
worker stop; never after a failed attempt, whose retry reuses it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import redis

from shared.keys import Keys
from shared.messages import ticket_message
from shared.models import Lane, Ticket
from tests.conftest import make_settings
from tests.helpers import generic_ticket, wait_for
from workers.admission.decision import OPTION
from workers.admission.middleware import AdmissionMiddleware
from workers.admission.releases import PendingReleases
from workers.worker_context import WorkerContext


@pytest.fixture
def ctx(namespace: str) -> Iterator[WorkerContext]:
    context = WorkerContext.build(make_settings(namespace, pacing="off"), threads=2)
    yield context
    context.close()


def message(n: int) -> dramatiq.Message[Any]:
    return ticket_message(Ticket.model_validate(generic_ticket(n)), Lane.LIVE)


def test_the_next_admission_closes_it_first_and_may_use_the_money(
    ctx: WorkerContext, r: redis.Redis, keys: Keys
) -> None:
    # Given no timer (only an admission can close what is pending) and one admitted ticket
    ctx.releases = PendingReleases(ctx.ledger, hold_s=3600)
    mw = AdmissionMiddleware(ctx)
    first, second = message(1), message(2)
    mw.before_process_message(ctx.ledger, first)
    rid, grant = first.options[OPTION]["reservation_id"], first.options[OPTION]["grant_micros"]
    # And a ceiling that now holds exactly that one envelope
    r.hset(keys.caps, "global", grant)
    # When its actor returns without closing the reservation
    mw.after_process_message(ctx.ledger, first)
    # Then nothing went over the wire for it yet
    assert ctx.ledger.reserved() == grant
    # When the next ticket is admitted
    mw.before_process_message(ctx.ledger, second)
    # Then the first was closed in that round trip, before the decision, which admitted it
    assert ctx.ledger.reservation(rid)["state"] == "closed"
    assert second.options[OPTION]["reservation_id"] not in (None, rid)
    assert ctx.ledger.reserved() == second.options[OPTION]["grant_micros"]


def test_with_no_admission_coming_it_is_closed_within_the_hold(ctx: WorkerContext) -> None:
    ctx.releases = PendingReleases(ctx.ledger, hold_s=0.05)
    mw = AdmissionMiddleware(ctx)
    msg = message(1)
    mw.before_process_message(ctx.ledger, msg)
    assert ctx.ledger.reserved() > 0
    mw.after_process_message(ctx.ledger, msg)
    assert wait_for(lambda: ctx.ledger.reserved() == 0, 5)


def test_stopping_the_worker_sends_what_is_pending(ctx: WorkerContext) -> None:
    ctx.releases = PendingReleases(ctx.ledger, hold_s=3600)
    mw = AdmissionMiddleware(ctx)
    msg = message(1)
    mw.before_process_message(ctx.ledger, msg)
    mw.after_process_message(ctx.ledger, msg)
    assert ctx.ledger.reserved() > 0
    ctx.releases.close()
    assert ctx.ledger.reserved() == 0


def test_a_failed_attempt_keeps_it_open_for_the_retry_and_a_closed_one_is_left_alone(
    ctx: WorkerContext,
) -> None:
    mw = AdmissionMiddleware(ctx)
    failed, done = message(1), message(2)
    mw.before_process_message(ctx.ledger, failed)
    mw.after_process_message(ctx.ledger, failed, exception=RuntimeError("boom"))
    mw.before_process_message(ctx.ledger, done)
    ctx.ledger.release(done.options[OPTION]["reservation_id"])
    done.options[OPTION]["closed"] = True  # what the ticket actor does when it closes it
    mw.after_process_message(ctx.ledger, done)
    assert ctx.releases.take() == []
    assert ctx.ledger.reservation(failed.options[OPTION]["reservation_id"])["state"] == "open"


def test_the_timer_stops_when_idle_and_starts_again_on_the_next_close(ctx: WorkerContext) -> None:
    ctx.releases = PendingReleases(ctx.ledger, hold_s=0.01)
    mw = AdmissionMiddleware(ctx)
    for n in (1, 2):
        msg = message(n)
        mw.before_process_message(ctx.ledger, msg)
        mw.after_process_message(ctx.ledger, msg)
        assert wait_for(lambda: ctx.ledger.reserved() == 0, 5)
        assert wait_for(lambda: ctx.releases._thread is None, 5)  # idle: no thread left


def test_the_releases_ride_in_the_batch_admit_and_a_corrupt_one_fails_nobody(
    ctx: WorkerContext, r: redis.Redis, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.ledger import AdmissionRequest, Candidate
    from shared.redis_client import LeanPipeline

    ledger = ctx.ledger
    cand = [Candidate("gpt-4o-mini", 2000, 500)]
    # Given a ceiling of one envelope, held by a ticket whose actor left its reservation open
    r.hset(keys.caps, "global", 2000)
    (held,) = ledger.admit_many([AdmissionRequest("t-held", "acme", "u1", "live", cand)])
    # And a reservation hash that cannot be closed (open, naming no scopes)
    r.hset(keys.reservation("corrupt"), mapping={"state": "open", "grant": 5})
    sent: list[tuple[Any, ...]] = []
    real_evalsha = LeanPipeline.evalsha

    def spy(self: LeanPipeline, sha: str, k: Any, a: Any) -> None:
        sent.append((sha, tuple(a)))
        real_evalsha(self, sha, k, a)

    LeanPipeline.evalsha = spy  # type: ignore[method-assign]
    try:
        # When two tickets are admitted in one batch with both closes pending
        with caplog.at_level("WARNING", logger="paceline.ledger"):
            _, decisions = ledger.admit_batch(
                [
                    AdmissionRequest("t-a", "acme", "u2", "live", cand),
                    AdmissionRequest("t-b", "acme", "u3", "live", cand),
                ],
                lambda pipe: None,
                ["corrupt", held.reservation_id or ""],
            )
    finally:
        LeanPipeline.evalsha = real_evalsha  # type: ignore[method-assign]
    # Then one admit script went out for the batch, the closes inside it, before the tickets
    assert [sha for sha, _ in sent] == [ledger._admit.sha]
    args = sent[0][1]
    at = args.index("corrupt")
    assert args[at - 1 : at + 3] == (2, "corrupt", held.reservation_id, 2)
    # And the money the held ticket gave back was there for the first decision
    a, b = decisions
    assert not isinstance(a, Exception) and a.kind == "admit" and a.grant_micros == 2000
    assert not isinstance(b, Exception) and b.kind == "defer"
    assert ledger.reservation(held.reservation_id or "")["state"] == "closed"
    # And the corrupt one failed nobody: it is left to its lease, and said so
    assert ledger.reservation("corrupt")["state"] == "open"
    assert "1 reservations could not be closed" in caplog.text
