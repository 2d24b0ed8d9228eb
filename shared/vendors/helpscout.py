"""Help Scout webhooks: `X-HelpScout-Signature` = base64 HMAC-SHA1(secret, raw body).

The body is the conversation object; the event name is in `X-HelpScout-Event` (e.g.
`convo.created`). Nothing is timestamped and there is no delivery id, so dedupe is on a hash
of the bytes. Help Scout's test delivery (`X-HelpScout-Event: helpscout.test`) is answered
without enqueuing.
Reply: `POST /v2/conversations/{id}/notes` (internal), or `POST /v2/conversations/{id}/reply`
with the customer's id (to the customer; without a known customer id it stays a note).
Hand-off to a user: `PATCH /v2/conversations/{id}`, `replace /assignTo`.

Conversation events, from `X-HelpScout-Event`; the text and author of a reply are the newest
thread's (`threads`, newest first, `createdBy`: `{id, type: customer|user}`):
- `convo.created` (or no header) -> ticket.created, by the customer;
- `convo.customer.reply.created` -> message.created by the customer;
- `convo.agent.reply.created`, `convo.note.created` -> message.created by an agent (the
  user's id; paceline's notes come back as its API user: `PACELINE_OWN_AUTHOR_IDS=helpscout:<id>`);
- `convo.status` with `status` closed -> ticket.closed;
- any other event -> acknowledged (200) and ignored.
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
    string_list,
    strip_html,
    text,
    vendor_id,
)
from shared.vendors.signing import hmac_b64, require, same

SIGNATURE_HEADER = "x-helpscout-signature"
EVENT_HEADER = "x-helpscout-event"
PREFIX = "hs"
ID_FORMAT = re.compile(r"[0-9]{1,20}")


def sign(secret: bytes, body: bytes) -> dict[str, str]:
    return {"X-HelpScout-Signature": hmac_b64(secret, body, "sha1")}


class HelpScoutSource:
    name = "helpscout"

    def verify(self, inbound: Inbound, secret: bytes) -> None:
        signature = require(inbound.header(SIGNATURE_HEADER), "signature")
        same(signature, hmac_b64(secret, inbound.body, "sha1"))

    def parse(self, inbound: Inbound) -> Parsed:
        if text(inbound.header(EVENT_HEADER)) == "helpscout.test":
            return Parsed(handshake={"ok": True, "event": "helpscout.test"})
        doc = load_object(inbound.body)
        delivery_id = content_hash(inbound.body)
        kind = text(inbound.header(EVENT_HEADER))
        event = _event(kind, doc)
        if event is None:
            return Parsed(handshake=ignored(kind))
        if event["event_type"] == CREATED:
            body = _first_customer_text(doc)
        else:
            body = strip_html(text(_newest_thread(doc).get("body")))
        ticket = build_ticket(
            {
                "event_id": delivery_id,
                "ticket_id": vendor_id(PREFIX, doc.get("id"), ID_FORMAT),
                "tenant_id": inbound.tenant,
                "requester": _requester(obj(doc, "customer") or obj(doc, "primaryCustomer")),
                "subject": text(doc.get("subject")),
                "body": body,
                "tags": string_list(doc.get("tags"), key="tag"),
                "created_at": text(doc.get("createdAt")) or None,
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
        if not s.helpscout_api_token:
            return None
        cid = path_id(ticket_id, PREFIX, ID_FORMAT)
        base = f"{s.helpscout_api_url.rstrip('/')}/v2/conversations/{cid}"
        auth = bearer_auth(s.helpscout_api_token)
        customer = (options.requester_id or "").removeprefix(f"{PREFIX}-")
        if options.public and ID_FORMAT.fullmatch(customer):
            doc = {"text": note, "customer": {"id": int(customer)}}
            return ReplyRequest("POST", f"{base}/reply", doc, auth)
        return ReplyRequest("POST", f"{base}/notes", {"text": note}, auth)

    def assign(
        self, settings: Settings, ticket_id: str, options: ReplyOptions
    ) -> ReplyRequest | None:
        s = settings
        user = options.assignee_id or ""
        if not s.helpscout_api_token or not ID_FORMAT.fullmatch(user):
            return None
        cid = path_id(ticket_id, PREFIX, ID_FORMAT)
        url = f"{s.helpscout_api_url.rstrip('/')}/v2/conversations/{cid}"
        doc = {"op": "replace", "path": "/assignTo", "value": int(user)}
        return ReplyRequest("PATCH", url, doc, bearer_auth(s.helpscout_api_token))


def _event(kind: str, doc: dict[str, Any]) -> dict[str, Any] | None:
    if kind in ("", "convo.created"):
        return event_fields(CREATED)
    author = obj(_newest_thread(doc), "createdBy")
    if kind == "convo.customer.reply.created":
        return event_fields(MESSAGE, CUSTOMER, text(author.get("id")))
    if kind in ("convo.agent.reply.created", "convo.note.created"):
        return event_fields(MESSAGE, AGENT, text(author.get("id")))
    if kind == "convo.status" and text(doc.get("status")).lower() == "closed":
        return event_fields(CLOSED, AGENT)
    return None


def _newest_thread(doc: dict[str, Any]) -> dict[str, Any]:
    threads = doc.get("threads") or obj(doc, "_embedded").get("threads")
    if isinstance(threads, list) and threads and isinstance(threads[0], dict):
        return threads[0]
    return {}


def _first_customer_text(doc: dict[str, Any]) -> str:
    threads = doc.get("threads") or obj(doc, "_embedded").get("threads")
    if isinstance(threads, list):
        for thread in threads:
            if isinstance(thread, dict) and text(thread.get("type")) in ("customer", ""):
                body = strip_html(text(thread.get("body")))
                if body:
                    return body
    return ""


def _requester(person: dict[str, Any]) -> dict[str, Any]:
    rid = text(person.get("id"))
    name = " ".join(p for p in (text(person.get("first")), text(person.get("last"))) if p)
    return {
        "id": f"{PREFIX}-{rid}" if rid else f"{PREFIX}-unknown",
        "email": text(person.get("email")) or None,
        "name": name or None,
    }
