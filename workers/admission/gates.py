"""Admission gates that are not money (the budget kill switch, the provider circuit, the
provider's rate limits).

The gates are stores in shared/stores/ (`BudgetPause`, `ProviderCircuit`, `ProviderLimits`):
their state is written where it is learnt (an operator's command, the agent's calls and
responses) and read here.

A gate splits its check in two so admission can send its reads in the admit's own round trip:
`queue_reads` puts them on a pipeline, `decide` reads the replies. `check_gate` runs one gate
on its own (one round trip), for callers outside admission and for tests.
"""

from __future__ import annotations

from typing import Any, Protocol

import redis

from shared.models import Lane, Ticket
from shared.redis_client import LeanPipeline


class Gate(Protocol):
    def queue_reads(self, pipe: Any) -> int:
        """Queue the reads `decide` needs on a pipeline; returns how many replies they give."""

    def decide(self, replies: list[Any], ticket: Ticket, lane: Lane) -> tuple[int, str] | None:
        """None to go on; (release at ms, reason) to park the ticket instead."""


def check_gate(
    gate: Gate, client: redis.Redis, ticket: Ticket, lane: Lane
) -> tuple[int, str] | None:
    pipe = LeanPipeline(client)
    gate.queue_reads(pipe)
    replies = pipe.execute()
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return gate.decide(replies, ticket, lane)
