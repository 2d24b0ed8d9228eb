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
from workers.admission import OPTION, AdmissionMiddleware
from workers.context import WorkerContext
from workers.releases import PendingReleases


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
