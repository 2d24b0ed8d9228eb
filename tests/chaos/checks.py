"""Checks several scenarios share: callbacks per ticket, provider calls, log lines, the lot."""

from __future__ import annotations

import glob
import os
from collections import defaultdict
from typing import Any

from shared.stores.outcomes import OutcomeStore
from tests.chaos.stack import ChaosStack
from tests.chaos.tally import FINAL, Result


def callbacks(received: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, set[str]]]:
    """POSTs per ticket and the Idempotency-Keys each ticket's POSTs carried."""
    posts: dict[str, int] = defaultdict(int)
    keys: dict[str, set[str]] = defaultdict(set)
    for call in received:
        tid = str(call["body"].get("ticket_id"))
        posts[tid] += 1
        keys[tid].add(str(call["headers"].get("Idempotency-Key")))
    return posts, keys


def check_callbacks(
    res: Result, final: dict[str, str | None], received: list[dict[str, Any]], *, exactly_once: bool
) -> None:
    posts, keys = callbacks(received)
    done = [t for t, s in final.items() if s in ("answered", "escalated")]
    missing = [t for t in done if posts.get(t, 0) == 0]
    res.expect(not missing, f"{len(missing)} final tickets never called back, e.g. {missing[:3]}")
    mixed = [t for t, k in keys.items() if len(k) > 1]
    res.expect(not mixed, f"{len(mixed)} tickets called back under different keys")
    repeats = {t: n for t, n in posts.items() if n > 1}
    if exactly_once:
        res.expect(not repeats, f"{len(repeats)} tickets called back more than once")
    elif repeats:
        res.notes.append(f"{len(repeats)} callbacks repeated with the same key (allowed)")
    res.notes.append(f"callbacks {sum(posts.values())} for {len(posts)} tickets")


def llm_calls_recorded(store: OutcomeStore, ids: set[str]) -> int:
    return sum(o.llm_calls for o in store.iter_outcomes() if o.ticket_id in ids)


def log_count(stack: ChaosStack, prefix: str, needle: str) -> int:
    total = 0
    for path in glob.glob(os.path.join(stack.logs_dir, f"{prefix}*.log")):
        with open(path, errors="replace") as fh:
            total += sum(1 for line in fh if needle in line)
    return total


def lot_empty(stack: ChaosStack) -> bool:
    k = stack.keys
    return int(stack.client.zcard(k.parked)) + int(stack.client.zcard(k.parked + ":inflight")) == 0


def n_final(final: dict[str, str | None]) -> int:
    return sum(1 for s in final.values() if s in FINAL)


def check_drained(res: Result, stack: ChaosStack, n_in: int) -> None:
    """The common end state: every ticket answered or escalated, none dead, the lot empty."""
    res.expect(res.answered + res.escalated == n_in, "not every ticket answered or escalated")
    res.expect(res.dead_lettered == 0, f"{res.dead_lettered} dead-lettered")
    res.expect(lot_empty(stack), "parking lot not empty at the end")
    res.expect(not stack.procs.dead(), f"processes exited on their own: {stack.procs.dead()}")


def explain_lost(stack: ChaosStack, deliveries: list[Any], lost_ids: list[str]) -> list[str]:
    """For each lost ticket: how its webhooks went and what the workers logged about its job,
    so a failure report says where the ticket fell out."""
    out = []
    for tid in lost_ids[:5]:
        sent = [(d.status, d.tries, d.duplicate) for d in deliveries if d.ticket_id == tid]
        job = next((d.job_id for d in deliveries if d.ticket_id == tid and d.job_id), "")
        retried = log_count(stack, "worker", f"Retrying message '{job}'") if job else 0
        unacked = log_count(stack, "worker", f"post_process_message(<message {job}>)") if job else 0
        out.append(
            f"lost {tid}: webhooks (status, tries, duplicate)={sent}; worker log: "
            f"'Retrying message' x{retried}, post_process failed x{unacked}"
        )
    return out
