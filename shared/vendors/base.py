"""What every vendor module provides: its whole contract with paceline.

In: verify the raw bytes, then describe them as a `Ticket`. A source is stateless; the app
hands it one `Inbound` (raw body, lower-cased headers, the clock's now, the tenant the
verifying key decides) and gets back a `Parsed`: a ticket to enqueue with its dedupe id, or a
handshake to answer without enqueuing. Verification always runs before parsing, on the exact
bytes. The dedupe id is always something the signature covers (a signed id, else a digest of
what was signed): an unsigned header would let anyone replay a signed body under a new id.

Out: the reply request that posts the agent's answer back, public or as an internal note (by
the vendor's own fields: `ReplyOptions.public`), assigning the ticket to a group or a person
where the vendor can do so in the same request (else `assign`, a second request, on the
vendors that have one), or `None` when that vendor's API is not configured (no token, or no
site URL; the reply is then kept in the outcome and not posted). The vendor's id is checked
against its format before it goes into a URL path (`..` or `/` must never reach one).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import SecretStr

from shared.errors import PermanentError
from shared.models import Ticket
from shared.settings import Settings


@dataclass(frozen=True)
class Inbound:
    body: bytes
    headers: Mapping[str, str]  # names lower-cased
    now_s: float
    tolerance_s: int
    # The tenant the verifying key decides: the path's for a tenant's own key (`bound`), else
    # PACELINE_WEBHOOK_DEFAULT_TENANT for the source-wide key.
    tenant: str
    bound: bool = False
    # Whether a callback URL may name a loopback or private address (see shared/outbound.py).
    allow_private_networks: bool = False
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Parsed:
    """Either a ticket (with the id its deliveries are deduplicated on) or a handshake answer."""

    ticket: Ticket | None = None
    delivery_id: str | None = None
    handshake: dict[str, Any] | None = None


@dataclass(frozen=True)
class ReplyOptions:
    """How a reply is posted: to the customer (`public`) or as a note for the team, and
    whom the ticket is handed to (Zendesk assigns in the reply's own request)."""

    public: bool = False
    group_id: str | None = None
    assignee_id: str | None = None
    # The vendor's own requester id (Help Scout's public reply names its customer).
    requester_id: str | None = None


INTERNAL = ReplyOptions()


@dataclass(frozen=True)
class ReplyRequest:
    method: str
    url: str
    json: dict[str, Any]
    headers: dict[str, str]


class Source(Protocol):
    name: str

    def verify(self, inbound: Inbound, secret: bytes) -> None:
        """Raise `SignatureError` unless the body is signed with `secret` and fresh enough."""

    def parse(self, inbound: Inbound) -> Parsed:
        """Raise `NotATicket` (a short reason, never the body's content) when it is none."""

    def reply(
        self, settings: Settings, ticket_id: str, note: str, options: ReplyOptions = INTERNAL
    ) -> ReplyRequest | None:
        """The request posting `note` to `ticket_id` (public or internal by `options`);
        None when this vendor is not configured."""


def basic_auth(user: str, secret: SecretStr) -> dict[str, str]:
    raw = f"{user}:{secret.get_secret_value()}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def bearer_auth(secret: SecretStr) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret.get_secret_value()}"}


def path_id(ticket_id: str, prefix: str, id_format: re.Pattern[str]) -> str:
    """The vendor's own id (our ticket id without its prefix), refused unless it has the
    vendor's id format: quoting alone leaves `..`, which the HTTP client then resolves."""
    raw = ticket_id.removeprefix(f"{prefix}-")
    if not id_format.fullmatch(raw):
        raise PermanentError(f"not a {prefix} ticket id", reason="invalid_vendor_id")
    return raw
