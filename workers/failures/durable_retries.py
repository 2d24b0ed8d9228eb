"""dramatiq's `Retries`, but a retry is not dropped when the broker is briefly unreachable.

`Retries` re-enqueues a failed message from `after_process_message`; when Redis is down at that
moment the enqueue raises, dramatiq logs and swallows it, and the original message is then
acked: the ticket is gone. Here the re-enqueue waits
for the broker (bounded by `wait_s`, with backoff); the worker thread has nothing better to do
while Redis is down. If it still fails, the message is failed (nacked) rather than acked, so it
stays in the broker's own dead letters instead of vanishing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import Retries

log = logging.getLogger("paceline.retries")

BROKER_ERRORS = (redis.RedisError, dramatiq.errors.BrokerError, OSError)


class _PatientBroker:
    """Forwards to the broker; `enqueue` retries until the broker answers or time runs out."""

    def __init__(self, broker: dramatiq.Broker, wait_s: float) -> None:
        self._broker = broker
        self._wait_s = wait_s

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)

    def enqueue(self, message: Any, *, delay: int | None = None) -> Any:
        deadline = time.monotonic() + self._wait_s
        pause_s = 0.2
        while True:
            try:
                return self._broker.enqueue(message, delay=delay)
            except BROKER_ERRORS as exc:
                if time.monotonic() + pause_s > deadline:
                    raise
                log.warning("retry not queued yet (%s); waiting for the broker", type(exc).__name__)
                time.sleep(pause_s)
                pause_s = min(pause_s * 2, 5.0)


class DurableRetries(Retries):
    def __init__(self, *, wait_s: float = 600.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wait_s = wait_s

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        try:
            super().after_process_message(  # type: ignore[no-untyped-call]
                _PatientBroker(broker, self.wait_s),  # type: ignore[arg-type]
                message,
                result=result,
                exception=exception,
            )
        except BROKER_ERRORS:
            log.error("retry could not be queued; failing the message so it is not acked")
            message.fail()
