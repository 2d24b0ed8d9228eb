"""The history under faults: the archiver killed and its database stopped while tickets flow.
Workers must not notice, and once both are back every settled call and final outcome must be
a row, once: the day's spend in the database equals the books in Redis to the micro-dollar.

The database is a private PostgreSQL (initdb + pg_ctl on a free port under a temp dir), so the
machine's shared server is never stopped."""

from __future__ import annotations

import threading
import time
from datetime import date

from sqlalchemy import create_engine, func, select

from shared.clock import SystemClock
from shared.history.reports import day_total
from shared.history.schema import model_calls, ticket_outcomes
from shared.ledger import Ledger
from tests.chaos.checks import check_drained, n_final
from tests.chaos.procs import wait_until
from tests.chaos.stack import SECRET, ChaosStack
from tests.chaos.tally import Result, statuses, wait_final
from tests.chaos.traffic import Sender, sample_tickets
from tests.shared.history.private_pg import PrivatePostgres, available


def archiver_and_database(res: Result, redis_url: str, smoke: bool, deadline_s: float) -> None:
    """kill -9 the archiver, stop the database, keep sending; restart the archiver while the
    database is still down, start the database: no row lost, none doubled."""
    if not available():
        res.failures.append("initdb/pg_ctl not installed: cannot run a private PostgreSQL")
        return
    n = 60 if smoke else 120
    pg = PrivatePostgres()
    pg.start()
    url = pg.url.replace("postgresql://", "postgresql+psycopg://")
    env = {"PACELINE_DATABASE_URL": pg.url, "PACELINE_ARCHIVE_CLAIM_IDLE_S": "2"}
    stack = ChaosStack("history", redis_url, workers=2, threads=4, latency_ms=50, env=env)
    try:
        stack.start()
        stack.procs.paceline("archiver", "archive")
        sender = Sender(stack.web_url, SECRET, deadline_s=60)
        docs = sample_tickets("H", n)
        ids = [d["ticket_id"] for d in docs]
        stop = threading.Event()
        feeder = threading.Thread(target=sender.send_paced, args=(docs, 8.0, stop), daemon=True)
        feeder.start()
        wait_until(lambda: n_final(statuses(stack.client, stack.keys, ids)) >= n // 5, 60, 0.2)
        code = stack.procs.kill("archiver")
        pg.stop()
        at_stop = n_final(statuses(stack.client, stack.keys, ids))
        res.notes.append(f"archiver kill -9 (exit {code}) and database stopped at {at_stop} final")
        down_s = 8.0
        time.sleep(down_s / 2)
        stack.procs.restart("archiver")  # it waits for the database, it does not give up
        time.sleep(down_s / 2)
        during = n_final(statuses(stack.client, stack.keys, ids)) - at_stop
        backlog = int(stack.client.xlen(stack.keys.history_stream))
        res.expect(during > 0, "no ticket finished while the database was down")
        res.expect(
            stack.procs.alive("archiver"), "the archiver gave up while the database was down"
        )
        res.notes.append(
            f"{during} tickets finished during {down_s:.0f} s without the database; "
            f"{backlog} facts buffered in the stream"
        )
        pg.start()
        feeder.join(timeout=120)
        accepted = sorted(sender.accepted())
        final = wait_final(stack.client, stack.keys, accepted, deadline_s)
        res.count(final)
        check_drained(res, stack, len(accepted))
        archived = wait_until(lambda: stack.client.xlen(stack.keys.history_stream) == 0, 60, 0.5)
        res.expect(archived, "the history stream never drained")
        _reconcile(res, stack, url, final)
        sender.close()
    finally:
        stack.stop()
        pg.destroy()


def _reconcile(res: Result, stack: ChaosStack, url: str, final: dict[str, str | None]) -> None:
    ledger = Ledger(stack.client, stack.keys, stack.settings(), SystemClock())
    engine = create_engine(url)
    c = model_calls.c
    try:
        with engine.connect() as conn:
            # Every budget day the run touched (a run across midnight books two).
            days = set(conn.execute(select(c.day).distinct()).scalars())
            days.add(date.fromisoformat(ledger.day()))
            rows = conn.execute(select(func.count()).select_from(model_calls)).scalar_one()
            distinct = select(c.reservation_id, c.call_id).distinct().subquery()
            keys = conn.execute(select(func.count()).select_from(distinct)).scalar_one()
            tickets = set(conn.execute(select(ticket_outcomes.c.ticket_id).distinct()).scalars())
        totals = [day_total(engine, d) for d in days]
    finally:
        engine.dispose()
    spent, calls = sum(t[0] for t in totals), sum(t[1] for t in totals)
    books = sum(ledger.day_books(d.isoformat())["spent"].get("global", 0) for d in days)
    res.expect(spent == books, f"database spent {spent} µ$ but the books say {books} µ$")
    res.expect(rows == keys, f"{rows - keys} model calls stored twice")
    ended = {t for t, s in final.items() if s in ("answered", "escalated", "rejected",
                                                    "dead_lettered")}  # fmt: skip
    missing = ended - tickets
    res.expect(not missing, f"{len(missing)} final outcomes missing, e.g. {sorted(missing)[:3]}")
    res.notes.append(
        f"{calls} model calls ({spent} µ$ = the books) and {len(tickets)} outcomes archived"
    )
