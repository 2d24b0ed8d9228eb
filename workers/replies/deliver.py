"""`deliver_reply`: post one ticket's answer back once, however often the ticket is redelivered.

Where it goes: the ticket's `callback_url` (the outcome JSON, with its `visibility`) when it
has one, else its vendor's API when that vendor is configured and there is a reply, as the
tenant's account (its own URL and token) when its profile names one, public or internal by
the outcome's `visibility`; an escalation with a profile's target and no reply still hands
the ticket over on a vendor that can in the same request (Zendesk). Otherwise "skipped".
`deliver_assignment` hands an escalated ticket to the profile's group or assignee on the
vendors that need a request of their own for it, once, the same way.
Either way through the outbound guard (shared/outbound.py): a callback naming a loopback or
private address is refused here too, whatever let it in.

Once: a Redis marker (`Keys.callback(idempotency key)`) is claimed with a lease before the
POST and turned into "sent" after a 2xx. A worker dying between the POST and the marker
leaves a lease that expires, so the retry posts again with the same `Idempotency-Key` and
the receiver can drop it. A claim held by a live sender makes the caller retry later.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx
import redis

from shared.errors import OutboundRefused, PermanentError, TransientError
from shared.keys import Keys
from shared.lua import lua_source
from shared.models import Ticket
from shared.outbound import OutboundClient
from shared.settings import Settings
from shared.stores.outcomes import ticket_ttl_s
from shared.tenants import DEFAULT_PROFILE, Tenant, TenantRegistry
from shared.vendors.accounts import account_settings
from shared.vendors.base import ReplyOptions, ReplyRequest
from shared.vendors.registry import assign_request, assigns_on_reply, reply_request

SENT = "sent"
ALREADY_SENT = "already_sent"
SKIPPED = "skipped"
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
HANDOVER_NOTE = "The assistant handed this ticket to a person."


def build_request(
    ticket: Ticket,
    outcome_doc: dict[str, Any],
    settings: Settings,
    tenants: TenantRegistry | None = None,
) -> ReplyRequest | None:
    if ticket.callback_url:
        doc = {**outcome_doc, "visibility": outcome_doc.get("visibility") or "internal"}
        return ReplyRequest("POST", ticket.callback_url, doc, {})
    settings, profile = _tenant_vendor(ticket, settings, tenants)
    target = profile.escalation if outcome_doc.get("status") == "escalated" else None
    options = ReplyOptions(
        public=outcome_doc.get("visibility") == "public",
        group_id=target.group_id if target else None,
        assignee_id=target.assignee_id if target else None,
        requester_id=ticket.requester.id,
    )
    reply = outcome_doc.get("reply")
    if not isinstance(reply, str) or not reply.strip():
        if target is None or not assigns_on_reply(ticket.source):
            return None
        reply, options = (
            HANDOVER_NOTE,
            ReplyOptions(group_id=options.group_id, assignee_id=options.assignee_id),
        )
    return reply_request(settings, ticket.source, ticket.ticket_id, reply, options)


def build_assignment(
    ticket: Ticket,
    outcome_doc: dict[str, Any],
    settings: Settings,
    tenants: TenantRegistry | None = None,
) -> ReplyRequest | None:
    """The vendor request handing an escalated ticket to the profile's target, where it is
    a request of its own (Zendesk's rides on the reply: `build_request`)."""
    if ticket.callback_url or outcome_doc.get("status") != "escalated":
        return None
    if assigns_on_reply(ticket.source):
        return None
    settings, profile = _tenant_vendor(ticket, settings, tenants)
    target = profile.escalation
    if target is None:
        return None
    options = ReplyOptions(group_id=target.group_id, assignee_id=target.assignee_id)
    return assign_request(settings, ticket.source, ticket.ticket_id, options)


def _tenant_vendor(
    ticket: Ticket, settings: Settings, tenants: TenantRegistry | None
) -> tuple[Settings, Tenant]:
    """The settings the vendor client reads (the tenant's own account when it has one)."""
    profile = DEFAULT_PROFILE if tenants is None else tenants.profile(ticket.tenant_id)
    account = profile.vendors.get(ticket.source)
    if account is not None and tenants is not None:
        token = tenants.current().vendor_token(ticket.tenant_id, ticket.source)
        settings = account_settings(settings, ticket.source, account, token)
    return settings, profile


def deliver_assignment(
    ticket: Ticket,
    outcome_doc: dict[str, Any],
    *,
    settings: Settings,
    redis_client: redis.Redis,
    keys: Keys,
    http: OutboundClient,
    tenants: TenantRegistry | None = None,
) -> str:
    """Like `deliver_reply`, for the hand-off's assignment request (its own marker)."""
    request = build_assignment(ticket, outcome_doc, settings, tenants)
    if request is None:
        return SKIPPED
    marker = keys.assignment(ticket.idempotency_key)
    return send_once(
        request, marker, f"{ticket.idempotency_key}:assign", settings, redis_client, http
    )


def deliver_reply(
    ticket: Ticket,
    outcome_doc: dict[str, Any],
    *,
    settings: Settings,
    redis_client: redis.Redis,
    keys: Keys,
    http: OutboundClient,
    tenants: TenantRegistry | None = None,
) -> str:
    """Returns "sent", "already_sent" or "skipped"; raises TransientError / PermanentError."""
    request = build_request(ticket, outcome_doc, settings, tenants)
    if request is None:
        return SKIPPED
    marker = keys.callback(ticket.idempotency_key)
    return send_once(request, marker, ticket.idempotency_key, settings, redis_client, http)


def send_once(
    request: ReplyRequest,
    marker: str,
    idempotency_key: str,
    settings: Settings,
    redis_client: redis.Redis,
    http: OutboundClient,
) -> str:
    """Send `request` unless `marker` says it was; "sent" or "already_sent", or raises."""
    # The lease outlasts one HTTP attempt, so a live sender never loses its claim mid-POST.
    lease_s = max(30, int(settings.reply_timeout_s * 3))
    token = f"sending:{uuid.uuid4().hex}"
    if not redis_client.set(marker, token, nx=True, ex=lease_s):
        current = redis_client.get(marker)
        if current == SENT or current == SENT.encode():
            return ALREADY_SENT
        # Held by another sender, or left by one that died mid-POST: free when its lease ends.
        left_s = redis_client.ttl(marker)
        raise TransientError(
            "reply is being sent by another worker",
            retry_after_s=float(left_s if isinstance(left_s, int) and left_s > 0 else 1),
            reason="reply_in_flight",
        )
    try:
        response = http.request(
            request.method,
            request.url,
            json=request.json,
            headers={**request.headers, "Idempotency-Key": header_safe(idempotency_key)},
            timeout=settings.reply_timeout_s,
        )
    except OutboundRefused:
        _release_claim(redis_client, marker, token)
        raise
    except httpx.HTTPError as exc:
        _release_claim(redis_client, marker, token)
        raise TransientError(
            f"reply not delivered: {type(exc).__name__}", reason="reply_unreachable"
        ) from None
    if response.is_success:
        redis_client.set(marker, SENT, ex=ticket_ttl_s(settings.outcome_retention_s))
        return SENT
    _release_claim(redis_client, marker, token)
    status = response.status_code
    if status >= 500 or status in _RETRYABLE_STATUS:
        raise TransientError(f"reply refused for now: HTTP {status}", reason="reply_unavailable")
    raise PermanentError(f"reply refused: HTTP {status}", reason="reply_refused")


def header_safe(value: str) -> str:
    """`value` as an HTTP header value: ids may hold any character, headers only ASCII."""
    return quote(value, safe="!#$%&'*+-.^_`|~:/@=,;")


def _release_claim(client: redis.Redis, marker: str, token: str) -> None:
    """Give the claim back for the next attempt (only if it is still ours)."""
    client.eval(lua_source("workers.replies", "release_claim"), 1, marker, token)
