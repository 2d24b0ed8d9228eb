"""`paceline budget`: set prints what it replaced, big and global changes need a yes, scopes and
amounts are checked, unset, an audit people can read, a status that shows caps, overrides and
paused scopes, and the kill switch: paused tickets park and come back on resume."""

from __future__ import annotations

import json
import re

import redis

from shared.keys import Keys
from shared.models import OutcomeStatus
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import tkey, wait_for
from tests.shared.cli.helpers import clean_env, paceline
from tests.workers.failures.helpers import Releaser, enqueue
from workers.runtime import RunningWorker

_ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"


def test_set_prints_the_value_it_replaced_and_asks_for_big_changes(namespace: str) -> None:
    env = clean_env(namespace)
    # When a tenant cap is set for the first time
    done = paceline("budget", "set", "tenant:acme", "25", "--who", "ann", env=env)
    # Then the line names the default it replaced
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tenant:acme: $10.0000 (default) -> $25.0000 (ann)"
    # When it is raised more than 10x without --yes (no terminal to ask on)
    done = paceline("budget", "set", "tenant:acme", "300", env=env)
    # Then nothing changes and it says how
    assert done.returncode == 5 and "add --yes" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    # And the global ceiling always needs the yes
    done = paceline("budget", "set", "global", "60", env=env)
    assert done.returncode == 5
    done = paceline("budget", "set", "global", "60", "--yes", "--json", env=env)
    assert done.returncode == 0
    entry = json.loads(done.stdout)
    assert entry["old_micros"] == 50_000_000 and entry["old_usd"] == 50.0
    assert entry["new_micros"] == 60_000_000 and entry["new_usd"] == 60.0


def test_bad_scopes_and_amounts_are_one_line_usage_errors(namespace: str) -> None:
    env = clean_env(namespace)
    cases = [
        (("budget", "set", "tenants:acme", "5"), "unknown scope"),
        (("budget", "set", "tenant:a b", "5"), "unknown scope"),
        (("budget", "set", "user:acme", "5"), "unknown scope"),
        (("budget", "set", "tenant:acme", "abc"), "not an amount in USD"),
        (("budget", "set", "tenant:acme", "0"), "more than $0"),
        (("budget", "pause", "user:*", "--reason", "x"), "cannot pause"),
    ]
    for args, said in cases:
        done = paceline(*args, env=env)
        assert done.returncode == 2, (args, done.stderr)
        assert said in done.stderr and "<class" not in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1


def test_unset_goes_back_to_the_default_and_the_audit_is_a_table(namespace: str) -> None:
    env = clean_env(namespace)
    assert (
        paceline("budget", "set", "tenant:acme", "25", "--note", "launch", env=env).returncode == 0
    )
    # When the override is dropped, twice
    first = paceline("budget", "unset", "tenant:acme", "--who", "bo", env=env)
    second = paceline("budget", "unset", "tenant:acme", env=env)
    # Then the first says what it was and what it is now; the second has nothing to do
    assert first.stdout.strip() == "tenant:acme: $25.0000 -> $10.0000 (default) (bo)"
    assert second.returncode == 0 and "nothing to do" in second.stdout
    # And the audit is a table, newest first, with local ISO times
    done = paceline("budget", "audit", env=env)
    lines = done.stdout.splitlines()
    assert any("at" in ln and "who" in ln and "action" in ln for ln in lines[:3]), lines
    rows = [ln for ln in lines if re.search(_ISO, ln)]
    assert len(rows) == 2 and "unset" in rows[0] and "launch" in rows[1]
    # And as JSON every amount is in both units
    rows_json = json.loads(paceline("budget", "audit", "--json", env=env).stdout)
    assert rows_json[0]["old_micros"] == 25_000_000 and rows_json[0]["old_usd"] == 25.0


