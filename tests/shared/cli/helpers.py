"""Running the real `paceline` command in a child process, with only the settings a test
gives it (whatever PACELINE_* the person running the tests has is left out)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from tests.conftest import REDIS_URL, ROOT


def clean_env(namespace: str | None = None, **settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PACELINE_")}
    env["PACELINE_REDIS_URL"] = REDIS_URL
    if namespace is not None:
        env["PACELINE_NAMESPACE"] = namespace
    env.update({f"PACELINE_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def paceline(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def spawn(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "shared.cli.main", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
