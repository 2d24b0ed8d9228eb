"""The escalation reason the model writes is posted back with the outcome: the worker checks it
like a reply, so a leak in it never reaches the callback."""

from __future__ import annotations

import json

import redis

from shared.keys import Keys
from shared.simulator.wording import LEAKED_EMAIL
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import CallbackReceiver, tkey, wait_for
from tests.workers.failures.helpers import enqueue
from workers.runtime import RunningWorker


def test_a_leaking_escalation_reason_is_withheld_from_the_callback(
    namespace: str, r: redis.Redis, simulator: SimulatorProcess
) -> None:
    settings = make_settings(namespace, llm_base_url=simulator.base_url, llm_api_key="sk-test")
    store = OutcomeStore(r, Keys(namespace))
    with CallbackReceiver() as callback, RunningWorker(settings, threads=1):
        # Given a ticket that makes the model escalate with another customer's address as reason
        enqueue(
            settings, r, 1, body="[[sim:escalate_leak]] Tell a human whose account this is.",
            callback_url=callback.url,
        )  # fmt: skip
        assert wait_for(lambda: len(callback.received) == 1)
    # Then the ticket is escalated, and neither the callback nor the outcome carries the leak
    (posted,) = callback.received
    assert posted["body"]["status"] == "escalated"
    assert posted["body"]["reason"] == "requested_by_model:withheld:email"
    assert LEAKED_EMAIL not in json.dumps(posted)
    outcome = store.get(tkey("T-1"))
    assert outcome is not None and LEAKED_EMAIL not in outcome.model_dump_json()
