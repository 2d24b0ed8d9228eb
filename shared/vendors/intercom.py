"""Intercom webhooks: `X-Hub-Signature: sha1=<hex HMAC-SHA1(client secret, raw body)>`.

Body: a notification (`{"id", "topic", "app_id", "data": {"item": conversation}}`). The
`ping` topic is the handshake Intercom sends when a webhook is set up: answered, not
enqueued. No timestamp is signed, so replays are stopped by dedupe on the notification `id`.
"""

from __future__ import annotations

from typing import Any

from shared.vendors.base import Inbound, Parsed
from shared.vendors.payload import (
    build_ticket,
    content_hash,
    load_object,
    obj,
    priority_of,
    string_list,
    strip_html,
    tenant_of,
    text,
    vendor_id,
)
from shared.vendors.signing import hmac_hex, require, same

SIGNATURE_HEADER = "x-hub-signature"
PREFIX = "ic"


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
        item = obj(doc, "data", "item")
        delivery_id = text(doc.get("id")) or content_hash(inbound.body)
        app = text(doc.get("app_id"))
        source = obj(item, "source")
        body = strip_html(text(source.get("body")))
        ticket = build_ticket(
            {
                "event_id": delivery_id,
                "ticket_id": vendor_id(PREFIX, item.get("id")),
                "tenant_id": tenant_of(doc, f"ic-{app}" if app else inbound.default_tenant),
                "requester": _requester(item, source),
                "subject": strip_html(text(source.get("subject")) or text(item.get("title"))),
                "body": body,
                "priority": priority_of(item.get("priority")),
                "tags": string_list(obj(item, "tags").get("tags")),
                "source": self.name,
                "needs_enrichment": not body,
            }
        )
        return Parsed(ticket=ticket, delivery_id=delivery_id)


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
