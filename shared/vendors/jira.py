"""Jira / Jira Service Management webhooks: `X-Hub-Signature: sha256=<hex HMAC-SHA256>`.

The raw body is signed; no timestamp, so replays are stopped by dedupe on a digest of the
body (what was signed; `X-Atlassian-Webhook-Identifier` is not signed, so a replay could carry
any value there). Body: `{"webhookEvent", "issue": {"key", "fields": {...}}, "comment"?}`; a
description in Atlassian Document Format is flattened to its text.
Reply: `POST /rest/api/2/issue/{key}/comment` with JSM's `sd.public.comment` property:
`internal: true` (seen by agents only) or `false` (shared with the customer). Hand-off to a
person: `PUT /rest/api/2/issue/{key}/assignee` with their `accountId`.

Conversation events, from `webhookEvent`:
- `jira:issue_created` -> ticket.created, by the reporter (the customer);
- `comment_created` (or `jira:issue_updated` carrying a `comment`) -> message.created; the
  author is the customer when they are the issue's reporter or their `accountType` is
  `customer` (a JSM portal customer), a bot for `accountType` `app`, else an agent.
  paceline's own comments are by its API account: `PACELINE_OWN_AUTHOR_IDS=jira:<accountId>`.
  Both deliveries of one comment dedupe on its id (`comment.id`, in the signed body);
- `jira:issue_updated` whose `changelog` moves `status` to Resolved or Done -> ticket.solved,
  to Closed -> ticket.closed;
- anything else -> acknowledged (200) and ignored.
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
    BOT,
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
from shared.vendors.signing import hmac_hex, require, same

SIGNATURE_HEADER = "x-hub-signature"
PREFIX = "jira"
# An issue key (SUP-12) or a numeric issue id.
ID_FORMAT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,254}-[0-9]{1,18}|[0-9]{1,20}")
MAX_ADF_DEPTH = 20


def sign(secret: bytes, body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature": "sha256=" + hmac_hex(secret, body)}


class JiraSource:
    name = "jira"

    def verify(self, inbound: Inbound, secret: bytes) -> None:
        signature = require(inbound.header(SIGNATURE_HEADER), "signature")
        same(signature.lower(), "sha256=" + hmac_hex(secret, inbound.body))

    def parse(self, inbound: Inbound) -> Parsed:
        doc = load_object(inbound.body)
        issue = obj(doc, "issue")
        fields = obj(issue, "fields")
        delivery_id = content_hash(inbound.body)
        comment = obj(doc, "comment")
        event = _event(doc, fields, comment)
        if event is None:
            return Parsed(handshake=ignored(text(doc.get("webhookEvent")) or "event"))
        issue_id = text(issue.get("key")) or text(issue.get("id"))
        if comment and text(comment.get("id")):
            delivery_id = content_hash(f"comment:{issue_id}:{text(comment.get('id'))}".encode())
        # A comment event is the customer's latest words; an issue event is its description.
        body = adf_text(comment.get("body")) if comment else adf_text(fields.get("description"))
        person = obj(comment, "author") if comment else obj(fields, "reporter")
        ticket = build_ticket(
            {
                "event_id": delivery_id,
                "ticket_id": vendor_id(PREFIX, issue.get("key") or issue.get("id"), ID_FORMAT),
                "tenant_id": inbound.tenant,
                "requester": _requester(person),
                "subject": text(fields.get("summary")),
                "body": body,
                "priority": priority_of(obj(fields, "priority").get("name")),
                "tags": string_list(fields.get("labels")),
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
        if not (s.jira_api_url and s.jira_api_token):
            return None
        auth = (
            basic_auth(s.jira_api_email, s.jira_api_token)
            if s.jira_api_email
            else bearer_auth(s.jira_api_token)
        )
        key = path_id(ticket_id, PREFIX, ID_FORMAT)
        url = f"{s.jira_api_url.rstrip('/')}/rest/api/2/issue/{key}/comment"
        # The property makes it an internal or a public comment in JSM; plain Jira ignores it.
        visibility = [{"key": "sd.public.comment", "value": {"internal": not options.public}}]
        return ReplyRequest("POST", url, {"body": note, "properties": visibility}, auth)

    def assign(
        self, settings: Settings, ticket_id: str, options: ReplyOptions
    ) -> ReplyRequest | None:
        s = settings
        if not (s.jira_api_url and s.jira_api_token) or options.assignee_id is None:
            return None
        auth = (
            basic_auth(s.jira_api_email, s.jira_api_token)
            if s.jira_api_email
            else bearer_auth(s.jira_api_token)
        )
        key = path_id(ticket_id, PREFIX, ID_FORMAT)
        url = f"{s.jira_api_url.rstrip('/')}/rest/api/2/issue/{key}/assignee"
        return ReplyRequest("PUT", url, {"accountId": options.assignee_id}, auth)


_DONE = {"resolved": SOLVED, "done": SOLVED, "closed": CLOSED}


def _event(
    doc: dict[str, Any], fields: dict[str, Any], comment: dict[str, Any]
) -> dict[str, Any] | None:
    kind = text(doc.get("webhookEvent"))
    if comment and kind in ("comment_created", "jira:issue_updated", ""):
        author = obj(comment, "author")
        account = text(author.get("accountId")) or text(author.get("name"))
        reporter = obj(fields, "reporter")
        reporter_id = text(reporter.get("accountId")) or text(reporter.get("name"))
        kind_of_account = text(author.get("accountType"))
        if kind_of_account == "app":
            role = BOT
        elif kind_of_account == "customer" or (account and account == reporter_id):
            role = CUSTOMER
        else:
            role = AGENT
        return event_fields(MESSAGE, role, account)
    if kind in ("jira:issue_created", ""):
        return event_fields(CREATED)
    if kind == "jira:issue_updated":
        items = obj(doc, "changelog").get("items")
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and text(item.get("field")).lower() == "status":
                status = _DONE.get(text(item.get("toString")).lower())
                if status:
                    return event_fields(status, AGENT)
    return None


def adf_text(node: Any, depth: int = 0) -> str:
    """Plain text of a string or an Atlassian Document Format tree (depth-bounded)."""
    if isinstance(node, str):
        return node.strip()
    if not isinstance(node, dict) or depth > MAX_ADF_DEPTH:
        return ""
    if node.get("type") == "text":
        return text(node.get("text"))
    children = node.get("content")
    if not isinstance(children, list):
        return ""
    sep = "\n" if node.get("type") in ("doc", "bulletList", "orderedList") else ""
    return sep.join(adf_text(child, depth + 1) for child in children).strip()


def _requester(person: dict[str, Any]) -> dict[str, Any]:
    rid = text(person.get("accountId")) or text(person.get("name"))
    return {
        "id": f"{PREFIX}-{rid}" if rid else f"{PREFIX}-unknown",
        "email": text(person.get("emailAddress")) or None,
        "name": text(person.get("displayName")) or None,
    }
