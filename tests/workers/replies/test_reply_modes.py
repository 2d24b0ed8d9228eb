"""Reply modes at the vendors' APIs: each vendor's own public/internal fields, the tenant's own
account (URL and token) and the escalation target, against a real local HTTP stand-in."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from shared.keys import Keys
from shared.models import Requester, Ticket
from shared.outbound import OutboundClient
from shared.settings import Settings
from shared.tenants import TenantRegistry, load_tenants
from tests.conftest import make_settings
from tests.workers.replies.standin import StandIn, standin_server
from workers.replies.deliver import HANDOVER_NOTE, deliver_reply

TOKEN = "acme-vendor-token-5k2q9"
IDS = {
    "zendesk": ("zd-123", "zd-77"),
    "intercom": ("ic-abc123", "ic-77"),
    "front": ("front-cnv_abc", "front-77"),
    "helpscout": ("hs-123", "hs-77"),
    "jira": ("jira-SUP-12", "jira-77"),
    "freshdesk": ("fd-123", "fd-77"),
}
ZD_PATH = "/api/v2/tickets/123.json"
Request = tuple[str, str, dict[str, Any]]
# source -> (internal: method, path, fields), (public: method, path, fields)
EXPECTED: dict[str, tuple[Request, Request]] = {
    "zendesk": (
        ("PUT", ZD_PATH, {"ticket": {"comment": {"body": "R", "public": False}}}),
        ("PUT", ZD_PATH, {"ticket": {"comment": {"body": "R", "public": True}}}),
    ),
    "intercom": (
        ("POST", "/conversations/abc123/reply", {"message_type": "note", "admin_id": "bot-1"}),
        ("POST", "/conversations/abc123/reply", {"message_type": "comment", "admin_id": "bot-1"}),
    ),
    "front": (
        ("POST", "/conversations/cnv_abc/comments", {"body": "R"}),
        ("POST", "/conversations/cnv_abc/messages", {"body": "R"}),
    ),
    "helpscout": (
        ("POST", "/v2/conversations/123/notes", {"text": "R"}),
        ("POST", "/v2/conversations/123/reply", {"text": "R", "customer": {"id": 77}}),
    ),
    "jira": (
        ("POST", "/rest/api/2/issue/SUP-12/comment",
         {"body": "R", "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]}),
        ("POST", "/rest/api/2/issue/SUP-12/comment",
         {"body": "R", "properties": [{"key": "sd.public.comment", "value": {"internal": False}}]}),
    ),
    "freshdesk": (
        ("POST", "/api/v2/tickets/123/notes", {"body": "R", "private": True}),
        ("POST", "/api/v2/tickets/123/reply", {"body": "R"}),
    ),
}  # fmt: skip


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with standin_server() as server:
        yield server


@pytest.fixture
def elsewhere() -> Iterator[StandIn]:
    """The source-wide account's URL: a tenant with its own account must never reach it."""
    with standin_server() as server:
        yield server


@pytest.fixture
def http() -> Iterator[OutboundClient]:
    client = OutboundClient(allow_private=True)
    yield client
    client.close()


def _registry(tmp_path: Path, source: str, url: str, extra: str = "") -> TenantRegistry:
    lines = ["[tenants.acme]"]
    user = {"intercom": 'user = "bot-1"\n', "zendesk": 'user = "bot@acme.example"\n'}
    lines += [
        f"[tenants.acme.vendors.{source}]",
        f'base_url = "{url}"',
        user.get(source, "") + 'token_env = "ACME_VENDOR_TOKEN"',
    ]
    path = tmp_path / "tenants.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    env = {"ACME_VENDOR_TOKEN": TOKEN}
    settings = make_settings("pltest-modes", tenants_file=path)
    return TenantRegistry(load_tenants(settings, env), path, environ=env)


def _global_settings(namespace: str, url: str) -> Settings:
    """Every vendor configured source-wide, at `url`, with another token."""
    other = "source-wide-token-9x8y7"
    return make_settings(
        namespace,
        zendesk_api_url=url, zendesk_api_token=other, zendesk_api_email="ops@house.example",
        intercom_api_url=url, intercom_api_token=other, intercom_admin_id="house-admin",
        front_api_url=url, front_api_token=other,
        helpscout_api_url=url, helpscout_api_token=other,
        jira_api_url=url, jira_api_token=other,
        freshdesk_api_url=url, freshdesk_api_key=other,
    )  # fmt: skip


