"""A requeue's progress bar and its stop: what a paced drain shows and how Ctrl-C ends it.

The bar (on stderr, so `--json` keeps stdout one document) shows tickets done of the total,
the worst-case spend sent so far against the estimate, and the time left. The first Ctrl-C
or SIGTERM asks the requeue to stop before its next entry (a pacing wait ends at once); a
second Ctrl-C interrupts even a send in progress, whose entry then goes back.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from shared.display import usd

Step = Callable[[str, int], None]


@contextmanager
def stop_on_signals() -> Iterator[Callable[[float], bool]]:
    """Yields `wait(seconds) -> stopped`: waits unless a stop was asked for."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda seconds: stop.wait(seconds) if seconds > 0 else stop.is_set()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def requeue_bar(total: int, worst_micros: int, *, quiet: bool) -> Iterator[Step | None]:
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    err = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[spent]}"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # a log or a pipe gets the summary line, not frames
    ) as bar:
        sent = [0]
        of = usd(worst_micros)
        task = bar.add_task("requeue", total=total, spent=f"{usd(0)} of {of} worst case")

        def step(kind: str, worst: int) -> None:
            sent[0] += worst
            bar.update(task, advance=1, spent=f"{usd(sent[0])} of {of} worst case")

        yield step
