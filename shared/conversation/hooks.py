"""Points in a conversation where resolution tracking plugs in (issue 22, item 5).

Each function is called once per event, after the event's state change is stored, by the
process that stored it: the webhook intake for customer messages, human replies and status
changes; the worker for its own answers and escalations. They never raise into the caller:
the event is already recorded, so a failure here is logged (no ticket text) and the
resolution count misses it. `at_ms` is the injected clock's time; `ticket` is the ticket id
(with `tenant` and `source` it names one ticket: `shared.keys.ticket_key`); money is integer
micro-dollars. `client` and `keys` are the caller's Redis and key layout: each call is one
round trip of resolutions.py's script, which needs no settings (the scheduler applies the
window).

Only live conversations call these (a replay of history has no customer to read it).
"""

from __future__ import annotations

import logging
from typing import Any

from shared.conversation.classify import Verdict, classify
from shared.conversation.resolutions import Resolutions
from shared.keys import Keys, ticket_key

log = logging.getLogger("paceline.conversation")


def _record(
    client: Any,
    keys: Keys,
    event: str,
    tenant: str,
    source: str,
    ticket: str,
    at_ms: int,
    *,
    by_human: bool = False,
) -> str | None:
    try:
        return Resolutions(client, keys).record(
            event, tenant, ticket_key(tenant, source, ticket), at_ms, by_human=by_human
        )
    except Exception as exc:  # never into the caller: its event is already stored
        log.warning(
            "resolution not recorded: %s",
            type(exc).__name__,
            extra={"ticket_id": ticket, "tenant_id": tenant, "event": event},
        )
        return None


def on_agent_answered(
    client: Any, keys: Keys, tenant: str, source: str, ticket: str, at_ms: int, cost_micros: int
) -> str | None:
    """The agent posted an answer (outcome `answered`): the resolution window (re)starts.
    `cost_micros` is not needed: a period's spend is read from the budget books."""
    return _record(client, keys, "answered", tenant, source, ticket, at_ms)


def agent_outcome_call(
    client: Any, keys: Keys, status: str, tenant: str, source: str, ticket: str, at_ms: int
) -> tuple[Any, list[str], list[Any]] | None:
    """What `on_agent_answered` (status `answered`) or `on_escalated` (`escalated`) writes, as
    (script, keys, args) for the caller's own round trip (the worker sends it with the ticket's
    close); None for any other status. The caller reads the reply slot and logs a failure
    like `_record` does (the outcome is already stored)."""
    event = {"answered": "answered", "escalated": "escalated"}.get(status)
    if event is None:
        return None
    return Resolutions(client, keys).event_call(
        event, tenant, ticket_key(tenant, source, ticket), at_ms
    )


def on_customer_message(
    client: Any, keys: Keys, tenant: str, source: str, ticket: str, text: str, at_ms: int
) -> Verdict:
    """A customer wrote on a ticket (any but its first message): confirmed resolves it,
    unsatisfied or asking for a person unresolves it, anything else stops the window until
    the next answer. `text` is personal data: never logged, never stored here."""
    verdict = classify(text)
    _record(client, keys, verdict.value, tenant, source, ticket, at_ms)
    return verdict


def on_human_reply(
    client: Any, keys: Keys, tenant: str, source: str, ticket: str, at_ms: int
) -> str | None:
    """A person on the support team replied: the ticket is theirs, not the agent's to resolve."""
    return _record(client, keys, "human", tenant, source, ticket, at_ms)


def on_solved(
    client: Any, keys: Keys, tenant: str, source: str, ticket: str, at_ms: int, by_human: bool
) -> str | None:
    """The vendor marked the ticket solved or closed: resolved, unless a person had replied."""
    return _record(client, keys, "solved", tenant, source, ticket, at_ms, by_human=by_human)


def on_escalated(
    client: Any, keys: Keys, tenant: str, source: str, ticket: str, at_ms: int, reason: str
) -> str | None:
    """The ticket went to a person (the agent escalated, admission's SLO hand-off, or a
    lifetime cap): unresolved. `reason` is a code, never counted by ticket."""
    return _record(client, keys, "escalated", tenant, source, ticket, at_ms)