def _ticket(source: str, event: str) -> Ticket:
    tid, rid = IDS[source]
    return Ticket(
        event_id=event, ticket_id=tid, tenant_id="acme",
        requester=Requester(id=rid), source=source,
    )  # fmt: skip


def _uses_tenant_token(headers: dict[str, str]) -> bool:
    auth = headers.get("authorization", "")
    if auth.startswith("Basic "):
        return TOKEN in base64.b64decode(auth.removeprefix("Basic ")).decode()
    return auth == f"Bearer {TOKEN}"


@pytest.mark.parametrize("source", sorted(EXPECTED))
def test_each_vendor_gets_its_own_public_and_internal_fields_on_the_tenants_account(
    source: str,
    tmp_path: Path,
    standin: StandIn,
    elsewhere: StandIn,
    namespace: str,
    r: redis.Redis,
    http: OutboundClient,
) -> None:
    # Given a tenant with its own account at the vendor, and another source-wide account
    tenants = _registry(tmp_path, source, standin.url)
    settings = _global_settings(namespace, elsewhere.url)
    keys = Keys(namespace)
    # When an internal reply and then a public one are delivered
    for n, visibility in enumerate(("internal", "public")):
        doc = {"ticket_id": "x", "status": "answered", "reply": "R", "visibility": visibility}
        sent = deliver_reply(
            _ticket(source, f"e{n}"), doc, settings=settings, redis_client=r, keys=keys,
            http=http, tenants=tenants,
        )  # fmt: skip
        assert sent == "sent"
    # Then each reached the tenant's account with the vendor's documented fields and its token
    assert elsewhere.requests == []
    assert len(standin.requests) == 2
    for req, (method, path, fields) in zip(standin.requests, EXPECTED[source], strict=True):
        assert (req.method, req.path) == (method, path)
        body = json.loads(req.body)
        assert {k: body[k] for k in fields} == fields, body
        assert _uses_tenant_token(req.headers), req.headers


def test_a_helpscout_reply_without_a_known_customer_stays_a_note(
    tmp_path: Path, standin: StandIn, namespace: str, r: redis.Redis, http: OutboundClient
) -> None:
    tenants = _registry(tmp_path, "helpscout", standin.url)
    ticket = _ticket("helpscout", "e1").model_copy(update={"requester": Requester(id="hs-unknown")})
    doc = {"status": "answered", "reply": "R", "visibility": "public"}
    deliver_reply(
        ticket, doc, settings=make_settings(namespace), redis_client=r, keys=Keys(namespace),
        http=http, tenants=tenants,
    )  # fmt: skip
    assert [q.path for q in standin.requests] == ["/v2/conversations/123/notes"]


def test_an_escalation_is_handed_to_the_profiles_group_on_zendesk(
    tmp_path: Path, standin: StandIn, namespace: str, r: redis.Redis, http: OutboundClient
) -> None:
    # Given acme's hand-offs go to a Zendesk group
    extra = '[tenants.acme.escalation]\ngroup_id = "360001"\n'
    tenants = _registry(tmp_path, "zendesk", standin.url, extra)
    # When the agent escalates (no reply to post)
    doc = {"status": "escalated", "reply": None, "reason": "requested_by_model:refund dispute"}
    sent = deliver_reply(
        _ticket("zendesk", "e1"), doc, settings=make_settings(namespace), redis_client=r,
        keys=Keys(namespace), http=http, tenants=tenants,
    )  # fmt: skip
    # Then the ticket is assigned to the group, with an internal note saying why it moved
    assert sent == "sent"
    body = json.loads(standin.requests[0].body)["ticket"]
    assert body["group_id"] == 360001
    assert body["comment"] == {"body": HANDOVER_NOTE, "public": False}


def test_an_escalation_elsewhere_posts_nothing_without_a_reply(
    tmp_path: Path, standin: StandIn, namespace: str, r: redis.Redis, http: OutboundClient
) -> None:
    tenants = _registry(tmp_path, "freshdesk", standin.url)
    doc = {"status": "escalated", "reply": None}
    sent = deliver_reply(
        _ticket("freshdesk", "e1"), doc, settings=make_settings(namespace), redis_client=r,
        keys=Keys(namespace), http=http, tenants=tenants,
    )  # fmt: skip
    assert sent == "skipped" and standin.requests == []


