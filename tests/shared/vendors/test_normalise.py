"""Each vendor's payload becomes a `Ticket`: prefixed id, tenant, source, enrichment flag."""

from __future__ import annotations

import pytest

from shared.errors import NotATicket
from shared.models import Priority, Ticket
from shared.vendors.base import Inbound
from shared.vendors.registry import build_sources
from tests.producers.webhook.vendor_cases import ALL_SOURCES, encode, payload, signed_headers

EXPECTED = {
    # source: (ticket_id, tenant_id, priority): the key's tenant, except that the generic
    # source's body may name one on a source-wide key
    "generic": ("T-1", "acme", Priority.NORMAL),
    "zendesk": ("zd-101", "house", Priority.HIGH),
    "intercom": ("ic-201", "house", Priority.NORMAL),
    "front": ("front-cnv_1", "house", Priority.NORMAL),
    "helpscout": ("hs-301", "house", Priority.NORMAL),
    "jira": ("jira-SUP-1", "house", Priority.URGENT),
    "freshdesk": ("fd-401", "house", Priority.HIGH),
}


def parse(source: str, doc: dict[str, object], *, bound: bool = False) -> Ticket:
    body = encode(doc)
    headers = {k.lower(): v for k, v in signed_headers(source, body, 0.0).items()}
    parsed = build_sources()[source].parse(
        Inbound(body=body, headers=headers, now_s=0.0, tolerance_s=300, tenant="house", bound=bound)
    )
    assert parsed.ticket is not None and parsed.delivery_id
    return parsed.ticket


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_full_payload_normalises(source: str) -> None:
    # Given a vendor's full payload / When parsed
    ticket = parse(source, payload(source))
    # Then the ticket is prefixed, tenanted, sourced and carries the customer's words
    ticket_id, tenant, priority = EXPECTED[source]
    assert (ticket.ticket_id, ticket.tenant_id, ticket.priority) == (ticket_id, tenant, priority)
    assert ticket.source == source
    assert ticket.body == "My order 1 never arrived"
    assert ticket.needs_enrichment is False
    assert ticket.requester.id


@pytest.mark.parametrize("source", [s for s in ALL_SOURCES if s != "generic"])
def test_thin_payload_needs_enrichment(source: str) -> None:
    # Given a payload with an id and no body / When parsed / Then it is marked for enrichment
    ticket = parse(source, payload(source, thin=True))
    assert ticket.body == ""
    assert ticket.needs_enrichment is True


@pytest.mark.parametrize("source", [s for s in ALL_SOURCES if s != "generic"])
@pytest.mark.parametrize("bound", [False, True])
def test_a_vendor_payload_never_names_its_tenant(source: str, bound: bool) -> None:
    # Given a vendor payload that names a tenant (anyone holding the key could write it)
    doc = {**payload(source), "tenant_id": "beta"}
    # Then the key's tenant is used, whichever key verified it
    assert parse(source, doc, bound=bound).tenant_id == "house"


def test_the_generic_source_names_its_tenant_only_on_a_source_wide_key() -> None:
    doc = {**payload("generic"), "tenant_id": "beta"}
    # On the source-wide key (trusted with every tenant) the body's tenant is used
    assert parse("generic", doc).tenant_id == "beta"
    # On a tenant's own key the body may repeat that tenant, never name another
    assert parse("generic", {**doc, "tenant_id": "house"}, bound=True).tenant_id == "house"
    assert parse("generic", {k: v for k, v in doc.items() if k != "tenant_id"}, bound=True)
    with pytest.raises(NotATicket, match="another tenant"):
        parse("generic", doc, bound=True)


def test_front_requester_id_does_not_carry_the_email() -> None:
    # Given a Front message from an email handle / Then the requester id is a digest
    ticket = parse("front", payload("front"))
    assert "example.com" not in ticket.requester.id
    assert ticket.requester.email == "a@example.com"


def test_generic_body_cannot_claim_another_source() -> None:
    # Given a generic body saying it is from Zendesk / Then it stays generic (own dedupe space)
    assert parse("generic", {**payload("generic"), "source": "zendesk"}).source == "generic"


@pytest.mark.parametrize("source", [s for s in ALL_SOURCES if s != "generic"])
def test_payload_without_ticket_id_is_not_a_ticket(source: str) -> None:
    # Given an object with nothing the vendor would send / Then NotATicket
    with pytest.raises(NotATicket):
        parse(source, {"unrelated": True})
