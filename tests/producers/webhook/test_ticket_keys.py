"""Every per-ticket key is scoped by tenant and source (the HTTP side: test_tenant_claims.py).

Ids holding the separator cannot collide, and `paceline outcomes show` finds a ticket by its id
and asks for `--tenant` when several tenants share it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fastapi.testclient import TestClient

from shared.keys import event_key, ticket_key
from tests.conftest import REDIS_URL, ROOT
from tests.producers.webhook.conftest import NOW_S
from tests.producers.webhook.vendor_cases import encode, payload, signed_headers


def _post_generic(client: TestClient, doc: dict[str, object]) -> dict[str, object]:
    body = encode(doc)
    resp = client.post(
        "/webhooks/generic", content=body, headers=signed_headers("generic", body, NOW_S)
    )
    assert resp.status_code == 202, resp.text
    result: dict[str, object] = resp.json()
    return result


def test_ids_holding_the_separator_do_not_collide() -> None:
    # Given ticket "a" with event "b:c", and ticket "a:b" with event "c"
    one = event_key("acme", "generic", "a", "b:c")
    two = event_key("acme", "generic", "a:b", "c")
    # Then their per-event keys (reply marker, Idempotency-Key, reservation) differ
    assert one != two
    assert ticket_key("a:b", "generic", "c") != ticket_key("a", "b:generic", "c")


def _show(namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
    env.update({"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace})
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "outcomes", "show", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_outcomes_show_asks_for_the_tenant_only_when_the_id_is_shared(
    client: TestClient, namespace: str
) -> None:
    # Given T-1 in two tenants and T-2 in one
    _post_generic(client, {**payload("generic"), "tenant_id": "acme"})
    _post_generic(client, {**payload("generic"), "tenant_id": "globex"})
    _post_generic(client, {**payload("generic", 2), "tenant_id": "acme"})
    # When shown without --tenant: a unique id is shown
    unique = _show(namespace, "T-2", "--json")
    assert unique.returncode == 0, unique.stderr
    assert json.loads(unique.stdout)["tenant_id"] == "acme"
    # And a shared one lists the candidates in one line, and fails
    shared = _show(namespace, "T-1", "--json")
    assert shared.returncode != 0 and shared.stdout == ""
    assert len(shared.stderr.strip().splitlines()) == 1
    assert "acme/generic" in shared.stderr and "globex/generic" in shared.stderr
    # When --tenant names one / Then that one
    chosen = _show(namespace, "T-1", "--tenant", "globex", "--json")
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout)["tenant_id"] == "globex"
    # And an unknown id is one line too
    missing = _show(namespace, "T-404", "--json")
    assert missing.returncode != 0 and "no ticket 'T-404'" in missing.stderr
