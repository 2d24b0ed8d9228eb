"""The history's settings: the SQLite default under .paceline/, URLs checked at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.errors import SettingsError
from shared.history.database import database_url
from tests.conftest import ROOT, make_settings
from tests.shared.history.conftest import cli_env


def test_no_database_configured_means_a_sqlite_file_under_dot_paceline() -> None:
    assert database_url(make_settings("ns")) == "sqlite:///.paceline/history.db"
    pg = make_settings("ns", database_url="postgresql://u@db:5432/paceline")
    assert database_url(pg) == "postgresql+psycopg://u@db:5432/paceline"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("database_url", "mysql://db/x", "PACELINE_DATABASE_URL: must start with postgresql://"),
        ("transcript_redaction", "blur", "PACELINE_TRANSCRIPT_REDACTION"),
        ("transcript_retention_days", "0", "PACELINE_TRANSCRIPT_RETENTION_DAYS"),
        ("archive_batch_rows", "0", "PACELINE_ARCHIVE_BATCH_ROWS"),
    ],
)
def test_a_wrong_history_setting_is_one_line_naming_it(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        make_settings("ns", **{name: value})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_report_with_no_database_configured_uses_the_sqlite_default(
    tmp_path: Path, namespace: str
) -> None:
    # Given a working directory and no PACELINE_DATABASE_URL
    settings = make_settings(namespace)
    env = cli_env(settings)
    env.pop("PACELINE_DATABASE_URL")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    # When a report runs there
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "report", "spend", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # Then it made .paceline/history.db, migrated it, and reports nothing spent
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == []
    assert (tmp_path / ".paceline" / "history.db").is_file()
