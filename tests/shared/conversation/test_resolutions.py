"""Each resolution rule on the real Redis, through the hooks, with the counts it leaves."""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

import redis

from shared.clock import ManualClock, budget_day
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
from tests.conftest import make_settings

HOUR_MS = 3_600_000
WINDOW_MS = 24 * HOUR_MS
# 2025-11-24 10:00 UTC: a window of 24 h closes on the next budget day.
START_MS = 1_763_978_400_000
UTC = ZoneInfo("UTC")


class Conv:
    """One namespace's hooks on a clock the test moves by hand."""

    def __init__(self, namespace: str, r: redis.Redis, tz: str = "UTC") -> None:
        self.r = r
        self.keys = Keys(namespace)
        self.settings = make_settings(namespace, timezone=tz)
        self.now_ms = START_MS
        self.res = Resolutions(r, self.keys)

    def args(self, n: int, tenant: str = "acme") -> tuple[redis.Redis, Keys, str, str, str]:
        return (self.r, self.keys, tenant, "generic", f"T-{n}")

    def answered(self, n: int, tenant: str = "acme") -> str | None:
        return hooks.on_agent_answered(*self.args(n, tenant), self.now_ms, 1_000)

    def says(self, n: int, text: str, tenant: str = "acme") -> tuple[str, str | None]:
        verdict = hooks.on_customer_message(*self.args(n, tenant), text, self.now_ms)
        return verdict.value, self.state(n, tenant)

    def state(self, n: int, tenant: str = "acme") -> str | None:
        got = self.res.get(self.key(n, tenant))
        return got.state if got else None

    def key(self, n: int, tenant: str = "acme") -> str:
        from shared.keys import ticket_key

        return ticket_key(tenant, "generic", f"T-{n}")

    def close(self) -> int:
        return self.res.close_due(self.now_ms, WINDOW_MS)[0]

    def day(self) -> str:
        return budget_day(self.now_ms / 1000, self.settings.tz)

    def ledger(self) -> Ledger:
        return Ledger(self.r, self.keys, self.settings, ManualClock(self.now_ms / 1000))

    def stats(self, day: str | None = None, tenant: str = "acme") -> ResolutionStats:
        found = day_stats(self.res, self.ledger(), day or self.day(), self.settings.tz)
        return found.get(tenant, ResolutionStats())


def test_the_customer_confirms(namespace: str, r: redis.Redis) -> None:
    c = Conv(namespace, r)
    # Given an answered ticket, when the customer says it worked
    assert c.answered(1) == "awaiting"
    c.now_ms += HOUR_MS
    # Then it is resolved at once, by confirmation, and leaves the window
    assert c.says(1, "Thanks, that worked!") == ("confirmed", "resolved")
    got = c.res.get(c.key(1))
    assert got is not None and got.how == "confirmed" and got.customer_messages == 2
    assert c.res.awaiting() == 0
    s = c.stats()
    assert (s.handled, s.cohort_resolved, s.resolutions, s.resolution_rate) == (1, 1, 1, 1.0)
    assert s.median_messages == 3  # the question, the answer, the thanks


def test_the_window_closes_on_the_injected_clock(namespace: str, r: redis.Redis) -> None:
    c = Conv(namespace, r)
    for n in range(3):
        c.answered(n)
    answered_day = c.day()
    # Not yet: one millisecond short of the window
    c.now_ms += WINDOW_MS - 1
    assert c.close() == 0
    c.now_ms += 1
    assert c.close() == 3
    # Idempotent: closing again finds nothing, counts nothing twice
    assert c.close() == 0
    assert c.day() != answered_day
    cohort = c.stats(answered_day)
    assert (cohort.handled, cohort.cohort_resolved, cohort.resolutions) == (3, 3, 0)
    today = c.stats()
    assert today.resolutions == 3 and today.how == Counter(window=3)
    assert today.median_messages == 2


