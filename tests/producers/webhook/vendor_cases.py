"""Signed sample deliveries for every source: what a real vendor would send, signed for real."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.vendors import freshdesk, front, generic, helpscout, intercom, jira, zendesk

# Long enough to be accepted (16 bytes at least, not a placeholder).
SECRETS = {
    "generic": "gen-secret-1-c0ffee42",
    "zendesk": "zd-secret-2-c0ffee42",
    "intercom": "ic-secret-3-c0ffee42",
    "front": "front-secret-4-c0ffee42",
    "helpscout": "hs-secret-5-c0ffee42",
    "jira": "jira-secret-6-c0ffee42",
    "freshdesk": "fd-secret-7-c0ffee42",
}


def secret_env() -> dict[str, str]:
    return {f"webhook_secret_{name}": value for name, value in SECRETS.items()}


def payload(source: str, n: int = 1, *, thin: bool = False) -> dict[str, Any]:
    """A realistic body for `source`, ticket number `n`."""
    text = "" if thin else f"My order {n} never arrived"
    if source == "generic":
        return {
            "event_id": f"evt-{n}",
            "ticket_id": f"T-{n}",
            "tenant_id": "acme",
            "requester": {"id": "u-9", "email": "a@example.com", "name": "Ann"},
            "subject": "Refund",
            "body": text,
            "priority": "normal",
            "tags": [],
            "created_at": "2026-11-23T10:00:00Z",
        }
    if source == "zendesk":
        detail = {"id": str(100 + n), "subject": "Refund", "requester_id": "77", "priority": "HIGH"}
        if text:
            detail["description"] = text
        return {
            "id": f"zd-evt-{n}",
            "account_id": 42,
            "type": "zen:event-type:ticket.created",
            "detail": detail,
        }
    if source == "intercom":
        src = {
            "subject": "Refund",
            "body": f"<p>{text}</p>" if text else "",
            "author": {"id": "c7"},
        }
        item = {"type": "conversation", "id": str(200 + n), "source": src}
        return {
            "type": "notification_event",
            "id": f"notif_{n}",
            "topic": "conversation.user.created",
            "app_id": "app1",
            "data": {"item": item},
        }
    if source == "front":
        target = {
            "data": {
                "id": "msg_1",
                "text": text,
                "recipients": [{"handle": "a@example.com", "role": "from"}],
            }
        }
        event = {
            "id": f"evt_{n}",
            "type": "inbound",
            "conversation": {"id": f"cnv_{n}", "subject": "Refund"},
        }
        if text:
            event["target"] = target
        return {"type": "inbound_received", "authorization": {"id": "cmp_1"}, "payload": event}
    if source == "helpscout":
        threads = [{"type": "customer", "body": text}] if text else []
        return {
            "id": 300 + n,
            "subject": "Refund",
            "customer": {"id": 5, "first": "Ann"},
            "threads": threads,
        }
    if source == "jira":
        fields = {
            "summary": "Refund",
            "reporter": {"accountId": "acc-1"},
            "priority": {"name": "Highest"},
        }
        if text:
            fields["description"] = {
                "type": "doc",
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
            }
        return {
            "webhookEvent": "jira:issue_created",
            "issue": {"key": f"SUP-{n}", "fields": fields},
        }
    if source == "freshdesk":
        fields = {
            "ticket_id": 400 + n,
            "ticket_subject": "Refund",
            "ticket_priority": 3,
            "ticket_contact_id": 8,
        }
        if text:
            fields["ticket_description"] = f"<div>{text}</div>"
        return {"freshdesk_webhook": fields}
    raise KeyError(source)


def _iso(now_s: float) -> str:
    return datetime.fromtimestamp(now_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_headers(
    source: str, body: bytes, now_s: float, secret: str | None = None
) -> dict[str, str]:
    """Valid headers for `body` at `now_s` (with `secret`, default the configured one)."""
    key = (secret or SECRETS[source]).encode()
    extra: dict[str, str] = {"Content-Type": "application/json"}
    if source == "generic":
        return {**extra, **generic.sign(key, body, int(now_s))}
    if source == "zendesk":
        return {
            **extra,
            **zendesk.sign(key, body, _iso(now_s)),
            "X-Zendesk-Webhook-Invocation-Id": "inv-" + hashlib.sha1(body).hexdigest()[:12],
        }
    if source == "intercom":
        return {**extra, **intercom.sign(key, body)}
    if source == "front":
        return {**extra, **front.sign(key, body, int(now_s * 1000))}
    if source == "helpscout":
        return {**extra, **helpscout.sign(key, body), "X-HelpScout-Event": "convo.created"}
    if source == "jira":
        return {
            **extra,
            **jira.sign(key, body),
            "X-Atlassian-Webhook-Identifier": "wh-" + hashlib.sha1(body).hexdigest()[:12],
        }
    if source == "freshdesk":
        return {**extra, **freshdesk.sign(key)}
    raise KeyError(source)


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


# The header that carries each source's proof: removing it must always mean 401.
PROOF_HEADER = {
    "generic": "X-Paceline-Signature",
    "zendesk": "X-Zendesk-Webhook-Signature",
    "intercom": "X-Hub-Signature",
    "front": "X-Front-Signature",
    "helpscout": "X-HelpScout-Signature",
    "jira": "X-Hub-Signature",
    "freshdesk": "X-Paceline-Webhook-Secret",
}
TIMESTAMPED = ("generic", "zendesk", "front")
ALL_SOURCES = tuple(SECRETS)


@dataclass(frozen=True)
class Case:
    source: str
    body: bytes
    headers: dict[str, str]


CaseFactory = Callable[..., Case]
