"""The worker sends replies only through the outbound guard: a callback naming a private
address that reached a worker (not through the webhook's check) is never posted, the answer
is kept and the outcome says the reply did not go out."""

from __future__ import annotations

import redis

from shared.keys import Keys
from shared.models import OutcomeStatus
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import CallbackReceiver, tkey, wait_for
from tests.workers.failures.helpers import enqueue
from workers.runtime import RunningWorker


def test_the_worker_never_posts_to_a_private_address(
    namespace: str, r: redis.Redis, simulator: SimulatorProcess
) -> None:
    settings = make_settings(
        namespace,
        llm_base_url=simulator.base_url,
        llm_api_key="sk-test",
        allow_private_networks="false",
    )
    store = OutcomeStore(r, Keys(namespace))
    with CallbackReceiver() as callback, RunningWorker(settings, threads=2):
        # Given a ticket enqueued directly (a replay, an enqueue file) with a loopback callback
        enqueue(settings, r, 1, callback_url=callback.url)
        # When the worker answers it
        assert wait_for(lambda: (o := store.get(tkey("T-1"))) is not None and o.status.is_final)
        received = list(callback.received)
    # Then nothing reached the loopback receiver, the answer is kept, the reason says why
    outcome = store.get(tkey("T-1"))
    assert outcome is not None and outcome.status is OutcomeStatus.ANSWERED
    assert outcome.reply and "reply_delivery_failed" in (outcome.reason or "")
    assert received == []
