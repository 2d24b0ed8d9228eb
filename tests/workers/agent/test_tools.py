"""The tools bound to one ticket: scope, validation, denial; the knowledge-base ranking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.demo_store.customers import CustomerStore
from shared.settings import Settings
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import demo_embedder, import_demo_help_centre
from tests.workers.agent.helpers import demo_directory, demo_tools, ticket
from workers.agent.tools import ToolBox
from workers.agent.tools.knowledge import NOTHING_FOUND, Found, cited


@pytest.fixture(scope="module")
def box(simulator: SimulatorProcess) -> Iterator[ToolBox]:
    # The demo tenants' connectors, reading the sample order system the simulator serves.
    built = ToolBox(connectors=demo_directory(make_settings("pltest-tools"), simulator.base_url))
    yield built
    built.close()


@pytest.fixture
def demo_box(namespace: str) -> Iterator[ToolBox]:
    yield demo_tools(make_settings(namespace))


def demo_tools_for(settings: Settings, *, secret_article: bool) -> ToolBox:
    """A tool box over the namespace's help centres, with one article only globex has."""
    import tempfile

    from shared.clock import SystemClock
    from shared.keys import Keys
    from shared.knowledge import Importer, IndexCache, KnowledgeStore, Searcher, read_source
    from shared.redis_client import make_redis

    store = KnowledgeStore(make_redis(settings, max_connections=4), Keys(settings.namespace))
    if secret_article:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "points.md").write_text(
                "---\nid: globex-points\n---\n# Globex loyalty points\n\n"
                "Points expire after a year.\n"
            )
            Importer(store, demo_embedder()).run("globex", read_source(tmp))
    return ToolBox(knowledge=Searcher(IndexCache(store, SystemClock(), 5.0), demo_embedder()))


def test_lookup_returns_only_the_bound_requester(box: ToolBox) -> None:
    # Given acme's u-2 and their tools
    tools = box.bind(ticket("x", tenant="acme", requester="u-2"))
    own = CustomerStore.bundled().get("acme", "u-2")
    assert own is not None
    # When the model looks up their history through the tenant's connector
    plain = tools.execute("lookup_customer_history", '{"kind": "all"}')
    orders = tools.execute("lookup_customer_history", '{"kind": "orders"}')
    # Then both return that requester's data, fenced as data, and nothing about anyone else
    assert plain.status == orders.status == "ok"
    assert plain.content.startswith('<connector_result tool="lookup_customer_history">\n')
    assert plain.content.endswith("\n</connector_result>")
    assert {o["order_id"] for o in fenced_json(plain.content)["orders"]} == {
        o["order_id"] for o in own.orders
    }
    assert "past_tickets" not in fenced_json(orders.content)


