"""The reply check without the bundled store: ids and addresses must come from this ticket or
this run's own tool results; a tenant's forbidden phrases; every tenant's secrets."""

from __future__ import annotations

import pytest

from shared.models import Requester, Ticket
from shared.tenants import Tenant
from tests.conftest import make_settings
from workers.agent.guard import ReplyCheck
from workers.agent.prompt import system_prompt

T = Ticket(
    event_id="e1", ticket_id="T-9", tenant_id="globex",
    requester=Requester(id="c-5", email="pat@globex.example", name="Pat"),
    subject="Where is order GX-20931?", body="I ordered last week (order GX-20931).",
)  # fmt: skip
CONNECTOR_RESULT = '{"order":"GX-20931","status":"shipped","carrier_ref":"TRK-884213"}'
KB_RESULT = '{"results":[{"title":"Returns","url":"https://help.globex.example/returns"}]}'


@pytest.fixture(scope="module")
def check() -> ReplyCheck:
    # No customer store at all: the check stands on the ticket and the run's own results
    return ReplyCheck(make_settings("pltest-tguard"))


def test_ids_from_the_ticket_and_its_own_tool_results_pass(check: ReplyCheck) -> None:
    reply = "Order GX-20931 has shipped; the carrier reference is TRK-884213."
    assert check.check(reply, T, evidence=[CONNECTOR_RESULT]) is None


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("Your order GX-20977 has shipped.", "other_customer"),  # an id nobody gave us
        ("Account 48213377 is yours.", "other_customer"),  # a bare account number
        ("I cc'd sam@globex.example on this.", "email"),  # an address from nowhere
    ],
)
def test_ids_and_addresses_from_nowhere_are_someone_elses(
    check: ReplyCheck, reply: str, why: str
) -> None:
    assert check.check(reply, T, evidence=[CONNECTOR_RESULT, KB_RESULT]) == why


def test_an_address_a_tool_returned_passes(check: ReplyCheck) -> None:
    evidence = ['{"contact":"returns@globex.example"}']
    assert check.check("Write to returns@globex.example.", T, evidence=evidence) is None
    assert check.check("Write to returns@globex.example.", T) == "email"


def test_dates_prices_and_versions_are_not_ids(check: ReplyCheck) -> None:
    reply = "It left on 2026-11-30, cost $129.99, and the app needs version 4.2.1 or 2FA."
    assert check.check(reply, T) is None


def test_a_tenants_forbidden_phrases_are_refused_however_written(check: ReplyCheck) -> None:
    profile = Tenant(forbidden_phrases=["Lifetime Warranty"])
    assert check.check("It has a lifetime  warranty!", T, profile=profile) == "forbidden_phrase"
    assert check.check("It has a LIFETIME\u200b WARRANTY", T, profile=profile) == "forbidden_phrase"
    assert check.check("It has a two-year warranty.", T, profile=profile) is None
    assert check.check_reason("promised lifetime warranty", T, profile=profile) == (
        "forbidden_phrase"
    )


def test_another_tenants_secret_is_refused_in_this_tenants_reply() -> None:
    # Given acme's vendor token among the tenants file's secrets, and a globex ticket
    check = ReplyCheck(make_settings("pltest-tguard"), secrets=["acme-zendesk-token-7Hq2"])
    assert check.check("Use acme-zendesk-token-7Hq2 to log in.", T) == "secret"


def test_an_echo_of_the_tenants_own_prompt_is_caught(check: ReplyCheck) -> None:
    profile = Tenant(
        display_name="Globex",
        instructions="Never mention the internal escalation matrix or the VIP discount codes.",
    )
    prompt = system_prompt(profile)
    leaked = "Sure: " + prompt[-120:]
    assert check.check(leaked, T, profile=profile, prompt=prompt) == "system_prompt"
