"""The archiver: every fact lands once, bad entries are set aside with a reason and never stall
it, stranded entries are taken over, a row the database refuses costs only that row."""

from __future__ import annotations

import json
import threading
import time

import redis
from sqlalchemy import Engine, func, select, text

from shared.history import emit
from shared.history.archiver import Archiver
from shared.history.events import parse
from shared.history.schema import cap_changes, dead_letters, model_calls, ticket_outcomes
from shared.keys import HISTORY_GROUP, Keys
from shared.settings import Settings
from tests.shared.history.conftest import drain, make_archiver
from tests.shared.history.facts import T0_MS, add, call, dead_letter_doc, outcome, outcome_fields


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def calls_by_key(engine: Engine) -> dict[tuple[str, str], tuple[int, bool]]:
    c = model_calls.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.reservation_id, c.call_id, c.cost_micros, c.expired_charge))
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def test_every_kind_of_fact_is_archived_and_leaves_the_stream(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    # Given calls, an outcome, a cap change, a dead letter and its removal in the stream
    o = outcome("T-1")
    add(r, keys, *(call(n) for n in range(5)), outcome_fields(o))
    add(
        r, keys,
        emit.cap_fields(scope="tenant:acme", old_micros=None, new_micros=5_000_000, who="ops",
                        note="raise", at_ms=T0_MS),
        emit.dead_letter_fields(json.dumps(dead_letter_doc("dl-1"))),
        emit.dead_letter_gone_fields(entry_id="dl-1", how="requeued", at_ms=T0_MS + 5),
    )  # fmt: skip
    # When the archiver drains the stream
    written, rejected = drain(archiver)
    # Then every fact is a row, and the stream holds nothing (acked and deleted)
    assert (written, rejected) == (9, 0)
    assert count(engine, model_calls) == 5
    assert count(engine, ticket_outcomes) == 1
    assert count(engine, cap_changes) == 1
    with engine.connect() as conn:
        dl = conn.execute(select(dead_letters)).one()
    assert (dl.entry_id, dl.removed_how, dl.removed_at_ms) == ("dl-1", "requeued", T0_MS + 5)
    assert dl.requester == "u-1"
    assert "bob@example.com" not in dl.error  # the error text is masked
    assert r.xlen(keys.history_stream) == 0
    assert r.xpending(keys.history_stream, HISTORY_GROUP)["pending"] == 0


def test_a_duplicate_delivery_inserts_once(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    # Given the same facts added twice (a retried producer), once in the same batch and once
    # in a later one
    o = outcome("T-1")
    add(r, keys, call(1), call(1), outcome_fields(o), outcome_fields(o))
    drain(archiver)
    add(r, keys, call(1), outcome_fields(o))
    # When archived
    drain(archiver)
    # Then each is one row
    assert count(engine, model_calls) == 1
    assert count(engine, ticket_outcomes) == 1


def test_a_crash_between_commit_and_ack_redelivers_and_inserts_once(
    hsettings: Settings, engine: Engine, r: redis.Redis, keys: Keys, clock: object
) -> None:
    # Given an archiver whose rows were committed but which died before its ack
    first = make_archiver(hsettings, r, engine, clock, consumer="dies")
    first.ensure_group()
    add(r, keys, *(call(n) for n in range(6)))
    entries, _ = first._take(None)
    first.writer.write([parse(fields) for _, fields in entries])
    assert count(engine, model_calls) == 6
    # When another archiver takes the stranded entries over once they are idle long enough
    time.sleep(1.1)
    quick = hsettings.model_copy(update={"archive_claim_idle_s": 1})
    second = make_archiver(quick, r, engine, clock, consumer="takes-over")
    res = second.step(block_ms=None)
    # Then it claimed and archived them, and nothing was inserted twice
    assert (res.claimed, res.written) == (6, 6)
    assert count(engine, model_calls) == 6
    assert r.xlen(keys.history_stream) == 0


def test_a_settle_replaces_a_lease_expiry_charge_but_a_late_charge_never_replaces_a_settle(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    # Given a call the reaper charged at its worst case, then its settle with the truth
    add(r, keys, call(0, cost_micros=9_000, expired_charge=True))
    drain(archiver)
    assert calls_by_key(engine)[("res0", "c0")] == (9_000, True)
    add(r, keys, call(0, cost_micros=1_234))
    drain(archiver)
    assert calls_by_key(engine)[("res0", "c0")] == (1_234, False)
    # When the charge is delivered again (a redelivery), and in one batch with a settle
    add(r, keys, call(0, cost_micros=9_000, expired_charge=True))
    add(r, keys, call(1, cost_micros=8_000, expired_charge=True), call(1, cost_micros=800))
    drain(archiver)
    # Then the settled figures stand
    got = calls_by_key(engine)
    assert got[("res0", "c0")] == (1_234, False)
    assert got[("res0", "c1")] == (800, False)


def test_entries_that_do_not_parse_are_set_aside_with_a_reason_and_the_rest_archived(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    # Given good entries around bad ones of every shape
    bad = [
        {"k": "nonsense"},
        {"x": "no kind"},
        {**call(2), "cost": "a lot"},
        {**call(3), "day": "yesterday"},
        {**call(4), "tenant": "t" * 101},
        {**call(5), "cost": "-5"},
        {"k": "outcome", "doc": "{not json"},
        {"k": "outcome", "doc": json.dumps({"ticket_id": "T"})},
        {"k": "dlq", "doc": "[1, 2]"},
        {"k": "cap", "scope": "global", "who": "ops", "at": "soon"},
    ]
    add(r, keys, call(0), *bad, call(1))
    # When archived
    written, rejected = drain(archiver)
    # Then the good ones are rows, each bad one is on the rejects list with its reason
    assert (written, rejected) == (2, len(bad))
    assert count(engine, model_calls) == 2
    rejects = [json.loads(x) for x in r.lrange(keys.history_rejects, 0, -1)]
    reasons = " | ".join(x["reason"] for x in rejects)
    for needle in (
        "unknown kind 'nonsense'",
        "unknown kind None",
        "'cost' is not an integer",
        "'day' is not a date",
        "'tenant' longer than 100",
        "'cost' out of range",
        "'doc' is not JSON",
        "outcome field",
        "'doc' is not an object",
        "'at'",
    ):
        assert needle in reasons, needle  # fmt: skip
    assert {tuple(sorted(x["fields"].items())) for x in rejects} == {
        tuple(sorted(b.items())) for b in bad
    }
    assert r.xlen(keys.history_stream) == 0


def test_a_row_the_database_refuses_is_set_aside_alone(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    # Given a database rule that refuses one call's row (a trigger / a check constraint)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text(
                "CREATE TRIGGER too_dear BEFORE INSERT ON model_calls "
                "WHEN NEW.cost_micros > 1000000 BEGIN SELECT RAISE(ABORT, 'too dear'); END"
            ))  # fmt: skip
        else:
            conn.execute(text(
                "ALTER TABLE model_calls ADD CONSTRAINT too_dear CHECK (cost_micros <= 1000000)"
            ))  # fmt: skip
    try:
        add(r, keys, call(0), call(1, cost_micros=5_000_000), call(2))
        # When archived
        written, rejected = drain(archiver)
    finally:
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.execute(text("DROP TRIGGER too_dear"))
            else:
                conn.execute(text("ALTER TABLE model_calls DROP CONSTRAINT too_dear"))
    # Then the other two are rows and the refused one is on the rejects list
    assert (written, rejected) == (2, 1)
    assert set(calls_by_key(engine)) == {("res0", "c0"), ("res0", "c2")}
    (reject,) = [json.loads(x) for x in r.lrange(keys.history_rejects, 0, -1)]
    assert reject["reason"].startswith("refused: ")
    assert reject["fields"]["call"] == "c1"


def test_the_loop_archives_while_facts_arrive_and_stops_on_request(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    # Given a running archiver and a gauge of its backlog
    backlog: list[int] = []
    archiver.on_backlog = backlog.append
    stop = threading.Event()
    thread = threading.Thread(target=archiver.run, args=(stop,))
    thread.start()
    try:
        # When facts arrive in several bursts
        for burst in range(5):
            add(r, keys, *(call(burst * 30 + n) for n in range(30)))
            time.sleep(0.05)
        deadline = time.monotonic() + 20
        while count(engine, model_calls) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    # Then every one is archived, the loop stopped, and the gauge saw the backlog drain
    assert not thread.is_alive()
    assert count(engine, model_calls) == 150
    assert backlog and backlog[-1] == 0


def test_a_poison_message_outcome_and_dead_letter_are_archived(
    archiver: Archiver, engine: Engine, r: redis.Redis, keys: Keys
) -> None:
    # Given what a poison message leaves: no tenant, no requester, an odd ticket body
    poison = outcome("invalid-m1", tenant_id="", requester_id="", event_id="m1", reply=None,
                     status="dead_lettered")  # fmt: skip
    doc = dead_letter_doc("dl-p", tenant_id="", ticket={"requester": 42, "body": ["x"]})
    add(r, keys, emit.outcome_fields(poison.model_dump_json()),
        emit.dead_letter_fields(json.dumps(doc)))  # fmt: skip
    # When archived / Then both are rows, none set aside
    assert drain(archiver) == (2, 0)
    assert count(engine, ticket_outcomes) == 1 and count(engine, dead_letters) == 1
