"""What the `paceline dlq` commands share: the selection options, the redrive they work
through, and the checks every selection passes (a selection is named; a reason is known)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from shared.cli.common import Exit, fail, parse_time_ms, print_json, settings_or_exit
from shared.display import safe_text

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


def selection(
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


def redrive() -> Redrive:
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


def need_selection(ids: list[str] | None, all_: bool, flt: DLQFilter) -> None:
    if not ids and not all_ and flt == type(flt)():
        fail(
            "name entry ids, --all, or a filter (--reason, --tenant, --since, --until, --text)",
            Exit.USAGE,
        )


def known_reason(rd: Redrive, reason: str | None) -> None:
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


def in_flight_entries(rd: Redrive) -> list[DeadLetter]:
    found = []
    for item, _alive in rd.inflight.held():
        entry = rd.registry.get(item.entry_id)
        if entry is not None:
            found.append(entry)
    return found


def say(doc: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        print_json(doc)
    else:
        typer.echo(line)
