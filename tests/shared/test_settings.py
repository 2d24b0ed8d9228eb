from __future__ import annotations

import subprocess
import sys

import pytest

from shared.errors import SettingsError
from shared.keys import Keys, delivery_key
from shared.settings import load_settings


def test_defaults_follow_the_contract() -> None:
    s = load_settings({})
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.effective_broker_url == s.redis_url
    assert s.namespace == "paceline"
    assert s.ceiling_micros == 50_000_000
    assert s.timezone == "UTC" and s.pacing == "even"
    assert s.webhook_secret("generic") is None


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PACELINE_TIMEZONE": "Mars/Olympus"}, "PACELINE_TIMEZONE"),
        ({"PACELINE_PACING": "fast"}, "PACELINE_PACING"),
        ({"PACELINE_DAILY_CEILING_USD": "-5"}, "PACELINE_DAILY_CEILING_USD"),
        ({"PACELINE_REDIS_URL": "http://x"}, "PACELINE_REDIS_URL"),
        ({"PACELINE_BROKER_URL": "kafka://x"}, "PACELINE_BROKER_URL"),
        ({"PACELINE_NAMESPACE": "has space"}, "PACELINE_NAMESPACE"),
        ({"PACELINE_DAILY_CIELING_USD": "5"}, "did you mean PACELINE_DAILY_CEILING_USD"),
        ({"PACELINE_OVER_SLO": "shrug"}, "PACELINE_OVER_SLO"),
        ({"PACELINE_LIVE_MAX_WAIT_S": "0"}, "PACELINE_LIVE_MAX_WAIT_S"),
        # An SLO no longer than the agent's own deadline could promise nothing
        ({"PACELINE_LIVE_MAX_WAIT_S": "60"}, "PACELINE_LIVE_MAX_WAIT_S: 60 s is not longer"),
        (
            {"PACELINE_LIVE_MAX_WAIT_S": "300", "PACELINE_TICKET_DEADLINE_S": "400"},
            "agent's own deadline (PACELINE_TICKET_DEADLINE_S=400)",
        ),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_a_wrong_setting_stops_a_process_with_one_line() -> None:
    # Given a typo in the environment, When a command starts, Then it exits with one line.
    env = {"PACELINE_TIMEZONE": "Nowhere/Land", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "outcomes", "summary", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "PACELINE_TIMEZONE" in lines[0]
    assert proc.stdout == ""


def test_every_key_is_under_the_namespace() -> None:
    k = Keys("ns1")
    for value in (
        k.caps,
        k.books("2026-01-01"),
        k.reservation("r"),
        k.leases,
        k.pace,
        k.parked,
        k.dedupe(delivery_key("t", "generic", "e")),
        k.ticket("T-1"),
        k.dlq_entries,
        k.circuit,
        k.scheduler_leader,
        k.dramatiq_namespace,
    ):
        assert value.startswith("ns1:")


@pytest.mark.parametrize(
    ("env", "tenant_usd", "user_usd", "named"),
    [
        # a tenant cap above the ceiling is used as the ceiling
        ({"TENANT_DAILY_CAP_USD": "60"}, 50, 0.5, [("TENANT_DAILY_CAP_USD", "DAILY_CEILING_USD")]),
        # a requester cap above its tenant's is used as the tenant's
        ({"TENANT_DAILY_CAP_USD": "1", "USER_DAILY_CAP_USD": "2"}, 1, 1,
         [("USER_DAILY_CAP_USD", "TENANT_DAILY_CAP_USD")]),
        # a requester cap above the ceiling (it used to stop the process) nests the same way
        ({"DAILY_CEILING_USD": "5", "USER_DAILY_CAP_USD": "8"}, 5, 5,
         [("TENANT_DAILY_CAP_USD", "DAILY_CEILING_USD"),
          ("USER_DAILY_CAP_USD", "DAILY_CEILING_USD")]),
        ({}, 10, 0.5, []),
    ],
)  # fmt: skip
def test_caps_nest_the_same_way_for_every_scope(
    env: dict[str, str], tenant_usd: float, user_usd: float, named: list[tuple[str, str]]
) -> None:
    # Given caps set above their parents / When the settings load
    s = load_settings({f"PACELINE_{k}": v for k, v in env.items()})
    # Then each is used as its parent's value, with one line naming both
    assert s.tenant_cap_micros == int(tenant_usd * 1_000_000)
    assert s.user_cap_micros == int(user_usd * 1_000_000)
    warnings = s.cap_warnings()
    assert len(warnings) == len(named)
    for line, (child, parent) in zip(warnings, named, strict=True):
        assert line.startswith(f"PACELINE_{child}=") and f"PACELINE_{parent}=" in line
        assert "\n" not in line


def test_a_cap_above_its_parent_is_one_warning_line_at_start() -> None:
    # Given a requester cap above the tenant cap, When a process boots (logs on stderr)
    env = {
        "PATH": "/usr/bin:/bin",
        "PACELINE_TENANT_DAILY_CAP_USD": "2",
        "PACELINE_USER_DAILY_CAP_USD": "3",
    }
    code = "from shared.cli.boot import boot; boot('webhook')"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    # Then it starts, and says so once, naming both settings
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "is above" in line]
    assert len(lines) == 1
    assert "PACELINE_USER_DAILY_CAP_USD" in lines[0] and "PACELINE_TENANT_DAILY_CAP_USD" in lines[0]


