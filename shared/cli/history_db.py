"""Opening the history database for a command: the extra installed, the schema migrated, one
line on failure."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from shared.cli.common import Exit, fail
from shared.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


log = logging.getLogger("paceline.history")
WAIT_PAUSE_S = 2.0


def history_engine(settings: Settings, *, wait: threading.Event | None = None) -> Engine:
    """The engine, the schema at the newest revision. Exits with one line when the history
    extra is missing, the database does not answer or a migration fails (rolled back).

    With `wait` (a long-running process's stop event), a database that does not answer is
    waited for instead, until it does or the event is set."""
    try:
        from shared.history.database import database_url, describe, make_engine
        from shared.history.migrate import upgrade
    except ImportError:
        fail("the history database needs the history extra: pip install 'paceline[history]'",
             Exit.CONFIG)  # fmt: skip
    from shared.errors import DatabaseUnavailable, MigrationFailed

    engine = make_engine(settings)
    where = describe(database_url(settings))
    told = False
    while True:
        try:
            upgrade(engine)
            return engine
        except DatabaseUnavailable as exc:
            if wait is None:
                fail(f"history database {where} unavailable: {exc}", Exit.UNAVAILABLE)
            if not told:
                log.warning("history database %s unavailable (%s); waiting for it", where, exc)
                told = True
            if wait.wait(WAIT_PAUSE_S):
                raise SystemExit(0) from None
        except MigrationFailed as exc:
            fail(str(exc), Exit.FAILED)
