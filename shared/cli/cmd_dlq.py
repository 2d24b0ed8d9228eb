"""`paceline dlq list|show|requeue|purge|export|sweep`: see, price, replay and drop dead letters.

Selection is explicit ids, `--all`, or filters (`--reason`, `--tenant`, `--since`, `--until`,
`--text`); a requeue or purge with none of them is refused. Listings never print ticket bodies;
`--json` prints exactly one JSON document, streamed (100,000 entries are never held at once).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.money import fmt_usd, micros_to_usd, usd_to_micros

if TYPE_CHECKING:
    from producers.redrive import Redrive
    from shared.stores.dead_letters import DLQFilter

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
Ids = Annotated[list[str] | None, typer.Argument(help="Entry ids.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every entry matching the filters.")]
Reason = Annotated[str | None, typer.Option("--reason", help="Exact reason code.")]
Tenant = Annotated[str | None, typer.Option("--tenant", help="Tenant id.")]
Since = Annotated[str | None, typer.Option("--since", help="ISO time, epoch ms, or 2h/30m/7d ago.")]
Until = Annotated[str | None, typer.Option("--until", help="ISO time, epoch ms, or 2h/30m/7d ago.")]
Text = Annotated[
    str | None, typer.Option("--text", help="Substring of reason, error or ticket id.")
]
_AGO = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time_ms(value: str | None, now_s: float, name: str) -> int | None:
    if value is None:
        return None
    ago = _AGO.match(value.strip())
    if ago:
        return int((now_s - int(ago.group(1)) * _UNIT_S[ago.group(2)]) * 1000)
    if value.isdigit():
        return int(value)
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        fail(f"{name}: not a time: {value!r} (ISO-8601, epoch ms, or 2h/30m/7d)", Exit.USAGE)


def _filter(
    reason: str | None, tenant: str | None, since: str | None, until: str | None, text: str | None
) -> DLQFilter:
    import time

    from shared.stores.dead_letters import DLQFilter

    now_s = time.time()
    return DLQFilter(
        reason,
        tenant,
        parse_time_ms(since, now_s, "--since"),
        parse_time_ms(until, now_s, "--until"),
        text,
    )


def _redrive() -> Redrive:
    from producers.redrive import Redrive
    from shared.broker import queue_prefix
    from shared.clock import SystemClock
    from shared.keys import Keys
    from shared.redis_client import make_redis
    from shared.settings import price_table

    s = settings_or_exit()
    return Redrive(
        s,
        make_redis(s, max_connections=4),
        Keys(s.namespace),
        SystemClock(),
        price_table(s),
        queue_prefix=queue_prefix(s),
    )


def _need_selection(ids: list[str] | None, all_: bool, flt: DLQFilter) -> None:
    if not ids and not all_ and flt == type(flt)():
        fail(
            "name entry ids, --all, or a filter (--reason, --tenant, --since, --until, --text)",
            Exit.USAGE,
        )


@contextmanager
def _bar(total: int, label: str) -> Iterator[Any]:
    """A progress bar on stderr (stdout stays one JSON document with --json)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda _kind: bar.advance(task)


