"""The migrations: they build exactly the schema the code uses, run twice as a no-op, migrate
once when two processes start together, and a failed one leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from shared.errors import MigrationFailed
from shared.history.database import make_engine
from shared.history.migrate import current_revision, head_revision, upgrade
from shared.history.schema import metadata
from tests.conftest import ROOT, make_settings
from tests.shared.history.conftest import cli_env


@pytest.fixture(params=("sqlite", "postgresql"))
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    url: str = request.getfixturevalue("fresh_pg")
    return url


def engine_for(url: str) -> Engine:
    return make_engine(make_settings("unused", database_url=url))


def test_the_migrations_build_exactly_the_schema_and_a_second_run_does_nothing(
    empty_url: str,
) -> None:
    engine = engine_for(empty_url)
    # When migrated twice
    assert upgrade(engine) == head_revision()
    assert upgrade(engine) == head_revision()
    # Then the database is at the head and matches schema.py table for table, index for index
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    engine.dispose()


def test_the_month_index_covers_the_report_on_postgresql(fresh_pg: str) -> None:
    engine = engine_for(fresh_pg)
    upgrade(engine)
    with engine.connect() as conn:
        ddl = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_model_calls_day_cover'")
        ).scalar_one()
    assert "INCLUDE (tenant_id, model, lane, cost_micros" in ddl
    engine.dispose()


def test_two_archivers_starting_together_migrate_once(fresh_pg: str) -> None:
    # Given two processes' engines on a new database
    engines = [engine_for(fresh_pg), engine_for(fresh_pg)]
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        try:
            upgrade(engine)
        except BaseException as exc:
            errors.append(exc)

    # When both migrate at once
    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # Then neither failed (the advisory lock serialised them) and the schema is there once
    assert errors == []
    assert current_revision(engines[0]) == head_revision()
    for e in engines:
        e.dispose()


def plant_conflict(url: str) -> None:
    """A `model_calls` table that is not ours: the first migration fails on it, last."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE model_calls (something INTEGER)"))
    engine.dispose()


def test_a_failed_migration_is_rolled_back_whole(empty_url: str) -> None:
    # Given a database where the first migration will fail after creating five tables
    plant_conflict(empty_url)
    engine = engine_for(empty_url)
    # When migrated
    with pytest.raises(MigrationFailed) as info:
        upgrade(engine)
    # Then the error is one line, and nothing of the migration is left: only the planted table
    assert "rolled back" in str(info.value) and "\n" not in str(info.value)
    assert set(inspect(engine).get_table_names()) == {"model_calls"}
    assert current_revision(engine) is None
    engine.dispose()


def test_paceline_archive_stops_with_one_line_when_a_migration_fails(
    empty_url: str, namespace: str
) -> None:
    plant_conflict(empty_url)
    settings = make_settings(namespace, database_url=empty_url)
    # When the archiver starts on it
    proc = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "archive"],
        cwd=ROOT, env=cli_env(settings), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # Then it exits non-zero with one line naming the failure, no traceback, nothing created
    assert proc.returncode != 0
    err = [line for line in proc.stderr.splitlines() if line.startswith("paceline:")]
    assert len(err) == 1 and "migration failed and was rolled back" in err[0]
    assert "Traceback" not in proc.stderr
    engine = engine_for(empty_url)
    assert set(inspect(engine).get_table_names()) == {"model_calls"}
    engine.dispose()
