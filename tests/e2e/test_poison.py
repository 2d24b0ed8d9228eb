"""Poison messages of every shape are dead-lettered once, with a reason, never lost or
retried: not a ticket, no arguments, too many, an unknown lane."""

from __future__ import annotations

from typing import Any

import dramatiq
import pytest

from shared.messages import HANDLE_TICKET
from shared.models import Lane, OutcomeStatus
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import generic_ticket, wait_for
from workers.runtime import RunningWorker

SHAPES: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("not_a_ticket", ({"ticket_id": "P-1", "subject": "no requester"},), {"lane": "live"}),
    ("no_args", (), {}),
    ("two_args", (generic_ticket("P-3"), "extra"), {"lane": "live"}),
    ("bogus_lane", (generic_ticket("P-4"),), {"lane": "bogus"}),
    ("a_string", ("just text",), {}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), SHAPES, ids=[s[0] for s in SHAPES])
def test_poison_is_dead_lettered_with_a_reason(
    namespace: str,
    simulator: SimulatorProcess,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    settings = make_settings(namespace, llm_base_url=simulator.base_url, llm_api_key="sk-t")
    with RunningWorker(settings, threads=2) as worker:
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=Lane.LIVE.queue_name,
            actor_name=HANDLE_TICKET,
            args=args,
            kwargs=kwargs,
            options={},
        )
        worker.broker.enqueue(message)
        registry = worker.ctx.dead_letters
        assert wait_for(lambda: registry.size() == 1, timeout_s=15)
        entry = next(registry.iter_entries())
        assert entry.reason == "invalid_ticket" and entry.error.startswith("not a ticket")
        assert entry.attempts == 1 and entry.message_id == message.message_id
        outcome = worker.ctx.outcomes.get(entry.outcome_key)
        assert outcome is not None and outcome.status == OutcomeStatus.DEAD_LETTERED
        # Not retried: no copy waits in dramatiq's delay queue or dead-letter set
        dq = worker.ctx.keys.dramatiq_namespace
        assert worker.ctx.redis.zcard(f"{dq}:{Lane.LIVE.queue_name}.XQ") == 0
        assert worker.ctx.redis.llen(f"{dq}:{Lane.LIVE.queue_name}.DQ") == 0
