"""Each vendor's comment, reply and status events, signed as the vendor signs them, through the
real webhook app: the event type and the author's role they map onto (docs/conversations.md),
what is queued, what is recorded and what is ignored."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from producers.webhook.app import create_app
from shared.clock import ManualClock
from shared.keys import Keys, ticket_key
from shared.stores.threads import ThreadStore
from tests.conftest import make_settings
from tests.producers.webhook.conftest import NOW_S
from tests.producers.webhook.vendor_cases import encode, payload, secret_env, signed_headers


def send(client: TestClient, source: str, doc: dict[str, Any], **headers: str) -> Any:
    body = encode(doc)
    return client.post(
        f"/webhooks/{source}",
        content=body,
        headers={**signed_headers(source, body, NOW_S), **headers},
    )


def zendesk_comment(staff: bool) -> dict[str, Any]:
    return {
        "id": f"zd-c-{staff}",
        "type": "zen:event-type:ticket.comment_added",
        "detail": {"id": "101", "requester_id": "77"},
        "event": {
            "comment": {
                "id": 5,
                "body": "It still fails",
                "author": {"id": "90", "is_staff": staff},
            }
        },
    }


def intercom_part(topic: str, author: dict[str, Any]) -> dict[str, Any]:
    part = {"type": "conversation_part", "body": "<p>It still fails</p>", "author": author}
    item = {"id": "201", "conversation_parts": {"conversation_parts": [part]}}
    return {
        "type": "notification_event",
        "id": f"n-{topic}",
        "topic": topic,
        "data": {"item": item},
    }


def front_event(kind: str, **extra: Any) -> dict[str, Any]:
    event = {"id": f"evt_{kind}", "type": kind, "conversation": {"id": "cnv_1"}, **extra}
    return {"type": kind, "payload": event}


def jira_comment(author: dict[str, Any]) -> dict[str, Any]:
    doc = payload("jira")
    doc["webhookEvent"] = "comment_created"
    doc["comment"] = {"id": "10001", "body": "It still fails", "author": author}
    return doc


CASES: list[tuple[str, dict[str, Any], dict[str, str], str, str]] = [
    # source, body, extra headers, ticket id, expected (event type, role) as "type/role"
    ("zendesk", zendesk_comment(False), {}, "zd-101", "message.created/customer"),
    ("zendesk", zendesk_comment(True), {}, "zd-101", "message.created/agent"),
    ("intercom", intercom_part("conversation.user.replied", {"type": "user", "id": "c7"}), {},
     "ic-201", "message.created/customer"),
    ("intercom", intercom_part("conversation.admin.replied", {"type": "admin", "id": "a1"}), {},
     "ic-201", "message.created/agent"),
    ("intercom", intercom_part("conversation.operator.replied", {"type": "bot", "id": "b1"}), {},
     "ic-201", "message.created/bot"),
    ("front", front_event("out_reply", source={"data": {"id": "tea_1"}},
                          target={"data": {"text": "It still fails"}}), {}, "front-cnv_1",
     "message.created/agent"),
    ("front", front_event("archive"), {}, "front-cnv_1", "ticket.closed/agent"),
    ("helpscout", {"id": 301, "status": "active", "threads": [
        {"type": "customer", "body": "It still fails",
         "createdBy": {"id": 5, "type": "customer"}}]},
     {"X-HelpScout-Event": "convo.customer.reply.created"}, "hs-301", "message.created/customer"),
    ("helpscout", {"id": 301, "status": "closed"}, {"X-HelpScout-Event": "convo.status"},
     "hs-301", "ticket.closed/agent"),
    ("jira", jira_comment({"accountId": "acc-1"}), {}, "jira-SUP-1", "message.created/customer"),
    ("jira", jira_comment({"accountId": "acc-2", "accountType": "atlassian"}), {}, "jira-SUP-1",
     "message.created/agent"),
    ("jira", {**payload("jira"), "webhookEvent": "jira:issue_updated", "changelog": {"items": [
        {"field": "status", "toString": "Resolved"}]}}, {}, "jira-SUP-1", "ticket.solved/agent"),
    ("freshdesk", {"freshdesk_webhook": {"ticket_id": 401, "event_type": "message.created",
     "author_role": "agent", "author_id": "9", "ticket_latest_public_comment": "On it"}}, {},
     "fd-401", "message.created/agent"),
    ("freshdesk", {"freshdesk_webhook": {"ticket_id": 401, "ticket_status": "Resolved"}}, {},
     "fd-401", "ticket.solved/customer"),
]  # fmt: skip


@pytest.mark.parametrize(("source", "doc", "headers", "ticket", "expected"), CASES)
def test_vendor_events_map_onto_conversation_events(
    client: TestClient,
    r: redis.Redis,
    keys: Keys,
    source: str,
    doc: dict[str, Any],
    headers: dict[str, str],
    ticket: str,
    expected: str,
) -> None:
    # When the vendor's event is delivered
    resp = send(client, source, doc, **headers)
    assert resp.status_code == 202, resp.text
    # Then the thread records it with its type and the author's role; only a customer's
    # message is queued to be answered
    conv = ThreadStore(r, keys).load(ticket_key("default", source, ticket))
    (entry,) = [e for e in conv.entries if e["k"] == "msg"]
    assert f"{entry['t']}/{entry['r']}" == expected
    assert ("handled" in resp.json()) is (
        not expected.endswith("customer") or "ticket." in expected
    )
    if entry["t"] == "message.created":
        assert "still fails" in entry["x"] or "On it" in entry["x"]


@pytest.mark.parametrize(
    ("source", "doc", "headers"),
    [
        ("zendesk", {"id": "x1", "type": "zen:event-type:ticket.priority_changed",
                     "detail": {"id": "101"}}, {}),
        ("intercom", {"id": "n9", "topic": "conversation.admin.assigned",
                      "data": {"item": {}}}, {}),
        ("front", front_event("tag"), {}),
        ("helpscout", {"id": 301}, {"X-HelpScout-Event": "convo.assigned"}),
        ("jira", {**payload("jira"), "webhookEvent": "jira:issue_updated"}, {}),
    ],
)  # fmt: skip
def test_other_vendor_events_are_acknowledged_and_ignored(
    client: TestClient, r: redis.Redis, keys: Keys, source: str, doc: dict[str, Any],
    headers: dict[str, str],
) -> None:  # fmt: skip
    resp = send(client, source, doc, **headers)
    assert resp.status_code == 200 and resp.json()["ignored"], resp.text
    assert r.zcard(keys.outcomes_index) == 0


def test_paceline_own_notes_are_dropped_by_their_api_user(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    # Given paceline's Zendesk API user is 90 and its Intercom admin is a1
    settings = make_settings(
        namespace, **secret_env(), own_author_ids="zendesk:90", intercom_admin_id="a1"
    )
    with TestClient(create_app(settings, clock=ManualClock(NOW_S), redis_client=r)) as own:
        # When its own notes come back as comment events: Then they are dropped
        assert send(own, "zendesk", zendesk_comment(True)).json()["handled"] == "dropped"
        note = intercom_part("conversation.admin.noted", {"type": "admin", "id": "a1"})
        assert send(own, "intercom", note).json()["handled"] == "dropped"
        # And the generic source's bot id is always paceline's
        generic = {**payload("generic"), "event_type": "message.created",
                   "author": {"role": "bot", "id": "paceline"}}  # fmt: skip
        assert send(own, "generic", generic).json()["handled"] == "dropped"
        # But another staff member's comment is a human reply
        other = zendesk_comment(True)
        other["event"]["comment"]["author"]["id"] = "91"
        assert send(own, "zendesk", other).json()["handled"] == "recorded"
    assert r.llen(keys.thread(ticket_key("default", "zendesk", "zd-101"))) == 1
