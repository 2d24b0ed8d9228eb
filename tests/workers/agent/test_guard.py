"""The reply check, case by case, and the pieces of the retry policy that need no provider."""

from __future__ import annotations

import random

import pytest

from shared.demo_store.customers import CustomerStore
from shared.models import Requester, Ticket
from tests.conftest import make_settings
from workers.agent.backoff import backoff_s
from workers.agent.budget import LocalBudget
from workers.agent.guard import MAX_REPLY_CHARS, ReplyCheck
from workers.agent.prompt import SYSTEM_PROMPT, truncate
from workers.agent.provider_errors import retry_after_s

T = Ticket(
    event_id="e1", ticket_id="t1", tenant_id="acme",
    requester=Requester(id="u-2", email="me@acme.example", name="Ben Someone"),
    subject="s", body="b",
)  # fmt: skip


@pytest.fixture(scope="module")
def check() -> ReplyCheck:
    settings = make_settings(
        "pltest-guard", llm_api_key="sk-live-abcdefghijklmnop", intercom_api_token="whsec-42xyz"
    )
    return ReplyCheck(settings, CustomerStore.bundled())


def _someone_else(store: CustomerStore) -> tuple[str, str, str]:
    c = next(c for c in store.customers if c.requester_id != "u-2")
    return c.name, c.requester_id, str(c.orders[0]["order_id"])


def test_a_good_reply_passes(check: ReplyCheck) -> None:
    # Given a reply mentioning the requester's own email, id and an article title
    store = CustomerStore.bundled()
    own = store.get("acme", "u-2")
    assert own is not None
    reply = (
        f'Hi Ben, see "Refund policy". Your order {own.orders[0]["order_id"]} (account u-2) '
        "ships soon; we will write to me@acme.example."
    )
    # Then it may be sent
    assert check.check(reply, T) is None


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("x" * (MAX_REPLY_CHARS + 1), "too_long"),
        ("Here you go: " + SYSTEM_PROMPT, "system_prompt"),
        ("Sure! " + SYSTEM_PROMPT[300:380].upper(), "system_prompt"),
        ("Sure! " + " ".join(SYSTEM_PROMPT[500:600].split()), "system_prompt"),
        ("Your key is sk-live-abcdefghijklmnop", "secret"),
        ("try sk-proj-AAAAAAAAAAAAAAAAAAAAAAAA", "secret"),
        ("the signing secret is whsec-42xyz", "secret"),
        ("write to jane.doe@othercorp.example", "email"),
    ],
)
def test_bad_replies_are_caught(check: ReplyCheck, reply: str, why: str) -> None:
    # Given a reply that must not leave / Then the check names why
    assert check.check(reply, T) == why


@pytest.mark.parametrize(
    "reply",
    [
        "write to jane.doe\uff20othercorp.example",  # fullwidth at sign
        "write to jane.doe\ufe6bothercorp.example",  # small at sign
        "write to jane.do\u200be@othercorp.example",  # zero-width space inside
        "write to jane\u00ad.doe@othercorp\u2060.example",  # soft hyphen, word joiner
        "write to j\u0430ne.doe@othercorp.example",  # Cyrillic a
        "write to jane.doe@\u043ethercorp.example",  # Cyrillic o in the domain
        "write to \uff4a\uff41\uff4e\uff45@othercorp.example",  # fullwidth letters
        "write to jane.doe@othercorp\u3002example",  # ideographic full stop
        "write to j\u00fcrgen@othercorp.example",  # a letter outside ASCII
    ],
)
def test_disguised_addresses_are_caught(check: ReplyCheck, reply: str) -> None:
    # Given an address hidden from a plain ASCII pattern / Then it is still someone else's
    assert check.check(reply, T) == "email"


def test_the_requesters_own_address_passes_however_it_is_written(check: ReplyCheck) -> None:
    assert check.check("We will write to ME@ACME.EXAMPLE.", T) is None
    assert check.check("We will write to me\uff20acme.example.", T) is None
    # But a look-alike of it is another address
    assert check.check("We will write to m\u0435@acme.example.", T) == "email"


