"""Helpers for replay tests: generated export files and counting what reached the replay lane."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import typer

from shared.keys import Keys
from shared.models import Lane

START = datetime(2026, 9, 1, tzinfo=UTC)
TENANTS = ("acme", "globex", "initech")


def ticket_doc(i: int) -> dict[str, Any]:
    return {
        "event_id": f"evt-{i}",
        "ticket_id": f"T-{i}",
        "tenant_id": TENANTS[i % 3],
        "requester": {"id": f"u-{i % 60 + 1}", "email": f"u{i % 60}@example.com", "name": "Ann"},
        "subject": f"Order {i} has not arrived",
        "body": "Hello, my package is late. Can you check the delivery? " * (1 + i % 5),
        "priority": "normal",
        "tags": ["shipping"],
        "created_at": (START + timedelta(hours=i)).isoformat().replace("+00:00", "Z"),
    }


def write_jsonl(path: Path, n: int, *, extra_lines: dict[int, str] | None = None) -> Path:
    """`n` tickets; `extra_lines` puts a raw line before ticket i (bad JSON, repeats, ...)."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            if extra_lines and i in extra_lines:
                f.write(extra_lines[i] + "\n")
            f.write(json.dumps(ticket_doc(i)) + "\n")
    return path


def replay_queue_counts(r: redis.Redis, keys: Keys) -> tuple[int, int]:
    """(messages waiting in the replay lane's list, messages in its `.msgs` hash)."""
    queue = f"{keys.dramatiq_namespace}:{Lane.REPLAY.queue_name}"
    return int(r.llen(queue)), int(r.hlen(queue + ".msgs"))


def queued_event_ids(r: redis.Redis, keys: Keys) -> list[str]:
    queue = f"{keys.dramatiq_namespace}:{Lane.REPLAY.queue_name}"
    events = []
    for raw in r.hvals(queue + ".msgs"):
        message = json.loads(raw)
        events.append(message["args"][0]["event_id"])
    return events


def cli_app() -> typer.Typer:
    """Only the replay and plan commands: the real module's `register`, as main.py does."""
    from shared.cli import cmd_plan, cmd_replay

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A group, so commands are addressed by name as in the real CLI."""

    cmd_replay.register(app)
    cmd_plan.register(app)
    return app


if __name__ == "__main__":
    # `python -m tests.producers.replay.helpers replay FILE ...`: the CLI in a subprocess
    # (SIGINT tests).
    cli_app()()
