"""Scenarios where the world misbehaves: the provider fails or throttles, vendors resend
deliveries in storms, and a message that is not a ticket lands on the queue."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import dramatiq

from shared.broker import build_broker
from shared.messages import HANDLE_TICKET
from shared.stores.dead_letters import DeadLetterRegistry
from tests.chaos.checks import check_callbacks, check_drained, llm_calls_recorded, n_final
from tests.chaos.procs import wait_until
from tests.chaos.stack import SECRET, ChaosStack
from tests.chaos.tally import Result, statuses, wait_final
from tests.chaos.traffic import Sender, sample_tickets, storm
from tests.helpers import CallbackReceiver


def _provider_window(
    res: Result, redis_url: str, deadline_s: float, name: str, window_s: float, **fault: Any
) -> None:
    """Traffic keeps arriving; the provider fails for `window_s`, then heals."""
    n = 120
    stack = ChaosStack(name, redis_url, latency_ms=50, env={"PACELINE_CIRCUIT_OPEN_S": "3"})
    try:
        stack.start()
        sender = Sender(stack.web_url, SECRET)
        docs = sample_tickets(name[:1].upper(), n)
        ids = [d["ticket_id"] for d in docs]
        stop = threading.Event()
        feeder = threading.Thread(target=sender.send_paced, args=(docs, 8.0, stop), daemon=True)
        feeder.start()
        wait_until(lambda: n_final(statuses(stack.client, stack.keys, ids)) >= 20, 60, 0.2)
        stack.faults(**fault)
        time.sleep(window_s)
        stack.faults(error_rate=0.0)
        stats = stack.sim_stats()
        res.notes.append(
            f"{window_s:.0f} s of {fault['error_kind']} at {fault['error_rate']:.0%}: "
            f"provider answered {dict(stats['by_status'])}"
        )
        feeder.join(timeout=60)
        accepted = sorted(sender.accepted())
        res.expect(len(accepted) == n, f"only {len(accepted)}/{n} webhooks accepted")
        final = wait_final(stack.client, stack.keys, accepted, deadline_s)
        res.count(final)
        check_drained(res, stack, len(accepted))
        attempts = [o.attempts for o in stack.outcomes.iter_outcomes()]
        res.notes.append(f"attempts per ticket: max {max(attempts, default=0)}")
        sender.close()
    finally:
        stack.stop()


def provider_outage(res: Result, redis_url: str, smoke: bool, deadline_s: float) -> None:
    _provider_window(
        res, redis_url, deadline_s, "outage", 12.0, error_rate=1.0, error_kind="unavailable"
    )


def rate_limit_storm(res: Result, redis_url: str, smoke: bool, deadline_s: float) -> None:
    _provider_window(
        res,
        redis_url,
        deadline_s,
        "ratelimit",
        12.0,
        error_rate=0.8,
        error_kind="rate_limit",
        retry_after_ms=1000,
    )


def duplicate_storm(res: Result, redis_url: str, smoke: bool, deadline_s: float) -> None:
    """Every delivery sent 5-10x concurrently, then once more after it was answered."""
    n = 25 if smoke else 50
    stack = ChaosStack("dupes", redis_url)
    with CallbackReceiver() as cb:
        try:
            stack.start()
            sender = Sender(stack.web_url, SECRET)
            docs = sample_tickets("D", n, cb.url)
            sent = sender.send_all(storm(docs, 5, 10), concurrency=16)
            ids = sorted(sender.accepted())
            res.expect(len(ids) == n, f"only {len(ids)}/{n} tickets accepted")
            firsts = Counter(d.ticket_id for d in sent if d.status == 202 and not d.duplicate)
            res.expect(all(firsts[t] == 1 for t in ids), "a ticket was enqueued more than once")
            jobs = {t: {d.job_id for d in sent if d.ticket_id == t} for t in ids}
            res.expect(all(len(j) == 1 for j in jobs.values()), "copies got different job ids")
            res.notes.append(f"{len(sent)} deliveries for {n} tickets")
            final = wait_final(stack.client, stack.keys, ids, deadline_s)
            late = sender.send_all(docs, concurrency=8)  # the vendor's retry, after the answer
            res.expect(all(d.duplicate for d in late), "a late repeat was enqueued again")
            time.sleep(1.0)
            res.count(final)
            check_drained(res, stack, len(ids))
            check_callbacks(res, final, list(cb.received), exactly_once=True)
            served = int(stack.sim_stats()["by_status"].get("200", 0))
            recorded = llm_calls_recorded(stack.outcomes, set(ids))
            res.expect(
                served == recorded, f"provider served {served} calls, outcomes record {recorded}"
            )
            sender.close()
        finally:
            stack.stop()


# One argument that is not a ticket: the actor runs and can dead-letter it itself.
BAD_ARG: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("not a ticket",), {"lane": "live"}),
    (({"ticket_id": "P-dict", "event_id": "P-dict-evt", "body": 42},), {"lane": "live"}),
    (([1, 2, 3],), {"lane": "live"}),
    ((None,), {"lane": "live"}),
]
# A call the actor cannot even be invoked with: no argument, two, or an unknown lane.
BAD_CALL: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {"lane": "live"}),
    (("a", "b"), {"lane": "live"}),
    (({"ticket_id": "P-lane", "event_id": "P-lane-evt"},), {"lane": "bogus"}),
]


def _messages(shapes: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[dramatiq.Message[Any]]:
    return [
        dramatiq.Message(
            queue_name="tickets_live",
            actor_name=HANDLE_TICKET,
            args=args,
            kwargs=kwargs,
            options={},
        )
        for args, kwargs in shapes
    ]


def poison(res: Result, redis_url: str, smoke: bool, deadline_s: float) -> None:
    """Messages whose one argument is not a ticket, among good tickets."""
    _poison(res, redis_url, smoke, deadline_s, "poison", BAD_ARG)


def poison_call(res: Result, redis_url: str, smoke: bool, deadline_s: float) -> None:
    """Messages the actor cannot be called with (no args, two args, unknown lane)."""
    _poison(res, redis_url, smoke, deadline_s, "poisoncall", BAD_CALL)


def _poison(
    res: Result,
    redis_url: str,
    smoke: bool,
    deadline_s: float,
    name: str,
    shapes: list[tuple[tuple[Any, ...], dict[str, Any]]],
) -> None:
    """Poison enqueued straight with dramatiq between batches of good webhooks: each must be
    dead-lettered with a reason (outcome + DLQ entry), every good ticket answered."""
    n = 20 if smoke else 40
    stack = ChaosStack(name, redis_url)
    try:
        stack.start()
        sender = Sender(stack.web_url, SECRET)
        docs = sample_tickets(name.upper(), n)
        broker = build_broker(stack.settings())
        poison_ids = []
        try:
            msgs = _messages(shapes)
            for i, msg in enumerate(msgs):
                sender.send_all(docs[i * n // len(msgs) : (i + 1) * n // len(msgs)])
                broker.enqueue(msg)
                arg = msg.args[0] if msg.args else None
                tid = arg.get("ticket_id") if isinstance(arg, dict) else None
                poison_ids.append(str(tid or f"invalid-{msg.message_id}"))
        finally:
            broker.close()
        good = sorted(sender.accepted())
        res.expect(len(good) == n, f"only {len(good)}/{n} webhooks accepted")
        final = wait_final(stack.client, stack.keys, good + poison_ids, deadline_s)
        res.count(final)
        bad = {t: final[t] for t in poison_ids if final[t] != "dead_lettered"}
        res.expect(not bad, f"poison not dead-lettered: {bad}")
        res.expect(
            all(final[t] in ("answered", "escalated") for t in good), "a good ticket did not finish"
        )
        entries = {
            e.ticket_id: e for e in DeadLetterRegistry(stack.client, stack.keys).iter_entries()
        }
        no_reason = [t for t in poison_ids if t not in entries or not entries[t].reason]
        res.expect(not no_reason, f"poison without a dead letter and reason: {no_reason}")
        reasons = sorted({entries[t].reason for t in poison_ids if t in entries})
        res.notes.append(f"poison reasons: {reasons}")
        sender.close()
    finally:
        stack.stop()
