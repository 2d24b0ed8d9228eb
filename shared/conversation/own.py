"""No self-triggered loops: is an inbound event paceline's own reply coming back?

A helpdesk fires its "ticket updated" webhook for the note paceline just posted. Such an
event is recognised (never answered) by its author, when that is one of paceline's own ids
for the source (`Settings.own_authors`), or by the idempotency key of one of paceline's own
replies on this ticket carried back in the event (the generic callback's `Idempotency-Key`:
`shared.keys.event_key`, which names the tenant, source and ticket).
"""

from __future__ import annotations

from shared.keys import event_key
from shared.models import AuthorRole, Ticket
from shared.settings import Settings

OWN_AUTHOR = "own_author"
OWN_MARKER = "own_reply_marker"


def own_event_reason(ticket: Ticket, own_authors: frozenset[tuple[str, str]]) -> str | None:
    """Why `ticket` is paceline's own event, or None when it is someone else's."""
    if ticket.marker and ticket.marker.startswith(_reply_key_prefix(ticket)):
        return OWN_MARKER
    if ticket.author is not None and ticket.author_role is not AuthorRole.CUSTOMER:
        if (ticket.source, ticket.author.id) in own_authors:
            return OWN_AUTHOR
    return None


def _reply_key_prefix(ticket: Ticket) -> str:
    # The key of any event of this ticket: everything up to the event id's own part.
    return event_key(ticket.tenant_id, ticket.source, ticket.ticket_id, "")[:-2]


def own_authors(settings: Settings) -> frozenset[tuple[str, str]]:
    return settings.own_authors()
