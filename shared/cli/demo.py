"""`paceline up --demo`: the bundled history through the real webhook, then a summary."""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from shared.models import Outcome, OutcomeStatus
from shared.simulator.customer import Conversation, Played, ScriptedCustomer, load_conversations
from shared.stores.outcomes import OutcomeStore

FINAL_OR_PARKED = (
    "answered", "escalated", "rejected", "dead_lettered", "not_in_rollout", "parked"
)  # fmt: skip


@dataclass
class Fed:
    accepted: list[str] = field(default_factory=list)
    duplicates: int = 0
    refused: dict[int, int] = field(default_factory=dict)


def sign(secret: str, body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Paceline-Timestamp": ts,
        "X-Paceline-Signature": f"sha256={mac}",
        "Content-Type": "application/json",
    }


def feed(webhook_url: str, secret: str, tickets: list[dict[str, Any]], threads: int = 8) -> Fed:
    fed = Fed()
    with httpx.Client(timeout=10) as client:

        def post(doc: dict[str, Any]) -> tuple[str, int, bool]:
            body = json.dumps(doc).encode()
            resp = client.post(
                f"{webhook_url}/webhooks/generic", content=body, headers=sign(secret, body)
            )
            dup = resp.status_code == 202 and bool(resp.json().get("duplicate"))
            return str(doc.get("ticket_id")), resp.status_code, dup

        with ThreadPoolExecutor(threads) as pool:
            for ticket_id, status, dup in pool.map(post, tickets):
                if status != 202:
                    fed.refused[status] = fed.refused.get(status, 0) + 1
                elif dup:
                    fed.duplicates += 1
                else:
                    fed.accepted.append(ticket_id)
    return fed


def play_conversations(
    webhook_url: str, secret: str, store: OutcomeStore, path: str, timeout_s: float = 60
) -> list[Played]:
    """The scripted customers: each conversation message by message, every follow-up sent
    once the answer to the last message is final (shared/simulator/customer.py)."""
    from pathlib import Path

    conversations = load_conversations(Path(path))
    with httpx.Client(timeout=10) as client:

        def post(doc: dict[str, Any]) -> None:
            body = json.dumps(doc).encode()
            client.post(f"{webhook_url}/webhooks/generic", content=body, headers=sign(secret, body))

        def status(conv: Conversation, event_id: str) -> str | None:
            found = store.find(conv.ticket_id, conv.tenant_id)
            o = found[0] if found else None
            return o.status.value if o and o.event_id == event_id and o.status.is_final else None

        customer = ScriptedCustomer(post, status, timeout_s=timeout_s)
        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(customer.play, conversations))