def test_a_ladder_model_dearer_than_the_default_is_never_stepped_down_to() -> None:
    from shared.settings import ladder_warnings, price_table, stepping_ladder

    # Given the shipped ladder: it steps down, each rung cheaper than the one above
    s = load_settings({})
    prices = price_table(s)
    shipped = stepping_ladder(s, prices)
    assert shipped == ["gpt-4.1-mini", "gpt-4o-mini", "gpt-4.1-nano"]
    costs = [prices.typical_ticket_micros(m) for m in shipped]
    assert costs == sorted(costs, reverse=True)
    # (its cheapest rung costs a quarter of the default: room for 4x the demand, docs/slo.md)
    assert costs[-1] * 4 == costs[0]
    assert ladder_warnings(s, prices) == []
    # Given a ladder whose only fallback costs more than the default
    s = load_settings({"PACELINE_MODEL_LADDER": "gpt-4.1-mini,gpt-4o"})
    # Then the live lane stays on the default, and the start says so in one line
    assert stepping_ladder(s, price_table(s)) == ["gpt-4.1-mini"]
    (line,) = ladder_warnings(s, price_table(s))
    assert "PACELINE_MODEL_LADDER: ['gpt-4o'] cost more" in line and "stays on the default" in line
    # And a dearer model in the middle is skipped, the cheaper ones kept
    s = load_settings({"PACELINE_MODEL_LADDER": "gpt-4o,gpt-4.1-nano"})
    assert stepping_ladder(s, price_table(s)) == ["gpt-4.1-mini", "gpt-4.1-nano"]
    # Given a default cheaper than the shipped ladder's cheapest model
    s = load_settings({"PACELINE_MODEL": "gpt-4.1-nano"})
    assert stepping_ladder(s, price_table(s)) == ["gpt-4.1-nano"]
    (line,) = ladder_warnings(s, price_table(s))
    assert "['gpt-4.1-mini', 'gpt-4o-mini'] cost more" in line


def test_a_dearer_ladder_is_one_warning_line_at_start() -> None:
    # Given a ladder whose cheapest model costs more than the default, When a process boots
    env = {"PATH": "/usr/bin:/bin", "PACELINE_MODEL": "gpt-4o-mini",
           "PACELINE_MODEL_LADDER": "gpt-4o-mini,gpt-4.1-mini"}  # fmt: skip
    code = "from shared.cli.boot import boot; boot('webhook')"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    # Then it starts on the default alone, and says so once
    assert proc.returncode == 0, proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if "PACELINE_MODEL_LADDER" in line]
    assert "['gpt-4.1-mini'] cost more" in line and "stays on the default" in line
