"""The two-phase requeue: an interrupted or killed requeue loses no dead letter and sends none
twice; a requeued ticket that dies again keeps its history; `dlq reasons` and `dlq show`."""

from __future__ import annotations

import json
import signal
from typing import Any

import redis

from producers.redrive import Redrive
from shared.broker import build_broker
from shared.clock import SystemClock
from shared.keys import Keys
from shared.models import Lane, OutcomeStatus, Ticket
from shared.pricing import PriceTable
from shared.stores.dead_letters import DeadLetterRegistry, DLQFilter
from shared.stores.dlq_inflight import InFlight, InFlightDeadLetters
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import tkey, wait_for
from tests.producers.test_redrive import _cli, _dead, _run
from tests.workers.failures.helpers import Releaser
from workers.runtime import RunningWorker


def _redrive_queue(r: redis.Redis, keys: Keys) -> list[str]:
    """Ticket ids of every message on the redrive lane (a ticket twice means sent twice)."""
    raw = r.hvals(f"{keys.dramatiq_namespace}:{Lane.REDRIVE.queue_name}.msgs")
    return sorted(json.loads(m)["args"][0]["ticket_id"] for m in raw)


def _take_for_a_run(r: redis.Redis, keys: Keys, entry: Any, run: str) -> InFlight:
    """What a requeue run does first with an entry: take it (and, here, go no further)."""
    ticket = Ticket.model_validate(entry.ticket)
    before = OutcomeStore(r, keys).get(ticket.key)
    assert before is not None
    held = InFlight(
        entry.entry_id,
        run,
        "msg-of-" + run,
        1,
        before.model_dump_json(),
        keys.dlq_requeued(ticket.idempotency_key, before.updated_at_ms),
    )
    assert InFlightDeadLetters(r, keys, SystemClock()).take(entry, held) == 1
    return held


def test_an_entry_a_live_run_holds_is_left_to_it_and_its_duplicate_dropped(
    namespace: str, r: redis.Redis
) -> None:
    keys = Keys(namespace)
    # Given requeue A has taken an entry (its lease alive) and a duplicate entry of the same
    # death is still in the registry
    entry = _dead(r, keys, 1, "insufficient_quota", 3_000_000)
    _dead(r, keys, 1, "insufficient_quota", 3_000_000)
    r.set(keys.dlq_run("run-a"), "1", px=60_000)
    _take_for_a_run(r, keys, entry, "run-a")
    # When requeue B runs over the reason
    b = Redrive(make_settings(namespace), r, keys, SystemClock(), PriceTable.load())
    broker = build_broker(b.settings)
    try:
        result = b.requeue(broker, [], DLQFilter(reason="insufficient_quota"))
    finally:
        broker.close()
    # Then B sent nothing: A's entry stays A's, the duplicate is gone
    assert result.requeued == 0 and result.recovered == 0
    assert _redrive_queue(r, keys) == []
    assert DeadLetterRegistry(r, keys).size() == 0
    assert [(i.entry_id, alive) for i, alive in b.inflight.held()] == [(entry.entry_id, True)]


def test_a_stranded_entry_is_listed_then_put_back_and_sent_once(
    namespace: str, r: redis.Redis
) -> None:
    keys = Keys(namespace)
    # Given a requeue that took an entry, forced its outcome to pending and died (no lease)
    entries = [_dead(r, keys, i, "insufficient_quota", 3_000_000 + i) for i in (1, 2)]
    held = _take_for_a_run(r, keys, entries[0], "run-dead")
    store = OutcomeStore(r, keys)
    pending = store.get(tkey("T-1"))
    assert pending is not None
    store.force(
        pending.model_copy(update={"status": OutcomeStatus.PENDING, "job_id": held.message_id})
    )
    # When the dead letters are listed
    code, out, err = _run(namespace, "list", "--json")
    # Then the stranded one is shown as such
    assert code == 0, err
    states = {row["ticket_id"]: row["state"] for row in json.loads(out)}
    assert states == {"T-1": "stranded", "T-2": "dead"}
    # When a requeue runs
    code, out, err = _run(namespace, "requeue", "--reason", "insufficient_quota", "--json")
    # Then the stranded entry came back and both were sent, each once
    assert code == 0, err
    doc = json.loads(out)
    assert doc["recovered"] == 1 and doc["requeued"] == 2, doc
    assert _redrive_queue(r, keys) == ["T-1", "T-2"]
    assert r.hlen(keys.dlq_inflight) == 0 and DeadLetterRegistry(r, keys).size() == 0
    outcome = store.get(tkey("T-1"))
    assert outcome is not None and outcome.status is OutcomeStatus.PENDING
    assert outcome.job_id != held.message_id


def test_a_failed_send_puts_the_entry_back_as_it_was(namespace: str, r: redis.Redis) -> None:
    keys = Keys(namespace)
    # Given dead letters and a broker nobody listens on (RabbitMQ on a closed port)
    for i in (1, 2):
        _dead(r, keys, i, "insufficient_quota", 3_000_000 + i)
    settings = make_settings(namespace, broker_url="amqp://guest:guest@127.0.0.1:1/")
    rd = Redrive(settings, r, keys, SystemClock(), PriceTable.load(), queue_prefix=namespace)
    broker = build_broker(settings)
    # When they are requeued
    try:
        result = rd.requeue(broker, [], DLQFilter(reason="insufficient_quota"))
    finally:
        broker.close()
    # Then each failed, and each is back in the registry with its dead outcome
    assert result.requeued == 0 and result.failed == 2, result
    assert DeadLetterRegistry(r, keys).size() == 2 and r.hlen(keys.dlq_inflight) == 0
    for tid in ("T-1", "T-2"):
        outcome = OutcomeStore(r, keys).get(tkey(tid))
        assert outcome is not None and outcome.status is OutcomeStatus.DEAD_LETTERED


