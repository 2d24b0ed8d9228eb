"""`paceline tickets release T`: hand a ticket a person owns back to the agent."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.clock import SystemClock, now_ms
from shared.keys import Keys
from shared.redis_client import make_redis
from shared.stores.outcomes import OutcomeStore
from shared.stores.threads import ThreadStore


def register(app: typer.Typer) -> None:
    tickets = typer.Typer(help="One ticket's conversation.", no_args_is_help=True)
    app.add_typer(tickets, name="tickets")

    @tickets.command("release")
    def release(
        ticket_id: str,
        tenant: Annotated[str | None, typer.Option(help="The ticket's tenant.")] = None,
        source: Annotated[str | None, typer.Option(help="The ticket's source.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Let the agent answer the ticket's next customer message again (after an escalation,
        a human reply or a lifetime cap on automatic replies; the spend cap still holds)."""
        settings = settings_or_exit()
        client = make_redis(settings, max_connections=2)
        keys = Keys(settings.namespace)
        found = [
            o
            for o in OutcomeStore(client, keys).find(ticket_id, tenant)
            if source in (None, o.source)
        ]
        if not found:
            where = f" of tenant {tenant!r}" if tenant else ""
            fail(f"no ticket {ticket_id!r}{where}", Exit.FAILED)
        if len(found) > 1:
            names = ", ".join(sorted(f"{o.tenant_id}/{o.source}" for o in found))
            fail(f"{len(found)} tickets have id {ticket_id!r} ({names}); name one", Exit.USAGE)
        outcome = found[0]
        threads = ThreadStore(client, keys)
        was = threads.load(outcome.key)
        threads.release(outcome.key, now_ms(SystemClock()), settings.thread_max_messages)
        doc = {
            "ticket_id": outcome.ticket_id,
            "tenant_id": outcome.tenant_id,
            "source": outcome.source,
            "released": was.human_owned,
            "was_owned_because": was.owner_reason or None,
        }
        if as_json:
            print_json(doc)
            return
        if was.human_owned:
            typer.echo(f"released {ticket_id}: the agent answers its next customer message")
        else:
            typer.echo(f"{ticket_id} was not held by a person; nothing to do")
