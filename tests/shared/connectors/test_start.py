"""A connector that names a missing variable, or plain http in production, stops the worker
and the webhook app at start with one line: it never reaches a ticket."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, ROOT

CONNECTOR = """
[tenants.acme]
allowed_hosts = ["orders.acme.example"]
[[tenants.acme.connectors]]
name = "lookup_orders"
description = "Orders of this ticket's customer"
[tenants.acme.connectors.request]
url = "{scheme}://orders.acme.example/v1/customers/{{requester.id}}"
headers = {{ Authorization = "Bearer ${{ACME_ORDERS_TOKEN}}" }}
"""


def _cli(namespace: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
    environ.pop("ACME_ORDERS_TOKEN", None)
    environ.update({"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace, **env})
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("scheme", "env", "expect"),
    [
        ("https", {}, "request.headers.Authorization: ACME_ORDERS_TOKEN is not set"),
        (
            "http",
            {"ACME_ORDERS_TOKEN": "t0k-9ZqW3eXr"},
            "request.url: must be https (plain http only while "
            "PACELINE_ALLOW_PRIVATE_NETWORKS=true)",
        ),
    ],
)
@pytest.mark.parametrize("command", [("worker", "--threads", "1"), ("webhook",)])
def test_a_bad_connector_stops_the_process_with_one_line(
    namespace: str,
    tmp_path: Path,
    scheme: str,
    env: dict[str, str],
    expect: str,
    command: tuple[str, ...],
) -> None:
    path = tmp_path / "tenants.toml"
    path.write_text(CONNECTOR.format(scheme=scheme))
    done = _cli(namespace, *command, PACELINE_TENANTS_FILE=str(path), **env)
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()
    prefix = "paceline: PACELINE_TENANTS_FILE: tenant 'acme': connectors.lookup_orders."
    assert line.startswith(prefix) and line.endswith(expect), line
    assert "t0k-9ZqW3eXr" not in line
