"""Fixtures shared by every test: a private namespace on the real Redis, settings, the simulator.

Isolation: each test gets its own `PACELINE_NAMESPACE`; cleanup deletes only that namespace's
keys (SCAN + UNLINK), never FLUSHDB, so several runs can share one Redis.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from shared.keys import Keys
from shared.settings import Settings, load_settings

REDIS_URL = os.environ.get("PACELINE_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:8]
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def delete_namespace(client: redis.Redis, namespace: str) -> None:
    batch: list[str] = []
    for key in client.scan_iter(match=f"{namespace}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    ns = f"pltest-{RUN_ID}-{uuid.uuid4().hex[:8]}"
    yield ns
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        delete_namespace(client, ns)
    finally:
        client.close()


def make_settings(namespace: str, **env: Any) -> Settings:
    # The test suite's receivers (callbacks, vendor stand-ins, alert hooks) listen on
    # loopback: set explicitly here; the outbound guard's own tests turn it off.
    environ = {
        "PACELINE_REDIS_URL": REDIS_URL,
        "PACELINE_NAMESPACE": namespace,
        "PACELINE_ALLOW_PRIVATE_NETWORKS": "true",
    }
    environ.update({f"PACELINE_{k.upper()}": str(v) for k, v in env.items()})
    return load_settings(environ)


@pytest.fixture
def settings(namespace: str) -> Settings:
    return make_settings(namespace)


@pytest.fixture
def r() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def keys(namespace: str) -> Keys:
    return Keys(namespace)


class SimulatorProcess:
    """A `paceline simulator` subprocess: the provider, over real HTTP."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.root_url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "shared.cli.main",
            "simulator",
            "--port",
            str(self.port),
            *args,
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                if self.proc.stderr:
                    self.proc.stderr.close()
                raise RuntimeError(f"simulator exited: {err[-2000:]}")
            try:
                # 401: up, and asking for the key it was started with (--api-key)
                if httpx.get(f"{self.base_url}/models", timeout=0.5).status_code in (200, 401):
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("simulator did not start")

    def faults(self, **fields: Any) -> dict[str, Any]:
        resp = httpx.post(f"{self.root_url}/_sim/faults", json=fields, timeout=5)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.root_url}/_sim/stats", timeout=5).json()
        return result

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorProcess]:
    """One shared simulator with no faults; tests that set faults use `private_simulator`."""
    sim = SimulatorProcess("--seed", "7")
    yield sim
    sim.stop()


@pytest.fixture
def private_simulator() -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess("--seed", "7")
    yield sim
    sim.stop()


@pytest.fixture(autouse=True)
def _close_searchers() -> Iterator[None]:
    """Help-centre searchers a test built through tests.helpers are closed when it ends."""
    yield
    from tests.helpers import OPEN_SEARCHERS

    while OPEN_SEARCHERS:
        OPEN_SEARCHERS.pop().close()
