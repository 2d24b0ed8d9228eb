"""`paceline simulate` and `paceline budget status` as an operator runs them (subprocesses, a
clean environment), against the real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

from shared.clock import budget_day
from shared.keys import Keys
from shared.settings import load_settings
from shared.stores.live_plan import LivePlan, write_plan
from tests.conftest import REDIS_URL, ROOT

SHORT = ("--hours", "6", "--tickets-per-day", "300", "--step-s", "120")


def _cli(
    namespace: str, *args: str, pythonpath: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
    env.update({"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace})
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def test_compare_runs_every_policy_on_the_same_day(namespace: str, r: redis.Redis) -> None:
    # When an operator compares the over-SLO policies at three times the demand
    doc = _json(_cli(namespace, "simulate", *SHORT, "--demand-x", "3", "--compare", "--json"))
    # Then one JSON document holds the chosen policy's day and every policy side by side
    assert doc["policy"] == "cheapest" and doc["ladder"] == [
        "gpt-4.1-mini",
        "gpt-4o-mini",
        "gpt-4.1-nano",
    ]
    runs = {run["policy"]: run for run in doc["compare"]}
    assert set(runs) == {"cheapest", "handoff", "wait"}
    for run in runs.values():
        # (the same seeded day: the same live tickets)
        assert run["live_arrived"] == doc["live_arrived"] > 0
        assert set(run["answered_by_model"]) == set(doc["ladder"])
        assert set(run["first_response_s"]) == {"p50", "p95", "p99"}
        assert run["spent_micros"] <= run["ceiling_micros"]
        assert run["spent_usd"] == run["spent_micros"] / 1_000_000  # both units
    assert runs["cheapest"]["past_slo"] == runs["handoff"]["past_slo"] == 0
    assert len(doc["hours"]) == 6
    # And the simulation left nothing behind in Redis
    assert not list(r.scan_iter(match=f"{namespace}*", count=1000))


def test_the_text_report_starts_with_the_headline_and_plots_on_request(
    namespace: str, tmp_path: Path
) -> None:
    png = tmp_path / "day.png"
    done = _cli(namespace, "simulate", *SHORT, "--plot", str(png))
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("cheapest at 3.0x demand:") and "live tickets" in first
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input_is_one_line(namespace: str, tmp_path: Path) -> None:
    cases = [
        (("--over-slo", "shrug"), "--over-slo: must be one of cheapest, handoff, wait"),
        (("--from-outcomes",), "--from-outcomes: 0 recorded outcomes with usage"),
        (("--plot", str(tmp_path / "day.svg")), "must end in .png"),
    ]
    for args, needle in cases:
        done = _cli(namespace, "simulate", *SHORT, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and needle in done.stderr, done.stderr
    # Without matplotlib (the optional `plot` extra), --plot says what to install
    fake = tmp_path / "nomatplotlib"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('not installed')\n")
    done = _cli(namespace, "simulate", *SHORT, "--plot", str(tmp_path / "x.png"),
                pythonpath=str(fake))  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "paceline: --plot needs matplotlib: pip install 'paceline[plot]'\n"


def test_budget_status_shows_the_live_plan_and_the_slo(namespace: str, r: redis.Redis) -> None:
    # Before any scheduler planned: the default model, no forecast, the fixed reserve
    doc = _json(_cli(namespace, "budget", "status", "--json"))
    assert doc["live_model"] == "gpt-4.1-mini" and doc["forecast"] == {"basis": "none"}
    assert doc["live_reserve_micros"] == 15_000_000 and doc["live_reserve_usd"] == 15.0
    assert doc["projected_end_of_day_micros"] is None
    assert doc["slo"]["max_wait_s"] == 900 and doc["slo"]["within_slo_pct"] is None
    # Given a scheduler's fresh plan that stepped the live lane down
    settings = load_settings({"PACELINE_NAMESPACE": namespace})
    now_ms = int(time.time() * 1000)
    keys = Keys(namespace)
    pipe = r.pipeline()
    write_plan(pipe, keys, LivePlan(
        plan_ms=now_ms, plan_day=budget_day(time.time(), settings.tz), live_rung=2,
        live_model="gpt-4.1-nano", reserve_rung=2, live_reserve=30_000_000, live_floor=0,
        live_wait_ms=120_000, forecast_tickets=1_234, forecast_basis="history",
        cost_micros=700, projected_micros=49_000_000, line=3,
    ))  # fmt: skip
    pipe.hincrby(keys.demand_slo(budget_day(time.time(), settings.tz)), "within", 9)
    pipe.hincrby(keys.demand_slo(budget_day(time.time(), settings.tz)), "handoff_within", 1)
    pipe.execute()
    # Then status shows the rung, the forecast, the projection and the SLO compliance
    doc = _json(_cli(namespace, "budget", "status", "--json"))
    assert (doc["live_model"], doc["live_rung"]) == ("gpt-4.1-nano", 2)
    assert doc["forecast"]["live_tickets_rest_of_day"] == 1_234
    assert doc["projected_end_of_day_usd"] == 49.0 and doc["live_reserve_micros"] == 30_000_000
    assert doc["line"] == {"tickets": 3, "expected_wait_s": 120}
    assert doc["slo"]["within_slo_pct"] == 100.0 and doc["slo"]["handoffs"] == 1
    text = _cli(namespace, "budget", "status")
    assert text.returncode == 0 and "gpt-4.1-nano" in text.stdout and "1,234" in text.stdout
