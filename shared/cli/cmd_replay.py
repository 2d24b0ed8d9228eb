"""`paceline replay FILE`: historical tickets into the replay lane (see producers/replay.py)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit

if TYPE_CHECKING:
    import threading

    import redis

    from producers.enqueue import Intake
    from producers.replay.columns import ColumnMapping
    from producers.replay.replayer import ProgressFn, ReplayFilter, ReplaySummary
    from producers.replay.source import Format
    from shared.clock import Clock
    from shared.keys import Keys
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
    from rich.console import Console

    console = Console(stderr=False, highlight=False)
    state = "interrupted (run again to resume)" if doc["interrupted"] else "done"
    if doc["dry_run"]:
        state = "dry run, nothing enqueued"
    elif doc["completed"] and doc["estimate"] is None:
        state = "already complete (--restart replays it again; dedupe still holds)"
    elif doc["resumed_from_offset"]:
        state += f" (resumed at byte {doc['resumed_from_offset']:,})"
    est = doc.get("estimate")
    verb, count = (
        ("would enqueue", est["tickets"])
        if est and doc["dry_run"]
        else ("enqueued", doc["enqueued"])
    )
    console.print(f"replay {doc['name']}: {state}")
    console.print(
        f"  read {doc['read']:,} · {verb} {count:,}"
        f" · duplicates {doc['duplicates']:,} · skipped by filter {doc['skipped_by_filter']:,}"
        f" · invalid {doc['invalid']:,}"
    )
    if doc["invalid_lines"]:
        console.print(f"  invalid lines: {', '.join(map(str, doc['invalid_lines']))}")
    if est:
        console.print(
            f"  estimated cost at {doc['model']}: likely ${est['likely_micros'] / 1e6:,.2f},"
            f" worst ${est['worst_micros'] / 1e6:,.2f};"
            f" that is {est['likely_share_of_ceiling_pct']}%"
            f" (worst {est['worst_share_of_ceiling_pct']}%) of the day's ceiling of"
            f" ${est['ceiling_micros_per_day'] / 1e6:,.2f}; replay may use"
            f" ${est['replay_budget_micros_per_day'] / 1e6:,.2f} a day"
        )


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_cmd(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        fmt: str | None = typer.Option(None, "--format", help="jsonl or csv (default: by suffix)."),
        preset: str | None = typer.Option(None, "--preset", help="CSV columns of a vendor export."),
        columns: str | None = typer.Option(None, "--columns", help="field=Header,... for CSV."),
        since: str | None = typer.Option(None, "--since", help="Only tickets created at/after."),
        until: str | None = typer.Option(None, "--until", help="Only tickets created before."),
        tenant: list[str] = typer.Option([], "--tenant", help="Only this tenant (repeatable)."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Estimate the cost; enqueue nothing."
        ),
        rate: float | None = typer.Option(None, "--rate", min=0.001, help="Tickets per second."),
        name: str | None = typer.Option(None, "--name", help="Replay name (checkpoint, dedupe)."),
        restart: bool = typer.Option(False, "--restart", help="Ignore the saved checkpoint."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON summary."),
    ) -> None:
        """Replay a JSONL or CSV export of tickets in the replay lane; resumable after Ctrl-C."""
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
        kind: Format = detect_format(file) if fmt is None else ("csv" if fmt == "csv" else "jsonl")
        try:
            mapping = ColumnMapping.build(preset, columns) if kind == "csv" else None
        except MappingError as exc:
            fail(str(exc), Exit.USAGE)
        filt = ReplayFilter(_when("since", since), _when("until", until), frozenset(tenant))
        replay = name or replay_name(file)
        doc = _run(settings, file, kind, mapping, filt, replay, dry_run, rate, restart, as_json)
        if as_json:
            print_json(doc)
        else:
            _print_summary(doc)
        if doc["interrupted"]:
            raise typer.Exit(130)  # the shell's code for "stopped by Ctrl-C"


def _run(
    settings: Settings,
    file: Path,
    kind: Format,
    mapping: ColumnMapping | None,
    filt: ReplayFilter,
    name: str,
    dry_run: bool,
    rate: float | None,
    restart: bool,
    quiet: bool,
) -> dict[str, Any]:
    from redis import RedisError

    from producers.replay.estimate import ReplayEstimator
    from producers.replay.replayer import Replayer, ReplaySummary, estimate_document
    from producers.replay.source import open_records
    from shared.clock import SystemClock
    from shared.errors import MappingError, SettingsError
    from shared.keys import Keys
    from shared.redis_client import make_redis
    from shared.settings import price_table

    try:
        estimator = ReplayEstimator(settings, price_table(settings))
    except SettingsError as exc:
        fail(str(exc), Exit.CONFIG)
    client = make_redis(settings, max_connections=4)
    keys = Keys(settings.namespace)
    clock = SystemClock()
    intake = None if dry_run else _intake(settings, client, keys, clock)
    replayer = Replayer(client=client, keys=keys, clock=clock, intake=intake)
    summary = ReplaySummary(name=name, file=str(file), dry_run=dry_run)
    try:
        replayer.resume_point(summary, restart)
        if summary.completed and not dry_run:
            return _document(summary, settings, None)
        records = open_records(
            file, kind, mapping=mapping, default_tenant=settings.webhook_default_tenant,
            start_offset=summary.offset, start_line=summary.line,
        )  # fmt: skip
        with _first_ctrl_c_stops(replayer.stop), _progress(file, summary.offset, quiet) as bar:
            replayer.run(
                records, summary, name=name, filt=filt, rate_per_s=rate,
                estimator=estimator, on_progress=bar,
            )  # fmt: skip
    except MappingError as exc:
        fail(str(exc), Exit.USAGE)
    except RedisError as exc:
        fail(f"redis unavailable: {type(exc).__name__}", Exit.UNAVAILABLE)
    return _document(summary, settings, estimate_document(estimator))


def _intake(settings: Settings, client: redis.Redis, keys: Keys, clock: Clock) -> Intake:
    from producers.enqueue import Intake
    from shared.broker import build_broker, queue_prefix

    broker = build_broker(settings)
    return Intake(
        broker=broker, client=client, keys=keys, clock=clock,
        dedupe_window_s=settings.dedupe_window_s,
        queue_prefix=queue_prefix(settings),
    )  # fmt: skip


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
    """A rich progress bar by bytes, with ETA; silent with --json (stdout is one document)."""
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    total = file.stat().st_size
    with Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
        TimeRemainingColumn(), transient=True, console=Console(stderr=True),
    ) as progress:  # fmt: skip
        task = progress.add_task("replay", total=total, completed=start)

        def update(offset: int) -> None:
            progress.update(task, completed=offset)

        yield update
