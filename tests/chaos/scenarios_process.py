"""Scenarios where a process dies: a worker mid-call, Redis itself, the scheduler leader."""

from __future__ import annotations

import threading
import time

from tests.chaos.checks import check_callbacks, check_drained, explain_lost, log_count, n_final
from tests.chaos.procs import PrivateRedis, wait_until
from tests.chaos.stack import SECRET, ChaosStack
from tests.chaos.tally import Result, statuses, wait_final
from tests.chaos.traffic import Sender, sample_tickets
from tests.conftest import free_port
from tests.helpers import CallbackReceiver


def sigkill_workers(res: Result, redis_url: str, smoke: bool, deadline_s: float) -> None:
    """kill -9 a worker while calls are in flight (twice; once in smoke), restart it."""
    n, kills = (60, 1) if smoke else (160, 2)
    stack = ChaosStack("sigkill", redis_url, workers=2, threads=4, latency_ms=200)
    with CallbackReceiver() as cb:
        try:
            stack.start()
            sender = Sender(stack.web_url, SECRET)
            docs = sample_tickets("K", n, cb.url)
            feeder = threading.Thread(target=sender.send_all, args=(docs,), daemon=True)
            feeder.start()
            all_ids = [d["ticket_id"] for d in docs]
            for k in range(1, kills + 1):
                # Spread the kills over the run; each lands while the provider is mid-answer.
                at = n * k // (kills + 2)
                done = lambda at=at: n_final(statuses(stack.client, stack.keys, all_ids)) >= at  # noqa: E731
                wait_until(done, 60, 0.1)
                mid_call = stack.wait_in_flight()
                in_flight = stack.sim_stats()["in_flight"]
                code = stack.procs.kill("worker-2")
                res.expect(mid_call, "no provider call was in flight at the kill")
                res.notes.append(
                    f"kill -9 worker-2 (exit {code}) at {at} final, {in_flight} calls in flight"
                )
                stack.procs.restart("worker-2")
            feeder.join(timeout=60)
            ids = sorted(sender.accepted())
            res.expect(len(ids) == n, f"only {len(ids)}/{n} webhooks accepted")
            final = wait_final(stack.client, stack.keys, ids, deadline_s)
            time.sleep(0.5)  # a late repeated callback would have landed by now
            res.count(final)
            check_drained(res, stack, len(ids))
            check_callbacks(res, final, list(cb.received), exactly_once=False)
            sender.close()
        finally:
            stack.stop()


def redis_restart(res: Result, _redis_url: str, smoke: bool, deadline_s: float) -> None:
    """A private AOF Redis under the whole stack, SIGKILLed and restarted on its port mid-run."""
    red = PrivateRedis(free_port())
    red.start()
    stack = ChaosStack("redis", red.url, workers=2, threads=4, latency_ms=100)
    try:
        stack.start()
        sender = Sender(stack.web_url, SECRET, deadline_s=45)
        docs = sample_tickets("R", 120)
        stop = threading.Event()
        feeder = threading.Thread(target=sender.send_paced, args=(docs, 10.0, stop), daemon=True)
        feeder.start()
        ids = [d["ticket_id"] for d in docs]
        wait_until(lambda: n_final(statuses(stack.client, stack.keys, ids)) >= 25, 60, 0.2)
        red.kill()
        down_s = 3.0
        time.sleep(down_s)
        red.start()
        res.notes.append(
            f"redis SIGKILLed, down {down_s:.0f} s, restarted on the same port and dir"
        )
        # Give every process time to notice and reconnect before judging who survived.
        time.sleep(8)
        dead = stack.procs.dead()
        for name, code in dead.items():
            line = stack.procs.log_tail(name, 600).strip().splitlines()[-1:] or [""]
            res.failures.append(f"{name} exited {code} after the Redis restart: {line[0][:200]}")
            # What a supervisor (compose `restart: unless-stopped`, k8s) does; said so above.
            stack.procs.restart(name)
            res.notes.append(f"supervisor-restarted {name}")
        feeder.join(timeout=90)
        accepted = sorted(sender.accepted())
        refused = sender.refused()
        res.expect(not refused, f"{len(refused)} webhooks refused for good, e.g. {refused[:2]}")
        retried = sum(1 for d in sender.deliveries if d.tries > 1)
        res.notes.append(f"{retried} webhooks retried by the sender (503 / refused while down)")
        final = wait_final(stack.client, stack.keys, accepted, deadline_s)
        res.count(final)
        res.notes.extend(explain_lost(stack, sender.deliveries, res.lost_ids))
        check_drained(res, stack, len(accepted))
        sender.close()
    finally:
        stack.stop()
        red.close()


def scheduler_failover(res: Result, redis_url: str, smoke: bool, deadline_s: float) -> None:
    """Two schedulers; tickets parked behind a provider outage; SIGKILL the leader: the standby
    takes over, every parked ticket is released and answered once."""
    n = 60
    stack = ChaosStack("scheduler", redis_url, schedulers=2, env={"PACELINE_CIRCUIT_OPEN_S": "3"})
    with CallbackReceiver() as cb:
        try:
            stack.start()
            first_leader = stack.leader()
            stack.faults(error_rate=1.0, error_kind="unavailable")
            sender = Sender(stack.web_url, SECRET)
            docs = sample_tickets("S", n, cb.url)
            sender.send_all(docs)
            ids = sorted(sender.accepted())
            res.expect(len(ids) == n, f"only {len(ids)}/{n} webhooks accepted")

            def parked() -> int:
                now = statuses(stack.client, stack.keys, ids)
                return sum(1 for s in now.values() if s == "parked")

            res.expect(wait_until(lambda: parked() >= n // 2, 30, 0.2), "tickets never parked")
            res.notes.append(f"{parked()} parked when the leader was killed")
            stack.procs.kill("scheduler-1")
            killed_at = time.monotonic()
            stack.faults(error_rate=0.0)
            took_over = wait_until(
                lambda: (stack.leader() or first_leader) != first_leader, 20, 0.05
            )
            res.expect(took_over, "the standby never took the lead")
            res.notes.append(f"standby led after {time.monotonic() - killed_at:.1f} s")
            final = wait_final(stack.client, stack.keys, ids, deadline_s)
            time.sleep(0.5)
            res.count(final)
            # scheduler-1 is dead on purpose; judge the rest.
            stack.procs.procs.pop("scheduler-1")
            check_drained(res, stack, len(ids))
            check_callbacks(res, final, list(cb.received), exactly_once=True)
            # No worker died here, so a second copy of a ticket can only be a double release.
            twice = log_count(stack, "worker", "duplicate delivery skipped")
            res.expect(twice == 0, f"{twice} tickets delivered to workers after they were final")
            sender.close()
        finally:
            stack.stop()
