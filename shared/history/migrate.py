"""Bring the history database to the schema this code needs, with Alembic, programmatically.

The upgrade runs in one transaction (PostgreSQL and SQLite both have transactional DDL), so a
migration that fails leaves the database as it was: never half-migrated. On PostgreSQL the
transaction first takes an advisory lock, so two archivers starting together migrate once.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from shared.errors import DatabaseUnavailable, MigrationFailed

# pg_advisory_xact_lock's key: "paceline" as an integer, the same in every process.
_LOCK_KEY = int.from_bytes(b"paceline", "big") >> 1


def migrations_dir() -> str:
    return str(resources.files("shared.history") / "migrations")


def _config(script_location: str | None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", script_location or migrations_dir())
    return cfg


def head_revision(script_location: str | None = None) -> str | None:
    return ScriptDirectory.from_config(_config(script_location)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_connection(engine: Engine) -> None:
    """Raise `DatabaseUnavailable` (one line) unless the database answers."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseUnavailable(first) from exc


def upgrade(engine: Engine, *, script_location: str | None = None) -> str | None:
    """Migrate to the newest revision; returns it. Raises `MigrationFailed` (one line) when a
    migration fails: everything it did was rolled back."""
    cfg = _config(script_location)
    check_connection(engine)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise MigrationFailed(f"migration failed and was rolled back: {first}") from exc
    except Exception as exc:  # alembic's own errors (an unknown revision in the database, ...)
        if isinstance(exc, MigrationFailed):
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MigrationFailed(f"migration failed and was rolled back: {first}") from exc
    return head_revision(script_location)
