"""`paceline worker`: a dramatiq worker with our broker, middleware and actors."""

from __future__ import annotations

import logging
import multiprocessing as mp
from typing import Annotated

import typer

from shared.cli.common import Exit, fail, settings_or_exit
from shared.cli.signals import stop_event
from shared.models import Lane
from shared.settings import Settings


def _child(threads: int, lanes: list[str] | None) -> None:
    from shared.cli.boot import boot
    from workers.runtime import serve_forever

    settings = boot("worker")
    serve_forever(
        settings,
        threads=threads,
        lanes=[Lane(q) for q in lanes] if lanes else None,
        stop=stop_event(),
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        processes: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
        threads: Annotated[
            int | None, typer.Option(min=1, max=256, help="Threads per process.")
        ] = None,
        queues: Annotated[
            list[str] | None,
            typer.Option(help="Lanes to consume (live, redrive, replay); default all."),
        ] = None,
    ) -> None:
        """Run workers: admission -> agent -> settle -> outcome, until Ctrl-C."""
        settings = settings_or_exit()
        lanes: list[str] | None = None
        if queues:
            try:
                lanes = [Lane(q.removeprefix("tickets_")).value for q in queues]
            except ValueError:
                fail(f"--queues: unknown lane in {queues}; use live, redrive, replay", Exit.USAGE)
        n_threads = threads or settings.worker_threads
        _require_redis(settings)
        if processes == 1:
            _child(n_threads, lanes)
            return
        stop = stop_event()
        spawn = mp.get_context("spawn")
        children = [spawn.Process(target=_child, args=(n_threads, lanes)) for _ in range(processes)]
        for child in children:
            child.start()
        logging.getLogger("paceline.worker").info("started %d worker processes", processes)
        stop.wait()
        for child in children:
            child.terminate()  # SIGTERM: each child stops its threads cleanly
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()


def _require_redis(settings: Settings) -> None:
    """A worker that starts without its Redis would only log connection errors: say so once
    and stop (a supervisor restarts it). Later outages are ridden out, not fatal."""
    from shared.cli.stack import redis_answers

    if not redis_answers(settings.redis_url):
        fail(
            "Redis is unreachable at PACELINE_REDIS_URL; the worker did not start", Exit.UNAVAILABLE
        )
