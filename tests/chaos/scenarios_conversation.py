"""Conversations under a misbehaving helpdesk: every reply paceline posts comes straight back
as a new webhook on the same ticket (a "ticket updated" trigger), the classic self-triggered
loop. Expected: each ticket gets exactly one answer, and the spend stays flat afterwards."""

from __future__ import annotations

import time

from shared.stores.threads import ThreadStore
from tests.chaos.checks import check_callbacks, check_drained
from tests.chaos.procs import wait_until
from tests.chaos.stack import SECRET, ChaosStack
from tests.chaos.tally import Result, wait_final
from tests.chaos.traffic import Sender, sample_tickets
from tests.helpers import EchoingHelpdesk

# How long the spend must stay flat once every echo was acknowledged.
FLAT_WINDOW_S = 2.0


def echo_loop(res: Result, redis_url: str, smoke: bool, deadline_s: float) -> None:
    n = 10 if smoke else 30
    stack = ChaosStack("echo", redis_url, schedulers=1)
    try:
        stack.start()
        with EchoingHelpdesk(f"{stack.web_url}/webhooks/generic", SECRET) as helpdesk:
            sender = Sender(stack.web_url, SECRET)
            docs = [d for d in sample_tickets("E", n * 3, helpdesk.url) if _answerable(d)][:n]
            sender.send_all(docs, concurrency=8)
            ids = sorted(sender.accepted())
            res.expect(len(ids) == len(docs), f"only {len(ids)}/{len(docs)} tickets accepted")
            final = wait_final(stack.client, stack.keys, ids, deadline_s)
            answered = [t for t, s in final.items() if s in ("answered", "escalated")]
            # Every answer is echoed back; wait until each echo got its acknowledgement.
            wait_until(lambda: helpdesk.echoed >= len(answered), 20, 0.1)
            spent = _spend(stack, ids)
            served = int(stack.sim_stats()["by_status"].get("200", 0))
            time.sleep(FLAT_WINDOW_S)
            res.count(final)
            check_drained(res, stack, len(ids))
            check_callbacks(res, final, list(helpdesk.received), exactly_once=True)
            res.expect(
                all(code == 202 for code in helpdesk.answers),
                f"echoes answered {sorted(set(helpdesk.answers))}, not all 202",
            )
            later = int(stack.sim_stats()["by_status"].get("200", 0))
            res.expect(later == served, f"model calls went on: {served} -> {later}")
            res.expect(_spend(stack, ids) == spent, "spend moved after the answers")
            threads = ThreadStore(stack.client, stack.keys)
            answers = {t: _answers(threads, stack, t) for t in ids}
            res.expect(
                all(a == 1 for a in answers.values()),
                f"tickets with other than one outcome: {[t for t, a in answers.items() if a != 1]}",
            )
            res.notes.append(f"{helpdesk.echoed} echoes acknowledged and dropped")
            sender.close()
    finally:
        stack.stop()


def _answerable(doc: dict[str, object]) -> bool:
    # The sample's poison and oversized rows belong to other scenarios.
    return len(str(doc.get("body", ""))) < 4_000


def _spend(stack: ChaosStack, ids: list[str]) -> int:
    wanted = set(ids)
    return sum(o.cost_micros for o in stack.outcomes.iter_outcomes() if o.ticket_id in wanted)


def _answers(threads: ThreadStore, stack: ChaosStack, ticket_id: str) -> int:
    (outcome,) = stack.outcomes.find(ticket_id)
    return sum(1 for e in threads.load(outcome.key).entries if e.get("k") == "out")
