"""`paceline replay FILE`: historical tickets into the replay lane (see producers/replay.py)."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.display import safe_text, usd

_TENANT = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")

if TYPE_CHECKING:
    import threading

    from producers.replay.columns import ColumnMapping
    from producers.replay.replayer import ProgressFn, ReplayFilter, ReplaySummary
    from producers.replay.source import Format
    from shared.settings import Settings


def _when(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    from producers.replay.columns import parse_date

    parsed = parse_date(raw)
    if parsed is None:
        fail(f"--{name}: not a date: {raw!r} (use 2026-11-01 or 2026-11-01T09:00:00Z)", Exit.USAGE)
    return parsed.astimezone(UTC)


@contextmanager
def _first_ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C asks the loop to stop between records; a second one interrupts."""

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _print_summary(doc: dict[str, Any]) -> None:
    from shared.cli.output import console as make_console

    console = make_console()
    state = "interrupted (run again to resume)" if doc["interrupted"] else "done"
    if doc["dry_run"]:
        state = "dry run, nothing enqueued"
    elif doc["completed"] and doc["estimate"] is None:
        state = "already complete (--restart replays it again; dedupe still holds)"
    elif doc["resumed_from_offset"]:
        state += f" (resumed after line {doc['line']:,})"
    est = doc.get("estimate")
    verb, count = (
        ("would enqueue", est["tickets"])
        if est and doc["dry_run"]
        else ("enqueued", doc["enqueued"])
    )
    tenant = f"; tenant {safe_text(doc['tenant'])}" if doc.get("tenant") else ""
    console.print(f"replay {doc['name']}: {state}{tenant}")
    console.print(
        f"  read {doc['read']:,} · {verb} {count:,}"
        f" · duplicates {doc['duplicates']:,} · skipped by filter {doc['skipped_by_filter']:,}"
        f" · invalid {doc['invalid']:,}"
    )
    for why in doc["invalid_reasons"]:
        console.print(f"  invalid: {safe_text(why)}")
    more = doc["invalid"] - len(doc["invalid_reasons"])
    if doc["invalid_reasons"] and more > 0:
        console.print(f"  and {more:,} more invalid rows")
    if doc.get("hint"):
        console.print(f"  hint: {doc['hint']}")
    if est:
        console.print(
            f"  estimated cost at {doc['model']}: likely {usd(est['likely_micros'])},"
            f" worst {usd(est['worst_micros'])};"
            f" that is {est['likely_share_of_ceiling_pct']}%"
            f" (worst {est['worst_share_of_ceiling_pct']}%) of the day's ceiling of"
            f" {usd(est['ceiling_micros_per_day'])}; replay may use"
            f" {usd(est['replay_budget_micros_per_day'])} a day"
        )


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_cmd(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        fmt: str | None = typer.Option(
            None, "--format", help="jsonl or csv (default: by suffix, else by content)."
        ),
        preset: str | None = typer.Option(None, "--preset", help="CSV columns of a vendor export."),
        columns: str | None = typer.Option(None, "--columns", help="field=Header,... for CSV."),
        since: str | None = typer.Option(None, "--since", help="Only tickets created at/after."),
        until: str | None = typer.Option(None, "--until", help="Only tickets created before."),
        tenant: str | None = typer.Option(
            None,
            "--tenant",
            help="The tenant these tickets belong to: rows naming none get it, rows naming "
            "another are skipped.",
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Estimate the cost; enqueue nothing."
        ),
        rate: float | None = typer.Option(None, "--rate", min=0.001, help="Tickets per second."),
        name: str | None = typer.Option(None, "--name", help="Replay name (checkpoint, dedupe)."),
        restart: bool = typer.Option(False, "--restart", help="Ignore the saved checkpoint."),
        post_replies: bool = typer.Option(
            False,
            "--post-replies",
            help="Post each answer back to the ticket's callback or vendor (default: stored only).",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON summary."),
    ) -> None:
        """Replay a JSONL or CSV export of tickets in the replay lane; resumable after Ctrl-C.
        Answers are stored as outcomes and not posted back unless --post-replies."""
        # Imported here so `paceline --help` does not pay for dramatiq and redis.
        from producers.replay.columns import ColumnMapping
        from producers.replay.replayer import ReplayFilter, replay_name
        from producers.replay.source import detect_format
        from shared.errors import MappingError

        settings = settings_or_exit()
        if fmt not in (None, "jsonl", "csv"):
            fail(f"--format: must be jsonl or csv, not {fmt!r}", Exit.USAGE)
        if (
            name is not None
            and not name.replace("-", "").replace("_", "").replace(".", "").isalnum()
        ):
            fail("--name: use letters, digits, '-', '_' and '.' only", Exit.USAGE)
        if tenant is not None and not _TENANT.match(tenant):
            fail(f"--tenant: not a tenant id: {tenant!r} (letters, digits, . _ -)", Exit.USAGE)
        if fmt is None and (preset or columns):
            fmt = "csv"  # a column mapping only means something for CSV
        kind: Format = detect_format(file) if fmt is None else ("csv" if fmt == "csv" else "jsonl")
        try:
            mapping = ColumnMapping.build(preset, columns) if kind == "csv" else None
        except MappingError as exc:
            fail(str(exc), Exit.USAGE)
        tenants = frozenset({tenant}) if tenant else frozenset()
        filt = ReplayFilter(_when("since", since), _when("until", until), tenants)
        run = _Run(
            settings, file, kind, mapping, filt, name or replay_name(file),
            tenant or settings.webhook_default_tenant,
        )  # fmt: skip
        doc = _run(run, dry_run, rate, restart, as_json, post_replies)
        doc["tenant"] = tenant
        if fmt is None and kind == "jsonl" and doc["read"] and doc["invalid"] == doc["read"]:
            doc["hint"] = "no line was a JSON ticket: if this file is CSV, add --format csv"
        if as_json:
            print_json(doc)
        else:
            _print_summary(doc)
        if doc["interrupted"]:
            raise typer.Exit(int(Exit.INTERRUPTED))
        if doc.get("hint"):
            raise typer.Exit(int(Exit.USAGE))


@dataclass(frozen=True)
class _Run:
    """What to replay and how to read it."""

    settings: Settings
    file: Path
    kind: Format
    mapping: ColumnMapping | None
    filt: ReplayFilter
    name: str
    tenant: str


def _run(
    run: _Run, dry_run: bool, rate: float | None, restart: bool, quiet: bool, post_replies: bool
) -> dict[str, Any]:
    from producers.enqueue import build_intake
    from producers.replay.estimate import ReplayEstimator
    from producers.replay.replayer import Replayer, ReplaySummary, estimate_document
    from producers.replay.source import open_records
    from shared.broker import build_broker
    from shared.clock import SystemClock
    from shared.errors import InputFileError, MappingError, SettingsError
    from shared.keys import Keys
    from shared.redis_client import make_redis
    from shared.settings import price_table

    settings = run.settings
    try:
        estimator = ReplayEstimator(settings, price_table(settings))
    except SettingsError as exc:
        fail(str(exc), Exit.CONFIG)
    client = make_redis(settings, max_connections=4)
    keys = Keys(settings.namespace)
    clock = SystemClock()
    broker = None if dry_run else build_broker(settings)
    intake = None if broker is None else build_intake(settings, broker, client, clock)
    replayer = Replayer(
        client=client, keys=keys, clock=clock, intake=intake, post_replies=post_replies
    )
    summary = ReplaySummary(name=run.name, file=str(run.file), dry_run=dry_run)
    try:
        replayer.resume_point(summary, restart)
        if summary.completed and not dry_run:
            return _document(summary, settings, None)
        records = open_records(
            run.file, run.kind, mapping=run.mapping, default_tenant=run.tenant,
            start_offset=summary.offset, start_line=summary.line,
        )  # fmt: skip
        with (
            _first_ctrl_c_stops(replayer.stop),
            _progress(run.file, summary.offset, quiet) as bar,
        ):
            replayer.run(
                records, summary, name=run.name, filt=run.filt, rate_per_s=rate,
                estimator=estimator, on_progress=bar,
            )  # fmt: skip
    except (MappingError, InputFileError) as exc:
        fail(str(exc), Exit.USAGE)
    finally:
        if broker is not None:
            broker.close()
        client.close()
    doc = _document(summary, settings, estimate_document(estimator))
    doc["rows_without_tenant_get"] = run.tenant
    doc["post_replies"] = post_replies
    return doc


def _document(
    summary: ReplaySummary, settings: Settings, estimate: dict[str, Any] | None
) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": summary.name, "file": summary.file, "dry_run": summary.dry_run}
    doc.update(summary.counts())
    doc["model"] = settings.model
    doc["estimate"] = estimate
    return doc


@contextmanager
def _progress(file: Path, start: int, quiet: bool) -> Iterator[ProgressFn | None]:
    """A rich progress bar counting rows, its ETA from the share of the file read; silent
    with --json (stdout is one document)."""
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    total = file.stat().st_size
    err = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}", BarColumn(),
        TextColumn("{task.fields[rows]:,} rows"), TimeRemainingColumn(),
        transient=True, console=err, disable=not err.is_terminal,
    ) as progress:  # fmt: skip
        task = progress.add_task("replay", total=total, completed=start, rows=0)

        def update(offset: int, rows: int) -> None:
            progress.update(task, completed=offset, rows=rows)

        yield update
