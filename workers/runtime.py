"""Building and running a worker: our broker, our middleware, our actors, dramatiq's Worker."""

from __future__ import annotations

import logging
import threading

import dramatiq

from shared.broker import build_broker, default_middleware, queue_prefix
from shared.clock import Clock
from shared.messages import queue_for
from shared.metrics import Metrics
from shared.metrics_server import build_metrics, start_process_metrics
from shared.models import Lane
from shared.queue_wake import QueueWakeups
from shared.settings import Settings
from workers.actors import register_actors
from workers.admission.middleware import AdmissionMiddleware
from workers.failures.durable_retries import DurableRetries
from workers.failures.recorder import FailureRecorder, should_retry
from workers.observe import ObserveMiddleware
from workers.ticket_text import TicketTextMiddleware
from workers.worker_context import WorkerContext

log = logging.getLogger("paceline.worker")
# The longest an idle consumer waits between fetches; the intake's wake-ups end it early.
IDLE_POLL_MS = 200


def build_worker_broker(ctx: WorkerContext) -> dramatiq.Broker:
    s = ctx.settings
    middleware = [
        # First: its hooks wrap every other's, so their log lines are masked too.
        TicketTextMiddleware(),
        *default_middleware(),
        FailureRecorder(ctx),
        DurableRetries(
            max_retries=s.max_retries,
            min_backoff=s.retry_base_ms,
            max_backoff=s.retry_max_ms,
            retry_when=should_retry(s.max_retries),
        ),
        AdmissionMiddleware(ctx),
    ]
    if ctx.observe:
        # Last: it reads what admission and the actor recorded.
        middleware.append(
            ObserveMiddleware(worker_metrics(ctx), ctx.redis, s, ctx.clock, ctx.outcomes)
        )
    broker = build_broker(s, middleware=middleware)
    register_actors(broker, ctx, queue_prefix=queue_prefix(s))
    return broker


def worker_metrics(ctx: WorkerContext) -> Metrics:
    """The process's metrics (one registry per worker context; workers export no state)."""
    if ctx.metrics is None:
        ctx.metrics = build_metrics(ctx.settings)
    return ctx.metrics


def lane_queues(settings: Settings, lanes: list[Lane] | None = None) -> set[str]:
    return {queue_for(lane, queue_prefix(settings)) for lane in (lanes or list(Lane))}


def dramatiq_worker(broker: dramatiq.Broker, queues: set[str], threads: int) -> dramatiq.Worker:
    """dramatiq's Worker as ours runs it."""
    worker = dramatiq.Worker(
        broker, queues=queues, worker_threads=threads, worker_timeout=IDLE_POLL_MS
    )
    # LLM tasks are long: prefetch what the threads can run, no more (field notes).
    worker.queue_prefetch = threads
    return worker


class RunningWorker:
    """A dramatiq Worker with our broker, in this process (tests, `paceline up`, the CLI)."""

    def __init__(
        self,
        settings: Settings,
        *,
        threads: int | None = None,
        lanes: list[Lane] | None = None,
        clock: Clock | None = None,
        ctx: WorkerContext | None = None,
    ) -> None:
        threads = threads or settings.worker_threads
        self.ctx = ctx or WorkerContext.build(settings, clock=clock, threads=threads)
        self.broker = build_worker_broker(self.ctx)
        self.wakeups: QueueWakeups | None = None
        wrappers = getattr(self.broker, "consumer_wrappers", None)
        if wrappers is not None:
            # First, so admission's batch wrapper (added at boot) sits around it.
            wakeups = self.wakeups = QueueWakeups(self.ctx.redis, self.ctx.keys)
            wrappers.insert(0, lambda queue, consumer: wakeups.wrap(queue, consumer, IDLE_POLL_MS))
        self.worker = dramatiq_worker(self.broker, lane_queues(settings, lanes), threads)

    def start(self) -> RunningWorker:
        self.worker.start()
        return self

    def stop(self, timeout_ms: int = 10_000) -> None:
        self.worker.stop(timeout=timeout_ms)
        if self.wakeups is not None:
            self.wakeups.close()
        self.broker.close()
        self.ctx.close()

    def __enter__(self) -> RunningWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    settings: Settings, *, threads: int, lanes: list[Lane] | None, stop: threading.Event
) -> None:
    worker = RunningWorker(settings, threads=threads, lanes=lanes).start()
    server = start_process_metrics(settings, worker_metrics(worker.ctx))
    log.info("worker started", extra={"threads": threads})
    try:
        stop.wait()
    finally:
        worker.stop()
        if server is not None:
            server.stop()
