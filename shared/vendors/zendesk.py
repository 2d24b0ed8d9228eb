"""Zendesk webhooks: base64 HMAC-SHA256 of `timestamp + raw body` (no separator).

Headers `X-Zendesk-Webhook-Signature` and `X-Zendesk-Webhook-Signature-Timestamp` (ISO-8601).
Two body shapes are accepted: event-subscription webhooks (`{"id", "account_id", "detail":
{ticket}}`) and trigger webhooks whose JSON body an admin writes (`{"ticket": {...}}`).
Dedupe: the event `id` (signed, in the body), else a digest of the signed timestamp and body;
never the invocation-id header, which is not signed.
Reply: `PUT /api/v2/tickets/{id}.json`, a comment with `public: false`.
"""

from __future__ import annotations

import re
from typing import Any

from shared.settings import Settings
from shared.vendors.base import Inbound, Parsed, ReplyRequest, basic_auth, bearer_auth, path_id
from shared.vendors.payload import (
    build_ticket,
    content_hash,
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
        body = text(ticket_doc.get("description")) or text(obj(ticket_doc, "comment").get("body"))
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
                "needs_enrichment": not body,
            }
        )
        return Parsed(ticket=ticket, delivery_id=delivery_id)

    def reply(self, settings: Settings, ticket_id: str, note: str) -> ReplyRequest | None:
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
        return ReplyRequest(
            "PUT", url, {"ticket": {"comment": {"body": note, "public": False}}}, auth
        )


def _requester(ticket_doc: dict[str, Any]) -> dict[str, Any]:
    person = obj(ticket_doc, "requester")
    rid = text(person.get("id")) or text(ticket_doc.get("requester_id"))
    return {
        "id": f"{PREFIX}-{rid}" if rid else f"{PREFIX}-unknown",
        "email": text(person.get("email")) or None,
        "name": text(person.get("name")) or None,
    }
