"""Each resolution rule on the real Redis, with the day's counts it leaves (report.py)."""

from __future__ import annotations

from collections import Counter

import redis

from shared.clock import ManualClock
from shared.conversation import hooks
from shared.conversation.report import (
    ResolutionStats,
    day_stats,
    histogram_median,
    resolution_report,
)
from shared.conversation.resolutions import Resolutions
from shared.keys import Keys
from shared.ledger import Ledger
from shared.models import Lane, Ticket
from shared.settings import Settings
from tests.conftest import make_settings
from tests.helpers import generic_ticket

HOUR_S = 3600.0
# 2025-11-24 10:00 UTC: a window of 24 h closes on the next budget day.
START_S = 1_763_978_400.0


def build(
    namespace: str, r: redis.Redis, **env: object
) -> tuple[Resolutions, ManualClock, Settings]:
    settings = make_settings(namespace, **env)
    clock = ManualClock(START_S)
    return Resolutions(r, Keys(namespace), settings, clock), clock, settings


def ticket(n: int, tenant: str = "acme") -> Ticket:
    return Ticket.model_validate(generic_ticket(n, tenant_id=tenant))


def stats(
    res: Resolutions, r: redis.Redis, settings: Settings, day: str, tenant: str = "acme"
) -> ResolutionStats | None:
    ledger = Ledger(r, Keys(settings.namespace), settings, ManualClock(START_S))
    return day_stats(res, ledger, day).get(tenant)


def test_the_customer_confirms(namespace: str, r: redis.Redis) -> None:
    res, clock, settings = build(namespace, r)
    t = ticket(1)
    # Given an answered ticket, when the customer says it worked
    assert hooks.on_agent_answered(res, t) == "awaiting"
    clock.advance(HOUR_S)
    verdict, state = hooks.on_customer_message(res, t, "Thanks, that worked!")
    # Then it is resolved at once, by confirmation, out of the window
    assert (verdict.value, state) == ("confirmed", "resolved")
    got = res.get(t.key)
    assert got is not None and got.how == "confirmed" and got.customer_messages == 2
    assert res.awaiting() == 0
    s = stats(res, r, settings, res.day())
    assert s is not None
    assert (s.handled, s.cohort_resolved, s.resolutions, s.resolution_rate) == (1, 1, 1, 1.0)
    assert s.median_messages == 3  # the question, the answer, the thanks


def test_the_window_closes_on_the_injected_clock(namespace: str, r: redis.Redis) -> None:
    res, clock, settings = build(namespace, r)
    for n in range(3):
        hooks.on_agent_answered(res, ticket(n))
    answered_day = res.day()
    # Not yet: one second short of the window
    clock.advance(24 * HOUR_S - 1)
    assert res.close_due() == 0
    clock.advance(1)
    assert res.close_due() == 3
    # Idempotent: closing again finds nothing, counts nothing twice
    assert res.close_due() == 0
    closed_day = res.day()
    assert closed_day != answered_day
    cohort = stats(res, r, settings, answered_day)
    assert cohort is not None and (cohort.handled, cohort.cohort_resolved) == (3, 3)
    assert cohort.resolutions == 0  # resolutions are counted on the day they happen
    today = stats(res, r, settings, closed_day)
    assert today is not None and today.resolutions == 3 and today.how == Counter(window=3)
    assert today.median_messages == 2


def test_a_late_scheduler_counts_on_the_day_the_window_closed(
    namespace: str, r: redis.Redis
) -> None:
    res, clock, settings = build(namespace, r, resolution_window_h=1)
    hooks.on_agent_answered(res, ticket(1))
    day = res.day()
    clock.advance(3 * 24 * HOUR_S)  # the scheduler was down for days
    assert res.close_due() == 1
    s = stats(res, r, settings, day)
    assert s is not None and s.resolutions == 1


def test_a_customer_message_stops_the_window(namespace: str, r: redis.Redis) -> None:
    res, clock, _ = build(namespace, r)
    t = ticket(1)
    hooks.on_agent_answered(res, t)
    clock.advance(HOUR_S)
    _, state = hooks.on_customer_message(res, t, "And how do I change my address?")
    assert state == "open" and res.awaiting() == 0
    clock.advance(48 * HOUR_S)
    assert res.close_due() == 0
    # The next answer starts the window again
    assert hooks.on_agent_answered(res, t) == "awaiting"
    clock.advance(24 * HOUR_S)
    assert res.close_due() == 1
    got = res.get(t.key)
    assert got is not None and (got.customer_messages, got.agent_messages) == (2, 2)


def test_unsatisfied_then_answered_again_then_resolved(namespace: str, r: redis.Redis) -> None:
    res, _clock, settings = build(namespace, r)
    t = ticket(1)
    hooks.on_agent_answered(res, t)
    _, state = hooks.on_customer_message(res, t, "That didn't help")
    assert state == "unresolved"
    s = stats(res, r, settings, res.day())
    assert s is not None and (s.cohort_unresolved, s.resolution_rate) == (1, 0.0)
    # The agent answers the follow-up: the ticket is back in its window, no longer unresolved
    hooks.on_agent_answered(res, t)
    s = stats(res, r, settings, res.day())
    assert s is not None and (s.cohort_unresolved, s.awaiting) == (0, 1)
    _, state = hooks.on_customer_message(res, t, "thanks, works now")
    assert state == "resolved"
    s = stats(res, r, settings, res.day())
    assert s is not None and (s.cohort_resolved, s.cohort_unresolved) == (1, 0)
    assert s.median_messages == 5


