"""The history database under test: SQLite in a temp dir, and the machine's PostgreSQL on 5432
(a database created for this test run and dropped after it; tables emptied between tests)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, create_engine, text

from shared.clock import ManualClock
from shared.history.archiver import Archiver
from shared.history.database import make_engine
from shared.history.migrate import upgrade
from shared.history.privacy import TranscriptPolicy
from shared.history.schema import metadata
from shared.history.writer import HistoryWriter
from shared.settings import Settings
from tests.conftest import RUN_ID, make_settings

# The server, without a database; `TEST_POSTGRES_URL` points elsewhere (not a PACELINE_ name,
# so it never reaches the code under test).
PG_SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
BACKENDS = ("sqlite", "postgresql")
# 2026-11-10 12:00 UTC
T0_S = 1_794_312_000.0


def pg_admin() -> Engine:
    return create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")


def create_pg_database(name: str) -> str:
    admin = pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG_SERVER}/{name}"


def drop_pg_database(name: str) -> None:
    admin = pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One database for the run, migrated once."""
    name = f"pltest_history_{RUN_ID}"
    url = create_pg_database(name)
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop_pg_database(name)


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    """An empty database of its own (for tests of the migrations themselves)."""
    name = f"pltest_history_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    url = create_pg_database(name)
    yield url
    drop_pg_database(name)


def empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty history database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    url = request.getfixturevalue("pg_url")
    engine = create_engine(url)
    empty_tables(engine)
    engine.dispose()
    yield url


@pytest.fixture
def hsettings(namespace: str, db_url: str) -> Settings:
    return make_settings(namespace, database_url=db_url, pseudonym_key="test-pseudonym-key")


@pytest.fixture
def engine(hsettings: Settings) -> Iterator[Engine]:
    eng = make_engine(hsettings)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0_S)


def make_archiver(
    settings: Settings, client: redis.Redis, engine: Engine, clock: Any, **kw: Any
) -> Archiver:
    writer = HistoryWriter(engine, TranscriptPolicy.from_settings(settings), clock)
    return Archiver(settings, client, engine, writer, clock, **kw)


@pytest.fixture
def archiver(hsettings: Settings, r: redis.Redis, engine: Engine, clock: ManualClock) -> Archiver:
    arch = make_archiver(hsettings, r, engine, clock, consumer="test-archiver")
    arch.ensure_group()
    return arch


def drain(arch: Archiver) -> tuple[int, int]:
    """Step until nothing is left; (written, rejected)."""
    written = rejected = 0
    while True:
        res = arch.step(block_ms=None)
        written, rejected = written + res.written, rejected + res.rejected
        if res.written + res.rejected == 0:
            return written, rejected


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The process environment without the runner's own PACELINE_ settings, plus these."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PACELINE_")}
    env.update(
        {
            "PACELINE_REDIS_URL": settings.redis_url,
            "PACELINE_NAMESPACE": settings.namespace,
            "PACELINE_DATABASE_URL": settings.database_url or "",
            "PACELINE_METRICS_PORT": "0",
        }
    )
    if settings.pseudonym_key is not None:
        env["PACELINE_PSEUDONYM_KEY"] = settings.pseudonym_key.get_secret_value()
    env.update(extra)
    return env
