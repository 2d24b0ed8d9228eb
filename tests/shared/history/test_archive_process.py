"""`paceline archive` as the process it runs as: it archives while facts arrive, exports its
backlog and the alert's threshold, stops cleanly; with its database stopped and itself killed,
the stream buffers and no row is lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis
from sqlalchemy import create_engine, func, select

from shared.history.database import make_engine
from shared.history.schema import model_calls
from shared.keys import Keys
from shared.settings import Settings
from tests.conftest import ROOT, free_port, make_settings
from tests.shared.history import private_pg
from tests.shared.history.conftest import cli_env
from tests.shared.history.facts import add, call


def start_archiver(settings: Settings, **env: str) -> subprocess.Popen[str]:
    env.setdefault("PACELINE_ARCHIVE_CLAIM_IDLE_S", str(settings.archive_claim_idle_s))
    return subprocess.Popen(
        [sys.executable, "-m", "shared.cli.main", "archive"],
        cwd=ROOT, env=cli_env(settings, **env), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def wait_for(check: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def rows_in(url: str) -> Callable[[], int]:
    def count() -> int:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(model_calls)).scalar_one())
        except Exception:
            return -1
        finally:
            engine.dispose()

    return count


def test_the_process_archives_exports_its_backlog_and_stops_cleanly(
    hsettings: Settings, r: redis.Redis, keys: Keys
) -> None:
    port = free_port()
    proc = start_archiver(hsettings, PACELINE_METRICS_PORT=str(port),
                          PACELINE_ARCHIVE_BACKLOG_ALERT_ENTRIES="1234")  # fmt: skip
    try:
        add(r, keys, *(call(n) for n in range(50)))
        engine = make_engine(hsettings)
        count = rows_in(str(engine.url.render_as_string(hide_password=False)))
        wait_for(lambda: count() == 50)
        engine.dispose()

        def scraped() -> str:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return ""

        wait_for(lambda: 'paceline_history_archived_total{result="written"} 50.0' in scraped())
        text = scraped()
        assert "paceline_history_backlog_alert 1234.0" in text
        assert "paceline_history_backlog 0.0" in text
    finally:
        code = stop(proc)
    assert code == 0


@pytest.fixture
def own_postgres() -> Iterator[private_pg.PrivatePostgres]:
    if not private_pg.available():
        pytest.skip("initdb/pg_ctl not installed")
    pg = private_pg.PrivatePostgres()
    pg.start()
    yield pg
    pg.destroy()


@pytest.mark.slow
def test_database_stopped_and_archiver_killed_lose_no_row(
    own_postgres: private_pg.PrivatePostgres, namespace: str, r: redis.Redis
) -> None:
    keys = Keys(namespace)
    settings = make_settings(namespace, database_url=own_postgres.url, archive_claim_idle_s=1)
    count = rows_in(own_postgres.url)
    first = start_archiver(settings)
    second = None
    try:
        # Given an archiver keeping up
        add(r, keys, *(call(n, reservation_id=f"r{n}") for n in range(100)))
        wait_for(lambda: count() == 100)
        # When the database stops while facts keep coming
        own_postgres.stop()
        add(r, keys, *(call(n, reservation_id=f"r{n}") for n in range(100, 200)))
        time.sleep(1.5)
        # Then the archiver is still up and the stream holds them
        assert first.poll() is None
        assert r.xlen(keys.history_stream) == 100
        # When the archiver is killed holding a batch, more facts come, and a new archiver
        # starts while the database is still down
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        add(r, keys, *(call(n, reservation_id=f"r{n}") for n in range(200, 300)))
        second = start_archiver(settings)
        time.sleep(2)
        assert second.poll() is None  # it waits for the database, it does not give up
        # And the database comes back
        own_postgres.start()
        # Then every fact is one row: the dead archiver's batch taken over, the rest read
        wait_for(lambda: count() == 300, timeout_s=60)
        wait_for(lambda: r.xlen(keys.history_stream) == 0)
        engine = create_engine(own_postgres.url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            keys_seen = conn.execute(
                select(func.count(func.distinct(model_calls.c.reservation_id)))
            ).scalar_one()
        engine.dispose()
        assert keys_seen == 300
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        if second is not None:
            assert stop(second) == 0