def test_asking_for_a_person_is_unresolved_and_stays_out_of_the_window(
    namespace: str, r: redis.Redis
) -> None:
    res, clock, _ = build(namespace, r)
    t = ticket(1)
    hooks.on_agent_answered(res, t)
    verdict, state = hooks.on_customer_message(res, t, "I want to talk to a human")
    assert (verdict.value, state) == ("asks_person", "unresolved")
    clock.advance(30 * HOUR_S)
    assert res.close_due() == 0


def test_solved_by_the_vendor(namespace: str, r: redis.Redis) -> None:
    res, _, settings = build(namespace, r)
    a, b, c = ticket(1), ticket(2), ticket(3)
    for t in (a, b, c):
        hooks.on_agent_answered(res, t)
    # Without a person: resolved
    assert hooks.on_solved(res, a, by_human=False) == "resolved"
    # A person replied first: theirs, not ours
    assert hooks.on_human_reply(res, b) == "unresolved"
    assert hooks.on_solved(res, b, by_human=False) == "unresolved"
    # The vendor says a person solved it
    assert hooks.on_solved(res, c, by_human=True) == "unresolved"
    s = stats(res, r, settings, res.day())
    assert s is not None
    assert (s.resolutions, s.cohort_unresolved, s.how) == (1, 2, Counter(solved=1))


def test_escalated_tickets_are_unresolved_and_a_late_thanks_does_not_count(
    namespace: str, r: redis.Redis
) -> None:
    res, _, settings = build(namespace, r)
    t = ticket(1)
    assert hooks.on_escalated(res, t) == "unresolved"
    # The customer thanks the person who helped them: not the agent's resolution
    _, state = hooks.on_customer_message(res, t, "thanks, that worked")
    assert state == "unresolved"
    s = stats(res, r, settings, res.day())
    assert s is not None and (s.handled, s.resolutions, s.resolution_rate) == (1, 0, 0.0)


def test_resolved_is_terminal(namespace: str, r: redis.Redis) -> None:
    res, _, settings = build(namespace, r)
    t = ticket(1)
    hooks.on_agent_answered(res, t)
    hooks.on_customer_message(res, t, "that fixed it")
    for event in ("still broken", "talk to a human", "thanks, that worked"):
        assert hooks.on_customer_message(res, t, event)[1] == "resolved"
    assert hooks.on_agent_answered(res, t) == "resolved"
    assert hooks.on_solved(res, t, by_human=False) == "resolved"
    s = stats(res, r, settings, res.day())
    assert s is not None and (s.resolutions, s.cohort_resolved, s.cohort_unresolved) == (1, 1, 0)


def test_messages_before_any_answer_judge_nothing(namespace: str, r: redis.Redis) -> None:
    res, _, settings = build(namespace, r)
    t = ticket(1)
    assert hooks.on_customer_message(res, t, "My order never came")[1] == "open"
    assert hooks.on_customer_message(res, t, "thanks")[1] == "open"  # out of order
    assert stats(res, r, settings, res.day()) is None
    hooks.on_agent_answered(res, t)
    got = res.get(t.key)
    assert got is not None and (got.customer_messages, got.agent_messages) == (2, 1)


def test_replays_are_not_conversations(namespace: str, r: redis.Redis) -> None:
    res, _, _ = build(namespace, r)
    assert hooks.on_agent_answered(res, ticket(1), Lane.REPLAY) is None
    assert res.awaiting() == 0


def test_tenants_never_mix(namespace: str, r: redis.Redis) -> None:
    res, _, settings = build(namespace, r)
    # Same ticket id in two tenants: two tickets
    a, b = ticket(1, "acme"), ticket(1, "globex")
    hooks.on_agent_answered(res, a)
    hooks.on_agent_answered(res, b)
    hooks.on_customer_message(res, a, "thanks, that worked")
    got_b = res.get(b.key)
    assert got_b is not None and got_b.state == "awaiting"
    ledger = Ledger(r, Keys(namespace), settings, ManualClock(START_S))
    assert resolution_report(res, ledger, [res.day()], "acme").resolutions == 1
    assert resolution_report(res, ledger, [res.day()], "globex").resolutions == 0
    assert resolution_report(res, ledger, [res.day()]).resolutions == 1


def test_cost_per_resolution_divides_all_spend(namespace: str, r: redis.Redis) -> None:
    res, _, settings = build(namespace, r)
    keys = Keys(namespace)
    ledger = Ledger(r, keys, settings, ManualClock(START_S))
    day = res.day()
    # Every ticket's spend is in the books, whatever became of it; the help centre's too.
    r.hset(keys.books(day), mapping={"spent:tenant:acme": 3_000_000, "spent:kb:acme": 600_000,
                                     "spent:global": 3_600_000})  # fmt: skip
    for n in range(4):
        hooks.on_agent_answered(res, ticket(n))
    hooks.on_customer_message(res, ticket(0), "perfect, thanks")
    hooks.on_customer_message(res, ticket(1), "that worked")
    hooks.on_customer_message(res, ticket(2), "still broken")
    doc = resolution_report(res, ledger, [day], "acme").as_json()
    assert doc["resolutions"] == 2
    assert doc["cost_per_resolution_usd"] == 1.8
    assert doc["resolution_rate"] == round(2 / 3, 4)
    assert doc["awaiting"] == 1
    assert doc["commercial_usd_per_resolution"] == 0.99
    # No resolutions: no figure, never a division by zero
    assert resolution_report(res, ledger, [day], "globex").cost_per_resolution_micros is None


def test_histogram_median() -> None:
    assert histogram_median(Counter()) is None
    assert histogram_median(Counter({2: 1})) == 2
    assert histogram_median(Counter({2: 1, 4: 1})) == 3
    assert histogram_median(Counter({2: 5, 3: 1, 9: 1})) == 2
    assert histogram_median(Counter({2: 2, 6: 2})) == 4
