"""Intercom webhooks: `X-Hub-Signature: sha1=<hex HMAC-SHA1(client secret, raw body)>`.

Body: a notification (`{"id", "topic", "app_id", "data": {"item": conversation}}`). The
`ping` topic is the handshake Intercom sends when a webhook is set up: answered, not
enqueued. No timestamp is signed, so replays are stopped by dedupe on the notification `id`.
Reply: `POST /conversations/{id}/reply` as the configured admin, `message_type: note` (seen
by the team only) or `comment` (sent to the customer). Hand-off: `POST
/conversations/{id}/parts`, `message_type: assignment` to a team (group) or an admin.

Conversation events, from the notification `topic`; the text and author of a reply are the
newest of `data.item.conversation_parts.conversation_parts`:
- `conversation.user.created` -> ticket.created, by the customer (`source.author`);
- `conversation.user.replied` -> message.created by the customer;
- `conversation.admin.replied`, `conversation.admin.noted` -> message.created by an agent
  (the part's `author.id`; paceline's own notes are by `PACELINE_INTERCOM_ADMIN_ID`: dropped);
- `conversation.operator.replied` (Fin, workflows) -> message.created by a bot (recorded);
- `conversation.admin.closed` -> ticket.closed;
- `ping` -> the handshake; any other topic -> acknowledged (200) and ignored.
A part whose author `type` is `bot` is a bot's whatever the topic.
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
    bearer_auth,
    path_id,
)
from shared.vendors.payload import (
    AGENT,
    BOT,
    CLOSED,
    CREATED,
    CUSTOMER,
    MESSAGE,
    build_ticket,
    content_hash,
    event_fields,
    ignored,
    load_object,
    obj,
    priority_of,
    string_list,
    strip_html,
    text,
    vendor_id,
)
from shared.vendors.signing import hmac_hex, require, same

SIGNATURE_HEADER = "x-hub-signature"
PREFIX = "ic"
ID_FORMAT = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def sign(secret: bytes, body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature": "sha1=" + hmac_hex(secret, body, "sha1")}


class IntercomSource:
    name = "intercom"

    def verify(self, inbound: Inbound, secret: bytes) -> None:
        signature = require(inbound.header(SIGNATURE_HEADER), "signature")
        same(signature.lower(), "sha1=" + hmac_hex(secret, inbound.body, "sha1"))

    def parse(self, inbound: Inbound) -> Parsed:
        doc = load_object(inbound.body)
        if text(doc.get("topic")) == "ping":
            return Parsed(handshake={"ok": True, "topic": "ping"})
        topic = text(doc.get("topic"))
        if topic and topic not in _TOPICS:
            return Parsed(handshake=ignored(topic))
        item = obj(doc, "data", "item")
        delivery_id = text(doc.get("id")) or content_hash(inbound.body)
        source = obj(item, "source")
        event_type, role = _TOPICS.get(topic, (CREATED, CUSTOMER))
        part = _newest_part(item)
        author = obj(part, "author")
        if text(author.get("type")) == "bot":
            role = BOT
        event = event_fields(event_type, role, text(author.get("id")))
        if event_type == CREATED:
            body = strip_html(text(source.get("body")))
        else:
            body = strip_html(text(part.get("body")))
        ticket = build_ticket(
            {
                "event_id": delivery_id,
                "ticket_id": vendor_id(PREFIX, item.get("id"), ID_FORMAT),
                "tenant_id": inbound.tenant,
                "requester": _requester(item, source),
                "subject": strip_html(text(source.get("subject")) or text(item.get("title"))),
                "body": body,
                "priority": priority_of(item.get("priority")),
                "tags": string_list(obj(item, "tags").get("tags")),
                "source": self.name,
                "needs_enrichment": not body and event_type == CREATED,
                **event,
            }
        )
        return Parsed(ticket=ticket, delivery_id=delivery_id)

    def reply(
        self, settings: Settings, ticket_id: str, note: str, options: ReplyOptions = INTERNAL
    ) -> ReplyRequest | None:
        s = settings
        if not (s.intercom_api_token and s.intercom_admin_id):
            return None
        cid = path_id(ticket_id, PREFIX, ID_FORMAT)
        url = f"{s.intercom_api_url.rstrip('/')}/conversations/{cid}/reply"
        doc = {
            "message_type": "comment" if options.public else "note",
            "type": "admin",
            "admin_id": s.intercom_admin_id,
            "body": note,
        }
        return ReplyRequest("POST", url, doc, bearer_auth(s.intercom_api_token))

    def assign(
        self, settings: Settings, ticket_id: str, options: ReplyOptions
    ) -> ReplyRequest | None:
        return _assign(settings, ticket_id, options)


def _assign(settings: Settings, ticket_id: str, options: ReplyOptions) -> ReplyRequest | None:
    s = settings
    target = options.group_id or options.assignee_id
    if not (s.intercom_api_token and s.intercom_admin_id) or target is None:
        return None
    cid = path_id(ticket_id, PREFIX, ID_FORMAT)
    doc = {
        "message_type": "assignment",
        "type": "team" if options.group_id else "admin",
        "admin_id": s.intercom_admin_id,
        "assignee_id": target,
    }
    url = f"{s.intercom_api_url.rstrip('/')}/conversations/{cid}/parts"
    return ReplyRequest("POST", url, doc, bearer_auth(s.intercom_api_token))


_TOPICS = {
    "conversation.user.created": (CREATED, CUSTOMER),
    "conversation.user.replied": (MESSAGE, CUSTOMER),
    "conversation.admin.replied": (MESSAGE, AGENT),
    "conversation.admin.noted": (MESSAGE, AGENT),
    "conversation.operator.replied": (MESSAGE, BOT),
    "conversation.admin.closed": (CLOSED, AGENT),
}


def _newest_part(item: dict[str, Any]) -> dict[str, Any]:
    parts = obj(item, "conversation_parts").get("conversation_parts")
    if isinstance(parts, list) and parts and isinstance(parts[-1], dict):
        return parts[-1]
    return {}


def _requester(item: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    author = obj(source, "author")
    contacts = obj(item, "contacts").get("contacts")
    first = contacts[0] if isinstance(contacts, list) and contacts else {}
    rid = text(author.get("id")) or (text(first.get("id")) if isinstance(first, dict) else "")
    return {
        "id": f"{PREFIX}-{rid}" if rid else f"{PREFIX}-unknown",
        "email": text(author.get("email")) or None,
        "name": text(author.get("name")) or None,
    }
