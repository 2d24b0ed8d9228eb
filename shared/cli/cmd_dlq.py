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

from shared.cli.common import Exit, fail, print_json
from shared.cli.dlq_common import (
    AllOpt,
    Ids,
    JsonOpt,
    Reason,
    Since,
    Tenant,
    Text,
    Until,
    in_flight_entries,
    known_reason,
    need_selection,
    redrive,
    say,
    selection,
)
from shared.cli.dlq_requeue import register_requeue
from shared.cli.output import print_table, show
from shared.display import both_units, local_iso, safe_text

if TYPE_CHECKING:
    from shared.stores.dead_letters import DeadLetter


def register(app: typer.Typer) -> None:
    dlq = typer.Typer(
        help="Dead letters: list, show, reasons, requeue, purge, export.", no_args_is_help=True
    )
    app.add_typer(dlq, name="dlq")
    register_requeue(dlq)

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
        flt = selection(reason, tenant, since, until, text)
        rd = redrive()
        known_reason(rd, reason)
        states = {item.entry_id: alive for item, alive in rd.inflight.held()}
        flying = [e for e in in_flight_entries(rd) if flt.matches(e)]
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
        rd = redrive()
        counts = rd.registry.reason_counts()
        counts.update(e.reason for e in in_flight_entries(rd))
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
        found = redrive().registry.find(ref)
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
        flt = selection(reason, tenant, since, until, text)
        need_selection(ids, all_, flt)
        rd = redrive()
        known_reason(rd, reason)
        count = sum(1 for _ in rd.select(ids or [], flt))
        if count == 0:
            say({"purged": 0}, as_json, "nothing to do")
            return
        if not yes and not typer.confirm(f"Delete {count} dead letters?", err=True):
            fail("purge cancelled", Exit.REFUSED)
        removed = rd.purge(ids or [], flt)
        say({"purged": removed}, as_json, f"purged {removed}")

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
        flt = selection(reason, tenant, since, until, text)
        rd = redrive()
        known_reason(rd, reason)
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

        rd = redrive()
        n = rd.registry.sweep(int(time.time() * 1000), rd.settings.dlq_retention_days)
        say({"swept": n}, as_json, f"swept {n}")


def _with_state(listed: Any, flying: list[DeadLetter], alive: dict[str, bool]) -> Any:
    """Registry entries ("dead"), then in-flight ones ("in flight" while their requeue runs,
    "stranded" once it died: the next requeue puts them back)."""
    for entry in listed:
        yield entry, "dead"
    for entry in flying:
        yield entry, "in flight" if alive.get(entry.entry_id) else "stranded"
