"""`paceline dlq`: listing without ticket text, requeue by reason answering each ticket once
(even with duplicate entries and two operators at once), refusal past the redrive headroom,
dramatiq's own dead-letter copy removed with ours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import dramatiq
import redis

from shared.conversation.resolutions import Resolutions
from shared.keys import Keys
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.stores.dead_letters import DeadLetter, DeadLetterRegistry, DLQFilter
from shared.stores.outcomes import OutcomeStore
from tests.conftest import REDIS_URL, ROOT, SimulatorProcess, make_settings
from tests.helpers import CallbackReceiver, generic_ticket, tkey, wait_for
from tests.workers.failures.helpers import Releaser
from workers.runtime import RunningWorker

SECRET_BODY = "my card number is 4111 1111 1111 1111"


def _cli(namespace: str, *args: str, **env: str) -> subprocess.Popen[str]:
    full = {**os.environ, "PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace}
    full.update({f"PACELINE_{k.upper()}": v for k, v in env.items()})
    return subprocess.Popen(
        [sys.executable, "-m", "shared.cli.main", "dlq", *args],
        cwd=ROOT,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(namespace: str, *args: str, **env: str) -> tuple[int, str, str]:
    proc = _cli(namespace, *args, **env)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def _dead(r: redis.Redis, keys: Keys, n: int, reason: str, at_ms: int, **over: Any) -> DeadLetter:
    ticket = Ticket.model_validate(generic_ticket(n, body=SECRET_BODY, **over))
    OutcomeStore(r, keys).finalize(
        Outcome(
            ticket_id=ticket.ticket_id,
            event_id=ticket.event_id,
            tenant_id=ticket.tenant_id,
            status=OutcomeStatus.DEAD_LETTERED,
            reason=reason,
            updated_at_ms=at_ms,
        )
    )
    entry = DeadLetter(
        ticket_id=ticket.ticket_id,
        event_id=ticket.event_id,
        tenant_id=ticket.tenant_id,
        lane="live",
        reason=reason,
        error=f"ProviderRejected: {reason}",
        failed_at_ms=at_ms,
        ticket=ticket.to_message(),
    )
    DeadLetterRegistry(r, keys).record(entry)
    return entry


def test_list_filters_and_never_prints_ticket_text(namespace: str, r: redis.Redis) -> None:
    keys = Keys(namespace)
    # Given dead letters of two reasons and two tenants, at known times
    for i in range(1, 7):
        _dead(
            r,
            keys,
            i,
            "insufficient_quota" if i % 2 else "bad_request",
            1_000_000 + i,
            tenant_id="acme" if i <= 3 else "globex",
        )
    # When listed by reason, by tenant and time, and by text
    code, out, err = _run(namespace, "list", "--reason", "insufficient_quota", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [row["ticket_id"] for row in rows] == ["T-1", "T-3", "T-5"]
    assert SECRET_BODY not in out and "example.com" not in out
    _, out, _ = _run(namespace, "list", "--tenant", "globex", "--since", "1000005", "--json")
    assert [row["ticket_id"] for row in json.loads(out)] == ["T-5", "T-6"]
    _, out, _ = _run(namespace, "list", "--text", "T-4", "--json")
    assert [row["ticket_id"] for row in json.loads(out)] == ["T-4"]
    # And export carries the full ticket, one JSON line per entry
    _, out, _ = _run(namespace, "export", "--reason", "bad_request")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [d["ticket_id"] for d in lines] == ["T-2", "T-4", "T-6"]
    assert lines[0]["ticket"]["body"] == SECRET_BODY


def test_registry_walk_survives_removal_and_sweeps_by_age(namespace: str, r: redis.Redis) -> None:
    keys = Keys(namespace)
    reg = DeadLetterRegistry(r, keys)
    # Given 1,200 entries, many failing in the same millisecond
    for i in range(1200):
        _dead(r, keys, i, "x", 5_000 + i // 7)
    # When each is removed while the walk goes on, in batches of 100
    seen = 0
    for entry in reg.iter_entries(DLQFilter(), batch=100):
        assert reg.claim(entry)
        seen += 1
    # Then none was skipped
    assert seen == 1200 and reg.size() == 0
    # And a sweep removes only what is older than the retention
    day_ms = 24 * 3600 * 1000
    for i in range(10):
        _dead(r, keys, 10_000 + i, "x", (100 if i < 6 else 109) * day_ms)
    assert reg.sweep(110 * day_ms, retention_days=5, batch=4) == 6
    assert reg.size() == 4


def test_requeue_by_reason_answers_each_ticket_once(
    namespace: str, r: redis.Redis, simulator: SimulatorProcess
) -> None:
    keys = Keys(namespace)
    with CallbackReceiver() as callback:
        # Given 12 tickets dead for quota (3 of them with a duplicate entry) and 4 for another
        for i in range(1, 13):
            _dead(r, keys, i, "insufficient_quota", 2_000_000 + i, callback_url=callback.url)
        for i in (1, 2, 3):
            _dead(r, keys, i, "insufficient_quota", 2_000_000 + i, callback_url=callback.url)
        for i in range(13, 17):
            _dead(r, keys, i, "bad_request", 2_000_000 + i, callback_url=callback.url)
        # When it is priced first, then two operators requeue the same reason at once
        code, out, err = _run(
            namespace, "requeue", "--reason", "insufficient_quota", "--dry-run", "--json"
        )
        assert code == 0, err
        priced = json.loads(out)
        assert priced["tickets"] == 15 and priced["estimated_usd"] > 0 and priced["fits"]
        procs = [
            _cli(namespace, "requeue", "--reason", "insufficient_quota", "--json") for _ in range(2)
        ]
        docs = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            docs.append(json.loads(out))
        # Then each ticket was sent once, to the redrive lane, between them
        assert sum(d.get("requeued", 0) for d in docs) == 12, docs
        assert r.llen(f"{keys.dramatiq_namespace}:{Lane.REDRIVE.queue_name}") == 12
        code, out, _ = _run(namespace, "requeue", "--reason", "insufficient_quota", "--json")
        assert code == 0 and json.loads(out)["tickets"] == 0  # nothing to do
        # When a worker runs them
        settings = make_settings(
            namespace, llm_base_url=simulator.base_url, llm_api_key="sk-test", pacing="off"
        )
        store = OutcomeStore(r, keys)
        with RunningWorker(settings, threads=4) as worker, Releaser(worker.ctx, worker.broker):
            assert wait_for(lambda: store.summary()["dead_lettered"] == 4, 30), store.summary()
            assert wait_for(lambda: len(callback.received) >= 12, 10)
    # Then each is answered exactly once; the other reason is untouched
    by_ticket = sorted(c["body"]["ticket_id"] for c in callback.received)
    assert by_ticket == sorted(f"T-{i}" for i in range(1, 13))
    resolutions = Resolutions(r, keys)
    for i in range(1, 13):
        outcome = store.get(tkey(f"T-{i}"))
        assert outcome is not None and outcome.status.is_final and outcome.lane == Lane.REDRIVE
        # And each answer started its resolution window (sent with the ticket's close)
        state = resolutions.get(tkey(f"T-{i}"))
        expected = "awaiting" if outcome.status is OutcomeStatus.ANSWERED else "unresolved"
        assert state is not None and state.state == expected, (i, outcome.status, state)
    assert DeadLetterRegistry(r, keys).size() == 4


def test_requeue_past_the_redrive_headroom_is_refused(namespace: str, r: redis.Redis) -> None:
    keys = Keys(namespace)
    # Given a $0.02 day (30% kept for live tickets) and 10 dead tickets
    for i in range(1, 11):
        _dead(r, keys, i, "http_500", 3_000_000 + i)
    env = {"daily_ceiling_usd": "0.02", "user_daily_cap_usd": "0.01"}
    # When they are requeued
    code, out, err = _run(namespace, "requeue", "--all", **env)
    # Then it is refused with the numbers, and nothing moved
    assert code == 5, (out, err)
    assert "refused" in err and "$0.0140" in err and "live reserve $0.0060" in err, err
    assert len(err.strip().splitlines()) == 1
    assert DeadLetterRegistry(r, keys).size() == 10
    assert r.llen(f"{keys.dramatiq_namespace}:{Lane.REDRIVE.queue_name}") == 0
    # And a reason no dead letter ever had is an error naming the ones there are
    code, out, err = _run(namespace, "requeue", "--reason", "nope", **env)
    assert code == 2 and "http_500 (10)" in err and len(err.strip().splitlines()) == 1
    # While a selection with nothing in it is "nothing to do", exit 0
    code, out, _ = _run(namespace, "requeue", "--all", "--since", "1h", **env)
    assert code == 0 and "nothing to do" in out


def test_purge_removes_dramatiqs_dead_letter_copy(
    namespace: str, r: redis.Redis, simulator: SimulatorProcess
) -> None:
    # Given a ticket actor that fails with an unexpected error and no retries left
    settings = make_settings(
        namespace,
        llm_base_url=simulator.base_url,
        llm_api_key="sk-test",
        pacing="off",
        max_retries=0,
    )
    keys = Keys(namespace)
    worker = RunningWorker(settings, threads=1)

    def boom(ticket: Any, lane: str = "live") -> None:
        raise RuntimeError("worker bug")

    dramatiq.Actor(
        boom,
        broker=worker.broker,
        actor_name="handle_ticket_boom",
        queue_name=Lane.LIVE.queue_name,
        priority=0,
        options={},
    )
    ticket = Ticket.model_validate(generic_ticket(1))
    with worker:
        worker.broker.enqueue(
            dramatiq.Message(
                queue_name=Lane.LIVE.queue_name,
                actor_name="handle_ticket_boom",
                args=(ticket.to_message(),),
                kwargs={"lane": "live"},
                options={},
            )
        )
        xq = keys.dramatiq_dead(Lane.LIVE.queue_name)
        # Then dramatiq dead-letters it and our registry records where its copy is
        assert wait_for(lambda: r.zcard(xq) == 1 and worker.ctx.dead_letters.size() == 1, 20)
    entry = next(iter(DeadLetterRegistry(r, keys).iter_entries()))
    assert entry.reason == "worker_error:RuntimeError" and entry.redis_message_id
    assert "worker bug" in entry.traceback
    # When it is purged (with --yes: no question asked)
    code, out, err = _run(namespace, "purge", entry.entry_id, "--yes")
    # Then both copies are gone
    assert code == 0 and "purged 1" in out, err
    assert r.zcard(xq) == 0 and r.hlen(xq + ".msgs") == 0
