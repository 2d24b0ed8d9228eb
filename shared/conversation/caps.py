"""A ticket's lifetime caps, across all its events: model spend and automatic replies."""

from __future__ import annotations

from typing import Any

from shared.settings import Settings
from shared.stores.threads import Conversation
from shared.tenants import TenantRegistry, profile_for

LIFETIME_CAP = "lifetime_cap"
MAX_AUTO_REPLIES = "max_auto_replies"


def max_auto_replies(tenants: Any, tenant_id: str) -> int:
    """The tenant profile's most automatic replies per ticket (`max_auto_replies`, default
    3), from `tenants` when given, else the process's installed tenants (`profile_for`)."""
    if isinstance(tenants, TenantRegistry):
        return tenants.profile(tenant_id).max_auto_replies
    return profile_for(tenant_id).max_auto_replies


def past_cap(conversation: Conversation, settings: Settings, replies_cap: int) -> str | None:
    """The cap a follow-up would pass (its reason), or None while both allow an answer."""
    if conversation.life_micros >= settings.ticket_lifetime_cap_micros:
        return LIFETIME_CAP
    if conversation.replies >= replies_cap:
        return MAX_AUTO_REPLIES
    return None
