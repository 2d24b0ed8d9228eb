"""A tenant profile's caps in the admit script: below a runtime override of the scope, above
the `tenant:*`/`user:*` overrides and the settings; the global ceiling bounds them all."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from shared.clock import ManualClock
from shared.keys import Keys
from shared.ledger import AdmissionRequest, Candidate, Ledger
from tests.conftest import make_settings

T0 = 1_780_000_000.0
CAND = (Candidate("gpt-4o-mini", 2000, 500),)


@pytest.fixture
def led(namespace: str, r: redis.Redis) -> Iterator[Ledger]:
    # Settings: tenant cap $10, requester cap $0.50 (far above these envelopes)
    ledger = Ledger(r, Keys(namespace), make_settings(namespace, pacing="off"), ManualClock(T0))
    yield ledger
    ledger.close()


def ask(
    n: int,
    tenant: str = "acme",
    user: str = "u1",
    tenant_cap: int | None = None,
    user_cap: int | None = None,
) -> AdmissionRequest:
    return AdmissionRequest(
        f"t{n}", tenant, user, "live", CAND,
        tenant_cap_micros=tenant_cap, requester_cap_micros=user_cap,
    )  # fmt: skip


def kinds(led: Ledger, reqs: list[AdmissionRequest]) -> list[tuple[str, str]]:
    return [(d.kind, d.reason) for d in led.admit_many(reqs)]


def test_a_profiles_tenant_cap_is_that_tenants_cap(led: Ledger) -> None:
    # Given acme's profile caps it at two envelopes a day; globex has no profile
    acme = [ask(i, tenant_cap=4000, user=f"u{i}") for i in range(3)]
    globex = [ask(10 + i, tenant="globex", user=f"u{i}") for i in range(3)]
    # Then acme's third ticket waits for its cap, globex's do not
    assert kinds(led, acme)[2] == ("defer", "tenant_cap_held")
    assert [k for k, _ in kinds(led, globex)] == ["admit"] * 3


def test_a_profiles_requester_cap_applies_to_each_requester(led: Ledger) -> None:
    reqs = [ask(i, user_cap=2000) for i in range(2)] + [ask(5, user="u2", user_cap=2000)]
    assert kinds(led, reqs) == [
        ("admit", "full"),
        ("defer", "user_cap_held"),
        ("admit", "full"),
    ]


def test_a_runtime_override_beats_the_profile_and_the_profile_beats_the_wildcard(
    led: Ledger, r: redis.Redis, keys: Keys
) -> None:
    # Given `budget set tenant:* 0.002` (one envelope), and acme's profile at three envelopes
    r.hset(keys.caps, "tenant:*", 2000)
    reqs = [ask(i, tenant_cap=6000, user=f"u{i}") for i in range(4)]
    # Then the profile wins over the wildcard: three admitted
    assert [k for k, _ in kinds(led, reqs)] == ["admit", "admit", "admit", "defer"]
    # And `budget set tenant:acme` wins over the profile
    r.hset(keys.caps, "tenant:acme", 8000)
    assert kinds(led, [ask(9, tenant_cap=6000, user="u9")])[0][0] == "admit"


def test_the_global_ceiling_bounds_a_generous_profile(
    led: Ledger, r: redis.Redis, keys: Keys
) -> None:
    r.hset(keys.caps, "global", 4000)
    reqs = [ask(i, tenant_cap=10**9, user=f"u{i}") for i in range(3)]
    assert kinds(led, reqs)[2] == ("defer", "global_cap_held")


def test_budget_set_compares_with_the_profiles_cap(led: Ledger, r: redis.Redis) -> None:
    # Given acme's profile caps it at $25 and its requesters at $1
    from shared.budget_controls import BudgetControls
    from shared.tenants import DEFAULT_PROFILE, Tenant

    acme = Tenant.model_validate({"tenant_daily_cap_usd": 25, "requester_daily_cap_usd": 1})
    controls = BudgetControls(
        led, led._settings, ManualClock(T0), lambda t: acme if t == "acme" else DEFAULT_PROFILE
    )
    # Then `budget set` reads the profile's caps as what an override replaces
    assert controls.default_micros("tenant:acme") == 25_000_000
    assert controls.default_micros("user:acme:u1") == 1_000_000
    assert controls.default_micros("tenant:globex") == led._settings.tenant_cap_micros
    change = controls.plan_set("tenant:acme", "300")
    assert (change.old_micros, change.old_is_default, change.needs_confirmation) == (
        25_000_000,
        True,
        True,
    )