def test_a_late_scheduler_counts_on_the_day_the_window_closed(
    namespace: str, r: redis.Redis
) -> None:
    c = Conv(namespace, r)
    c.answered(1)
    c.now_ms += WINDOW_MS
    closed_day = c.day()
    c.now_ms += 3 * WINDOW_MS  # the scheduler was down for days
    assert c.close() == 1
    assert c.stats(closed_day).resolutions == 1
    assert c.stats().resolutions == 0


def test_days_follow_the_time_zone(namespace: str, r: redis.Redis) -> None:
    # 10:00 UTC is 23:00 in Auckland (UTC+13 in November): the next hour is another day there
    c = Conv(namespace, r, tz="Pacific/Auckland")
    c.answered(1)
    first = c.day()
    c.now_ms += 2 * HOUR_MS
    c.answered(2)
    assert c.day() != first
    assert c.stats(first).handled == 1 and c.stats().handled == 1


def test_a_customer_message_stops_the_window(namespace: str, r: redis.Redis) -> None:
    c = Conv(namespace, r)
    c.answered(1)
    c.now_ms += HOUR_MS
    assert c.says(1, "And how do I change my address?") == ("other", "open")
    assert c.res.awaiting() == 0
    c.now_ms += 2 * WINDOW_MS
    assert c.close() == 0
    # The next answer starts the window again
    assert c.answered(1) == "awaiting"
    c.now_ms += WINDOW_MS
    assert c.close() == 1
    got = c.res.get(c.key(1))
    assert got is not None and (got.customer_messages, got.agent_messages) == (2, 2)


def test_unsatisfied_then_answered_again_then_resolved(namespace: str, r: redis.Redis) -> None:
    c = Conv(namespace, r)
    c.answered(1)
    assert c.says(1, "That didn't help") == ("unsatisfied", "unresolved")
    s = c.stats()
    assert (s.cohort_unresolved, s.resolution_rate) == (1, 0.0)
    # The agent answers the follow-up: back in its window, no longer unresolved
    c.answered(1)
    s = c.stats()
    assert (s.cohort_unresolved, s.awaiting) == (0, 1)
    assert c.says(1, "thanks, works now") == ("confirmed", "resolved")
    s = c.stats()
    assert (s.cohort_resolved, s.cohort_unresolved, s.median_messages) == (1, 0, 5)


def test_asking_for_a_person_is_unresolved_and_out_of_the_window(
    namespace: str, r: redis.Redis
) -> None:
    c = Conv(namespace, r)
    c.answered(1)
    assert c.says(1, "I want to talk to a human") == ("asks_person", "unresolved")
    c.now_ms += 2 * WINDOW_MS
    assert c.close() == 0


def test_solved_by_the_vendor(namespace: str, r: redis.Redis) -> None:
    c = Conv(namespace, r)
    for n in (1, 2, 3):
        c.answered(n)
    # Without a person: resolved
    assert hooks.on_solved(*c.args(1), c.now_ms, False) == "resolved"
    # A person replied first: theirs, not the agent's
    assert hooks.on_human_reply(*c.args(2), c.now_ms) == "unresolved"
    assert hooks.on_solved(*c.args(2), c.now_ms, False) == "unresolved"
    # The vendor says a person solved it
    assert hooks.on_solved(*c.args(3), c.now_ms, True) == "unresolved"
    s = c.stats()
    assert (s.resolutions, s.cohort_unresolved, s.how) == (1, 2, Counter(solved=1))


def test_escalated_is_unresolved_and_a_late_thanks_is_not_the_agents(
    namespace: str, r: redis.Redis
) -> None:
    c = Conv(namespace, r)
    assert hooks.on_escalated(*c.args(1), c.now_ms, "escalated") == "unresolved"
    # The customer thanks the person who helped them
    assert c.says(1, "thanks, that worked") == ("confirmed", "unresolved")
    s = c.stats()
    assert (s.handled, s.resolutions, s.resolution_rate) == (1, 0, 0.0)


