"""`paceline dlq requeue`: dead letters back through the redrive lane, priced first, paced in
dollars, stopped cleanly by Ctrl-C (producers/redrive.py has the two-phase send)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shared.cli.common import Exit, fail
from shared.cli.dlq_common import (
    AllOpt,
    Ids,
    JsonOpt,
    Reason,
    Since,
    Tenant,
    Text,
    Until,
    known_reason,
    need_selection,
    redrive,
    say,
    selection,
)
from shared.cli.dlq_progress import requeue_bar, stop_on_signals
from shared.display import usd
from shared.money import usd_to_micros


def register_requeue(dlq: typer.Typer) -> None:
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
        flt = selection(reason, tenant, since, until, text)
        need_selection(ids, all_, flt)
        rd = redrive()
        known_reason(rd, reason)
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
            say(doc, as_json, "nothing to do" if plan.tickets == 0 else _priced(doc))
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
        say(
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


def _priced(doc: dict[str, Any]) -> str:
    verdict = "fits" if doc["fits"] else "would be REFUSED"
    return (
        f"{doc['tickets']} tickets: estimated {usd(doc['estimated_micros'])} worst case "
        f"(likely {usd(doc['likely_micros'])}); the redrive lane may spend "
        f"{usd(doc['redrive_available_micros'])} today: {verdict}; "
        f"{doc['stale']} stale, {doc['invalid']} invalid"
    )