def test_the_generic_callback_carries_the_visibility(
    standin: StandIn, namespace: str, r: redis.Redis, http: OutboundClient
) -> None:
    for n, visibility in enumerate(("public", "internal")):
        t = Ticket(
            event_id=f"e{n}", ticket_id="T-1", tenant_id="acme", requester=Requester(id="u-1"),
            callback_url=f"{standin.url}/replies",
        )  # fmt: skip
        doc = {"ticket_id": "T-1", "status": "answered", "reply": "R", "visibility": visibility}
        deliver_reply(
            t, doc, settings=make_settings(namespace), redis_client=r, keys=Keys(namespace),
            http=http,
        )  # fmt: skip
    assert [json.loads(q.body)["visibility"] for q in standin.requests] == ["public", "internal"]


ASSIGN: dict[str, tuple[str, str, tuple[str, str], dict[str, Any]]] = {
    # source -> (method, path, (target kind, id), fields)
    "freshdesk": ("PUT", "/api/v2/tickets/123", ("group_id", "42"), {"group_id": 42}),
    "intercom": (
        "POST", "/conversations/abc123/parts", ("group_id", "team-7"),
        {"message_type": "assignment", "type": "team", "assignee_id": "team-7",
         "admin_id": "bot-1"},
    ),
    "front": ("PUT", "/conversations/cnv_abc/assignee", ("assignee_id", "tea_9"),
              {"assignee_id": "tea_9"}),
    "helpscout": ("PATCH", "/v2/conversations/123", ("assignee_id", "55"),
                  {"op": "replace", "path": "/assignTo", "value": 55}),
    "jira": ("PUT", "/rest/api/2/issue/SUP-12/assignee", ("assignee_id", "acc-3"),
             {"accountId": "acc-3"}),
}  # fmt: skip


@pytest.mark.parametrize("source", sorted(ASSIGN))
def test_an_escalation_is_assigned_with_the_vendors_own_request(
    source: str,
    tmp_path: Path,
    standin: StandIn,
    namespace: str,
    r: redis.Redis,
    http: OutboundClient,
) -> None:
    from shared.clock import ManualClock
    from shared.models import Lane, Outcome, OutcomeStatus
    from workers.replies.sender import ReplySender

    method, path, (kind, ref), fields = ASSIGN[source]
    extra = f'[tenants.acme.escalation]\n{kind} = "{ref}"\n'
    tenants = _registry(tmp_path, source, standin.url, extra)
    sender = ReplySender(make_settings(namespace), r, Keys(namespace), http, ManualClock(), tenants)
    ticket = _ticket(source, "e1")
    outcome = Outcome.for_ticket(
        ticket, Lane.LIVE, OutcomeStatus.ESCALATED, reason="requested_by_model:refund",
        escalation_target=tenants.profile("acme").escalation.label(),  # type: ignore[union-attr]
    )  # fmt: skip
    # When the escalation is sent back twice (a redelivery)
    sender.send(ticket, outcome)
    sender.send(ticket, outcome)
    # Then the ticket was handed over once, with the vendor's fields, as the tenant's account
    (req,) = standin.requests
    assert (req.method, req.path) == (method, path)
    body = json.loads(req.body)
    assert {k: body[k] for k in fields} == fields, body
    assert _uses_tenant_token(req.headers)
    assert "assignment_failed" not in (outcome.reason or "")


def test_a_group_on_a_vendor_that_assigns_only_people_sends_nothing(
    tmp_path: Path, standin: StandIn, namespace: str, r: redis.Redis, http: OutboundClient
) -> None:
    from workers.replies.deliver import deliver_assignment

    tenants = _registry(
        tmp_path, "jira", standin.url, '[tenants.acme.escalation]\ngroup_id = "9"\n'
    )
    doc = {"status": "escalated", "reply": None}
    sent = deliver_assignment(
        _ticket("jira", "e1"), doc, settings=make_settings(namespace), redis_client=r,
        keys=Keys(namespace), http=http, tenants=tenants,
    )  # fmt: skip
    assert sent == "skipped" and standin.requests == []
