"""Which tickets a tenant's assistant answers while it is being rolled out.

`never_tags` wins, then `only_tags` (any one of them), then `rollout_pct`: a share of tickets
chosen by a hash of the ticket id, so every event of one ticket gets the same answer and
raising the share only adds tickets (a ticket in at 10 % is in at 20 %).
"""

from __future__ import annotations

import hashlib

from shared.models import Ticket
from shared.tenants.model import Tenant

NOT_IN_ROLLOUT = "not_in_rollout"


def bucket(ticket_id: str) -> int:
    """0-99, fixed per ticket id."""
    digest = hashlib.sha256(ticket_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % 100


def in_rollout(profile: Tenant, ticket: Ticket) -> bool:
    tags = {t.lower() for t in ticket.tags}
    if any(t.lower() in tags for t in profile.never_tags):
        return False
    if profile.only_tags and not any(t.lower() in tags for t in profile.only_tags):
        return False
    if profile.rollout_pct >= 100:
        return True
    return bucket(ticket.ticket_id) < profile.rollout_pct
