"""Writes a batch of parsed facts in one transaction, idempotently on their natural keys.

A fact delivered twice is stored once (`ON CONFLICT DO NOTHING`), with one exception that
keeps the books exact: a call charged at its worst case by a lease expiry (`expired_charge`)
is replaced by the same call's later settle, which carries what the provider billed; a
repeated charge never replaces a settle.

Requesters that `paceline forget` erased are stored pseudonymised and without transcripts,
however late their facts arrive; transcripts are masked and aged under `TranscriptPolicy`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError

from shared.clock import Clock, now_ms
from shared.errors import DatabaseUnavailable, HistoryError
from shared.history.events import Event
from shared.history.privacy import TranscriptPolicy, mask_personal, pseudonym
from shared.history.schema import (
    cap_changes,
    dead_letters,
    forgotten_requesters,
    model_calls,
    thread_messages,
    ticket_outcomes,
    ticket_resolutions,
)

# `forget` holds this PostgreSQL advisory lock exclusively while it pseudonymises; a batch
# holds it shared, so a batch never lands between forget's mark and its rewrite.
FORGET_LOCK_KEY = 0x7061636566677431

NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "call": ("reservation_id", "call_id"),
    "outcome": ("ticket_id", "event_id", "finalized_at_ms"),
    "cap": ("scope", "changed_at_ms", "who"),
    "dlq": ("entry_id",),
    "dlq_gone": ("entry_id",),
    "resolution": ("tenant_id", "source", "ticket_id"),
}
_TABLES: dict[str, Table] = {
    "call": model_calls,
    "outcome": ticket_outcomes,
    "cap": cap_changes,
    "dlq": dead_letters,
    "resolution": ticket_resolutions,
}


def first_line(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def is_data_error(exc: BaseException) -> bool:
    """An error this row causes (it would fail again): not the database being away."""
    return isinstance(exc, IntegrityError | DataError) and not getattr(
        exc, "connection_invalidated", False
    )


def _insert(conn: Connection) -> Callable[[Table], Any]:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


class HistoryWriter:
    def __init__(self, engine: Engine, policy: TranscriptPolicy, clock: Clock) -> None:
        self._engine = engine
        self.policy = policy
        self._clock = clock

    def write(self, events: Sequence[Event]) -> None:
        """All of `events` in one transaction. Raises `DatabaseUnavailable` when the database
        does not answer (nothing written: try again), the driver's error for a row the
        database refuses (`is_data_error`), `HistoryError` for anything else."""
        try:
            with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"),
                                 {"k": FORGET_LOCK_KEY})  # fmt: skip
                self._write(conn, events)
        except SQLAlchemyError as exc:
            if is_data_error(exc):
                raise
            if isinstance(exc, DBAPIError) and not _is_disconnect(exc):
                raise HistoryError(
                    f"the history database refused a write: {first_line(exc)}"
                ) from exc
            raise DatabaseUnavailable(first_line(exc)) from exc

    def _write(self, conn: Connection, events: Sequence[Event]) -> None:
        by_kind: dict[str, dict[tuple[Any, ...], Event]] = {k: {} for k in NATURAL_KEYS}
        for ev in events:
            key = tuple(ev.row[c] for c in NATURAL_KEYS[ev.kind])
            seen = by_kind[ev.kind].get(key)
            # A settle and the charge it corrects in one batch: the settle is the truth.
            if seen is None or not (ev.kind == "call" and ev.row["expired_charge"]):
                by_kind[ev.kind][key] = ev
        forgotten = self._forgotten(conn, events)
        now = now_ms(self._clock)
        calls = [self._person(e.row, forgotten) for e in by_kind["call"].values()]
        outcomes, messages = [], []
        for ev in by_kind["outcome"].values():
            row = self._person(ev.row, forgotten)
            gone = row["requester"] != ev.row["requester"]
            row["reply"] = None if gone else self.policy.transcript(
                row["reply"], row["finalized_at_ms"], now
            )  # fmt: skip
            outcomes.append(row)
            for m in ev.messages:
                m = dict(m)
                if m["author"] == ev.row["requester"]:
                    m["author"] = row["requester"]
                m["body"] = None if gone else self.policy.transcript(
                    m["body"], m["created_at_ms"], now
                )  # fmt: skip
                messages.append(m)
        dlq = []
        for ev in by_kind["dlq"].values():
            row = self._person(ev.row, forgotten)
            row["error"] = mask_personal(row["error"])
            dlq.append(row)
        ins = _insert(conn)
        if calls:
            stmt = ins(model_calls)
            stmt = stmt.on_conflict_do_update(
                index_elements=list(NATURAL_KEYS["call"]),
                set_={c: stmt.excluded[c] for c in calls[0] if c not in NATURAL_KEYS["call"]},
                where=model_calls.c.expired_charge & ~stmt.excluded.expired_charge,
            )
            conn.execute(stmt, calls)
        for kind, rows in (
            ("outcome", outcomes),
            ("cap", [e.row for e in by_kind["cap"].values()]),
            ("dlq", dlq),
            ("resolution", [e.row for e in by_kind["resolution"].values()]),
        ):
            if rows:
                stmt = ins(_TABLES[kind]).on_conflict_do_nothing(
                    index_elements=list(NATURAL_KEYS[kind])
                )
                conn.execute(stmt, rows)
        if messages:
            stmt = ins(thread_messages).on_conflict_do_nothing(
                index_elements=["tenant_id", "ticket_id", "message_id"]
            )
            conn.execute(stmt, messages)
        gone_rows = [e.row for e in by_kind["dlq_gone"].values()]
        if gone_rows:
            conn.execute(
                update(dead_letters)
                .where(dead_letters.c.entry_id == bindparam("b_entry"))
                .where(dead_letters.c.removed_at_ms.is_(None))
                .values(removed_at_ms=bindparam("b_at"), removed_how=bindparam("b_how")),
                [
                    {"b_entry": r["entry_id"], "b_at": r["removed_at_ms"],
                     "b_how": r["removed_how"]}
                    for r in gone_rows
                ],
            )  # fmt: skip

    def _forgotten(self, conn: Connection, events: Iterable[Event]) -> set[tuple[str, str]]:
        """(tenant, pseudonym) of the batch's tenants' forgotten requesters."""
        if self.policy.pseudonym_key is None:
            return set()
        tenants = {e.row["tenant_id"] for e in events if "tenant_id" in e.row}
        if not tenants:
            return set()
        t = forgotten_requesters
        rows = conn.execute(select(t.c.tenant_id, t.c.pseudonym).where(t.c.tenant_id.in_(tenants)))
        return {(r.tenant_id, r.pseudonym) for r in rows}

    def _person(self, row: dict[str, Any], forgotten: set[tuple[str, str]]) -> dict[str, Any]:
        """The row, its requester pseudonymised when they were forgotten (a copy)."""
        row = dict(row)
        key = self.policy.pseudonym_key
        if forgotten and key is not None and row["requester"]:
            alias = pseudonym(key, row["tenant_id"], row["requester"])
            if (row["tenant_id"], alias) in forgotten:
                row["requester"] = alias
        return row


def _is_disconnect(exc: DBAPIError) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
