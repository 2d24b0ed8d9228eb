"""`paceline try --tenant T "question" [--json]`: a tenant's agent answers once; nothing is
posted (shared/cli/try_run.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit


def register(app: typer.Typer) -> None:
    @app.command("try")
    def try_(
        question: Annotated[str, typer.Argument(help="The customer's question, as a ticket body.")],
        tenant: Annotated[str, typer.Option("--tenant", help="Whose agent answers.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Run a tenant's agent (its prompt, model, help centre, tools) once against the
        configured provider and print the reply, its citations, the visibility it would be
        posted with and its cost. Posts nothing; the ledger is not charged."""
        from shared.cli.try_run import try_tenant
        from shared.errors import SettingsError
        from shared.money import fmt_usd
        from shared.redis_client import make_redis
        from shared.tenants.model import TENANT_ID

        if not question.strip():
            fail("the question is empty", Exit.USAGE)
        if not TENANT_ID.fullmatch(tenant):
            fail(f"--tenant: not a tenant id: {tenant!r}", Exit.USAGE)
        settings = settings_or_exit()
        client = make_redis(settings, max_connections=4)
        try:
            doc = try_tenant(settings, tenant, question, client=client)
        except SettingsError as exc:
            fail(str(exc), Exit.CONFIG)
        finally:
            client.close()
        if as_json:
            print_json(doc)
            return
        typer.echo(f"{doc['status']} by {doc['model']} ({doc['llm_calls']} calls)")
        if doc["reply"]:
            typer.echo(doc["reply"])
        if doc["reason"]:
            typer.echo(f"reason: {doc['reason']}")
        typer.echo(f"citations: {', '.join(doc['articles']) or 'none'}")
        shown = doc["visibility"] or "nothing to post"
        typer.echo(f"visibility: {shown} (reply mode {doc['reply_mode']})")
        typer.echo(f"cost: {fmt_usd(doc['cost_micros'], 6)}; nothing was posted")
