"""Front application webhooks: base64 HMAC-SHA256 of `"<timestamp>:" + raw body`.

Headers `X-Front-Signature` and `X-Front-Request-Timestamp` (milliseconds). When an app
webhook is configured Front sends a signed validation request carrying `X-Front-Challenge`;
the answer echoes the challenge and nothing is enqueued. Body: `{"type", "authorization":
{"id"}, "payload": event}` (a bare event is accepted too); event previews carry no message
body and are marked for enrichment. Dedupe on the event `id`.
Reply: `POST /conversations/{id}/comments` (a comment: internal to the team) or
`POST /conversations/{id}/messages` (a reply to the customer). Hand-off to a teammate:
`PUT /conversations/{id}/assignee` (Front has no group assignment in one call).

Conversation events, from the event's `type` (Front's event types):
- `inbound` -> message.created by the customer (Front does not say whether it opens the
  conversation; a first message simply has no thread yet);
- `outbound`, `out_reply` -> message.created by an agent (`source.data.id`, the teammate);
- `comment` -> message.created by an agent (the comment's `author.id`); paceline's own
  comments come back authored by its API teammate: `PACELINE_OWN_AUTHOR_IDS=front:tea_...`;
- `archive` -> ticket.closed; `trash` -> ticket.closed;
- any other type -> acknowledged (200) and ignored. A bare event without a type is
  ticket.created.
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
    short_digest,
    string_list,
    strip_html,
    text,
    vendor_id,
)
from shared.vendors.signing import check_age, hmac_b64, parse_unix_s, require, same

SIGNATURE_HEADER = "x-front-signature"
TIMESTAMP_HEADER = "x-front-request-timestamp"
CHALLENGE_HEADER = "x-front-challenge"
PREFIX = "front"
ID_FORMAT = re.compile(r"cnv_[A-Za-z0-9]{1,40}")


def sign(secret: bytes, body: bytes, timestamp_ms: int) -> dict[str, str]:
    return {
        "X-Front-Signature": hmac_b64(secret, f"{timestamp_ms}:".encode() + body),
        "X-Front-Request-Timestamp": str(timestamp_ms),
    }


class FrontSource:
    name = "front"

    def verify(self, inbound: Inbound, secret: bytes) -> None:
        raw_ts = require(inbound.header(TIMESTAMP_HEADER), "timestamp")
        signature = require(inbound.header(SIGNATURE_HEADER), "signature")
        same(signature, hmac_b64(secret, raw_ts.encode() + b":" + inbound.body))
        check_age(parse_unix_s(raw_ts) / 1000.0, inbound.now_s, inbound.tolerance_s)

    def parse(self, inbound: Inbound) -> Parsed:
        challenge = inbound.header(CHALLENGE_HEADER)
        if challenge:
            return Parsed(handshake={"challenge": challenge[:200]})
        doc = load_object(inbound.body)
        event = obj(doc, "payload") or doc
        kind = text(event.get("type"))
        if kind and kind not in _TYPES:
            return Parsed(handshake=ignored(kind))
        event_type, role = _TYPES.get(kind, (CREATED, CUSTOMER))
        teammate = obj(event, "source", "data") if kind in ("outbound", "out_reply") else {}
        if kind == "comment":
            teammate = obj(event, "target", "data", "author")
        fields = event_fields(event_type, role, text(teammate.get("id")))
        conversation = obj(event, "conversation")
        message = obj(event, "target", "data")
        delivery_id = text(event.get("id")) or content_hash(inbound.body)
        body = text(message.get("text")) or strip_html(text(message.get("body")))
        ticket = build_ticket(
            {
                "event_id": delivery_id,
                "ticket_id": vendor_id(PREFIX, conversation.get("id"), ID_FORMAT),
                "tenant_id": inbound.tenant,
                "requester": _requester(conversation, message),
                "subject": text(conversation.get("subject")),
                "body": body,
                "tags": string_list(conversation.get("tags")),
                "source": self.name,
                "needs_enrichment": not body and role == CUSTOMER,
                **fields,
            }
        )
        return Parsed(ticket=ticket, delivery_id=delivery_id)

    def reply(
        self, settings: Settings, ticket_id: str, note: str, options: ReplyOptions = INTERNAL
    ) -> ReplyRequest | None:
        s = settings
        if not s.front_api_token:
            return None
        cid = path_id(ticket_id, PREFIX, ID_FORMAT)
        kind = "messages" if options.public else "comments"
        url = f"{s.front_api_url.rstrip('/')}/conversations/{cid}/{kind}"
        return ReplyRequest("POST", url, {"body": note}, bearer_auth(s.front_api_token))

    def assign(
        self, settings: Settings, ticket_id: str, options: ReplyOptions
    ) -> ReplyRequest | None:
        s = settings
        if not s.front_api_token or options.assignee_id is None:
            return None
        cid = path_id(ticket_id, PREFIX, ID_FORMAT)
        url = f"{s.front_api_url.rstrip('/')}/conversations/{cid}/assignee"
        doc = {"assignee_id": options.assignee_id}
        return ReplyRequest("PUT", url, doc, bearer_auth(s.front_api_token))


_TYPES = {
    "inbound": (MESSAGE, CUSTOMER),
    "outbound": (MESSAGE, AGENT),
    "out_reply": (MESSAGE, AGENT),
    "comment": (MESSAGE, AGENT),
    "archive": (CLOSED, AGENT),
    "trash": (CLOSED, AGENT),
}


def _requester(conversation: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    sender: dict[str, Any] = obj(conversation, "recipient")
    recipients = message.get("recipients")
    if isinstance(recipients, list):
        for person in recipients:
            if isinstance(person, dict) and person.get("role") == "from":
                sender = person
    handle = text(sender.get("handle"))
    # The handle is usually an email: the id carries a digest of it, never the address.
    return {
        "id": f"{PREFIX}-{short_digest(handle)}" if handle else f"{PREFIX}-unknown",
        "email": handle if "@" in handle else None,
        "name": text(sender.get("name")) or None,
    }
