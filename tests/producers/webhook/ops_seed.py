"""Seeding for the ops tests: a dead letter in the registry, money on the ledger."""

from __future__ import annotations

import time
from typing import Any

import redis

from shared.keys import Keys
from shared.models import Outcome, OutcomeStatus, Ticket
from shared.stores.dead_letters import DeadLetter, DeadLetterRegistry
from shared.stores.outcomes import OutcomeStore
from tests.helpers import generic_ticket


def dead_letter(r: redis.Redis, keys: Keys, n: int, reason: str, **over: Any) -> DeadLetter:
    """A ticket that died with `reason`: its outcome says so, the registry holds it."""
    at_ms = int(time.time() * 1000)
    ticket = Ticket.model_validate(generic_ticket(f"dl-{n}", **over))
    OutcomeStore(r, keys).finalize(
        Outcome(
            ticket_id=ticket.ticket_id,
            event_id=ticket.event_id,
            tenant_id=ticket.tenant_id,
            status=OutcomeStatus.DEAD_LETTERED,
            reason=reason,
            updated_at_ms=at_ms,
        )
    )
    entry = DeadLetter(
        ticket_id=ticket.ticket_id,
        event_id=ticket.event_id,
        tenant_id=ticket.tenant_id,
        lane="live",
        reason=reason,
        error=f"ProviderRejected: {reason}",
        failed_at_ms=at_ms,
        ticket=ticket.to_message(),
    )
    DeadLetterRegistry(r, keys).record(entry)
    return entry
