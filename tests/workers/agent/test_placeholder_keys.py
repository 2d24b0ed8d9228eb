"""Placeholder keys (what local servers and gateways are run with) never block replies, while
real secrets and key shapes are still caught."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.data import load_sample
from shared.demo_store.customers import CustomerStore
from shared.models import Requester, Ticket
from shared.redact import looks_like_secret
from tests.conftest import SimulatorProcess, make_settings
from tests.workers.agent.helpers import build_agent, roomy_budget
from workers.agent.guard import ReplyCheck

PLACEHOLDERS = ("anything", "ollama", "lm-studio", "sk-1234")
T = Ticket(
    event_id="e1", ticket_id="t1", tenant_id="acme",
    requester=Requester(id="u-2", email="me@acme.example", name="Ben Someone"),
    subject="s", body="b",
)  # fmt: skip


@pytest.mark.parametrize("key", PLACEHOLDERS)
def test_a_placeholder_key_is_an_ordinary_word_in_a_reply(key: str) -> None:
    # Given the provider key is a placeholder
    check = ReplyCheck(make_settings("pltest-ph", llm_api_key=key), CustomerStore.bundled())
    # Then replies using it as a word, or quoting it, go out
    reply = f"Let us know if there is {key} else we can do; the setting reads {key}."
    assert not looks_like_secret(key)
    assert check.check(reply, T) is None


def test_real_secrets_are_matched_as_whole_tokens_and_key_shapes_still_caught() -> None:
    secret = "Xk9mQ2pLz7wR4tY8"
    check = ReplyCheck(
        make_settings("pltest-ph", llm_api_key=secret, zendesk_api_token="t0k-9ZqW3e"),
        CustomerStore.bundled(),
    )
    # A configured secret, alone or inside punctuation, is caught
    assert check.check(f"Your key: {secret}.", T) == "secret"
    assert check.check(f"url?key={secret}&x=1", T) == "secret"
    assert check.check("the token is t0k-9ZqW3e", T) == "secret"
    # Inside a longer token it is some other string, not the secret
    assert check.check(f"ref {secret}ABC", T) is None
    # And the shapes of real keys are caught even when not configured
    for shaped in (
        "sk-proj-AAAAAAAAAAAAAAAAAAAAAAAA",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "a1" * 18,
        "xoxb-1234567890-abcdef",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig",
    ):
        assert check.check(f"here: {shaped}", T) == "secret", shaped


def _answered(base_url: str, namespace: str, key: str | None) -> dict[str, str]:
    extra = {} if key is None else {"llm_api_key": key}
    settings = make_settings(namespace, llm_base_url=base_url, **extra)
    agent = build_agent(settings)
    tickets = [Ticket.model_validate(doc) for doc in load_sample() if "duplicate_of" not in doc]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda t: agent.run(t, roomy_budget()), tickets))
    finally:
        agent.close()
    return {t.ticket_id: r.status for t, r in zip(tickets, results, strict=True)}


def test_the_sample_is_answered_alike_with_any_placeholder_key(
    namespace: str, simulator: SimulatorProcess
) -> None:
    # Given the bundled sample answered with no key and with an ordinary test key
    baseline = _answered(simulator.base_url, namespace, None)
    assert list(baseline.values()).count("answered") >= 0.8 * len(baseline)
    assert _answered(simulator.base_url, namespace, "sk-test-0123456789abcdef") == baseline
    # Then every placeholder key gives the very same outcome, ticket by ticket
    for key in PLACEHOLDERS:
        assert _answered(simulator.base_url, namespace, key) == baseline, key
