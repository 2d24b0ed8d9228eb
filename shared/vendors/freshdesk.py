"""Freshdesk automation webhooks: no signature scheme, so a shared secret in a header.

The admin adds `X-Paceline-Webhook-Secret: <secret>` to the webhook action; it is compared
in constant time. The body is the JSON the admin writes with Freshdesk placeholders, either
wrapped (`{"freshdesk_webhook": {"ticket_id", "ticket_subject", ...}}`) or flat. No delivery
id and no timestamp: dedupe is on a hash of the bytes.
Reply: `POST /api/v2/tickets/{id}/notes` with `private: true` (internal), or
`POST /api/v2/tickets/{id}/reply` (to the requester). Hand-off: `PUT /api/v2/tickets/{id}`
with `group_id` or `responder_id`.

Conversation events: Freshdesk's automation rules send the JSON the admin writes, one rule
per event, so the admin names the event in it (docs/conversations.md has the bodies):
- a "ticket created" rule: no `event_type` (or `ticket.created`) -> ticket.created;
- a rule on "Reply is sent" / "Note is added" by an agent: `"event_type": "message.created",
  "author_role": "agent", "author_id": "{{ticket.agent.id}}"`; a rule on the customer's
  reply: `"author_role": "customer"`; the text in `ticket_latest_public_comment`
  (`{{ticket.latest_public_comment}}`);
- a rule on "Status is changed" to Resolved / Closed: `"event_type": "ticket.solved"` /
  `"ticket.closed"`, or no `event_type` and `ticket_status` Resolved / Closed.
paceline's own notes come back authored by its API agent: `PACELINE_OWN_AUTHOR_IDS=freshdesk:<id>`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

from shared.settings import Settings
from shared.vendors.base import (
    INTERNAL,
    Inbound,
    Parsed,
    ReplyOptions,
    ReplyRequest,
    basic_auth,
    path_id,
)
from shared.vendors.payload import (
    CLOSED,
    CREATED,
    CUSTOMER,
    SOLVED,
    build_ticket,
    content_hash,
    event_fields,
    load_object,
    obj,
    priority_of,
    string_list,
    strip_html,
    text,
    vendor_id,
)
from shared.vendors.signing import require, same

SECRET_HEADER = "x-paceline-webhook-secret"  # noqa: S105 (a header name)
PREFIX = "fd"
ID_FORMAT = re.compile(r"[0-9]{1,20}")


def sign(secret: bytes) -> dict[str, str]:
    return {"X-Paceline-Webhook-Secret": secret.decode()}


class FreshdeskSource:
    name = "freshdesk"

    def verify(self, inbound: Inbound, secret: bytes) -> None:
        given = require(inbound.header(SECRET_HEADER), "shared secret")
        same(given, secret.decode("utf-8", "replace"))

    def parse(self, inbound: Inbound) -> Parsed:
        doc = load_object(inbound.body)
        fields = obj(doc, "freshdesk_webhook") or doc
        delivery_id = content_hash(inbound.body)
        event = _event(fields)
        if event["event_type"] == CREATED:
            body = text(fields.get("ticket_description_text")) or strip_html(
                text(fields.get("ticket_description"))
            )
        else:
            body = strip_html(text(fields.get("ticket_latest_public_comment")))
        ticket = build_ticket(
            {
                "event_id": delivery_id,
                "ticket_id": vendor_id(PREFIX, fields.get("ticket_id"), ID_FORMAT),
                "tenant_id": inbound.tenant,
                "requester": _requester(fields),
                "subject": text(fields.get("ticket_subject")),
                "body": body,
                "priority": priority_of(fields.get("ticket_priority")),
                "tags": string_list(fields.get("ticket_tags")),
                "source": self.name,
                "needs_enrichment": not body and event["event_type"] == CREATED,
                **event,
            }
        )
        return Parsed(ticket=ticket, delivery_id=delivery_id)

    def reply(
        self, settings: Settings, ticket_id: str, note: str, options: ReplyOptions = INTERNAL
    ) -> ReplyRequest | None:
        s = settings
        if not (s.freshdesk_api_url and s.freshdesk_api_key):
            return None
        tid = path_id(ticket_id, PREFIX, ID_FORMAT)
        base = f"{s.freshdesk_api_url.rstrip('/')}/api/v2/tickets/{tid}"
        # Freshdesk's API key is the basic-auth user; the password is ignored ("X" by convention).
        auth = basic_auth(s.freshdesk_api_key.get_secret_value(), SecretStr("X"))
        if options.public:
            return ReplyRequest("POST", f"{base}/reply", {"body": note}, auth)
        return ReplyRequest("POST", f"{base}/notes", {"body": note, "private": True}, auth)

    def assign(
        self, settings: Settings, ticket_id: str, options: ReplyOptions
    ) -> ReplyRequest | None:
        s = settings
        if not (s.freshdesk_api_url and s.freshdesk_api_key):
            return None
        if options.group_id is not None:
            doc: dict[str, int | str] = {"group_id": _number(options.group_id)}
        elif options.assignee_id is not None:
            doc = {"responder_id": _number(options.assignee_id)}
        else:
            return None
        tid = path_id(ticket_id, PREFIX, ID_FORMAT)
        url = f"{s.freshdesk_api_url.rstrip('/')}/api/v2/tickets/{tid}"
        auth = basic_auth(s.freshdesk_api_key.get_secret_value(), SecretStr("X"))
        return ReplyRequest("PUT", url, doc, auth)


def _number(ref: str) -> int | str:
    """Freshdesk's ids are integers in its JSON."""
    return int(ref) if ref.isdigit() else ref


_STATUS = {"resolved": SOLVED, "closed": CLOSED}


def _event(fields: dict[str, Any]) -> dict[str, Any]:
    named = text(fields.get("event_type"))
    status = _STATUS.get(text(fields.get("ticket_status")).lower())
    kind = named or status or CREATED
    role = text(fields.get("author_role")).lower() or CUSTOMER
    return event_fields(kind, role, text(fields.get("author_id")))


def _requester(fields: dict[str, Any]) -> dict[str, Any]:
    rid = text(fields.get("ticket_contact_id")) or text(fields.get("ticket_requester_id"))
    return {
        "id": f"{PREFIX}-{rid}" if rid else f"{PREFIX}-unknown",
        "email": text(fields.get("ticket_contact_email")) or None,
        "name": text(fields.get("ticket_contact_name")) or None,
    }
