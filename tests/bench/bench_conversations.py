"""Conversations (issue 22): what a follow-up costs in Redis round trips over a new ticket, and
what a ticket's thread costs in memory at the default bound (N = 20 entries).

Round trips are counted on the client: every packed send on the connection is one (a pipeline
or a script is one). Measured at the two places a follow-up differs from a new ticket:
- intake (what the webhook does per event): `Intake.submit` on the Redis fast path, for a new
  ticket and for a customer's follow-up on an answered ticket; baseline: the same ticket on
  the replay lane, which keeps no conversation (today's one-shot intake);
- the worker's conversation step (read the ticket's state and thread, then record the outcome
  with its thread entry), for a new ticket and a follow-up; baseline: recording a one-shot
  outcome, which is all the worker did before.
Memory: `MEMORY USAGE` of the thread list and of the ticket hash after 10 customer messages and
10 answers of realistic length (the bundled sample's bodies), against the ticket hash of a
one-shot ticket. The machine is shared and loaded; counts and bytes do not depend on that.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import redis
from redis.connection import Connection

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from producers.enqueue import Intake  # noqa: E402
from shared.broker import build_broker  # noqa: E402
from shared.clock import ManualClock  # noqa: E402
from shared.data import load_sample  # noqa: E402
from shared.keys import Keys  # noqa: E402
from shared.models import Lane, Outcome, OutcomeStatus, Ticket  # noqa: E402
from shared.stores.outcomes import OutcomeStore  # noqa: E402
from shared.stores.threads import ThreadStore, outcome_entry  # noqa: E402
from tests.bench.common import bench_namespace, row  # noqa: E402
from tests.conftest import REDIS_URL  # noqa: E402

ISSUE = 22
COMMAND = ".venv/bin/python tests/bench/run_all.py --only conversations"
THREAD_N = 20


class CountingConnection(Connection):
    """A connection that counts its sends: one per round trip."""

    sends = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sends += 1
        super().send_packed_command(command, check_health)


def _counting_client() -> redis.Redis:
    pool = redis.ConnectionPool.from_url(
        REDIS_URL, connection_class=CountingConnection, decode_responses=True
    )
    return redis.Redis(connection_pool=pool)


def _trips(fn: Any) -> int:
    before = CountingConnection.sends
    fn()
    return CountingConnection.sends - before


def _ticket(n: int, event_type: str = "ticket.created", ticket: str | None = None) -> Ticket:
    body = str(load_sample()[n % 40].get("body") or "Where is my order?")
    return Ticket.model_validate(
        {
            "event_id": f"evt-{n}",
            "ticket_id": ticket or f"T-{n}",
            "tenant_id": "acme",
            "requester": {"id": "u-1"},
            "subject": "Where is my order?" if event_type == "ticket.created" else "",
            "body": body,
            "event_type": event_type,
        }
    )


def _answer(ticket: Ticket, at_ms: int) -> Outcome:
    reply = (
        "Thanks for your patience. Your parcel left our warehouse on Monday and is with the "
        "carrier; tracking shows it arriving within two working days. If it has not arrived by "
        "Friday, reply here and we will send a replacement or refund you in full. "
    ) * 2
    return Outcome.for_ticket(
        ticket, Lane.LIVE, OutcomeStatus.ANSWERED, reply=reply, cost_micros=812,
        llm_calls=2, updated_at_ms=at_ms, job_id=f"job-{ticket.event_id}",
    )  # fmt: skip


def _round_trips() -> list[dict[str, Any]]:
    with bench_namespace() as settings:
        client = _counting_client()
        keys = Keys(settings.namespace)
        broker = build_broker(settings)
        clock = ManualClock(1_795_000_000.0)
        intake = Intake(broker=broker, client=client, keys=keys, clock=clock,
                        dedupe_window_s=600, tz=settings.tz)  # fmt: skip
        outcomes, threads = OutcomeStore(client, keys), ThreadStore(client, keys)
        try:
            # Warm up: every script loaded once, so a count is a steady-state count.
            intake.submit(_ticket(900), Lane.LIVE)
            intake.submit(_ticket(901), Lane.REPLAY)
            threads.load(_ticket(900).key)
            outcomes.finalize(_answer(_ticket(900), 1), thread_entry="{}", thread_max=THREAD_N)
            outcomes.finalize(_answer(_ticket(901), 1))

            new = _ticket(1)
            intake_one_shot = _trips(lambda: intake.submit(_ticket(2), Lane.REPLAY))
            intake_new = _trips(lambda: intake.submit(new, Lane.LIVE))
            answered = _answer(new, 2)

            def worker_step(t: Ticket, outcome: Outcome) -> None:
                threads.load(t.key)
                outcomes.finalize(outcome, thread_entry=outcome_entry(outcome),
                                  thread_max=THREAD_N, auto_reply=True)  # fmt: skip

            worker_new = _trips(lambda: worker_step(new, answered))
            worker_one_shot = _trips(lambda: outcomes.finalize(_answer(_ticket(2), 2)))
            follow = _ticket(3, "message.created", ticket=new.ticket_id)
            intake_follow = _trips(lambda: intake.submit(follow, Lane.LIVE))
            worker_follow = _trips(lambda: worker_step(follow, _answer(follow, 3)))
        finally:
            broker.close()
            client.close()
    extra = (intake_follow + worker_follow) - (intake_new + worker_new)
    return [
        row(ISSUE, "intake round trips: new ticket (one-shot baseline)", intake_new, "trips",
            baseline=intake_one_shot, higher_is_better=False, command=COMMAND),
        row(ISSUE, "intake round trips: follow-up", intake_follow, "trips",
            baseline=intake_new, target="<= new + 1", passed=intake_follow <= intake_new + 1,
            higher_is_better=False, command=COMMAND),
        row(ISSUE, "worker conversation round trips: new ticket (one-shot baseline)",
            worker_new, "trips", baseline=worker_one_shot, higher_is_better=False,
            command=COMMAND),
        row(ISSUE, "worker conversation round trips: follow-up", worker_follow, "trips",
            baseline=worker_new, target="<= new + 1", passed=worker_follow <= worker_new + 1,
            higher_is_better=False, command=COMMAND),
        row(ISSUE, "follow-up over new ticket, all round trips per event", extra, "trips",
            target="<= 1", passed=extra <= 1, higher_is_better=False, command=COMMAND),
    ]  # fmt: skip


def _memory() -> list[dict[str, Any]]:
    with bench_namespace() as settings:
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        keys = Keys(settings.namespace)
        broker = build_broker(settings)
        intake = Intake(broker=broker, client=client, keys=keys,
                        clock=ManualClock(1_795_000_000.0), dedupe_window_s=600,
                        tz=settings.tz, thread_max_messages=THREAD_N)  # fmt: skip
        outcomes = OutcomeStore(client, keys)
        try:
            one_shot = _ticket(500)
            intake.submit(one_shot, Lane.REPLAY)
            outcomes.finalize(_answer(one_shot, 1))
            first = _ticket(0)
            for i in range(THREAD_N // 2):
                event = first if i == 0 else _ticket(i, "message.created", first.ticket_id)
                intake.submit(event, Lane.LIVE)
                done = _answer(event, 10 + i)
                outcomes.finalize(done, thread_entry=outcome_entry(done),
                                  thread_max=THREAD_N, auto_reply=True)  # fmt: skip
            entries = client.llen(keys.thread(first.key))
            assert entries == THREAD_N, entries
            thread_bytes = int(client.memory_usage(keys.thread(first.key)) or 0)
            hash_bytes = int(client.memory_usage(keys.ticket(first.key)) or 0)
            one_shot_bytes = int(client.memory_usage(keys.ticket(one_shot.key)) or 0)
        finally:
            broker.close()
            client.close()
    return [
        row(ISSUE, f"thread storage per ticket at N={THREAD_N} (list)", thread_bytes, "bytes",
            higher_is_better=False, command=COMMAND),
        row(ISSUE, f"ticket hash with its conversation at N={THREAD_N} (one-shot baseline)",
            hash_bytes, "bytes", baseline=one_shot_bytes, higher_is_better=False,
            command=COMMAND),
        row(ISSUE, f"all conversation storage per ticket at N={THREAD_N}",
            thread_bytes + hash_bytes, "bytes", baseline=one_shot_bytes,
            higher_is_better=False, command=COMMAND),
    ]  # fmt: skip


def run(quick: bool = False) -> list[dict[str, Any]]:
    return _round_trips() + _memory()


if __name__ == "__main__":
    for r in run():
        print(r["name"], r["figure"], r["unit"], "baseline", r["baseline"], "pass", r["pass"])