def test_status_shows_caps_overrides_and_paused_scopes(namespace: str) -> None:
    env = clean_env(namespace)
    paceline("budget", "set", "tenant:acme", "25", env=env)
    paceline("budget", "pause", "tenant:globex", "--reason", "runaway loop", env=env)
    # When the status is printed for a person, and through a pipe
    done = paceline("budget", "status", env=env)
    text = done.stdout
    # Then it shows the default caps, the override, and the paused tenant with why
    assert "tenant cap (default)" in text and "$10.0000" in text
    assert re.search(r"tenant:acme\s+\S?\s*\$25\.0000", text), text
    assert re.search(r"tenant:globex\s+\S?\s*operator\s+\S?\s*runaway loop", text), text
    # And the JSON carries both units and the pause
    doc = json.loads(paceline("budget", "status", "--json", env=env).stdout)
    assert doc["ceiling_micros"] == 50_000_000 and doc["ceiling_usd"] == 50.0
    assert doc["overrides"]["tenant:acme"] == {"cap_micros": 25_000_000, "cap_usd": 25.0}
    assert doc["paused"]["tenant:globex"]["reason"] == "runaway loop"


def test_pause_parks_a_tenants_tickets_and_resume_brings_them_back(
    namespace: str, r: redis.Redis, simulator: SimulatorProcess
) -> None:
    env = clean_env(namespace)
    settings = make_settings(
        namespace, llm_base_url=simulator.base_url, llm_api_key="sk-k", pacing="off"
    )
    store = OutcomeStore(r, Keys(namespace))
    # Given tenant acme paused, and tickets from acme and from globex
    done = paceline("budget", "pause", "tenant:acme", "--reason", "invoice dispute", env=env)
    assert done.returncode == 0, done.stderr
    enqueue(settings, r, 3, start=1, tenant_id="acme")
    enqueue(settings, r, 2, start=10, tenant_id="globex")
    with RunningWorker(settings, threads=2) as worker, Releaser(worker.ctx, worker.broker):
        # When the worker runs: globex is answered, acme parks with the reason
        assert wait_for(lambda: store.summary()["answered"] + store.summary()["escalated"] == 2)
        assert wait_for(lambda: store.summary()["parked"] == 3)
        parked = store.get(tkey("T-1"))
        assert parked is not None and parked.reason == "budget_paused"
        # When acme is resumed
        done = paceline("budget", "resume", "tenant:acme", env=env)
        assert done.returncode == 0 and "3 parked tickets released" in done.stdout, done.stdout
        # Then its tickets come back and are answered
        assert wait_for(lambda: store.summary()["parked"] == 0, 30)
        for i in (1, 2, 3):
            assert wait_for(lambda i=i: _final(store, f"T-{i}"), 30)
    # And both changes are in the audit with the reason
    audit = json.loads(paceline("budget", "audit", "--json", env=env).stdout)
    assert [a["action"] for a in audit] == ["resume", "pause"]
    assert audit[1]["note"] == "invoice dispute"


def _final(store: OutcomeStore, ticket_id: str, tenant: str = "acme") -> bool:
    outcome = store.get(tkey(ticket_id, tenant))
    return outcome is not None and outcome.status in (
        OutcomeStatus.ANSWERED,
        OutcomeStatus.ESCALATED,
    )


def test_a_global_pause_parks_everything(
    namespace: str, r: redis.Redis, simulator: SimulatorProcess
) -> None:
    env = clean_env(namespace)
    settings = make_settings(
        namespace, llm_base_url=simulator.base_url, llm_api_key="sk-k", pacing="off"
    )
    store = OutcomeStore(r, Keys(namespace))
    assert paceline("budget", "pause", "global", "-r", "provider bill", env=env).returncode == 0
    enqueue(settings, r, 2, start=1, tenant_id="acme")
    with RunningWorker(settings, threads=2) as worker, Releaser(worker.ctx, worker.broker):
        assert wait_for(lambda: store.summary()["parked"] == 2)
        assert paceline("budget", "resume", "global", env=env).returncode == 0
        assert wait_for(lambda: _final(store, "T-1") and _final(store, "T-2"), 30)