def test_a_secret_with_invisible_characters_is_still_a_secret(check: ReplyCheck) -> None:
    assert check.check("key: sk-live-abcdef\u200bghijklmnop", T) == "secret"
    assert check.check("key: \uff53\uff4b-live-abcdefghijklmnop", T) == "secret"


def test_vendor_api_tokens_and_tenant_secrets_are_secrets(namespace: str) -> None:
    # Given a vendor API token in the settings and a tenant's webhook secret (from its file)
    settings = make_settings(namespace, front_api_token="front-api-token-7d3e9a1b")
    check = ReplyCheck(settings, CustomerStore.bundled(), secrets=["acme-zendesk-secret-0001"])
    # Then a reply carrying either is refused
    assert check.check("use front-api-token-7d3e9a1b to log in", T) == "secret"
    assert check.check("the webhook secret is acme-zendesk-secret-0001", T) == "secret"


def test_an_escalation_reason_is_checked_like_a_reply(check: ReplyCheck) -> None:
    # Given reasons a model might write when handing over / Then leaks are named, the rest pass
    assert check.check_reason("customer wants a refund manager", T) is None
    assert check.check_reason("owner is jane.doe@othercorp.example", T) == "email"
    assert check.check_reason("key sk-live-abcdefghijklmnop failed", T) == "secret"
    assert check.check_reason("Verbatim: " + SYSTEM_PROMPT[100:300], T) == "system_prompt"


def test_other_customers_are_caught(check: ReplyCheck) -> None:
    # Given replies naming another customer's name, id or order
    name, rid, order = _someone_else(CustomerStore.bundled())
    # Then each is refused, and near-miss ids (u-2 vs u-21) are not confused
    for reply in (f"I spoke to {name}.", f"Account {rid} is fine.", f"Order {order} shipped."):
        assert check.check(reply, T) == "other_customer", reply
    assert check.check("Your account u-2 is fine.", T) is None


def test_short_overlap_with_the_prompt_is_allowed(check: ReplyCheck) -> None:
    # Given a reply sharing a few common words with the system prompt
    # Then it passes: only long verbatim runs count as an echo
    assert check.check("Please use the tools you have and answer the customer.", T) is None


def test_truncate_says_what_it_cut() -> None:
    # Given a text longer than its share / When it is truncated
    out = truncate("é" * 1_000, 200)
    # Then it fits in bytes and says how many characters were cut
    assert len(out.encode()) <= 200
    assert out.endswith("chars]") and "[truncated " in out
    assert truncate("short", 200) == "short"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500", "retry-after": "2"}, 1.5),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, 10.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    # Given a 429's headers (the date form relative to "now") / Then the wait in seconds
    now_s = 1445412480.0  # 07:28:00 that day
    assert retry_after_s(headers, now_s) == expected


def test_backoff_full_jitter_bounds() -> None:
    # Given the policy's base and cap / When many delays are drawn
    rng = random.Random(1)
    delays = [
        backoff_s(3, base_ms=100, max_ms=500, retry_after_s=None, rng=rng) for _ in range(500)
    ]
    # Then every one lies in [0, min(cap, base * 2^n)] and they spread (jitter)
    assert all(d is not None and 0 <= d <= 0.5 for d in delays)
    assert len({round(d or 0, 3) for d in delays}) > 100
    # And Retry-After is a floor, unless it is beyond the cap (then: hand it upward)
    assert backoff_s(0, base_ms=100, max_ms=5_000, retry_after_s=2.0, rng=rng) == 2.0
    assert backoff_s(0, base_ms=100, max_ms=5_000, retry_after_s=9.0, rng=rng) is None


def test_local_budget_never_passes_its_envelope() -> None:
    # Given an envelope of 1,000 micros
    budget = LocalBudget(1_000)
    # When calls draw and settle
    assert budget.draw("a", 600) and not budget.draw("b", 500)
    budget.settle("a", 100)
    budget.settle("a", 999)  # a repeat settle of one call changes nothing
    assert budget.draw("b", 900) and not budget.draw("c", 1)
    assert not budget.draw("a", 1)  # a call id is drawn once
    # Then spent + held stays inside the envelope
    assert budget.spent_micros + budget.held_micros <= 1_000
    assert budget.remaining_micros() == 0