def test_ctrl_c_during_a_paced_requeue_loses_nothing(namespace: str, r: redis.Redis) -> None:
    keys = Keys(namespace)
    # Given 6 dead letters and a requeue paced to about one ticket every 0.4 s
    for i in range(1, 7):
        _dead(r, keys, i, "insufficient_quota", 3_000_000 + i)
    code, out, _ = _run(namespace, "requeue", "--all", "--dry-run", "--json")
    per_ticket = json.loads(out)["estimated_usd"] / 6
    rate = f"{per_ticket * 3600 / 0.4:.4f}"
    proc = _cli(namespace, "requeue", "--all", "--usd-per-hour", rate)
    assert wait_for(lambda: len(_redrive_queue(r, keys)) >= 2, 20)
    # When it gets Ctrl-C part-way
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    # Then it stops at once with 130 and says what it did
    assert proc.returncode == 130, err
    assert "interrupted: requeued" in out and "run it again" in out
    sent = _redrive_queue(r, keys)
    assert 2 <= len(sent) < 6
    # And every ticket is either sent or still a dead letter, none in flight, none lost
    left = sorted(e.ticket_id for e in DeadLetterRegistry(r, keys).iter_entries())
    assert sorted(sent + left) == [f"T-{i}" for i in range(1, 7)]
    assert r.hlen(keys.dlq_inflight) == 0
    for tid in left:
        outcome = OutcomeStore(r, keys).get(tkey(tid))
        assert outcome is not None and outcome.status is OutcomeStatus.DEAD_LETTERED
    # And a second run sends the rest, nothing twice
    code, out, err = _run(namespace, "requeue", "--all", "--json")
    assert code == 0, err
    assert _redrive_queue(r, keys) == [f"T-{i}" for i in range(1, 7)]


def test_a_requeued_ticket_that_dies_again_keeps_its_history(
    namespace: str, r: redis.Redis, private_simulator: SimulatorProcess
) -> None:
    keys = Keys(namespace)
    # Given a dead letter, and a provider whose quota is still exhausted
    first = _dead(r, keys, 1, "insufficient_quota", 3_000_000)
    private_simulator.faults(error_rate=1.0, error_kind="insufficient_quota")
    settings = make_settings(
        namespace, llm_base_url=private_simulator.base_url, llm_api_key="sk-t", pacing="off"
    )
    # When it is requeued and a worker runs it
    code, _, err = _run(namespace, "requeue", "--reason", "insufficient_quota")
    assert code == 0, err
    registry = DeadLetterRegistry(r, keys)
    with RunningWorker(settings, threads=1) as worker, Releaser(worker.ctx, worker.broker):
        assert wait_for(lambda: registry.size() == 1, 30)
    # Then the new entry names the earlier one, its reason and attempts
    again = next(registry.iter_entries())
    assert again.entry_id != first.entry_id
    assert [h["entry_id"] for h in again.history] == [first.entry_id]
    assert again.history[0]["reason"] == "insufficient_quota"
    assert again.attempts_total == again.attempts + first.attempts
    # And `dlq show` finds it by ticket id and by an id prefix, history included
    for ref in ("T-1", again.entry_id[:8]):
        code, out, err = _run(namespace, "show", ref, "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["entry_id"] == again.entry_id and doc["history"][0]["entry_id"] == first.entry_id
    code, out, err = _run(namespace, "show", again.entry_id[:8])
    assert code == 0 and "history" in out and first.entry_id in out, err
    # And `dlq reasons` counts it
    code, out, _ = _run(namespace, "reasons", "--json")
    assert json.loads(out) == [{"reason": "insufficient_quota", "count": 1}]


def test_show_refuses_an_ambiguous_prefix_and_names_the_candidates(
    namespace: str, r: redis.Redis
) -> None:
    keys = Keys(namespace)
    registry = DeadLetterRegistry(r, keys)
    for n, entry_id in ((1, "abc111" + "0" * 26), (2, "abc222" + "0" * 26)):
        entry = _dead(r, keys, n, "x", 3_000_000 + n)
        registry.claim(entry)
        registry.record(entry.model_copy(update={"entry_id": entry_id}))
    # When `dlq show` is given a prefix both ids share
    code, _, err = _run(namespace, "show", "abc")
    # Then it is refused in one line naming both
    assert code == 2 and "abc111" in err and "abc222" in err, err
    assert len(err.strip().splitlines()) == 1
    # And a longer prefix finds the one
    code, out, _ = _run(namespace, "show", "abc2", "--json")
    assert code == 0 and json.loads(out)["ticket_id"] == "T-2"
    # And nothing found is one line, exit 1
    code, _, err = _run(namespace, "show", "zzz")
    assert code == 1 and len(err.strip().splitlines()) == 1
