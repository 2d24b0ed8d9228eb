"""Points in a conversation where resolution tracking (issue 22, item 5) plugs in.

Each function is called once per event, after the event's state change is stored, by the
process that stored it: the webhook intake for customer messages, human replies and status
changes; the worker for its own answers and escalations. They must never raise into the
caller: today they record nothing. `at_ms` is the injected clock's time; `ticket` is the
ticket id (with `tenant` and `source` it names one ticket: `shared.keys.ticket_key`); money
is integer micro-dollars. `client` and `keys` are the caller's Redis and key layout, so an
implementation can write its own (declared) keys.
"""

from __future__ import annotations

from typing import Any

from shared.keys import Keys


def on_agent_answered(
    client: Any, keys: Keys, tenant: str, source: str, ticket: str, at_ms: int, cost_micros: int
) -> None:
    """The agent posted an answer (outcome `answered`); `cost_micros` is this event's spend."""


def on_customer_message(
    client: Any, keys: Keys, tenant: str, source: str, ticket: str, text: str, at_ms: int
) -> None:
    """A customer wrote on a ticket that already had a thread (not the message that opened
    the conversation). `text` is personal data: never log it."""


def on_human_reply(
    client: Any, keys: Keys, tenant: str, source: str, ticket: str, at_ms: int
) -> None:
    """A person on the support team replied: the ticket is theirs from now on."""


def on_solved(
    client: Any, keys: Keys, tenant: str, source: str, ticket: str, at_ms: int, by_human: bool
) -> None:
    """The vendor marked the ticket solved or closed; `by_human` when a person had replied."""


def on_escalated(
    client: Any, keys: Keys, tenant: str, source: str, ticket: str, at_ms: int, reason: str
) -> None:
    """The ticket went to a person (the agent escalated, or a lifetime cap was reached)."""
