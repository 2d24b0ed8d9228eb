"""The image: multi-stage, non-root, a health check on /healthz, `paceline` as entrypoint."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.deploy.conftest import DEPLOY

DOCKERFILE = DEPLOY / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_multi_stage_non_root_with_healthcheck() -> None:
    # Given the Dockerfile's instructions
    ins = instructions()
    froms = [rest for word, rest in ins if word == "FROM"]
    # Then a python:3.11-slim builder and runtime, the last USER is not root
    assert len(froms) == 2 and all(f.startswith("python:3.11-slim") for f in froms)
    runtime = ins[[i for i, (w, _) in enumerate(ins) if w == "FROM"][-1] :]
    users = [rest for word, rest in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    (health,) = [rest for word, rest in runtime if word == "HEALTHCHECK"]
    assert "/healthz" in health and "8000" in health
    (entry,) = [rest for word, rest in runtime if word == "ENTRYPOINT"]
    assert json.loads(entry) == ["paceline"]
    assert any(w == "COPY" and "--from=builder" in r for w, r in runtime)


def test_copied_sources_exist() -> None:
    root = DEPLOY.parent
    for word, rest in instructions():
        if word == "COPY" and not rest.startswith("--from"):
            for src in rest.split()[:-1]:
                if src != "README.md":  # written by the docs task; needed at build time
                    assert (root / src).exists(), src


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed")
def test_hadolint() -> None:  # pragma: no cover - only where hadolint exists
    done = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
