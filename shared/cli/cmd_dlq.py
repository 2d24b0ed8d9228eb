"""`paceline dlq list|show|reasons|requeue|purge|export|sweep`: see, price, replay and drop
dead letters.

Selection is explicit ids, `--all`, or filters (`--reason`, `--tenant`, `--since`, `--until`,
`--text`); a requeue or purge with none of them is refused, and a `--reason` no entry has is an
error naming the reasons there are. Listings never print ticket bodies; `--json` prints
exactly one JSON document, streamed (100,000 entries are never held at once). A requeue stops
cleanly on the first Ctrl-C or SIGTERM (the second interrupts a stuck send): what it took and
did not send goes back, and it says what it did.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shared.cli.common import Exit, fail, parse_time_ms, print_json, settings_or_exit
from shared.cli.dlq_progress import requeue_bar, stop_on_signals
from shared.cli.output import print_table, show
from shared.display import both_units, local_iso, safe_text, usd
from shared.money import usd_to_micros

if TYPE_CHECKING:
    from producers.redrive import Redrive
    from shared.stores.dead_letters import DeadLetter, DLQFilter

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
Ids = Annotated[list[str] | None, typer.Argument(help="Entry ids.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every entry matching the filters.")]
Reason = Annotated[
    str | None, typer.Option("--reason", help="Exact reason code (paceline dlq reasons).")
]
Tenant = Annotated[str | None, typer.Option("--tenant", help="Tenant id.")]
Since = Annotated[str | None, typer.Option("--since", help="ISO time, epoch ms, or 2h/30m/7d ago.")]
Until = Annotated[str | None, typer.Option("--until", help="ISO time, epoch ms, or 2h/30m/7d ago.")]
Text = Annotated[
    str | None, typer.Option("--text", help="Substring of reason, error or ticket id.")
]


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


def _known_reason(rd: Redrive, reason: str | None) -> None:
    """A `--reason` must be a code some dead letter has had: a typo is an error naming the
    codes there are, not "nothing to do"."""
    if reason is None or reason in rd.registry.known_reasons():
        return
    counts = rd.registry.reason_counts()
    known = ", ".join(f"{safe_text(r)} ({n})" for r, n in counts.most_common(12))
    fail(
        f"--reason: no dead letter has had reason {reason!r}; "
        + (f"reasons now: {known}" if known else "the registry is empty")
        + " (paceline dlq reasons)",
        Exit.USAGE,
    )


def _in_flight_entries(rd: Redrive) -> list[DeadLetter]:
    found = []
    for item, _alive in rd.inflight.held():
        entry = rd.registry.get(item.entry_id)
        if entry is not None:
            found.append(entry)
    return found


def register(app: typer.Typer) -> None:
    dlq = typer.Typer(
        help="Dead letters: list, show, reasons, requeue, purge, export.", no_args_is_help=True
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
        """Dead letters, oldest first, then those a requeue has in flight (never ticket text)."""
        flt = _filter(reason, tenant, since, until, text)
        rd = _redrive()
        _known_reason(rd, reason)
        states = {item.entry_id: alive for item, alive in rd.inflight.held()}
        flying = [e for e in _in_flight_entries(rd) if flt.matches(e)]
        out = sys.stdout
        if as_json:
            out.write("[")
        else:
            out.write(
                f"{'entry':32}  {'failed at':25}  {'state':10}  {'tenant':12}  "
                f"{'ticket':20}  reason\n"
            )
        n = 0
        for entry, state in _with_state(rd.registry.iter_entries(flt), flying, states):
            if as_json:
                row = entry.summary() | {"state": state}
                out.write(("," if n else "") + json.dumps(row, sort_keys=True))
            else:
                out.write(
                    f"{entry.entry_id:32}  {local_iso(entry.failed_at_ms):25}  {state:10}  "
                    f"{safe_text(entry.tenant_id):12.12}  {safe_text(entry.ticket_id):20.20}  "
                    f"{safe_text(entry.reason)}\n"
                )
            n += 1
            if limit and n >= limit:
                break
        out.write("]\n" if as_json else "")
        out.flush()

    @dlq.command()
    def reasons(as_json: JsonOpt = False) -> None:
        """Reason codes with how many dead letters have each (what --reason can name)."""
        rd = _redrive()
        counts = rd.registry.reason_counts()
        counts.update(e.reason for e in _in_flight_entries(rd))
        rows = counts.most_common()
        if as_json:
            print_json([{"reason": r, "count": n} for r, n in rows])
            return
        print_table(("reason", "dead letters"), rows, right=("dead letters",))

    @dlq.command("show")
    def show_(
        ref: Annotated[str, typer.Argument(help="Entry id, a prefix of one, or a ticket id.")],
        as_json: JsonOpt = False,
        with_ticket: Annotated[
            bool, typer.Option("--with-ticket", help="Include the ticket text.")
        ] = False,
    ) -> None:
        """One dead letter: reason, error, traceback, attempts, cost, earlier deaths."""
        found = _redrive().registry.find(ref)
        if not found:
            fail(f"no dead letter {ref!r} (an entry id, a prefix of one, or a ticket id)")
        if len(found) > 1:
            ids = ", ".join(e.entry_id[:12] for e in found[:10])
            fail(f"{ref!r} matches {len(found)} dead letters: {ids}; name one", Exit.USAGE)
        entry = found[0]
        doc = entry.model_dump(mode="json")
        doc["attempts_total"] = entry.attempts_total
        if not with_ticket:
            doc.pop("ticket", None)
        if as_json:
            print_json(doc)
            return
        first = ("entry_id", "ticket_id", "tenant_id", "reason", "error", "failed_at_ms")
        show(doc, title=f"dead letter {entry.entry_id}", first=first)

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
        _known_reason(rd, reason)
        # Entries a killed run stranded in flight go back first: counted and priced with the rest.
        recovered = 0 if dry_run else rd.inflight.recover()
        plan = rd.plan(ids or [], flt)
        from producers.redrive import redrive_headroom

        room = redrive_headroom(rd.ledger, rd.settings)
        doc: dict[str, Any] = {
            "tickets": plan.tickets,
            "stale": plan.stale,
            "invalid": plan.invalid,
            "estimated_micros": plan.worst_micros,
            "likely_micros": plan.likely_micros,
            "redrive_available_micros": room["available_micros"],
            "ceiling_micros": room["ceiling_micros"],
            "spent_micros": room["spent_micros"],
            "reserved_micros": room["reserved_micros"],
            "live_reserve_micros": room["live_reserve_micros"],
            "fits": plan.worst_micros <= room["available_micros"],
            "dry_run": dry_run,
        }
        if dry_run or plan.tickets == 0:
            _say(doc, as_json, "nothing to do" if plan.tickets == 0 else _priced(doc))
            return
        if not doc["fits"]:
            fail(
                f"requeue refused: estimated {usd(plan.worst_micros)} for {plan.tickets} "
                f"tickets exceeds what the redrive lane may spend today "
                f"{usd(room['available_micros'])} (ceiling {usd(room['ceiling_micros'])}"
                f" - spent {usd(room['spent_micros'])} - reserved "
                f"{usd(room['reserved_micros'])} - live reserve "
                f"{usd(room['live_reserve_micros'])})",
                Exit.REFUSED,
            )
        from shared.broker import build_broker

        broker = build_broker(rd.settings)
        rate = usd_to_micros(str(usd_per_hour)) if usd_per_hour else None
        try:
            broker.declare_queue(rd.queue_name)
            with (
                stop_on_signals() as wait,
                requeue_bar(plan.tickets, plan.worst_micros, quiet=as_json) as step,
            ):
                result = rd.requeue(
                    broker, ids or [], flt, usd_per_hour_micros=rate, progress=step, wait=wait
                )
        finally:
            broker.close()
        doc.update(
            requeued=result.requeued,
            skipped=result.stale,
            failed=result.failed,
            errors=result.errors,
            recovered=recovered + result.recovered,
            interrupted=result.interrupted,
            requeued_estimate_micros=result.worst_micros,
        )
        errors = ", ".join(f"{k} {v}" for k, v in result.errors.items())
        state = "interrupted: " if result.interrupted else ""
        _say(
            doc,
            as_json,
            f"{state}requeued {result.requeued} ({usd(result.worst_micros)} worst case), "
            f"skipped {result.stale}, failed {result.failed}"
            + (f" ({errors})" if errors else "")
            + ("; run it again for the rest" if result.interrupted else ""),
        )
        if result.interrupted:
            raise typer.Exit(int(Exit.INTERRUPTED))
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
        _known_reason(rd, reason)
        count = sum(1 for _ in rd.select(ids or [], flt))
        if count == 0:
            _say({"purged": 0}, as_json, "nothing to do")
            return
        if not yes and not typer.confirm(f"Delete {count} dead letters?", err=True):
            fail("purge cancelled", Exit.REFUSED)
        removed = rd.purge(ids or [], flt)
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
        _known_reason(rd, reason)
        try:
            fh = out.open("w", encoding="utf-8") if out else sys.stdout
        except OSError as exc:
            fail(f"--out: cannot write {out}: {exc.strerror or type(exc).__name__}", Exit.USAGE)
        n = 0
        try:
            for entry in rd.select(ids or [], flt):
                doc = both_units(entry.model_dump(mode="json"))
                fh.write(json.dumps(doc, sort_keys=True) + "\n")
                n += 1
        finally:
            if out:
                fh.close()
            else:
                fh.flush()
        if out:
            typer.echo(f"exported {n} dead letters to {out}", err=True)

    @dlq.command()
    def sweep(as_json: JsonOpt = False) -> None:
        """Delete entries older than PACELINE_DLQ_RETENTION_DAYS, in batches."""
        import time

        rd = _redrive()
        n = rd.registry.sweep(int(time.time() * 1000), rd.settings.dlq_retention_days)
        _say({"swept": n}, as_json, f"swept {n}")


def _with_state(listed: Any, flying: list[DeadLetter], alive: dict[str, bool]) -> Any:
    """Registry entries ("dead"), then in-flight ones ("in flight" while their requeue runs,
    "stranded" once it died: the next requeue puts them back)."""
    for entry in listed:
        yield entry, "dead"
    for entry in flying:
        yield entry, "in flight" if alive.get(entry.entry_id) else "stranded"


def _priced(doc: dict[str, Any]) -> str:
    verdict = "fits" if doc["fits"] else "would be REFUSED"
    return (
        f"{doc['tickets']} tickets: estimated {usd(doc['estimated_micros'])} worst case "
        f"(likely {usd(doc['likely_micros'])}); the redrive lane may spend "
        f"{usd(doc['redrive_available_micros'])} today: {verdict}; "
        f"{doc['stale']} stale, {doc['invalid']} invalid"
    )


def _say(doc: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        print_json(doc)
    else:
        typer.echo(line)
