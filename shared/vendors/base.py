"""What every webhook source provides: verify the raw bytes, then describe them as a `Ticket`.

A source is stateless; the app hands it one `Inbound` (raw body, lower-cased headers, the
clock's now) and gets back a `Parsed`: a ticket to enqueue with its dedupe id, or a handshake
to answer without enqueuing. Verification always runs before parsing, on the exact bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.models import Ticket


@dataclass(frozen=True)
class Inbound:
    body: bytes
    headers: Mapping[str, str]  # names lower-cased
    now_s: float
    tolerance_s: int
    default_tenant: str
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Parsed:
    """Either a ticket (with the id its deliveries are deduplicated on) or a handshake answer."""

    ticket: Ticket | None = None
    delivery_id: str | None = None
    handshake: dict[str, Any] | None = None


class Source(Protocol):
    name: str

    def verify(self, inbound: Inbound, secret: bytes) -> None:
        """Raise `SignatureError` unless the body is signed with `secret` and fresh enough."""

    def parse(self, inbound: Inbound) -> Parsed:
        """Raise `NotATicket` (a short reason, never the body's content) when it is none."""