def fenced_json(content: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(content.split("\n")[1])
    return doc


@pytest.mark.parametrize(
    "args",
    [
        '{"kind": "all", "requester_id": "u-1"}',
        '{"kind": "all", "tenant_id": "globex"}',
        '{"kind": "all", "tenant_id": "globex", "requester_id": "u-2"}',
        '{"kind": "orders", "requester_id": "U-2"}',
        '{"kind": "orders", "requester_id": "u-2"}',  # even naming itself: not its choice
        '{"kind": "orders", "email": "ben.okafor@acme.example"}',
    ],
)
def test_forged_scope_is_denied(box: ToolBox, args: str) -> None:
    # Given acme's u-2's tools / When the model names a requester or tenant
    outcome = box.bind(ticket("x", tenant="acme", requester="u-2")).execute(
        "lookup_customer_history", args
    )
    # Then the call is denied with an error for the model and no data at all
    assert outcome.status == "denied"
    assert set(json.loads(outcome.content)) == {"error"}
    assert "order" not in outcome.content.lower()


def test_a_tenant_without_connectors_has_no_lookup(box: ToolBox) -> None:
    tools = box.bind(ticket("x", tenant="umbrella", requester="u-2"))
    assert "lookup_customer_history" not in json.dumps(tools.schemas)
    outcome = tools.execute("lookup_customer_history", '{"kind": "all"}')
    assert outcome.status == "denied" and "unknown tool" in outcome.content


def test_calls_per_ticket_are_limited(box: ToolBox) -> None:
    # The demo connector allows two calls per ticket; each ticket counts its own.
    tools = box.bind(ticket("x", tenant="acme", requester="u-2"))
    made = [tools.execute("lookup_customer_history", '{"kind": "all"}') for _ in range(3)]
    assert [m.status for m in made] == ["ok", "ok", "error"]
    assert "call limit reached" in made[2].content
    fresh = box.bind(ticket("y", tenant="acme", requester="u-2"))
    assert fresh.execute("lookup_customer_history", '{"kind": "all"}').status == "ok"


@pytest.mark.parametrize(
    ("name", "args", "status"),
    [
        ("delete_all_tickets", "{}", "denied"),
        ("lookup_customer_history", '{"kind": "all", "requester_id": ', "error"),
        ("lookup_customer_history", '["all"]', "error"),
        ("lookup_customer_history", '{"kind": "everything"}', "error"),
        ("lookup_customer_history", '{"kind": "all", "sql": "drop"}', "error"),
        ("lookup_customer_history", "{}", "error"),
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
        ("forgot password reset link", "Resetting your password"),
        ("2FA code not arriving", "Two-factor authentication (2FA) codes"),
        ("download invoice pdf", "Getting an invoice or receipt"),
        ("item arrived damaged broken box", "Items that arrived damaged"),
        ("international shipping customs duties", "International shipping, customs and duties"),
    ],
)
def test_search_finds_the_topic_article_with_what_a_reply_cites(
    demo_box: ToolBox, query: str, title: str
) -> None:
    # Given the demo help centre / When a customer-style query is searched
    outcome = demo_box.bind(ticket("x", tenant="acme")).execute(
        "search_knowledge_base", json.dumps({"query": query})
    )
    # Then the article on that topic comes first, with its URL, section and passage
    first = json.loads(outcome.content)["articles"][0]
    assert outcome.status == "ok" and first["title"] == title
    assert first["url"].startswith("https://help.example.com/articles/") and first["text"]
    assert outcome.found[0].title == title and outcome.found[0].url == first["url"]


def test_search_reads_only_the_tickets_own_tenant(namespace: str) -> None:
    # Given acme with the demo help centre and globex with one article of its own
    settings = make_settings(namespace)
    import_demo_help_centre(settings, ("acme",))
    box = demo_tools_for(settings, secret_article=True)
    search = json.dumps({"query": "globex loyalty points expiry"})
    # When each tenant's ticket searches globex's words
    acme = json.loads(
        box.bind(ticket("x", tenant="acme")).execute("search_knowledge_base", search).content
    )
    globex = json.loads(
        box.bind(ticket("x", tenant="globex")).execute("search_knowledge_base", search).content
    )
    # Then only globex finds globex's article; initech, with no help centre, finds nothing
    assert [a["id"] for a in globex["articles"]] == ["globex-points"]
    assert "globex-points" not in [a["id"] for a in acme["articles"]]
    initech = box.bind(ticket("x", tenant="initech")).execute("search_knowledge_base", search)
    assert json.loads(initech.content) == {"articles": [], "note": NOTHING_FOUND}
    assert initech.summary == "kb: no article found" and initech.found == ()
    box.knowledge.close()  # type: ignore[union-attr]


def test_without_a_help_centre_nothing_is_found(box: ToolBox) -> None:
    outcome = box.bind(ticket("x")).execute("search_knowledge_base", '{"query": "refund"}')
    assert outcome.status == "ok" and json.loads(outcome.content)["articles"] == []


def test_bundled_data_sizes() -> None:
    # Given the demo order system's customers / Then they span three tenants
    store = CustomerStore.bundled()
    assert {c.tenant_id for c in store.customers} == {"acme", "globex", "initech"}
    assert len(store.customers) >= 30


def test_a_reply_cites_found_articles_by_title_or_url() -> None:
    found = [
        Found("refund-policy", "Refund policy", "https://h/refund"),
        Found("returns-how", "How to return an item", "https://h/returns"),
        Found("gift-cards", "Gift cards", ""),
    ]
    reply = 'See "Refund policy" and https://h/returns.'
    assert cited(reply, found) == ["refund-policy", "returns-how"]
    assert cited("Nothing here.", found) == []
