"""Zendesk webhooks: base64 HMAC-SHA256 of `timestamp + raw body` (no separator).

Headers `X-Zendesk-Webhook-Signature` and `X-Zendesk-Webhook-Signature-Timestamp` (ISO-8601).
Two body shapes are accepted: event-subscription webhooks (`{"id", "account_id", "detail":
{ticket}}`) and trigger webhooks whose JSON body an admin writes (`{"ticket": {...}}`).
Dedupe: the event `id` (signed, in the body), else a digest of the signed timestamp and body;
never the invocation-id header, which is not signed.
Reply: `PUT /api/v2/tickets/{id}.json`, a comment with `public: false` (a draft for an agent)
or `public: true` (to the requester); `group_id` / `assignee_id` on the same ticket update
hand it over.

Conversation events, from the event `type` (Zendesk's ticket event webhooks):
- `zen:event-type:ticket.created` -> ticket.created, by the customer (`detail.requester_id`);
- `zen:event-type:ticket.comment_added` -> message.created, text `event.comment.body`, author
  `event.comment.author`: `is_staff` true -> agent, else customer;
- `zen:event-type:ticket.status_changed` with `event.current` SOLVED / CLOSED ->
  ticket.solved / ticket.closed;
- any other type or status -> acknowledged (200) and ignored.
A trigger webhook (no `type`) is ticket.created unless its body says otherwise: the admin's
JSON may carry `"event_type"` and `"author": {"role": "{{current_user.role}}", "id":
"{{current_user.id}}"}` (Zendesk roles: end-user -> customer, agent/admin -> agent).
paceline's own comments come back authored by its API user: `PACELINE_OWN_AUTHOR_IDS=zendesk:<id>`.
"""

from __future__ import annotations

import re
from typing import Any

from shared.settings import Settings
from shared.vendors.base import (
    INTERNAL,
    Inbound,
    Parsed,
    ReplyOptions,
    ReplyRequest,
    basic_auth,
    bearer_auth,
    path_id,
)
from shared.vendors.payload import (
    AGENT,
    CLOSED,
    CREATED,
    CUSTOMER,
    MESSAGE,
    SOLVED,
    build_ticket,
    content_hash,
    event_fields,
    ignored,
    load_object,
    obj,
    priority_of,
    string_list,
    text,
    vendor_id,
)
from shared.vendors.signing import check_age, hmac_b64, parse_iso_s, require, same

SIGNATURE_HEADER = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"
PREFIX = "zd"
ID_FORMAT = re.compile(r"[0-9]{1,20}")


def sign(secret: bytes, body: bytes, timestamp: str) -> dict[str, str]:
    return {
        "X-Zendesk-Webhook-Signature": hmac_b64(secret, timestamp.encode() + body),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
    }


class ZendeskSource:
    name = "zendesk"
    # An escalation's group or assignee rides on the reply's own ticket update.
    assigns = True

    def verify(self, inbound: Inbound, secret: bytes) -> None:
        raw_ts = require(inbound.header(TIMESTAMP_HEADER), "timestamp")
        signature = require(inbound.header(SIGNATURE_HEADER), "signature")
        same(signature, hmac_b64(secret, raw_ts.encode() + inbound.body))
        check_age(parse_iso_s(raw_ts), inbound.now_s, inbound.tolerance_s)

    def parse(self, inbound: Inbound) -> Parsed:
        doc = load_object(inbound.body)
        ticket_doc = obj(doc, "detail") or obj(doc, "ticket")
        signed_at = (inbound.header(TIMESTAMP_HEADER) or "").strip().encode()
        delivery_id = text(doc.get("id")) or content_hash(signed_at + inbound.body)
        event = _event(doc)
        if event is None:
            return Parsed(handshake=ignored(text(doc.get("type")) or "event"))
        comment = obj(doc, "event", "comment")
        if event["event_type"] == CREATED:
            body = text(ticket_doc.get("description")) or text(
                obj(ticket_doc, "comment").get("body")
            )
        else:
            body = text(comment.get("body")) or text(obj(ticket_doc, "comment").get("body"))
        ticket = build_ticket(
            {
                "event_id": delivery_id,
                "ticket_id": vendor_id(PREFIX, ticket_doc.get("id"), ID_FORMAT),
                "tenant_id": inbound.tenant,
                "requester": _requester(ticket_doc),
                "subject": text(ticket_doc.get("subject")),
                "body": body,
                "priority": priority_of(ticket_doc.get("priority")),
                "tags": string_list(ticket_doc.get("tags")),
                "created_at": text(ticket_doc.get("created_at")) or None,
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
        if not (s.zendesk_api_url and s.zendesk_api_token):
            return None
        auth = (
            basic_auth(f"{s.zendesk_api_email}/token", s.zendesk_api_token)
            if s.zendesk_api_email
            else bearer_auth(s.zendesk_api_token)
        )
        tid = path_id(ticket_id, PREFIX, ID_FORMAT)
        url = f"{s.zendesk_api_url.rstrip('/')}/api/v2/tickets/{tid}.json"
        ticket: dict[str, Any] = {"comment": {"body": note, "public": options.public}}
        if options.group_id is not None:
            ticket["group_id"] = _number(options.group_id)
        if options.assignee_id is not None:
            ticket["assignee_id"] = _number(options.assignee_id)
        return ReplyRequest("PUT", url, {"ticket": ticket}, auth)


def _number(ref: str) -> int | str:
    """Zendesk's ids are integers in its JSON."""
    return int(ref) if ref.isdigit() else ref


_ROLES = {"end-user": CUSTOMER, "end_user": CUSTOMER, "agent": AGENT, "admin": AGENT}
_STATUS = {"solved": SOLVED, "closed": CLOSED}


def _event(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The delivery's conversation event; None when it is none (acknowledged, ignored)."""
    kind = text(doc.get("type"))
    if not kind:
        author = obj(doc, "author")
        role = _ROLES.get(text(author.get("role")).lower(), CUSTOMER)
        return event_fields(text(doc.get("event_type")) or CREATED, role, text(author.get("id")))
    if kind == "zen:event-type:ticket.created":
        return event_fields(CREATED)
    if kind == "zen:event-type:ticket.comment_added":
        author = obj(doc, "event", "comment", "author")
        role = AGENT if author.get("is_staff") is True else CUSTOMER
        return event_fields(MESSAGE, role, text(author.get("id")))
    if kind == "zen:event-type:ticket.status_changed":
        status = _STATUS.get(text(obj(doc, "event").get("current")).lower())
        return event_fields(status) if status else None
    return None


def _requester(ticket_doc: dict[str, Any]) -> dict[str, Any]:
    person = obj(ticket_doc, "requester")
    rid = text(person.get("id")) or text(ticket_doc.get("requester_id"))
    return {
        "id": f"{PREFIX}-{rid}" if rid else f"{PREFIX}-unknown",
        "email": text(person.get("email")) or None,
        "name": text(person.get("name")) or None,
    }
