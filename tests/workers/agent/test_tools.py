"""The tools bound to one ticket: scope, validation, denial; the knowledge-base ranking."""

from __future__ import annotations

import json

import pytest

from tests.workers.agent.helpers import ticket
from workers.agent.tools import ToolBox


@pytest.fixture(scope="module")
def box() -> ToolBox:
    return ToolBox()


def test_lookup_returns_only_the_bound_requester(box: ToolBox) -> None:
    # Given acme's u-2 and their tools
    tools = box.bind(ticket("x", tenant="acme", requester="u-2"))
    own = box.store.get("acme", "u-2")
    assert own is not None
    # When the model looks up their history, naming itself or nobody
    plain = tools.execute("lookup_customer_history", '{"kind": "all"}')
    explicit = tools.execute(
        "lookup_customer_history", '{"kind": "orders", "requester_id": "u-2", "tenant_id": "acme"}'
    )
    # Then both return that requester's orders and nothing about anyone else
    assert plain.status == explicit.status == "ok"
    assert {o["order_id"] for o in json.loads(plain.content)["orders"]} == {
        o["order_id"] for o in own.orders
    }
    assert "past_tickets" not in json.loads(explicit.content)


@pytest.mark.parametrize(
    "args",
    [
        '{"kind": "all", "requester_id": "u-1"}',
        '{"kind": "all", "tenant_id": "globex"}',
        '{"kind": "all", "tenant_id": "globex", "requester_id": "u-2"}',
        '{"kind": "orders", "requester_id": "U-2"}',
    ],
)
def test_forged_scope_is_denied(box: ToolBox, args: str) -> None:
    # Given acme's u-2's tools / When the model names another requester or tenant
    outcome = box.bind(ticket("x", tenant="acme", requester="u-2")).execute(
        "lookup_customer_history", args
    )
    # Then the call is denied with an error for the model and no data at all
    assert outcome.status == "denied"
    assert set(json.loads(outcome.content)) == {"error"}
    assert "order" not in outcome.content.lower()


@pytest.mark.parametrize(
    ("name", "args", "status"),
    [
        ("delete_all_tickets", "{}", "denied"),
        ("lookup_customer_history", '{"kind": "all", "requester_id": ', "error"),
        ("lookup_customer_history", '["all"]', "error"),
        ("lookup_customer_history", '{"kind": "everything"}', "error"),
        ("lookup_customer_history", '{"kind": "all", "sql": "drop"}', "error"),
        ("search_knowledge_base", '{"query": ""}', "error"),
        ("escalate_to_human", "{}", "error"),
        ("send_reply", '{"body": 7}', "error"),
    ],
)
def test_bad_calls_are_results_not_crashes(box: ToolBox, name: str, args: str, status: str) -> None:
    # Given a ticket's tools / When the model calls badly
    outcome = box.bind(ticket("x")).execute(name, args)
    # Then it gets an error result it can read, and nothing terminal happens
    assert outcome.status == status
    assert "error" in json.loads(outcome.content)
    assert outcome.reply is None and outcome.escalation is None


def test_validation_errors_do_not_echo_the_input(box: ToolBox) -> None:
    # Given an argument value that carries personal data
    outcome = box.bind(ticket("x")).execute(
        "lookup_customer_history", '{"kind": "jane@example.com"}'
    )
    # Then the error names the field and the problem, not the value
    assert outcome.status == "error" and "jane@example.com" not in outcome.content
    assert "kind" in outcome.content


def test_terminal_tools(box: ToolBox) -> None:
    # Given a ticket's tools / When the model replies or escalates
    tools = box.bind(ticket("x"))
    reply = tools.execute("send_reply", '{"body": "Hello"}')
    esc = tools.execute("escalate_to_human", '{"reason": "needs\\n a   person"}')
    # Then the runner is told to stop with the reply or the (tidied) reason
    assert reply.reply == "Hello"
    assert esc.escalation == "needs a person"


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("refund not received", "Refund policy"),
        ("when will my package be delivered tracking", "Tracking your order and delivery"),
        ("start a return and print the label", "How to return an item"),
        ("forgot password reset link", "Resetting your password"),
        ("2FA code not arriving", "Two-factor authentication (2FA) codes"),
        ("dispute a charge I do not recognise", "Disputing a charge you do not recognise"),
        ("cancel my subscription", "Cancelling a subscription and renewals"),
        ("download invoice pdf", "Getting an invoice or receipt"),
        ("delete my account permanently", "Deleting your account"),
        ("export my personal data", "Exporting your personal data"),
        ("item arrived damaged broken box", "Items that arrived damaged"),
        ("international shipping customs duties", "International shipping, customs and duties"),
        ("warranty claim defect", "Warranty coverage and claims"),
        ("cannot log in locked", "Cannot log in to your account"),
    ],
)
def test_bm25_ranks_the_topic_article_first(box: ToolBox, query: str, title: str) -> None:
    # Given the bundled help centre / When a customer-style query is searched
    found = box.kb.search(query)
    # Then the article on that topic comes first
    assert found and found[0].title == title


def test_bundled_data_sizes(box: ToolBox) -> None:
    # Given the bundled data / Then it holds 30+ articles and customers across three tenants
    assert len(box.kb.articles) >= 30
    assert {c.tenant_id for c in box.store.customers} == {"acme", "globex", "initech"}
    assert len(box.store.customers) >= 30
    assert box.kb.search("zzzz qqqq") == []
