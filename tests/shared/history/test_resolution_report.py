"""`paceline report resolutions`: each resolution reaches the history database from the same
script that counts it in Redis, once, and the report divides all spend by them per day."""

from __future__ import annotations

import json
from datetime import date

import redis
import typer
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from shared.cli import cmd_report
from shared.conversation import hooks
from shared.conversation.resolutions import Resolutions
from shared.history.archiver import Archiver
from shared.history.reports import Period, resolutions
from shared.history.schema import ticket_resolutions
from shared.keys import Keys
from shared.models import OutcomeStatus
from shared.settings import Settings
from tests.shared.history.conftest import cli_env, drain
from tests.shared.history.facts import DAY_MS, T0_MS, add, call, outcome, outcome_fields

NOV = Period(date(2026, 11, 1), date(2026, 11, 30))


def seed(archiver: Archiver, r: redis.Redis, keys: Keys) -> None:
    """acme on 2026-11-10: $0.30 of calls, three tickets handled (one escalated); T-1
    confirmed, T-2 solved by the vendor, T-3 escalated. globex: one answer resolved by its
    window the next day."""
    add(r, keys,
        call(0, tenant_id="acme", cost_micros=200_000, ticket_id="T-1", reservation_id="r1"),
        call(1, tenant_id="acme", cost_micros=100_000, ticket_id="T-3", reservation_id="r2"),
        call(2, tenant_id="globex", cost_micros=40_000, ticket_id="G-1", reservation_id="r3"),
        outcome_fields(outcome("T-1")), outcome_fields(outcome("T-2")),
        outcome_fields(outcome("T-3", status=OutcomeStatus.ESCALATED)),
        outcome_fields(outcome("G-1", tenant_id="globex")))  # fmt: skip

    def t(tenant: str, ticket: str) -> tuple[redis.Redis, Keys, str, str, str]:
        return (r, keys, tenant, "generic", ticket)

    for ticket in ("T-1", "T-2"):
        hooks.on_agent_answered(*t("acme", ticket), T0_MS, 0)
    hooks.on_escalated(*t("acme", "T-3"), T0_MS, "escalated")
    hooks.on_agent_answered(*t("globex", "G-1"), T0_MS, 0)
    hooks.on_customer_message(*t("acme", "T-1"), "Thanks, that worked!", T0_MS + 1_000)
    hooks.on_solved(*t("acme", "T-2"), T0_MS + 2_000, False)
    assert Resolutions(r, keys).close_due(T0_MS + DAY_MS, DAY_MS) == (1, 1)
    written, rejected = drain(archiver)
    assert rejected == 0 and written == 10


def test_resolutions_per_day_and_tenant_with_all_spend_over_them(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    seed(archiver, r, keys)
    rows = resolutions(engine, NOV, archiver.settings.tz)
    by = {(x["day"], x["tenant_id"]): x for x in rows}
    acme = by[("2026-11-10", "acme")]
    assert (acme["resolutions"], acme["handled"], acme["cost_micros"]) == (2, 3, 300_000)
    assert acme["cost_per_resolution_micros"] == 150_000
    assert acme["resolved_by"] == {"confirmed": 1, "solved": 1}
    assert acme["median_messages_to_resolution"] == 2.5  # 3 (with the thanks) and 2
    # globex: the spend on the day it answered, the resolution on the day the window closed
    assert by[("2026-11-10", "globex")]["cost_per_resolution_micros"] is None
    assert by[("2026-11-11", "globex")]["resolved_by"] == {"window": 1}
    # A tenant sees only its own rows
    assert {
        x["tenant_id"] for x in resolutions(engine, NOV, archiver.settings.tz, tenant="globex")
    } == {"globex"}


def test_a_resolution_delivered_twice_is_stored_once(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    seed(archiver, r, keys)
    entries = r.xrange(keys.history_stream)
    assert entries == []  # archived entries leave the stream
    again = {"k": "resolution", "key": "4:acme:7:generic:3:T-1", "tenant": "acme",
             "how": "confirmed", "msgs": "3", "at": str(T0_MS + 1_000)}  # fmt: skip
    bad = {**again, "key": "T-1"}
    add(r, keys, again, bad)
    assert drain(archiver) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ticket_resolutions)).scalar() == 3


def test_the_cli_prints_json_beside_the_commercial_figure(
    archiver: Archiver, hsettings: Settings, r: redis.Redis, keys: Keys
) -> None:
    seed(archiver, r, keys)
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A group, as in the real CLI."""

    cmd_report.register(app)
    args = ["report", "resolutions", "--from", "2026-11-01", "--to", "2026-11-30"]
    res = CliRunner().invoke(app, [*args, "--tenant", "acme", "--json"], env=cli_env(hsettings))
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["resolutions"] == 2 and doc["cost_per_resolution_usd"] == 0.15
    assert doc["commercial_usd_per_resolution"] == 0.99
    table = CliRunner().invoke(app, args, env=cli_env(hsettings))
    assert table.exit_code == 0 and "0.99" in table.stdout and "confirmed:1" in table.stdout