def test_resolved_is_final(namespace: str, r: redis.Redis) -> None:
    c = Conv(namespace, r)
    c.answered(1)
    c.says(1, "that fixed it")
    for text in ("still broken", "talk to a human", "thanks, that worked"):
        assert c.says(1, text)[1] == "resolved"
    assert c.answered(1) == "resolved"
    assert hooks.on_solved(*c.args(1), c.now_ms, False) == "resolved"
    s = c.stats()
    assert (s.resolutions, s.cohort_resolved, s.cohort_unresolved) == (1, 1, 0)


def test_messages_before_any_answer_judge_nothing(namespace: str, r: redis.Redis) -> None:
    c = Conv(namespace, r)
    # Out of order: follow-ups before the first answer was recorded
    assert c.says(1, "My order never came") == ("other", "open")
    assert c.says(1, "thanks") == ("confirmed", "open")
    assert c.stats().handled == 0
    c.answered(1)
    got = c.res.get(c.key(1))
    assert got is not None and (got.customer_messages, got.agent_messages) == (2, 1)


def test_a_redis_failure_never_reaches_the_caller(namespace: str) -> None:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    dead = redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    args: tuple[redis.Redis, Keys, str, str, str] = (
        dead, Keys(namespace), "acme", "generic", "T-1"
    )  # fmt: skip
    assert hooks.on_agent_answered(*args, START_MS, 0) is None
    assert hooks.on_customer_message(*args, "thanks", START_MS).value == "confirmed"


def test_tenants_never_mix(namespace: str, r: redis.Redis) -> None:
    c = Conv(namespace, r)
    # The same ticket id in two tenants: two tickets
    c.answered(1, "acme")
    c.answered(1, "globex")
    c.says(1, "thanks, that worked", "acme")
    assert (c.state(1, "acme"), c.state(1, "globex")) == ("resolved", "awaiting")
    ledger, day = c.ledger(), c.day()
    assert resolution_report(c.res, ledger, [day], UTC, "acme").resolutions == 1
    assert resolution_report(c.res, ledger, [day], UTC, "globex").resolutions == 0
    assert resolution_report(c.res, ledger, [day], UTC).resolutions == 1


def test_cost_per_resolution_divides_all_spend(namespace: str, r: redis.Redis) -> None:
    c = Conv(namespace, r)
    day = c.day()
    # Every ticket's spend is in the books, whatever became of it; the help centre's too.
    r.hset(c.keys.books(day), mapping={"spent:tenant:acme": 3_000_000, "spent:kb:acme": 600_000,
                                       "spent:global": 3_600_000})  # fmt: skip
    for n in range(4):
        c.answered(n)
    c.says(0, "perfect, thanks")
    c.says(1, "that worked")
    c.says(2, "still broken")
    doc = resolution_report(c.res, c.ledger(), [day], UTC, "acme").as_json()
    assert doc["resolutions"] == 2
    assert doc["cost_per_resolution_usd"] == 1.8
    assert doc["resolution_rate"] == round(2 / 3, 4)
    assert doc["awaiting"] == 1
    assert doc["commercial_usd_per_resolution"] == 0.99
    # No resolutions: no figure, never a division by zero
    other = resolution_report(c.res, c.ledger(), [day], UTC, "globex")
    assert other.cost_per_resolution_micros is None


def test_histogram_median() -> None:
    assert histogram_median(Counter()) is None
    assert histogram_median(Counter({2: 1})) == 2
    assert histogram_median(Counter({2: 1, 4: 1})) == 3
    assert histogram_median(Counter({2: 5, 3: 1, 9: 1})) == 2
    assert histogram_median(Counter({2: 2, 6: 2})) == 4


def test_the_same_answer_told_twice_counts_once(namespace: str, r: redis.Redis) -> None:
    # Two callers (or a retried call) report one answer: its time is the same
    c = Conv(namespace, r)
    c.answered(1)
    c.answered(1)
    got = c.res.get(c.key(1))
    assert got is not None and got.agent_messages == 1
    # A later answer (a follow-up's) is another one
    c.now_ms += 1
    c.answered(1)
    got = c.res.get(c.key(1))
    assert got is not None and got.agent_messages == 2 and c.stats().handled == 1
