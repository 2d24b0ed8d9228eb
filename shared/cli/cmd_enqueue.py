"""`paceline enqueue FILE|-`: generic-JSON tickets into the live lane, one job id a line.

The input is one JSON object (pretty-printed is fine) or JSONL, one ticket a line. Invalid
lines are reported on stderr with their line numbers (never their content) and make the exit
non-zero; the valid ones are still enqueued. A job id is printed only once its message is on
the queue (RabbitMQ: the broker confirmed it), and the broker is closed before the exit.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import typer

from shared.cli.common import Exit, fail, settings_or_exit
from shared.errors import NotATicket
from shared.models import Lane, Ticket


@dataclass
class Report:
    job_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def iter_documents(text: str) -> Iterator[tuple[int, bytes]]:
    """(line number, raw JSON) pairs: the whole text when it is one object, else each line."""
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        yield 1, text.encode()
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line.encode()


def parse_ticket(raw: bytes, default_tenant: str) -> Ticket:
    from shared.vendors.payload import build_ticket, load_object

    doc = load_object(raw)
    doc.setdefault("tenant_id", default_tenant)
    return build_ticket(doc)


def enqueue(
    file: str = typer.Argument(..., help="A JSON or JSONL file of tickets, or - for stdin."),
) -> None:
    """Enqueue tickets (generic JSON) into the live lane; prints one job id a line."""
    settings = settings_or_exit()
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or type(exc).__name__}", Exit.USAGE)
    except UnicodeDecodeError:
        fail(f"cannot read {file}: not UTF-8 text", Exit.USAGE)
    from dramatiq.errors import DramatiqError
    from redis import RedisError

    from producers.enqueue import build_intake
    from shared.broker import build_broker
    from shared.cli.failures import describe
    from shared.clock import SystemClock
    from shared.errors import DeliveryInFlight
    from shared.redis_client import make_redis

    client = make_redis(settings, max_connections=4)
    broker = build_broker(settings)
    report = Report()
    try:
        intake = build_intake(settings, broker, client, SystemClock())
        for number, raw in iter_documents(text):
            try:
                ticket = parse_ticket(raw, settings.webhook_default_tenant)
            except NotATicket as exc:
                report.errors.append(f"line {number}: {exc}")
                typer.echo(f"paceline: line {number}: {exc}", err=True)
                continue
            try:
                submitted = intake.submit(ticket, Lane.LIVE)
            except (DeliveryInFlight, RedisError, DramatiqError) as exc:
                message, code = describe(exc)
                fail(f"line {number}: not enqueued: {message}", code)
            report.job_ids.append(submitted.job_id)
            typer.echo(submitted.job_id or submitted.handled or "")
    finally:
        broker.close()
        client.close()
    if report.errors:
        fail(f"{len(report.errors)} invalid, {len(report.job_ids)} enqueued", Exit.FAILED)


def register(app: typer.Typer) -> None:
    app.command("enqueue")(enqueue)
