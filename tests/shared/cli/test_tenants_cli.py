"""`paceline tenants check|list|show` and `paceline try`, run as the real command."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from shared.keys import Keys
from tests.conftest import SimulatorProcess
from tests.shared.cli.helpers import clean_env, paceline

TENANTS = """
[tenants.acme]
display_name = "Acme Outdoor"
instructions = "Sign off as The Acme team."
reply_mode = "public_when_grounded"
tenant_daily_cap_usd = 25

[tenants.acme.webhooks]
zendesk = { secret_env = "ACME_ZENDESK_SECRET" }

[tenants.acme.vendors.zendesk]
subdomain = "acme"
token_env = "ACME_ZENDESK_TOKEN"

[tenants.globex]
reply_mode = "public"
"""
SECRET = "acme-zendesk-secret-0001"
TOKEN = "zd-token-acme-4f5g6h"


def _file(tmp_path: Path, text: str = TENANTS) -> Path:
    path = tmp_path / "tenants.toml"
    path.write_text(text)
    return path


def test_check_validates_a_file_without_starting_anything(tmp_path: Path) -> None:
    path = _file(tmp_path)
    env = clean_env() | {"ACME_ZENDESK_SECRET": SECRET, "ACME_ZENDESK_TOKEN": TOKEN}
    ok = paceline("tenants", "check", str(path), "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"ok": True, "file": str(path), "tenants": ["acme", "globex"]}
    # Given the vendor token's variable unset / Then one line names the tenant and the field
    bad = paceline("tenants", "check", str(path), env=clean_env() | {"ACME_ZENDESK_SECRET": SECRET})
    assert bad.returncode == 3 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1
    assert "tenant 'acme': vendors.zendesk.token_env: ACME_ZENDESK_TOKEN is not set" in bad.stderr
    # And a typo in a field is refused the same way
    typo = paceline("tenants", "check", str(_file(tmp_path, '[tenants.x]\nreply_mod = "x"\n')),
                    env=clean_env())  # fmt: skip
    assert typo.returncode == 3 and "tenant 'x': reply_mod: Extra inputs" in typo.stderr


def test_list_and_show_print_variable_names_never_secrets(tmp_path: Path) -> None:
    env = clean_env(tenants_file=_file(tmp_path)) | {"ACME_ZENDESK_SECRET": SECRET}
    listed = paceline("tenants", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    docs = json.loads(listed.stdout)
    assert [d["tenant"] for d in docs] == ["acme", "globex"]
    shown = paceline("tenants", "show", "acme", "--json", env=env)
    doc = json.loads(shown.stdout)
    assert doc["webhooks"] == {"zendesk": {"secret_env": "ACME_ZENDESK_SECRET", "set": True}}
    assert doc["vendors"]["zendesk"]["token_env"] == "ACME_ZENDESK_TOKEN"
    assert doc["vendors"]["zendesk"]["token_set"] is False
    assert doc["tenant_daily_cap_micros"] == 25_000_000 and doc["tenant_daily_cap_usd"] == 25.0
    assert doc["reply_mode"] == "public_when_grounded" and doc["max_auto_replies"] == 3
    for out in (listed.stdout, shown.stdout):
        assert SECRET not in out
    table = paceline("tenants", "show", "acme", env=env)
    assert table.returncode == 0 and "Acme Outdoor" in table.stdout and SECRET not in table.stdout
    missing = paceline("tenants", "show", "initech", env=env)
    assert missing.returncode == 2 and "no tenant 'initech'" in missing.stderr


def test_try_runs_a_tenants_agent_once_and_posts_nothing(
    tmp_path: Path, namespace: str, simulator: SimulatorProcess, r: redis.Redis
) -> None:
    env = clean_env(
        namespace,
        tenants_file=_file(tmp_path, '[tenants.globex]\nreply_mode = "public"\n'),
        llm_base_url=simulator.base_url,
        llm_api_key="sk-test-try",
    )
    done = paceline("try", "--tenant", "globex", "How do I reset my password?", "--json", env=env)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "answered" and doc["reply"]
    assert doc["visibility"] == "public" and doc["posted"] is False
    assert doc["cost_micros"] > 0 and doc["llm_calls"] >= 1
    # Nothing was recorded: no outcome, no reservation, no spend in the ledger
    keys = Keys(namespace)
    for prefix in (keys.ticket(""), keys.reservation(""), keys.books("")):
        assert not list(r.scan_iter(prefix + "*")), prefix
    human = paceline("try", "--tenant", "globex", "Where is my parcel?", env=env)
    assert (
        human.returncode == 0
        and "visibility:" in human.stdout
        and "nothing was posted" in human.stdout
    )
    bad = paceline("try", "--tenant", "no/slash", "hi", env=env)
    assert bad.returncode == 2
