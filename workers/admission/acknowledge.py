"""The polite word a customer gets when a person, not the assistant, will answer.

A ticket parked on `user_daily_cap` or `tenant_daily_cap` waits until local midnight; the
customer should hear that a person has it, not silence. A live ticket the pace cannot answer
within the first-response SLO is handed to a person at once (`acknowledge_handoff`). The texts
name no amounts and no internal reasons, and carry nothing from the ticket but its reference
(no names, no email): they are safe to log.
"""

from __future__ import annotations

from datetime import datetime

from shared.clock import Clock, next_midnight_s
from shared.models import Ticket
from shared.settings import Settings

CAP_REASONS = ("user_daily_cap", "tenant_daily_cap")

_BODY = {
    "user_daily_cap": (
        "Thank you for getting in touch. You have sent us several requests today, more than "
        "our automated assistant can answer in one day, so a member of our team will pick "
        "this one up and reply to you personally."
    ),
    "tenant_daily_cap": (
        "Thank you for getting in touch. Our automated assistant has reached its limit for "
        "today, so a member of our team will pick up your request and reply to you personally."
    ),
}


HANDOFF_BODY = (
    "Thank you for getting in touch. Our automated assistant cannot answer you as quickly as "
    "we would like right now, so a member of our team will pick up your request and reply to "
    "you personally."
)


def acknowledge_handoff(ticket: Ticket) -> str:
    """The acknowledgement of a hand-off for the first-response SLO (a final outcome)."""
    return f"{HANDOFF_BODY} Your reference is {ticket.ticket_id}."


def acknowledge_cap(settings: Settings, clock: Clock, ticket: Ticket, reason: str) -> str:
    """The acknowledgement for a cap-parked ticket, with when automatic answers resume.

    Unknown reasons get the tenant wording: it promises a person, which is always true.
    """
    body = _BODY.get(reason, _BODY["tenant_daily_cap"])
    resume_s = next_midnight_s(clock.now_s(), settings.tz)
    resume = datetime.fromtimestamp(resume_s, settings.tz)
    return (
        f"{body} If you would rather wait for an automatic answer, it will be available again "
        f"from {resume:%H:%M} ({settings.timezone}) on {resume:%d %B}. "
        f"Your reference is {ticket.ticket_id}."
    )
