"""The provider's rate-limit headers park admissions until the window resets."""

from __future__ import annotations

import pytest
import redis

from shared.clock import ManualClock
from shared.keys import Keys
from shared.models import Lane, Ticket
from shared.stores.provider_limits import ProviderLimits, parse_duration_ms
from tests.helpers import generic_ticket
from workers.admission.gates import check_gate


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("6m0s", 360_000),
        ("1s", 1_000),
        ("250ms", 250),
        ("1h2m3.5s", 3_723_500),
        ("0.5", 500),
        ("", None),
        ("soon", None),
        ("5x", None),
    ],
)
def test_parse_duration(text: str, ms: int | None) -> None:
    assert parse_duration_ms(text) == ms


def test_low_remaining_parks_until_reset(r: redis.Redis, keys: Keys) -> None:
    clock = ManualClock(1_764_000_000)
    limits = ProviderLimits(r, keys, clock, min_tokens=4_000, min_requests=2)
    ticket = Ticket.model_validate(generic_ticket(1))
    now_ms = int(clock.now_s() * 1000)
    # Given plenty left: no gate
    limits.observe(
        {
            "x-ratelimit-remaining-requests": "99",
            "x-ratelimit-remaining-tokens": "90000",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-reset-tokens": "6m0s",
        }
    )
    assert check_gate(limits, r, ticket, Lane.LIVE) is None
    # When the provider says only 3,000 tokens are left until 6m0s from now
    limits.observe(
        {
            "X-RateLimit-Remaining-Requests": "50",
            "X-RateLimit-Remaining-Tokens": "3000",
            "X-RateLimit-Reset-Requests": "250ms",
            "X-RateLimit-Reset-Tokens": "6m0s",
        }
    )
    # Then admissions park until then, with the reason
    assert check_gate(limits, r, ticket, Lane.LIVE) == (now_ms + 360_000, "provider_rate_limit")
    # And once the window has reset, they go on
    clock.advance(361)
    assert check_gate(limits, r, ticket, Lane.REPLAY) is None


def test_requests_margin_and_garbage_headers(r: redis.Redis, keys: Keys) -> None:
    clock = ManualClock(1_764_000_000)
    limits = ProviderLimits(r, keys, clock, min_requests=2)
    ticket = Ticket.model_validate(generic_ticket(1))
    limits.observe({"x-ratelimit-remaining-tokens": "lots", "x-ratelimit-reset-tokens": "soon"})
    assert limits.state() == {}
    limits.observe({"x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "2s"})
    assert check_gate(limits, r, ticket, Lane.LIVE) == (
        int(clock.now_s() * 1000) + 2_000,
        "provider_rate_limit",
    )
