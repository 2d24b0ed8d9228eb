"""Sending one ticket's reply before the ticket ends: an attempt, and a retry when it can help.

The answer is already paid for, and re-running the agent to retry a POST would pay twice, so
a transient failure is tried again here: a claim left by a worker killed mid-POST is waited
out to its lease (up to `REPLY_ATTEMPTS` in all), a receiver's blip gets one more try after
`REPLY_BACKOFF_S`. Each attempt holds a worker thread (up to the reply timeout), so a receiver
that stays down costs a thread two timeouts per ticket, not more. Still failing, the answer
is kept and the outcome's reason says the reply did not go out.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from shared.clock import Clock
from shared.errors import TransientError
from shared.keys import Keys
from shared.models import Outcome, Ticket
from shared.outbound import OutboundClient
from shared.settings import Settings
from shared.tenants import TenantRegistry
from workers.replies.deliver import deliver_assignment, deliver_reply

log = logging.getLogger("paceline.worker")

REPLY_ATTEMPTS = 3
REPLY_BACKOFF_S = 1.0
FAILED = "reply_delivery_failed"
ASSIGN_FAILED = "assignment_failed"


class ReplySender:
    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        keys: Keys,
        http: OutboundClient,
        clock: Clock,
        tenants: TenantRegistry | None = None,
    ) -> None:
        self._settings = settings
        self._tenants = tenants
        self._r = client
        self._keys = keys
        self._http = http
        self._clock = clock

    def attempt(self, ticket: Ticket, outcome_doc: dict[str, Any]) -> str:
        """One attempt: "sent", "already_sent" or "skipped"; raises like `deliver_reply`."""
        return deliver_reply(
            ticket,
            outcome_doc,
            settings=self._settings,
            redis_client=self._r,
            keys=self._keys,
            http=self._http,
            tenants=self._tenants,
        )

    def send(self, ticket: Ticket, outcome: Outcome) -> None:
        """Post the reply back (callback URL or the vendor's API), then hand an escalation to
        the tenant's target where that is a request of its own; idempotent per ticket event."""
        self._send_reply(ticket, outcome)
        if outcome.status.value == "escalated" and outcome.escalation_target:
            self._assign(ticket, outcome)

    def _assign(self, ticket: Ticket, outcome: Outcome) -> None:
        """One attempt and one retry; a failure is kept on the reason (the ticket is still
        the vendor's, routed by its own rules)."""
        for attempt in (1, 2):
            try:
                deliver_assignment(
                    ticket, outcome.public(), settings=self._settings, redis_client=self._r,
                    keys=self._keys, http=self._http, tenants=self._tenants,
                )  # fmt: skip
                return
            except TransientError as exc:
                problem: Exception = exc
                if attempt == 1:
                    self._clock.sleep(REPLY_BACKOFF_S)
            except Exception as exc:  # permanent: refused, or a forbidden address
                problem = exc
                break
        log.warning(
            "assignment failed: %s", type(problem).__name__, extra={"ticket_id": ticket.ticket_id}
        )
        outcome.reason = (outcome.reason + "; " if outcome.reason else "") + ASSIGN_FAILED

    def _send_reply(self, ticket: Ticket, outcome: Outcome) -> None:
        """On failure the answer is kept and `outcome.reason` gains `reply_delivery_failed`."""
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                self.attempt(ticket, outcome.public())
                return
            except TransientError as exc:
                problem: Exception = exc
                claimed = exc.reason == "reply_in_flight"
                if attempt == REPLY_ATTEMPTS or (attempt >= 2 and not claimed):
                    break
                wait = min(exc.retry_after_s or REPLY_BACKOFF_S, self._max_wait_s())
                self._clock.sleep(wait if claimed else REPLY_BACKOFF_S)
            except Exception as exc:  # permanent: the answer is kept, the operator sees why
                problem = exc
                break
        log.warning(
            "reply delivery failed: %s",
            type(problem).__name__,
            extra={"ticket_id": ticket.ticket_id},
        )
        outcome.reason = (outcome.reason + "; " if outcome.reason else "") + FAILED

    def _max_wait_s(self) -> float:
        # A sender's claim lasts max(30 s, 3 reply timeouts) (deliver.py).
        return max(30.0, self._settings.reply_timeout_s * 3) + 1
