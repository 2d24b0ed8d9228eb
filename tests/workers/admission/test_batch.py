"""Admission of a fetched batch on the consumer (workers/admission/batch.py): one round trip
per fetch, decisions carried out on the worker thread, nothing held for a message that does
not run here, and the per-message path whenever the batch could not be admitted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from shared.broker import build_broker
from shared.keys import Keys
from shared.messages import queue_for, ticket_message
from shared.models import Lane, Ticket
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import generic_ticket, tkey, wait_for, worker_intake
from workers.admission.batch import AdmittingConsumer
from workers.admission.decision import OPTION, PREPARED, Prepared
from workers.admission.middleware import AdmissionMiddleware
from workers.admission.releases import PendingReleases
from workers.runtime import RunningWorker
from workers.worker_context import WorkerContext


@pytest.fixture
def ctx(namespace: str) -> Iterator[WorkerContext]:
    context = WorkerContext.build(make_settings(namespace, pacing="off"), threads=2)
    # No timer: only an admission round trip or an explicit flush closes what is pending.
    context.releases = PendingReleases(context.ledger, hold_s=3600)
    yield context
    context.close()


class CountingAdmission(AdmissionMiddleware):
    """The real middleware, recording the size of each batch it admitted."""

    def __init__(self, ctx: WorkerContext, fail_batches: bool = False) -> None:
        super().__init__(ctx)
        self.batches: list[int] = []
        self.fail_batches = fail_batches

    def prepare(self, messages: list[Any]) -> list[Prepared]:
        self.batches.append(len(messages))
        if self.fail_batches and len(messages) > 1:
            raise redis.ConnectionError("injected: the batch's round trip failed")
        return super().prepare(messages)


def consumer_with(ctx: WorkerContext, mw: AdmissionMiddleware, n: int) -> tuple[Any, Any]:
    """A broker with the middleware installed as a worker would, `n` tickets enqueued, and a
    consumer of the live queue that may fetch them all at once."""
    broker = build_broker(ctx.settings, middleware=[mw])
    mw.before_worker_boot(broker, None)
    for i in range(n):
        broker.enqueue(ticket_message(Ticket.model_validate(generic_ticket(i)), Lane.LIVE))
    return broker, broker.consume(queue_for(Lane.LIVE), prefetch=n, timeout=200)


def take(consumer: Any) -> Any:
    for _ in range(50):
        message = next(consumer)
        if message is not None:
            return message
    raise AssertionError("no message fetched")


def test_a_fetched_batch_is_admitted_in_one_round_trip(ctx: WorkerContext) -> None:
    mw = CountingAdmission(ctx)
    broker, consumer = consumer_with(ctx, mw, 5)
    assert isinstance(consumer, AdmittingConsumer)
    # When the worker's consumer hands out the five messages one fetch returned
    messages = [take(consumer) for _ in range(5)]
    # Then they were admitted together, once, each holding its own reservation
    assert mw.batches == [5]
    grants = [m.__dict__[PREPARED].decision.grant_micros for m in messages]
    assert ctx.ledger.reserved() == sum(grants) > 0
    # And the worker thread only carries the decision out (no second admission)
    for m in messages:
        mw.before_process_message(broker, m)
        assert m.options[OPTION]["reservation_id"]
    assert mw.batches == [5]
    consumer.close()
    broker.close()


def test_messages_fetched_but_not_run_go_back_and_their_money_is_freed(
    ctx: WorkerContext, r: redis.Redis, keys: Keys
) -> None:
    mw = CountingAdmission(ctx)
    broker, consumer = consumer_with(ctx, mw, 4)
    first = take(consumer)  # the batch of four is admitted; three wait in the consumer
    held = first.__dict__[PREPARED].decision.grant_micros
    assert ctx.ledger.reserved() == 4 * held
    # When the worker stops before handing the three to a thread
    consumer.close()
    ctx.releases.flush()
    # Then they are back on the queue at once, and only the first one's money is held
    assert r.llen(f"{keys.dramatiq_namespace}:{queue_for(Lane.LIVE)}") == 3
    assert ctx.ledger.reserved() == held
    broker.close()


def test_a_message_skipped_by_an_earlier_middleware_frees_its_reservation(
    ctx: WorkerContext,
) -> None:
    mw = CountingAdmission(ctx)
    broker, consumer = consumer_with(ctx, mw, 2)
    first, second = take(consumer), take(consumer)
    # When another middleware skips the second before admission carries it out (AgeLimit)
    mw.after_skip_message(broker, second)
    ctx.releases.flush()
    # Then its reservation is closed; the first one's still stands
    assert ctx.ledger.reserved() == first.__dict__[PREPARED].decision.grant_micros
    assert PREPARED not in second.__dict__  # taken off: a second skip cannot close it twice
    consumer.close()
    broker.close()


def test_a_failed_batch_leaves_each_message_to_its_worker_thread(ctx: WorkerContext) -> None:
    mw = CountingAdmission(ctx, fail_batches=True)
    broker, consumer = consumer_with(ctx, mw, 3)
    messages = [take(consumer) for _ in range(3)]
    # The batch's round trip failed: nothing was decided, nothing is held
    assert PREPARED not in messages[0].__dict__
    assert ctx.ledger.reserved() == 0
    # When the worker threads run them, each is admitted on its own, as before
    for m in messages:
        mw.before_process_message(broker, m)
        assert m.options[OPTION]["reservation_id"]
    assert mw.batches == [3, 1, 1, 1]
    consumer.close()
    broker.close()


def test_delay_queues_and_other_consumers_are_left_as_they_are(ctx: WorkerContext) -> None:
    mw = AdmissionMiddleware(ctx)
    broker = build_broker(ctx.settings, middleware=[mw])
    mw.before_worker_boot(broker, None)
    delayed = broker.consume(f"{queue_for(Lane.LIVE)}.DQ", prefetch=2, timeout=100)
    assert not isinstance(delayed, AdmittingConsumer)
    plain = object()  # a consumer without dramatiq's Redis layout (RabbitMQ's, say)
    assert AdmittingConsumer.around("q", plain, mw) is plain
    broker.close()


def test_a_real_worker_admits_in_batches_and_ends_with_nothing_held(
    namespace: str, simulator: SimulatorProcess
) -> None:
    settings = make_settings(
        namespace, llm_base_url=simulator.base_url, llm_api_key="sk-test", pacing="off"
    )
    worker = RunningWorker(settings, threads=4)
    mw = next(m for m in worker.broker.middleware if isinstance(m, AdmissionMiddleware))
    sizes: list[int] = []
    inner = mw.prepare

    def recording(messages: list[Any]) -> list[Prepared]:
        sizes.append(len(messages))
        return inner(messages)

    mw.prepare = recording  # type: ignore[method-assign]
    # Given 24 tickets waiting before the worker starts (its fetches return several)
    intake = worker_intake(worker)
    ids = [f"T-b{i}" for i in range(24)]
    for i in range(24):
        intake.submit(Ticket.model_validate(generic_ticket(f"b{i}")), Lane.LIVE)
    with worker:
        assert wait_for(lambda: worker.ctx.outcomes.summary()["pending"] == 0, timeout_s=60)
    # Then fetches were admitted several at a time, every ticket was answered or escalated
    assert max(sizes) > 1 and sum(sizes) >= 24
    outcomes = [worker.ctx.outcomes.get(tkey(t)) for t in ids]
    assert all(o is not None and o.status.is_final for o in outcomes)
    # And once the worker stopped, nothing is held
    assert worker.ctx.ledger.reserved() == 0
