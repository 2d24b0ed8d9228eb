from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from shared.cli import cmd_plan
from shared.plan import PlanInput, compute
from shared.pricing import PriceTable

# The post's load: 200 model calls an hour (one per ticket), priced against a $50 ceiling
# given here, so no live override or outcome of whoever runs the tests counts.
SEED = [
    "--rph", "200", "--tokens-in", "2000", "--tokens-out", "500", "--model", "gpt-4-turbo",
    "--steps", "1", "--ceiling-usd", "50",
]  # fmt: skip


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A group, so `plan` is addressed by name as in the real CLI."""

    cmd_plan.register(app)
    return app


def _run(*args: str) -> Any:
    return CliRunner().invoke(_app(), ["plan", *args], env={"PACELINE_DAILY_CEILING_USD": "50"})


def _json(*args: str) -> dict[str, Any]:
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _seed(**overrides: Any) -> PlanInput:
    base: dict[str, Any] = dict(
        rph=Decimal(200),
        tokens_in=2000,
        tokens_out=500,
        model="gpt-4-turbo",
        ceiling_micros=50_000_000,
    )
    base.update(overrides)
    return PlanInput(**base)


def test_seed_scenario_costs_168_a_day_not_216() -> None:
    # Given the interview post's load: 200 req/h, 2,000 in / 500 out, gpt-4-turbo
    # When it is planned as JSON
    doc = _json(*SEED)
    # Then it is 9.6M in + 2.4M out = $96 + $72 = $168/day, $5,040 per 30 days
    assert doc["cost_per_day_usd"] == 168.0
    assert doc["cost_per_month_usd"] == 5040.0
    assert doc["cost_per_day_micros"] == 168_000_000
    assert doc["requests_per_day"] == 4800
    assert doc["tokens_per_day"] == 12_000_000
    assert doc["input_tokens_per_day"] == 9_600_000
    assert doc["output_tokens_per_day"] == 2_400_000
    # And its working names the post's mistake: a 60/40 split priced at $216
    working = "\n".join(doc["working"])
    assert "$216.00" in working and "60/40" in working and "wrong" in working
    assert "9,600,000" in working and "2,400,000" in working
    # And cost is what breaks first ($168 against the default $50 ceiling)
    assert doc["first_to_break"] == "daily_ceiling"
    assert doc["tpm_needed"] == 8334  # 200 x 2,500 / 60, rounded up
    assert doc["concurrency_needed"] == pytest.approx(200 / 3600 * 5.0, abs=1e-3)


def test_the_table_shows_the_working() -> None:
    result = _run(*SEED)
    assert result.exit_code == 0, result.output
    assert "$168.00" in result.stdout and "$5,040.00" in result.stdout
    assert "$216.00" in result.stdout


def test_unknown_model_is_one_line_naming_it() -> None:
    result = _run("--rph", "1", "--tokens-in", "1", "--tokens-out", "1", "--model", "gpt-9-ultra")
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "gpt-9-ultra" in lines[0]


def test_dated_snapshot_prices_as_its_family() -> None:
    plan = compute(_seed(model="gpt-4-turbo-2024-04-09"), PriceTable.load())
    assert plan.cost_per_day_micros == 168_000_000


def test_retries_cache_batch_and_steps_change_the_bill() -> None:
    prices = PriceTable.load()
    # Given 10% retries and 3 calls per ticket: 4,800 x 3 x 1.1 = 15,840 calls
    plan = compute(_seed(retry_rate=Decimal("0.1"), steps=3), prices)
    assert plan.requests_per_day == 15_840
    assert plan.cost_per_day_micros == 15_840 * (2000 * 10 + 500 * 30)
    # Given half the input cached on gpt-4o (cached input is half price)
    cached = compute(_seed(model="gpt-4o", cache_hit_rate=Decimal("0.5")), prices)
    full = compute(_seed(model="gpt-4o"), prices)
    assert cached.cached_tokens_per_day == 4_800_000
    # 4.8M tokens x ($2.50 - $1.25)/1M = $6
    assert full.cost_per_day_micros - cached.cost_per_day_micros == 6_000_000
    # Given the Batch API: everything at half price
    batch = compute(_seed(batch=True), prices)
    assert batch.cost_per_day_micros == 84_000_000


def test_first_to_break_follows_the_tightest_limit() -> None:
    prices = PriceTable.load()
    # Given a generous ceiling and a small TPM limit: tokens per minute break first
    plan = compute(_seed(ceiling_micros=10_000_000_000, tpm=5_000), prices)
    assert plan.first_to_break == "tpm"
    assert plan.first_breaks_at_rph == 120  # 5,000 / 8,334 x 200, rounded down
    # Given slow calls, many steps and one thread: concurrency breaks first
    slow = compute(
        _seed(ceiling_micros=10**12, tpm=10**9, rpm=10**6, threads=1, latency_ms=30_000, steps=4),
        prices,
    )
    assert slow.first_to_break == "concurrency"
    assert float(slow.concurrency_needed) == pytest.approx(200 / 3600 * 30 * 4)


def test_bad_numbers_are_usage_errors() -> None:
    result = _run(*SEED, "--cache-hit-rate", "1.5")
    assert result.exit_code == 2 and "--cache-hit-rate" in result.stderr
    result = _run(*SEED[2:], "--rph", "lots")
    assert result.exit_code == 2 and "--rph" in result.stderr


def _cli_json(namespace: str, *args: str) -> dict[str, Any]:
    from tests.shared.cli.helpers import clean_env, paceline

    done = paceline("plan", *args, "--json", env=clean_env(namespace))
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def test_steps_default_to_the_observed_mean_else_three_and_the_live_ceiling_counts(
    namespace: str, r: Any
) -> None:
    from shared.keys import Keys
    from shared.models import Outcome, OutcomeStatus
    from shared.stores.outcomes import OutcomeStore

    load = ["--rph", "10", "--tokens-in", "1000", "--tokens-out", "100", "--model", "gpt-4o-mini"]
    # Given no outcomes yet: 3 calls a ticket, and it says so
    doc = _cli_json(namespace, *load)
    assert doc["steps_per_ticket"] == 3 and doc["requests_per_day"] == 10 * 24 * 3
    assert any("3 model calls per ticket" in n for n in doc["notes"])
    # Given answered tickets that took 2, 3 and 4 calls, and a live ceiling of $7
    store = OutcomeStore(r, Keys(namespace))
    for i, calls in enumerate((2, 3, 4)):
        store.force(
            Outcome(ticket_id=f"T-{i}", status=OutcomeStatus.ANSWERED, llm_calls=calls,
                    updated_at_ms=1_000 + i)
        )  # fmt: skip
    r.hset(Keys(namespace).caps, "global", 7_000_000)
    # Then the plan uses their mean and the live ceiling, and says so
    doc = _cli_json(namespace, *load)
    assert doc["steps_per_ticket"] == 3.0 and doc["ceiling_micros"] == 7_000_000
    assert any("mean of recent outcomes" in n for n in doc["notes"])
    assert any("live override" in n for n in doc["notes"])
    # And --steps still wins
    assert _cli_json(namespace, *load, "--steps", "1.5")["requests_per_day"] == 360


def test_first_to_break_is_named_only_when_something_breaks(namespace: str) -> None:
    light = ["--rph", "1", "--tokens-in", "100", "--tokens-out", "10", "--model", "gpt-4o-mini",
             "--steps", "1", "--ceiling-usd", "50"]  # fmt: skip
    doc = _cli_json(namespace, *light)
    assert doc["first_to_break"] is None and doc["tightest_limit"]
    from tests.shared.cli.helpers import clean_env, paceline

    text = paceline("plan", *light, env=clean_env(namespace)).stdout
    assert "first to break" not in text and "nothing breaks at this load" in text
    heavy = _cli_json(namespace, *SEED)
    assert heavy["first_to_break"] == "daily_ceiling"


def test_out_of_range_inputs_are_refused(namespace: str) -> None:
    from tests.shared.cli.helpers import clean_env, paceline

    for extra in (
        ["--retry-rate", "10"],
        ["--steps", "0"],
        ["--hours-per-day", "25"],
        ["--tokens-in", "10000000"],
    ):
        args = list(SEED)
        if extra[0] in args:
            i = args.index(extra[0])
            args[i : i + 2] = extra
        else:
            args += extra
        done = paceline("plan", *args, env=clean_env(namespace))
        assert done.returncode == 2, (extra, done.stdout)
        assert extra[0] in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_simulate_prints_its_headline_first_and_whole_headers_through_a_pipe(
    namespace: str,
) -> None:
    from tests.shared.cli.helpers import clean_env, paceline

    args = ("simulate", "--hours", "2", "--step-s", "300")
    done = paceline(*args, env=clean_env(namespace))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.match(
        r"cheapest at 3\.0x demand: [\d,]+ live tickets; answered by the agent [\d,]+ \(.*\); "
        r"handed off [\d,]+ \(.*\); past the 900 s SLO [\d,]+; first response p50 \d+ s, "
        r"p95 \d+ s, p99 \d+ s; spent \$[\d,]+\.\d\d of \$50\.00",
        lines[0],
    ), lines[0]
    header = next(ln for ln in lines if "hour" in ln and "arrived" in ln)
    for name in ("spent $", "total $", "pace line $", "answered", "handed off", "past SLO"):
        assert name in header, header
    doc = json.loads(paceline(*args, "--json", env=clean_env(namespace)).stdout)
    assert doc["spent_usd"] == doc["spent_micros"] / 1_000_000


def test_resolution_rate_says_what_a_month_of_resolutions_costs() -> None:
    # The seed load costs $168/day: $5,040 for 30 days of 4,800 tickets/day
    doc = _json(*SEED, "--resolution-rate", "0.6")
    res = doc["resolutions"]
    # 60% of 144,000 tickets a month are resolved; every ticket's spend is divided by them
    assert res["resolutions_per_month"] == 86_400
    assert res["cost_per_month_micros"] == 5_040_000_000
    assert res["cost_per_resolution_micros"] == 58_333  # $5,040 / 86,400
    assert res["commercial_cost_per_month_micros"] == 85_536_000_000  # 86,400 x $0.99
    text = _run(*SEED, "--resolution-rate", "0.6").stdout
    assert "86,400 a month" in text and "$0.0583 each" in text and "$0.99" in text
    # Without the option the document is as before
    assert "resolutions" not in _json(*SEED)
    for bad in ("0", "1.5", "x"):
        result = _run(*SEED, "--resolution-rate", bad)
        assert result.exit_code == 2 and "--resolution-rate" in result.output
