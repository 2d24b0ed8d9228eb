"""What admission decided for a message, and where the decision travels.

Two places, both on the message: a consumer that admitted a fetched batch leaves each
message's `Prepared` on the in-memory message for the worker thread that carries it out;
an admitted ticket's reservation rides in `message.options[OPTION]`, where the actor spends
from it and marks it `CLOSED` once it closed it itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.ledger import AdmissionRequest, Decision
from shared.models import Lane, Ticket
from workers.admission.slo import SloPolicy

OPTION = "paceline"
# Set in the options by whoever closed the message's reservation (the actor, or us after it).
CLOSED = "closed"


# Where a consumer that admitted a fetched batch leaves each message's `Prepared` (an
# attribute of the in-memory MessageProxy: never encoded, so never in a retry or a park).
PREPARED = "_paceline_prepared"


@dataclass
class Prepared:
    """What admission decided for a message, before it is carried out on the worker thread."""

    lane: Lane
    ticket: Ticket | None
    problem: str | None = None  # not a ticket: why
    # None with a ticket: too large for the request cap, or its admit failed (`problem`)
    decision: Decision | None = None
    closed: tuple[int, str] | None = None  # a gate said park: (until ms, reason)
    request: AdmissionRequest | None = None  # what was asked (a live ticket may ask again)
    # Outside its tenant's rollout: finished as `not_in_rollout`, nothing asked of the ledger.
    not_in_rollout: bool = False
    # The tenant's first-response SLO (its profile's, else the settings').
    slo: SloPolicy | None = None


def leave_prepared(message: Any, prepared: Prepared) -> None:
    message.__dict__[PREPARED] = prepared


def take_prepared(message: Any) -> Prepared | None:
    """The decision a consumer left on the message, taken off it (carried out at most once)."""
    found: Prepared | None = getattr(message, "__dict__", {}).pop(PREPARED, None)
    return found
