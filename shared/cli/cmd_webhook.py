"""`paceline webhook`: the webhook app under uvicorn, served until Ctrl-C or SIGTERM, and its
metrics on the internal `PACELINE_METRICS_PORT` (never on the public port)."""

from __future__ import annotations

import signal

import typer

from shared.cli.common import Exit, fail


def webhook(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    port: int = typer.Option(8080, "--port", help="TCP port to listen on."),
) -> None:
    """Receive signed ticket webhooks: verify, dedupe, enqueue into the live lane."""
    from shared.cli.boot import boot

    settings = boot("webhook")  # JSON logs and Sentry before the app builds its broker
    # Imported here: the app and uvicorn are only needed by this command.
    import uvicorn

    from producers.webhook.app import create_app
    from shared.errors import SettingsError
    from shared.metrics_server import start_process_metrics

    try:
        app = create_app(settings)
    except SettingsError as exc:  # the tenants file or a secret it names
        fail(str(exc), Exit.CONFIG)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        # uvicorn's own handlers would write plain text past the redacting JSON handler
        # (tracebacks included): with none, its loggers propagate to the root's.
        log_config=None,
        # Access lines would carry vendor query strings; our own log lines are enough.
        access_log=False,
        lifespan="off",
    )
    metrics_server = start_process_metrics(settings, app.state.metrics)
    server = uvicorn.Server(config)
    typer.echo(f"paceline webhook on http://{host}:{port}", err=True)
    # uvicorn swaps in its own SIGINT/SIGTERM handlers (in-flight requests finish), then
    # restores ours and re-raises the signal; ours just records it, so the stop exits 0.
    stopped: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stopped.append(signum))
    try:
        server.run()
    finally:
        if metrics_server is not None:
            metrics_server.stop()
    if stopped:
        typer.echo("paceline webhook stopped", err=True)
    if not server.started:
        fail(f"could not listen on {host}:{port}", Exit.UNAVAILABLE)


def register(app: typer.Typer) -> None:
    app.command("webhook")(webhook)