def register(app: typer.Typer) -> None:
    dlq = typer.Typer(
        help="Dead letters: list, show, requeue, purge, export.", no_args_is_help=True
    )
    app.add_typer(dlq, name="dlq")

    @dlq.command("list")
    def list_(
        reason: Reason = None,
        tenant: Tenant = None,
        since: Since = None,
        until: Until = None,
        text: Text = None,
        limit: Annotated[int, typer.Option(min=0, help="At most N (0: all).")] = 0,
        as_json: JsonOpt = False,
    ) -> None:
        """Dead letters, oldest first (never the ticket text)."""
        flt = _filter(reason, tenant, since, until, text)
        out = sys.stdout
        if as_json:
            out.write("[")
        elif out.isatty():
            out.write(
                f"{'entry':32}  {'failed at (UTC)':19}  {'tenant':12}  {'ticket':20}  reason\n"
            )
        n = 0
        for entry in _redrive().registry.iter_entries(flt):
            if as_json:
                out.write(("," if n else "") + json.dumps(entry.summary(), sort_keys=True))
            else:
                at = datetime.fromtimestamp(entry.failed_at_ms / 1000, UTC).strftime(
                    "%Y-%m-%d %H:%M:%S"
                )
                out.write(
                    f"{entry.entry_id:32}  {at:19}  {entry.tenant_id:12.12}  "
                    f"{entry.ticket_id:20.20}  {entry.reason}\n"
                )
            n += 1
            if limit and n >= limit:
                break
        out.write("]\n" if as_json else "")
        out.flush()

    @dlq.command()
    def show(
        entry_id: str,
        as_json: JsonOpt = False,
        with_ticket: Annotated[
            bool, typer.Option("--with-ticket", help="Include the ticket text.")
        ] = False,
    ) -> None:
        """One dead letter: reason, error, traceback, attempts, cost."""
        entry = _redrive().registry.get(entry_id)
        if entry is None:
            fail(f"no dead letter {entry_id!r}")
        doc = entry.model_dump(mode="json")
        doc["cost_usd"] = micros_to_usd(entry.cost_micros)
        if not with_ticket:
            doc.pop("ticket", None)
        if as_json:
            print_json(doc)
            return
        for key in sorted(doc):
            typer.echo(f"{key}: {doc[key]}")

    @dlq.command()
    def requeue(
        ids: Ids = None,
        all_: AllOpt = False,
        reason: Reason = None,
        tenant: Tenant = None,
        since: Since = None,
        until: Until = None,
        text: Text = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Price it, send nothing.")] = False,
        usd_per_hour: Annotated[
            float | None,
            typer.Option(
                "--usd-per-hour",
                min=0.0001,
                help="Pace: at most this many dollars (worst case) per hour.",
            ),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Send dead letters back through the redrive lane, priced first."""
        flt = _filter(reason, tenant, since, until, text)
        _need_selection(ids, all_, flt)
        rd = _redrive()
        plan = rd.plan(ids or [], flt)
        from producers.redrive import redrive_headroom

        room = redrive_headroom(rd.ledger, rd.settings)
        doc: dict[str, Any] = {
            "tickets": plan.tickets,
            "stale": plan.stale,
            "invalid": plan.invalid,
            "estimated_usd": micros_to_usd(plan.worst_micros),
            "likely_usd": micros_to_usd(plan.likely_micros),
            "redrive_available_usd": micros_to_usd(room["available_micros"]),
            "ceiling_usd": micros_to_usd(room["ceiling_micros"]),
            "spent_usd": micros_to_usd(room["spent_micros"]),
            "reserved_usd": micros_to_usd(room["reserved_micros"]),
            "live_reserve_usd": micros_to_usd(room["live_reserve_micros"]),
            "fits": plan.worst_micros <= room["available_micros"],
            "dry_run": dry_run,
        }
        if dry_run or plan.tickets == 0:
            _say(doc, as_json, "nothing to do" if plan.tickets == 0 else _priced(doc))
            return
        if not doc["fits"]:
            fail(
                f"requeue refused: estimated {fmt_usd(plan.worst_micros)} for {plan.tickets} "
                f"tickets exceeds what the redrive lane may spend today "
                f"{fmt_usd(room['available_micros'])} (ceiling {fmt_usd(room['ceiling_micros'])}"
                f" - spent {fmt_usd(room['spent_micros'])} - reserved "
                f"{fmt_usd(room['reserved_micros'])} - live reserve "
                f"{fmt_usd(room['live_reserve_micros'])})",
                Exit.REFUSED,
            )
        from shared.broker import build_broker

        broker = build_broker(rd.settings)
        broker.declare_queue(rd.queue_name)
        rate = usd_to_micros(str(usd_per_hour)) if usd_per_hour else None
        try:
            with _bar(plan.tickets, "requeue") as step:
                result = rd.requeue(broker, ids or [], flt, usd_per_hour_micros=rate, progress=step)
        finally:
            broker.close()
        doc.update(
            requeued=result.requeued,
            skipped=result.stale,
            failed=result.failed,
            errors=result.errors,
            requeued_estimate_usd=micros_to_usd(result.worst_micros),
        )
        _say(
            doc,
            as_json,
            f"requeued {result.requeued}, skipped {result.stale}, "
            f"failed {result.failed} {result.errors or ''}".rstrip(),
        )
        if result.failed:
            raise typer.Exit(int(Exit.FAILED))

    @dlq.command()
    def purge(
        ids: Ids = None,
        all_: AllOpt = False,
        reason: Reason = None,
        tenant: Tenant = None,
        since: Since = None,
        until: Until = None,
        text: Text = None,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Delete dead letters (and dramatiq's copies of them)."""
        flt = _filter(reason, tenant, since, until, text)
        _need_selection(ids, all_, flt)
        rd = _redrive()
        count = sum(1 for _ in rd.select(ids or [], flt))
        if count == 0:
            _say({"purged": 0}, as_json, "nothing to do")
            return
        if not yes and not typer.confirm(f"Delete {count} dead letters?", err=True):
            fail("purge cancelled", Exit.REFUSED)
        with _bar(count, "purge") as step:
            removed = rd.purge(ids or [], flt, progress=step)
        _say({"purged": removed}, as_json, f"purged {removed}")

    @dlq.command()
    def export(
        ids: Ids = None,
        reason: Reason = None,
        tenant: Tenant = None,
        since: Since = None,
        until: Until = None,
        text: Text = None,
        out: Annotated[Path | None, typer.Option("--out", help="File (default stdout).")] = None,
    ) -> None:
        """Full entries (ticket included) as JSONL, for audits or another system."""
        flt = _filter(reason, tenant, since, until, text)
        rd = _redrive()
        entries = rd.select(ids or [], flt)
        with out.open("w", encoding="utf-8") if out else _stdout() as fh:
            for entry in entries:
                fh.write(json.dumps(entry.model_dump(mode="json"), sort_keys=True) + "\n")

    @dlq.command()
    def sweep(as_json: JsonOpt = False) -> None:
        """Delete entries older than PACELINE_DLQ_RETENTION_DAYS, in batches."""
        import time

        rd = _redrive()
        n = rd.registry.sweep(int(time.time() * 1000), rd.settings.dlq_retention_days)
        _say({"swept": n}, as_json, f"swept {n}")


@contextmanager
def _stdout() -> Iterator[Any]:
    yield sys.stdout
    sys.stdout.flush()


def _priced(doc: dict[str, Any]) -> str:
    verdict = "fits" if doc["fits"] else "would be REFUSED"
    return (
        f"{doc['tickets']} tickets: estimated ${doc['estimated_usd']:.4f} worst case "
        f"(likely ${doc['likely_usd']:.4f}); the redrive lane may spend "
        f"${doc['redrive_available_usd']:.4f} today: {verdict}; "
        f"{doc['stale']} stale, {doc['invalid']} invalid"
    )


def _say(doc: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        print_json(doc)
    else:
        typer.echo(line)
