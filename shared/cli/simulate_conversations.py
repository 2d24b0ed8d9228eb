"""`paceline simulate --conversations FILE [--url U]`: scripted customers through the running
stack (`paceline up`), one conversation at a time, each follow-up sent once the last answer is
final; then each ticket's statuses and resolution state, and the day's resolution figures.

FILE is JSONL, one conversation a line (shared/simulator/customer.py):
`{"ticket_id", "tenant_id", "requester", "subject", "messages": ["first", "follow-up", ...]}`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.cli.common import Exit, fail, print_json
from shared.cli.output import print_table
from shared.clock import SystemClock
from shared.conversation.report import resolution_report
from shared.conversation.resolutions import Resolutions
from shared.keys import Keys, ticket_key
from shared.ledger import Ledger
from shared.redis_client import make_redis
from shared.settings import Settings
from shared.simulator.customer import Conversation, ScriptedCustomer, load_conversations
from shared.stores.outcomes import OutcomeStore

# How long one message may wait for its answer (a parked ticket waits for budget).
ANSWER_TIMEOUT_S = 120.0


def run_conversations(settings: Settings, path: Path, url: str, as_json: bool) -> None:
    import httpx

    try:
        scripts = load_conversations(path)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or type(exc).__name__}", Exit.USAGE)
    except ValueError as exc:
        fail(str(exc), Exit.USAGE)
    raw_secret = settings.webhook_secret("generic")
    if raw_secret is None:
        fail("PACELINE_WEBHOOK_SECRET_GENERIC is not set (paceline up prints it)", Exit.CONFIG)
    from shared.cli.demo import sign

    secret = raw_secret.decode()

    client = make_redis(settings, max_connections=4)
    keys = Keys(settings.namespace)
    store = OutcomeStore(client, keys)
    with httpx.Client(timeout=10) as http:

        def post(doc: dict[str, Any]) -> None:
            body = json.dumps(doc).encode()
            try:
                resp = http.post(f"{url.rstrip('/')}/webhooks/generic", content=body,
                                 headers=sign(secret, body))  # fmt: skip
            except httpx.HTTPError as exc:
                fail(f"{url} is not answering ({type(exc).__name__})", Exit.UNAVAILABLE)
            if resp.status_code != 202:
                fail(f"{url} answered {resp.status_code} to {doc['event_id']}", Exit.FAILED)

        def status(conv: Conversation, event_id: str) -> str | None:
            o = store.get(ticket_key(conv.tenant_id, "generic", conv.ticket_id))
            return o.status.value if o and o.event_id == event_id and o.status.is_final else None

        played = ScriptedCustomer(post, status, timeout_s=ANSWER_TIMEOUT_S).play_all(scripts)
    res = Resolutions(client, keys)
    rows: list[dict[str, Any]] = []
    for conv, p in zip(scripts, played, strict=True):
        state = res.get(ticket_key(conv.tenant_id, "generic", conv.ticket_id))
        rows.append({
            "ticket_id": conv.ticket_id, "tenant_id": conv.tenant_id, "sent": p.sent,
            "statuses": p.statuses, "stopped": p.stopped,
            "resolution": state.state if state else None,
        })  # fmt: skip
    ledger = Ledger(client, keys, settings, SystemClock())
    figures = resolution_report(res, ledger, [ledger.day()], settings.tz).as_json()
    if as_json:
        print_json({"conversations": rows, "today": figures})
    else:
        print_table(
            ("ticket", "tenant", "sent", "statuses", "stopped", "resolution"),
            [
                (
                    r["ticket_id"],
                    r["tenant_id"],
                    r["sent"],
                    " ".join(r["statuses"]),
                    r["stopped"],
                    r["resolution"] or "—",
                )
                for r in rows
            ],
        )
    if any(p.stopped == "timeout" for p in played):
        fail("some messages got no final answer in time", Exit.FAILED)
