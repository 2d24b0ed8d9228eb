"""Transcripts past `PACELINE_TRANSCRIPT_RETENTION_DAYS` are erased (set to NULL); the rows
around them (who, when, what it cost) stay."""

from __future__ import annotations

from sqlalchemy import Engine, update
from sqlalchemy.exc import SQLAlchemyError

from shared.errors import DatabaseUnavailable
from shared.history.schema import thread_messages, ticket_outcomes


def sweep_transcripts(engine: Engine, now_ms: int, retention_ms: int) -> int:
    """Erase message bodies and replies older than the retention; returns how many."""
    cutoff_ms = now_ms - retention_ms
    m, o = thread_messages, ticket_outcomes
    try:
        with engine.begin() as conn:
            erased = conn.execute(
                update(m)
                .where(m.c.created_at_ms < cutoff_ms, m.c.body.is_not(None))
                .values(body=None)
            ).rowcount
            erased += conn.execute(
                update(o)
                .where(o.c.finalized_at_ms < cutoff_ms, o.c.reply.is_not(None))
                .values(reply=None)
            ).rowcount
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(str(getattr(exc, "orig", None) or exc).splitlines()[0]) from exc
    return int(erased)
