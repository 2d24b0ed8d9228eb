"""`paceline webhook` as a real process: weak secrets and a bad tenants file stop it at start
with one line; its metrics are on the internal port, not the public one; everything it writes
to stderr, uvicorn's own lines included, is a redacted JSON line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_URL, ROOT, free_port
from tests.producers.webhook.server import LAUNCH
from tests.producers.webhook.vendor_cases import SECRETS, encode, payload, signed_headers


def _env(namespace: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
    env.update({"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace})
    env.update(extra)
    return env


def _start_fails(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("PACELINE_WEBHOOK_SECRET_GENERIC", " ", "blank"),
        ("PACELINE_WEBHOOK_SECRET_ZENDESK", "REPLACE_ME", "a placeholder"),
        ("PACELINE_WEBHOOK_SECRET_JIRA", "changeme", "a placeholder"),
        ("PACELINE_WEBHOOK_SECRET_INTERCOM", "s3cr3t-short", "shorter than 16 bytes"),
        ("PACELINE_OPS_TOKEN", "password", "a placeholder"),
        ("PACELINE_OPS_TOKEN", "x" * 24, "one character repeated"),
    ],
)
def test_a_weak_secret_stops_the_process_at_start(
    namespace: str, name: str, value: str, why: str
) -> None:
    # Given a signing secret or the ops token an attacker could guess / When the app starts
    done = _start_fails(_env(namespace, **{name: value}))
    # Then it exits at once with one line naming the setting, and no traceback
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"paceline: {name}: too weak ({why})")
    assert value.strip() == "" or value not in line


TENANTS = """
[tenants.acme.webhooks]
zendesk = { secret_env = "ACME_ZD_SECRET" }
"""


@pytest.mark.parametrize(
    ("toml", "env", "expect"),
    [
        (TENANTS, {}, "tenant 'acme': webhooks.zendesk.secret_env: ACME_ZD_SECRET is not set"),
        (TENANTS, {"ACME_ZD_SECRET": "short"}, "ACME_ZD_SECRET is too weak"),
        (
            "[tenants.acme.webhooks]\nzendesk = { secret = 'inline' }\n",
            {},
            "tenant 'acme': webhooks.zendesk.secret",
        ),
        ("[tenants.acme.webhooks]\nnosuch = { secret_env = 'X' }\n", {}, "unknown source 'nosuch'"),
        ("[tenants.acme]\nwebhook = {}\n", {}, "tenant 'acme': webhook: Extra inputs"),
        ("[tenants.'bad id']\n", {}, "tenant 'bad id'"),
        ("[tenants.acme\n", {}, "is not valid TOML"),
        # A profile: a vendor token's variable unset, a model without a price
        (
            "[tenants.acme.vendors.zendesk]\ntoken_env = 'ACME_ZD_TOKEN'\n",
            {},
            "tenant 'acme': vendors.zendesk.token_env: ACME_ZD_TOKEN is not set",
        ),
        ("[tenants.acme]\nmodel = 'gpt-nonesuch'\n", {}, "tenant 'acme': model: no price"),
    ],
)
def test_a_bad_tenants_file_stops_the_process_with_one_line(
    namespace: str, tmp_path: Path, toml: str, env: dict[str, str], expect: str
) -> None:
    path = tmp_path / "tenants.toml"
    path.write_text(toml)
    done = _start_fails(_env(namespace, PACELINE_TENANTS_FILE=str(path), **env))
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("paceline: PACELINE_TENANTS_FILE: ") and expect in line, line


class Running:
    """The webhook process with its stderr kept in a file, read after it stops."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.err_path = tmp / "webhook.stderr"
        self._err = self.err_path.open("wb")
        env = {**env, "PACELINE_METRICS_PORT": str(self.metrics_port)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self._err,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(self.err_path.read_text())

    def stop(self) -> list[str]:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self._err.close()
        return self.err_path.read_text().splitlines()


@pytest.fixture
def running(namespace: str, tmp_path: Path) -> Iterator[Running]:
    env = _env(
        namespace,
        PACELINE_WEBHOOK_SECRET_GENERIC=SECRETS["generic"],
        PACELINE_OPS_TOKEN="ops-token-process-0001",
        PACELINE_LLM_API_KEY="ollama",  # a placeholder provider key: exempt, it starts
    )
    proc = Running(env, tmp_path)
    yield proc
    proc.stop()


def test_metrics_are_on_the_internal_port_only(running: Running) -> None:
    body = encode(payload("generic"))
    resp = httpx.post(
        f"{running.url}/webhooks/generic",
        content=body,
        headers=signed_headers("generic", body, time.time()),
    )
    assert resp.status_code == 202
    # When anyone asks the public port for /metrics / Then there is none
    assert httpx.get(f"{running.url}/metrics").status_code == 404
    # And Prometheus finds them on PACELINE_METRICS_PORT, tenant spend and requests included
    text = httpx.get(f"http://127.0.0.1:{running.metrics_port}/metrics").text
    assert 'paceline_webhook_requests_total{source="generic",status="202"} 1.0' in text
    assert "paceline_spend_micros" in text


def test_every_line_on_stderr_is_redacted_json_uvicorns_included(running: Running) -> None:
    # Given a client that sends garbage instead of HTTP (uvicorn itself logs a warning)
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        sock.recv(1024)
    time.sleep(0.3)
    lines = running.stop()
    # Then uvicorn's lines went through the JSON handler like ours, none as plain text
    docs = [json.loads(line) for line in lines if not line.startswith("paceline webhook")]
    loggers = {d["logger"] for d in docs}
    assert "uvicorn.error" in loggers, loggers
    assert any("Invalid HTTP request" in d["msg"] for d in docs), docs
    assert all(d["component"] == "webhook" for d in docs)
    assert not any("\x1b" in json.dumps(d, ensure_ascii=False) for d in docs)
