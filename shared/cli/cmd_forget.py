"""`paceline forget --tenant T --requester R`: erase a requester's personal data (keep costs)."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit


def register(app: typer.Typer) -> None:
    @app.command()
    def forget(
        tenant: Annotated[str, typer.Option("--tenant", help="The requester's tenant.")],
        requester: Annotated[str, typer.Option("--requester", help="The requester's id.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Erase a requester's transcripts and personal data from the database and Redis; their
        cost rows stay, under a keyed hash of their id (PACELINE_PSEUDONYM_KEY)."""
        from shared.cli.history_db import history_engine
        from shared.clock import SystemClock, now_ms
        from shared.errors import DatabaseUnavailable, SettingsError
        from shared.history.forget import forget as run_forget
        from shared.history.privacy import TranscriptPolicy
        from shared.keys import Keys
        from shared.redis_client import make_redis

        settings = settings_or_exit()
        if not tenant.strip() or not requester.strip():
            fail("--tenant and --requester must not be empty", Exit.USAGE)
        try:
            key = TranscriptPolicy.from_settings(settings).require_key()
        except SettingsError as exc:
            fail(str(exc), Exit.CONFIG)
        keys = Keys(settings.namespace)
        client = make_redis(settings, max_connections=4)
        engine = history_engine(settings)
        try:
            done = run_forget(
                engine, client, keys, key=key, tenant=tenant, requester=requester,
                now_ms=now_ms(SystemClock()),
            )  # fmt: skip
        except DatabaseUnavailable as exc:
            fail(f"history database unavailable, nothing changed: {exc}", Exit.UNAVAILABLE)
        finally:
            engine.dispose()
            client.close()
        if as_json:
            print_json(done.as_dict())
        else:
            typer.echo(
                f"forgot {tenant}/{requester} as {done.pseudonym}: {done.cost_rows} cost rows "
                f"kept pseudonymised, {done.messages_erased} messages and "
                f"{done.outcomes + done.redis_outcomes} replies erased, "
                f"{done.dead_letters + done.redis_dead_letters} dead letters cleared"
            )
