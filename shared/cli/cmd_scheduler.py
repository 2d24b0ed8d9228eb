"""`paceline scheduler`: pace the day, release parked work, alert. Safe to run twice (one leads)."""

from __future__ import annotations

import logging
from typing import Annotated

import redis
import typer

from shared.cli.common import Exit, fail

log = logging.getLogger("paceline.scheduler")


def register(app: typer.Typer) -> None:
    @app.command()
    def scheduler(
        interval_s: Annotated[
            float, typer.Option(min=0.05, max=60, help="Seconds between ticks.")
        ] = 1.0,
        lease_ms: Annotated[
            int, typer.Option(min=500, help="Leader lease; a standby takes over after it.")
        ] = 5000,
    ) -> None:
        """Run the scheduler until Ctrl-C or SIGTERM (then it gives up the lead at once)."""
        from shared.cli.boot import boot
        from shared.cli.signals import stop_event
        from shared.clock import SystemClock
        from shared.redis_client import make_redis
        from workers.scheduler import Scheduler

        settings = boot("scheduler")
        stop = stop_event()
        client = make_redis(settings, max_connections=8)
        try:
            client.ping()
        except redis.ConnectionError:
            fail(f"Redis is not reachable at {settings.redis_url}", Exit.UNAVAILABLE)
        sched = Scheduler(
            settings, clock=SystemClock(), client=client, lease_ms=lease_ms, tick_s=interval_s
        )
        log.info("scheduler started", extra={"instance": sched.lease.instance_id})
        sched.run(stop, interval_s=interval_s)
        log.info("scheduler stopped", extra={"instance": sched.lease.instance_id})
