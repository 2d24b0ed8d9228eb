"""Transcripts are masked and aged; `paceline forget` erases a requester everywhere and keeps
their costs under a keyed hash; other requesters and tenants are untouched."""

from __future__ import annotations

import json
from typing import Any

import redis
import typer
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from shared.cli import cmd_forget
from shared.clock import ManualClock
from shared.history.archiver import Archiver
from shared.history.privacy import pseudonym
from shared.history.retention import sweep_transcripts
from shared.history.schema import dead_letters, model_calls, thread_messages, ticket_outcomes
from shared.keys import Keys
from shared.models import Lane, Ticket
from shared.settings import Settings
from shared.stores.dead_letters import DeadLetter, DeadLetterRegistry
from shared.stores.outcomes import OutcomeStore
from tests.helpers import tkey
from tests.shared.history.conftest import cli_env, drain, make_archiver
from tests.shared.history.facts import DAY_MS, T0_MS, add, call, outcome, outcome_fields

KEY = b"test-pseudonym-key"


def rows(engine: Engine, table: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(table).order_by(table.c.id)))


def test_stored_transcripts_mask_emails_and_phone_numbers(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    add(r, keys, outcome_fields(outcome("T-1")))
    drain(archiver)
    (o,) = rows(engine, ticket_outcomes)
    assert o.reply == "Write to [email] or call [phone]."
    bodies = [m.body for m in rows(engine, thread_messages)]
    assert bodies == ["I am [email], [phone].", "Write to [email] or call [phone]."]


def test_with_redaction_off_transcripts_are_kept_as_written(
    hsettings: Settings, engine: Engine, r: redis.Redis, keys: Keys, clock: ManualClock
) -> None:
    plain = hsettings.model_copy(update={"transcript_redaction": "off"})
    arch = make_archiver(plain, r, engine, clock)
    arch.ensure_group()
    add(r, keys, outcome_fields(outcome("T-1")))
    drain(arch)
    assert rows(engine, ticket_outcomes)[0].reply.startswith("Write to ann@example.com")


def test_transcripts_past_retention_are_erased_and_never_stored(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys, clock: ManualClock
) -> None:
    # Given a recent transcript archived, and one that reaches the archiver already too old
    retention_days = archiver.settings.transcript_retention_days
    old_ms = T0_MS - (retention_days + 1) * DAY_MS
    add(r, keys, outcome_fields(outcome("T-new")))
    add(r, keys, outcome_fields(outcome("T-old", updated_at_ms=old_ms)))
    drain(archiver)
    replies = {o.ticket_id: o.reply for o in rows(engine, ticket_outcomes)}
    assert replies["T-old"] is None and replies["T-new"] is not None
    # When the retention passes for the recent one too and the sweep runs
    later_ms = T0_MS + (retention_days + 1) * DAY_MS
    erased = sweep_transcripts(engine, later_ms, retention_days * DAY_MS)
    # Then its reply and messages are erased; the rows (who, when, cost) stay
    assert erased == 3
    assert [o.reply for o in rows(engine, ticket_outcomes)] == [None, None]
    assert {m.body for m in rows(engine, thread_messages)} == {None}
    assert len(rows(engine, thread_messages)) == 4


def seed_redis(r: redis.Redis, keys: Keys) -> DeadLetterRegistry:
    store = OutcomeStore(r, keys)
    registry = DeadLetterRegistry(r, keys)
    for tenant, requester, ticket in (("acme", "u-1", "T-1"), ("acme", "u-2", "T-2"),
                                      ("zeta", "u-1", "T-3")):  # fmt: skip
        store.finalize(outcome(ticket, tenant_id=tenant, requester_id=requester))
        t = Ticket(event_id=f"e-{ticket}", ticket_id=f"D-{ticket}", tenant_id=tenant,
                   requester={"id": requester, "email": "x@example.com"}, body="private")  # type: ignore[arg-type]  # fmt: skip
        registry.record(DeadLetter(ticket_id=t.ticket_id, event_id=t.event_id, tenant_id=tenant,
                                   lane=Lane.LIVE, reason="invalid_ticket", error="e",
                                   failed_at_ms=T0_MS, ticket=t.to_message()))  # fmt: skip
    return registry


def seed_history(archiver: Archiver, r: redis.Redis, keys: Keys) -> None:
    facts = []
    for n, (tenant, requester, ticket) in enumerate(
        (("acme", "u-1", "T-1"), ("acme", "u-2", "T-2"), ("zeta", "u-1", "T-3"))
    ):
        facts.append(call(n, tenant_id=tenant, requester=requester, ticket_id=ticket,
                          reservation_id=f"r{n}"))  # fmt: skip
        facts.append(outcome_fields(outcome(ticket, tenant_id=tenant, requester_id=requester)))
        doc = {"entry_id": f"dl{n}", "ticket_id": ticket, "event_id": "e", "tenant_id": tenant,
               "lane": "live", "reason": "r", "error": "e", "failed_at_ms": T0_MS,
               "ticket": {"requester": {"id": requester}}}  # fmt: skip
        facts.append({"k": "dlq", "doc": json.dumps(doc)})
    add(r, keys, *facts)
    drain(archiver)


def forget_cli(settings: Settings, *args: str, **env: str) -> Any:
    app = typer.Typer()
    cmd_forget.register(app)

    @app.callback()
    def _group() -> None:
        """Keeps `forget` a subcommand, as in `paceline`."""

    return CliRunner().invoke(app, ["forget", *args], env=cli_env(settings, **env))


def test_forget_erases_one_requester_everywhere_and_keeps_their_costs(
    archiver: Archiver, hsettings: Settings, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    # Given acme/u-1, acme/u-2 and zeta/u-1 in the database and in Redis
    seed_history(archiver, r, keys)
    registry = seed_redis(r, keys)
    alias = pseudonym(KEY, "acme", "u-1")
    # When acme/u-1 is forgotten
    res = forget_cli(hsettings, "--tenant", "acme", "--requester", "u-1", "--json")
    assert res.exit_code == 0, res.stderr
    done = json.loads(res.stdout)
    assert done == {"pseudonym": alias, "cost_rows": 1, "outcomes": 1, "messages_erased": 2,
                    "dead_letters": 1, "redis_outcomes": 1, "redis_dead_letters": 1,
                    "redis_rejects": 0}  # fmt: skip
    # Then the cost row stays with the pseudonym, same money
    calls = {(c.tenant_id, c.ticket_id): c for c in rows(engine, model_calls)}
    assert calls[("acme", "T-1")].requester == alias
    assert calls[("acme", "T-1")].cost_micros == 1_000
    # And their reply and messages are erased, their dead letter pseudonymised
    outcomes = {o.ticket_id: o for o in rows(engine, ticket_outcomes)}
    assert (outcomes["T-1"].requester, outcomes["T-1"].reply) == (alias, None)
    msgs = [m for m in rows(engine, thread_messages) if m.ticket_id == "T-1"]
    assert [m.body for m in msgs] == [None, None]
    assert msgs[0].author == alias
    dls = {d.ticket_id: d.requester for d in rows(engine, dead_letters)}
    assert dls["T-1"] == alias
    # And in Redis: the outcome keeps its status without the reply or the id; the dead letter
    # (which held their email and text) is gone
    stored = OutcomeStore(r, keys).get(tkey("T-1"))
    assert stored is not None and stored.status == "answered"
    assert (stored.requester_id, stored.reply) == (alias, None)
    assert {e.ticket_id for e in registry.iter_entries()} == {"D-T-2", "D-T-3"}
    # And nobody else was touched: acme/u-2, and u-1 of another tenant
    assert calls[("acme", "T-2")].requester == "u-2"
    assert calls[("zeta", "T-3")].requester == "u-1"
    assert outcomes["T-3"].reply is not None and outcomes["T-2"].reply is not None
    assert OutcomeStore(r, keys).get(tkey("T-3", "zeta")).requester_id == "u-1"  # type: ignore[union-attr]


def test_facts_still_in_the_stream_when_forgotten_arrive_pseudonymised(
    archiver: Archiver, hsettings: Settings, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    # Given acme/u-1 forgotten while facts about them were not yet archived
    res = forget_cli(hsettings, "--tenant", "acme", "--requester", "u-1")
    assert res.exit_code == 0, res.stderr
    assert "forgot acme/u-1 as anon:" in res.stdout
    add(r, keys, call(0), outcome_fields(outcome("T-1")))
    # When they are archived
    drain(archiver)
    # Then they are stored under the pseudonym, without any transcript
    alias = pseudonym(KEY, "acme", "u-1")
    assert [c.requester for c in rows(engine, model_calls)] == [alias]
    (o,) = rows(engine, ticket_outcomes)
    assert (o.requester, o.reply) == (alias, None)
    assert {m.body for m in rows(engine, thread_messages)} == {None}


def test_forget_needs_the_pseudonym_key_and_says_so_in_one_line(
    hsettings: Settings, engine: Engine
) -> None:
    keyless = hsettings.model_copy(update={"pseudonym_key": None})
    res = forget_cli(keyless, "--tenant", "acme", "--requester", "u-1")
    assert res.exit_code != 0
    assert res.stderr.strip().splitlines() == [
        "paceline: PACELINE_PSEUDONYM_KEY: required to pseudonymise requesters"
    ]


def test_forget_with_the_database_down_changes_nothing_in_redis(
    hsettings: Settings, r: redis.Redis, keys: Keys
) -> None:
    seed_redis(r, keys)
    down = hsettings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/none"})
    res = forget_cli(down, "--tenant", "acme", "--requester", "u-1",
                     PACELINE_PSEUDONYM_KEY=KEY.decode())  # fmt: skip
    assert res.exit_code != 0
    assert len(res.stderr.strip().splitlines()) == 1 and "unavailable" in res.stderr
    assert OutcomeStore(r, keys).get(tkey("T-1")).requester_id == "u-1"  # type: ignore[union-attr]
    assert DeadLetterRegistry(r, keys).size() == 3


def test_pseudonyms_are_keyed_stable_and_per_tenant() -> None:
    assert pseudonym(KEY, "acme", "u-1") == pseudonym(KEY, "acme", "u-1")
    assert pseudonym(KEY, "acme", "u-1") != pseudonym(KEY, "zeta", "u-1")
    assert pseudonym(KEY, "acme", "u-1") != pseudonym(b"other", "acme", "u-1")
    assert "u-1" not in pseudonym(KEY, "acme", "u-1")
