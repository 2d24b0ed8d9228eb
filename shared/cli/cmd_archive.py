"""`paceline archive`: the history stream into the database (its own process; `up` starts one)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from shared.cli.common import Exit, fail, print_json

if TYPE_CHECKING:
    from shared.history.archiver import Archiver

log = logging.getLogger("paceline.archive")


def register(app: typer.Typer) -> None:
    @app.command()
    def archive(
        once: Annotated[
            bool, typer.Option("--once", help="Archive what the stream holds now, then exit.")
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="With --once: print what was done as JSON.")
        ] = False,
    ) -> None:
        """Move settled calls, outcomes, cap changes and dead letters into the history database,
        until Ctrl-C or SIGTERM. Migrates the schema first (rolled back whole if it fails)."""
        import redis

        from shared.cli.boot import boot
        from shared.cli.history_db import history_engine
        from shared.cli.signals import stop_event
        from shared.clock import SystemClock
        from shared.errors import DatabaseUnavailable, HistoryError
        from shared.history.archiver import Archiver
        from shared.history.privacy import TranscriptPolicy
        from shared.history.writer import HistoryWriter
        from shared.redis_client import make_redis

        settings = boot("archiver")
        client = make_redis(settings, max_connections=4)
        try:
            client.ping()
        except redis.ConnectionError:
            fail(f"Redis is not reachable at {settings.redis_url}", Exit.UNAVAILABLE)
        stop = stop_event()
        engine = history_engine(settings, wait=None if once else stop)
        clock = SystemClock()
        writer = HistoryWriter(engine, TranscriptPolicy.from_settings(settings), clock)
        archiver = Archiver(settings, client, engine, writer, clock)
        if once:
            _drain(archiver, as_json)
            return
        from prometheus_client import CollectorRegistry

        from shared.metrics import Metrics
        from shared.metrics_server import start_process_metrics

        metrics = Metrics(CollectorRegistry())
        alert_at = settings.archive_backlog_alert_entries
        archiver.on_backlog = lambda n: metrics.set_history_backlog(n, alert_at=alert_at)
        archiver.on_step = lambda r: metrics.history_entries(written=r.written, rejected=r.rejected)
        start_process_metrics(settings, metrics)
        log.info("archiver started", extra={"consumer": archiver.consumer})
        try:
            archiver.run(stop)
        except HistoryError as exc:
            if isinstance(exc, DatabaseUnavailable):
                raise
            fail(str(exc), Exit.FAILED)
        log.info("archiver stopped", extra={"consumer": archiver.consumer})


def _drain(archiver: Archiver, as_json: bool) -> None:
    from shared.errors import DatabaseUnavailable

    archiver.ensure_group()
    written = rejected = 0
    try:
        while True:
            result = archiver.step(block_ms=None)
            written, rejected = written + result.written, rejected + result.rejected
            if result.written + result.rejected == 0:
                break
    except DatabaseUnavailable as exc:
        fail(f"history database unavailable: {exc}", Exit.UNAVAILABLE)
    doc = {"written": written, "rejected": rejected, "backlog": archiver.backlog()}
    if as_json:
        print_json(doc)
    else:
        typer.echo(f"archived {written}, set aside {rejected}, {doc['backlog']} left")