def wait_for_outcomes(
    store: OutcomeStore, expected: int, timeout_s: float, alive: Any
) -> dict[str, int]:
    """Show a progress bar until every accepted ticket is final or parked."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]answering"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("tickets", total=expected)
        deadline = time.monotonic() + timeout_s
        while True:
            counts = store.summary()
            done = sum(counts.get(s, 0) for s in FINAL_OR_PARKED)
            progress.update(task, completed=min(done, expected))
            if done >= expected or time.monotonic() > deadline:
                return counts
            dead = alive()
            if dead:
                raise RuntimeError(f"{dead} stopped during the demo")
            time.sleep(0.2)


def summarise(
    store: OutcomeStore, fed: Fed, expect: dict[str, str], elapsed_s: float
) -> dict[str, Any]:
    outcomes: list[Outcome] = list(store.iter_outcomes())
    latencies = sorted(
        o.latency_ms for o in outcomes if o.latency_ms is not None and o.status.is_final
    )
    counts = store.summary()
    labelled = [o for o in outcomes if o.ticket_id in expect and o.status.is_final]
    matched = sum(1 for o in labelled if o.status.value == expect[o.ticket_id])
    should_escalate = [o for o in labelled if expect[o.ticket_id] == "escalated"]
    return {
        "tickets_sent": len(fed.accepted) + fed.duplicates + sum(fed.refused.values()),
        "accepted": len(fed.accepted),
        "duplicates_dropped": fed.duplicates,
        "refused": fed.refused,
        **{s.value: counts.get(s.value, 0) for s in OutcomeStatus},
        "prompt_tokens": sum(o.prompt_tokens for o in outcomes),
        "completion_tokens": sum(o.completion_tokens for o in outcomes),
        "llm_calls": sum(o.llm_calls for o in outcomes),
        "cost_micros": sum(o.cost_micros for o in outcomes),
        "latency_p50_ms": _pct(latencies, 50),
        "latency_p95_ms": _pct(latencies, 95),
        "answered_pct": round(100 * counts.get("answered", 0) / max(len(fed.accepted), 1), 1),
        "labels_matched": f"{matched}/{len(labelled)}",
        "should_escalate_escalated": sum(
            1 for o in should_escalate if o.status == OutcomeStatus.ESCALATED
        ),
        "should_escalate_total": len(should_escalate),
        "elapsed_s": round(elapsed_s, 1),
    }


def resolution_figures(client: Any, settings: Any, extra_s: float = 10.0) -> dict[str, Any]:
    """Today's resolutions once the answers' windows have closed (the scheduler closes them;
    the demo's window is seconds long): rate and cost per resolution beside the commercial
    figure."""
    from shared.clock import SystemClock
    from shared.conversation.report import resolution_report
    from shared.conversation.resolutions import Resolutions
    from shared.keys import Keys
    from shared.ledger import Ledger

    keys = Keys(settings.namespace)
    res = Resolutions(client, keys)
    deadline = time.monotonic() + settings.resolution_window_h * 3600 + extra_s
    while res.awaiting() and time.monotonic() < deadline:
        time.sleep(0.2)
    ledger = Ledger(client, keys, settings, SystemClock())
    doc = resolution_report(res, ledger, [ledger.day()], settings.tz).as_json()
    keep = ("resolutions", "resolution_rate", "cost_per_resolution_usd",
            "cost_per_resolution_micros", "commercial_usd_per_resolution", "awaiting")  # fmt: skip
    return {k: doc[k] for k in keep}


def _pct(sorted_values: list[int], pct: int) -> int | None:
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return sorted_values[0]
    return int(statistics.quantiles(sorted_values, n=100, method="inclusive")[pct - 1])


def print_summary(doc: dict[str, Any]) -> None:
    from shared.cli.output import print_table
    from shared.display import BUDGET_PLACES, usd

    rows = [
        (key, doc.get(key))
        for key in (
            "accepted", "duplicates_dropped", "answered", "escalated", "parked", "rejected",
            "dead_lettered", "pending", "llm_calls", "prompt_tokens", "completion_tokens",
        )
    ]  # fmt: skip
    rows.append(("cost", usd(doc.get("cost_micros"), BUDGET_PLACES)))
    rows += [
        (key, doc.get(key))
        for key in (
            "latency_p50_ms",
            "latency_p95_ms",
            "answered_pct",
            "labels_matched",
        )
    ]
    if "conversations" in doc:
        rows.append(("conversations (messages)",
                     f"{doc['conversations']} ({doc['conversation_messages']})"))  # fmt: skip
    if "resolutions" in doc:
        from shared.conversation.report import COMMERCIAL_MICROS_PER_RESOLUTION
        from shared.display import TICKET_PLACES

        rate = doc["resolution_rate"]
        rows += [
            ("resolutions", doc["resolutions"]),
            ("resolution_rate", "—" if rate is None else f"{rate:.1%}"),
            ("cost_per_resolution", usd(doc["cost_per_resolution_micros"], TICKET_PLACES)),
            ("commercial_per_resolution", usd(COMMERCIAL_MICROS_PER_RESOLUTION, 2)),
        ]
    rows.append(("elapsed_s", doc.get("elapsed_s")))
    print_table(("what", "value"), rows, title="paceline demo")
