"""A paced dead-letter requeue interrupted by Ctrl-C and killed with SIGKILL, run after run:
no dead letter is lost and no ticket is sent twice; then the worker answers each once."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter

from shared.models import Lane
from shared.stores.dead_letters import DeadLetterRegistry
from tests.chaos.checks import check_callbacks
from tests.chaos.procs import ROOT
from tests.chaos.stack import SECRET, ChaosStack
from tests.chaos.tally import Result, statuses, wait_final
from tests.chaos.traffic import Sender, sample_tickets
from tests.helpers import CallbackReceiver

# Tickets requeued per second by the paced runs Ctrl-C interrupts. The SIGKILL runs go unpaced
# and are killed as soon as they have sent something, so a kill often lands between taking an
# entry and sending it (which strands it in flight for the next run to put back).
PACE_PER_S = 6.0
LEASE_WAIT_S = 6.0  # a killed run's lease lapses in 5 s; its stranded entries then come back


def _queued(stack: ChaosStack) -> Counter[str]:
    """Ticket id -> messages for it on the redrive lane (more than one is a double send)."""
    key = f"{stack.keys.dramatiq_queue(Lane.REDRIVE.queue_name)}.msgs"
    return Counter(json.loads(m)["args"][0]["ticket_id"] for m in stack.client.hvals(key))


def _until_sent(stack: ChaosStack, count: int, timeout_s: float) -> None:
    """Poll (tightly) until `count` messages are on the redrive lane."""
    key = f"{stack.keys.dramatiq_queue(Lane.REDRIVE.queue_name)}.msgs"
    deadline = time.monotonic() + timeout_s
    while stack.client.hlen(key) < count and time.monotonic() < deadline:
        time.sleep(0.001)


def _requeue(stack: ChaosStack, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "shared.cli.main", "dlq", "requeue", "--all", *args]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def redrive_interrupts(res: Result, redis_url: str, smoke: bool, deadline_s: float) -> None:
    n, rounds = (24, 4) if smoke else (120, 10)
    rng = random.Random(27)
    stack = ChaosStack("redrive", redis_url, workers=1, threads=4)
    with CallbackReceiver() as cb:
        try:
            stack.start()
            # Given n tickets dead-lettered by an exhausted quota, and no worker running
            stack.faults(error_rate=1.0, error_kind="insufficient_quota")
            sender = Sender(stack.web_url, SECRET)
            docs = sample_tickets("D", n, cb.url)
            sender.send_all(docs)
            ids = sorted(sender.accepted())
            res.expect(len(ids) == n, f"only {len(ids)}/{n} webhooks accepted")
            dead = wait_final(stack.client, stack.keys, ids, deadline_s)
            res.expect(
                all(s == "dead_lettered" for s in dead.values()), "not every ticket dead-lettered"
            )
            stack.procs.kill("worker-1", signal.SIGTERM)
            stack.faults(error_rate=0.0)
            registry = DeadLetterRegistry(stack.client, stack.keys)
            dry = _requeue(stack, "--dry-run", "--json").communicate(timeout=60)[0]
            per_ticket = json.loads(dry)["estimated_usd"] / max(n, 1)
            stranded = 0
            # When paced requeues are interrupted, alternately by Ctrl-C and by SIGKILL
            for i in range(rounds):
                sig = signal.SIGINT if i % 2 == 0 else signal.SIGKILL
                before = sum(_queued(stack).values())
                if sig == signal.SIGINT:
                    proc = _requeue(
                        stack, "--usd-per-hour", f"{per_ticket * 3600 * PACE_PER_S:.6f}"
                    )
                    time.sleep(rng.uniform(0.6, 1.6))
                else:
                    proc = _requeue(stack)
                    _until_sent(stack, before + rng.randint(1, 3), 20)
                proc.send_signal(sig)
                out, err = proc.communicate(timeout=30)
                if sig == signal.SIGINT:
                    res.expect(proc.returncode in (0, 130), f"Ctrl-C exit {proc.returncode}: {err}")
                    res.expect(
                        proc.returncode == 0 or "interrupted" in out, f"silent Ctrl-C: {out!r}"
                    )
                else:
                    stranded += stack.client.hlen(stack.keys.dlq_inflight)
                    time.sleep(LEASE_WAIT_S)
                sent = _queued(stack)
                res.expect(
                    max(sent.values(), default=0) <= 1,
                    f"round {i}: sent twice: {[t for t, c in sent.items() if c > 1][:3]}",
                )
                flying = stack.client.hlen(stack.keys.dlq_inflight)
                res.notes.append(
                    f"round {i} ({signal.Signals(sig).name}): {sum(sent.values())} sent, "
                    f"{registry.size()} dead, {flying} in flight"
                )
            res.notes.append(f"{stranded} entries stranded in flight by the kills")
            # And a last run finishes the rest
            time.sleep(LEASE_WAIT_S)
            out, err = _requeue(stack, "--json").communicate(timeout=120)
            sent = _queued(stack)
            res.expect(sorted(sent) == ids, f"{n - len(sent)} tickets never sent back")
            res.expect(max(sent.values(), default=0) <= 1, "a ticket was sent twice")
            res.expect(registry.size() == 0, f"{registry.size()} dead letters left")
            res.expect(stack.client.hlen(stack.keys.dlq_inflight) == 0, "entries left in flight")
            # Then the worker answers each ticket once, one callback each
            stack.start_worker("worker-1")
            final = wait_final(stack.client, stack.keys, ids, deadline_s)
            time.sleep(0.5)
            res.count(final)
            res.expect(res.answered + res.escalated == n, "not every ticket answered")
            check_callbacks(res, final, list(cb.received), exactly_once=True)
            sender.close()
            res.notes.append(
                f"final statuses {dict(Counter(statuses(stack.client, stack.keys, ids).values()))}"
            )
        finally:
            stack.stop()
