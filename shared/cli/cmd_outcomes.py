"""`paceline outcomes show|list|summary`: what happened to every accepted ticket."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.common import Exit, fail, parse_time_ms, print_json, settings_or_exit
from shared.cli.output import print_table, show
from shared.display import TICKET_PLACES, local_iso, usd
from shared.keys import Keys
from shared.models import OutcomeStatus
from shared.redis_client import make_redis
from shared.stores.outcomes import OutcomeStore
from shared.stores.threads import ThreadStore

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
# `show`'s rows in this order, the rest by name.
SHOW_FIRST = ("ticket_id", "tenant_id", "status", "reason", "lane", "model", "reply")


def _store() -> OutcomeStore:
    settings = settings_or_exit()
    return OutcomeStore(make_redis(settings, max_connections=4), Keys(settings.namespace))


def _threads() -> ThreadStore:
    settings = settings_or_exit()
    return ThreadStore(make_redis(settings, max_connections=2), Keys(settings.namespace))


def _print_thread(conv: dict[str, object]) -> None:
    owner = conv["owner_reason"] if conv["owner"] else "the agent"
    typer.echo(
        f"conversation: owned by {owner}; phase {conv['phase'] or 'open'}; "
        f"{conv['auto_replies']} automatic replies; lifetime ${conv['lifetime_cost_usd']}"
    )
    if conv["cut"]:
        typer.echo(f"({conv['cut']} older entries cut)")
    rows = []
    for entry in conv["thread"]:  # type: ignore[attr-defined]
        who = entry.get("role") or entry.get("status") or entry.get("kind")
        what = entry.get("event_type") or entry.get("reason") or ""
        text = " ".join(str(entry.get("text") or "").split())
        rows.append((local_iso(entry.get("at_ms") or 0), entry.get("event_id") or "", who, what,
                     text[:80]))  # fmt: skip
    print_table(("at", "event", "who / outcome", "event / reason", "text"), rows)


def register(app: typer.Typer) -> None:
    outcomes = typer.Typer(help="What happened to each ticket.", no_args_is_help=True)
    app.add_typer(outcomes, name="outcomes")

    @outcomes.command("show")
    def show_(
        ticket_id: str,
        tenant: Annotated[
            str | None, typer.Option(help="The ticket's tenant (ids are unique per tenant).")
        ] = None,
        source: Annotated[
            str | None, typer.Option(help="The ticket's source, when one tenant has the id twice.")
        ] = None,
        thread: Annotated[
            bool, typer.Option("--thread", help="Also the ticket's conversation: every event.")
        ] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """One ticket's outcome; several tenants or sources using the id are listed instead."""
        found = [o for o in _store().find(ticket_id, tenant) if source in (None, o.source)]
        if not found:
            where = f" of tenant {tenant!r}" if tenant else ""
            fail(f"no ticket {ticket_id!r}{where}", Exit.FAILED)
        if len(found) > 1:
            names = ", ".join(sorted(f"{o.tenant_id}/{o.source}" for o in found))
            fail(
                f"{len(found)} tickets have id {ticket_id!r} ({names}); name one with --tenant",
                Exit.USAGE,
            )
        doc = found[0].public()
        conv = _threads().load(found[0].key).public() if thread else None
        if as_json:
            print_json({**doc, "conversation": conv} if conv is not None else doc)
            return
        show(doc, title=f"ticket {ticket_id}", first=SHOW_FIRST)
        if conv is not None:
            _print_thread(conv)

    @outcomes.command("list")
    def list_(
        status: Annotated[OutcomeStatus | None, typer.Option(help="Only this status.")] = None,
        tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
        since: Annotated[
            str | None, typer.Option(help="Updated at/after: ISO time, epoch ms, or 2h/30m/7d ago.")
        ] = None,
        oldest_first: Annotated[
            bool, typer.Option("--oldest-first", help="Oldest update first.")
        ] = False,
        limit: Annotated[int, typer.Option(min=1)] = 1000,
        as_json: JsonOpt = False,
    ) -> None:
        """Tickets and their status, newest update first."""
        import time

        since_ms = parse_time_ms(since, time.time(), "--since")
        rows = []
        found = _store().iter_outcomes(status, newest_first=not oldest_first, since_ms=since_ms)
        for outcome in found:
            if tenant is not None and outcome.tenant_id != tenant:
                continue
            rows.append(outcome.public())
            if len(rows) >= limit:
                break
        if as_json:
            print_json(rows)
            return
        print_table(
            ("updated", "ticket", "tenant", "status", "reason", "model", "cost", "latency ms"),
            [
                (
                    local_iso(row["updated_at_ms"]),
                    row["ticket_id"],
                    row["tenant_id"],
                    row["status"],
                    row["reason"],
                    row["model"],
                    usd(row["cost_micros"], TICKET_PLACES),
                    row["latency_ms"],
                )
                for row in rows
            ],
            right=("cost", "latency ms"),
        )

    @outcomes.command()
    def summary(
        tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
        day: Annotated[
            str | None, typer.Option(help="A budget day, YYYY-MM-DD (default: today).")
        ] = None,
        days: Annotated[
            int, typer.Option(min=1, max=8, help="Resolutions over this many days to --day.")
        ] = 1,
        as_json: JsonOpt = False,
    ) -> None:
        """Counts by status, and the resolutions and cost per resolution of a day (or days)."""
        from shared.cli.summary import print_summary, summary_doc

        doc = summary_doc(settings_or_exit(), tenant=tenant, day=day, days=days)
        if as_json:
            print_json(doc)
            return
        print_summary(doc)
