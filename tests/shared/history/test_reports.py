"""`paceline report spend|tickets`: the figures, each grouping, a tenant alone, CSV and JSON,
and one-line errors for bad input (resolutions: test_resolution_report.py)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

import pytest
import redis
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from shared.cli import cmd_report
from shared.history.archiver import Archiver
from shared.history.reports import Period, day_total, spend, tickets
from shared.keys import Keys
from shared.settings import Settings
from tests.shared.history.conftest import cli_env, drain
from tests.shared.history.facts import add, call, outcome, outcome_fields

NOV = Period(date(2026, 11, 1), date(2026, 11, 30))


def seed(archiver: Archiver, r: redis.Redis, keys: Keys) -> None:
    """Two tenants over three days, two models, two lanes; T-big costs the most."""
    facts = [
        call(0, tenant_id="acme", day="2026-11-01", model="gpt-4o", lane="live",
             cost_micros=120_000, ticket_id="T-big", reservation_id="r1"),
        call(1, tenant_id="acme", day="2026-11-02", model="gpt-4o-mini", lane="replay",
             cost_micros=30_000, ticket_id="T-big", reservation_id="r2"),
        call(2, tenant_id="acme", day="2026-11-02", model="gpt-4o-mini", lane="live",
             cost_micros=5_000, ticket_id="T-small", reservation_id="r3"),
        call(3, tenant_id="zeta", day="2026-11-03", model="gpt-4o", lane="live",
             cost_micros=110_000, ticket_id="T-z", reservation_id="r4"),
        call(4, tenant_id="zeta", day="2026-10-31", model="gpt-4o", lane="live",
             cost_micros=999_000, ticket_id="T-old", reservation_id="r5"),
    ]  # fmt: skip
    add(r, keys, *facts, outcome_fields(outcome("T-big", tenant_id="acme")))
    assert drain(archiver) == (6, 0)


def test_spend_by_each_grouping_and_for_one_tenant(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    seed(archiver, r, keys)
    by_tenant = spend(engine, NOV, "tenant")
    assert [(x["tenant"], x["cost_micros"], x["calls"]) for x in by_tenant] == [
        ("acme", 155_000, 3),
        ("zeta", 110_000, 1),
    ]
    by_day = spend(engine, NOV, "day")
    assert [(x["day"], x["cost_micros"]) for x in by_day] == [
        ("2026-11-01", 120_000),
        ("2026-11-02", 35_000),
        ("2026-11-03", 110_000),
    ]
    assert {x["model"]: x["cost_micros"] for x in spend(engine, NOV, "model")} == {
        "gpt-4o": 230_000,
        "gpt-4o-mini": 35_000,
    }
    assert {x["lane"]: x["cost_micros"] for x in spend(engine, NOV, "lane")} == {
        "live": 235_000,
        "replay": 30_000,
    }
    # A tenant sees only its own rows
    assert {x["model"] for x in spend(engine, NOV, "model", tenant="zeta")} == {"gpt-4o"}
    assert spend(engine, NOV, "tenant", tenant="nobody") == []
    assert day_total(engine, date(2026, 11, 2)) == (35_000, 2)
    assert day_total(engine, date(2026, 10, 31), tenant="acme") == (0, 0)


def test_tickets_over_a_cost_dearest_first_with_their_status(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    seed(archiver, r, keys)
    rows = tickets(engine, NOV, min_cost_micros=100_000)
    assert [(x["tenant_id"], x["ticket_id"], x["cost_micros"], x["status"]) for x in rows] == [
        ("acme", "T-big", 150_000, "answered"),
        ("zeta", "T-z", 110_000, None),
    ]
    assert rows[0]["first_day"] == "2026-11-01" and rows[0]["last_day"] == "2026-11-02"
    assert [x["ticket_id"] for x in tickets(engine, NOV, min_cost_micros=0, tenant="acme")] == [
        "T-big",
        "T-small",
    ]


def invoke(settings: Settings, *args: str) -> Any:
    app = typer.Typer()
    cmd_report.register(app)

    @app.callback()
    def _group() -> None:
        """Keeps `report` a subcommand, as in `paceline`."""

    return CliRunner().invoke(app, ["report", *args], env=cli_env(settings))


def test_the_cli_prints_json_csv_and_a_table(
    archiver: Archiver, hsettings: Settings, r: redis.Redis, keys: Keys
) -> None:
    seed(archiver, r, keys)
    period = ["--from", "2026-11-01", "--to", "2026-11-30"]
    res = invoke(hsettings, "spend", "--by", "model", *period, "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["total_cost_micros"] == 265_000 and doc["total_calls"] == 4
    assert doc["rows"][0] == {
        "model": "gpt-4o", "calls": 2, "prompt_tokens": 2_003, "cached_tokens": 200,
        "completion_tokens": 400, "cost_micros": 230_000, "cost_usd": 0.23,
    }  # fmt: skip
    res = invoke(hsettings, "tickets", "--min-cost", "0.12", *period, "--csv")
    assert res.exit_code == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(x["ticket_id"], x["cost_micros"], x["status"]) for x in rows] == [
        ("T-big", "150000", "answered")
    ]
    res = invoke(hsettings, "spend", "--by", "day", *period, "--tenant", "zeta")
    assert res.exit_code == 0 and "2026-11-03" in res.stdout and "2026-11-02" not in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["spend", "--from", "Nov 1"], "--from: 'Nov 1' is not a date"),
        (["spend", "--from", "2026-11-05", "--to", "2026-11-01"], "is after --to"),
        (["spend", "--by", "ticket"], "--by: 'ticket' is not one of"),
        (["spend", "--csv", "--json"], "exclude each other"),
        (["tickets", "--min-cost", "ten"], "--min-cost: 'ten' is not an amount"),
        (["tickets", "--min-cost", "-1"], "must not be negative"),
        (["resolutions", "--from", "2026-13-01"], "--from: '2026-13-01' is not a date"),
    ],
)
def test_bad_input_is_one_line(
    hsettings: Settings, engine: Engine, args: list[str], message: str
) -> None:
    res = invoke(hsettings, *args)
    assert res.exit_code != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert res.stdout == ""
