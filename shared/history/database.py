"""The history database's engine, from `PACELINE_DATABASE_URL`.

Unset, it is a SQLite file, `.paceline/history.db` under the working directory (what `make
run` uses, git-ignored). `postgresql://` URLs use psycopg 3.

SQLite through Python's sqlite3 module would commit before every DDL statement; here the
driver's own transaction handling is switched off and SQLAlchemy emits BEGIN itself (the
recipe in SQLAlchemy's SQLite dialect notes), so a migration is one transaction on SQLite
too, and a failed one leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from shared.settings import Settings

DEFAULT_SQLITE_PATH = Path(".paceline") / "history.db"
SQLITE_BUSY_TIMEOUT_S = 30


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL the settings name (the SQLite default spelled out)."""
    url = settings.database_url
    if not url:
        return f"sqlite:///{DEFAULT_SQLITE_PATH}"
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def describe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(settings: Settings, *, url: str | None = None) -> Engine:
    """An engine for the history database; nothing connects until it is used."""
    url = url or database_url(settings)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=4,
        max_overflow=4,
        connect_args={"connect_timeout": 5, "application_name": "paceline"},
    )


def _sqlite_engine(url: str, path: str | None) -> Engine:
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "isolation_level": None}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        # WAL: reports read while the archiver writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine
