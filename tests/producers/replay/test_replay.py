from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from producers.enqueue import Intake
from producers.replay.replayer import Replayer, ReplayFilter, ReplaySummary
from producers.replay.source import open_records
from shared.broker import build_broker
from shared.clock import SystemClock
from shared.keys import Keys
from shared.settings import Settings
from shared.stores.outcomes import OutcomeStore
from tests.conftest import REDIS_URL, ROOT
from tests.producers.replay.helpers import (
    cli_app,
    queued_event_ids,
    replay_queue_counts,
    ticket_doc,
    write_jsonl,
)


def _cli(namespace: str, *args: str) -> Any:
    env = {"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace}
    return CliRunner().invoke(cli_app(), ["replay", *args], env=env)


def _json(namespace: str, *args: str) -> dict[str, Any]:
    result = _cli(namespace, *args, "--json")
    assert result.exit_code in (0, 130), result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture
def intake(settings: Settings, r: redis.Redis, keys: Keys) -> Iterator[Intake]:
    broker = build_broker(settings)
    yield Intake(
        broker=broker, client=r, keys=keys, clock=SystemClock(),
        dedupe_window_s=settings.dedupe_window_s,
    )  # fmt: skip
    broker.close()


def test_dry_run_of_100k_tickets_takes_seconds_and_enqueues_nothing(
    tmp_path: Path, namespace: str, r: redis.Redis
) -> None:
    # Given an export of 100,000 tickets (about 25 MB)
    path = write_jsonl(tmp_path / "big.jsonl", 100_000)
    # When it is replayed with --dry-run
    started = time.monotonic()
    doc = _json(namespace, str(path), "--dry-run")
    elapsed_s = time.monotonic() - started
    # Then it reads every line in seconds, prices them, and writes nothing to Redis
    assert elapsed_s < 20, elapsed_s
    assert doc["read"] == 100_000 and doc["enqueued"] == 0
    est = doc["estimate"]
    assert est["tickets"] == 100_000
    assert 0 < est["likely_micros"] < est["worst_micros"]
    assert est["likely_share_of_ceiling_pct"] > 0
    assert list(r.scan_iter(match=f"{namespace}:*")) == []


def test_interrupted_replay_resumes_and_enqueues_each_ticket_once(
    tmp_path: Path, settings: Settings, r: redis.Redis, keys: Keys, intake: Intake
) -> None:
    # Given 1,200 tickets, one repeated delivery and one broken line
    extra = {700: json.dumps(ticket_doc(3)), 300: '{"event_id": "evt-x", "ticket_id": '}
    path = write_jsonl(tmp_path / "t.jsonl", 1_200, extra_lines=extra)
    filt = ReplayFilter()

    def run(interrupt_after: int | None) -> ReplaySummary:
        replayer = Replayer(
            client=r, keys=keys, clock=SystemClock(), intake=intake, interrupt_after=interrupt_after
        )
        summary = ReplaySummary(name="resume-test", file=str(path), dry_run=False)
        replayer.resume_point(summary, restart=False)
        records = open_records(
            path, "jsonl", mapping=None, default_tenant="default",
            start_offset=summary.offset, start_line=summary.line,
        )  # fmt: skip
        return replayer.run(records, summary, name="resume-test", filt=filt)

    # When the replay is interrupted after 650 records (as a Ctrl-C would)
    first = run(650)
    assert first.interrupted and not first.completed
    assert first.enqueued == 649  # one of the first 650 records is the broken line
    assert replay_queue_counts(r, keys) == (649, 649)
    # And then run again, twice
    second = run(None)
    third = run(None)
    # Then the resume starts at the checkpoint, and every ticket is on the queue exactly once
    assert second.completed and second.resumed_from_offset == first.offset
    assert second.enqueued == 1_200 and second.read == 1_202
    assert second.invalid == 1 and second.invalid_lines == [301]
    assert second.duplicates == 1  # the repeated delivery of evt-3
    assert third.read == 1_202  # already complete: nothing read again
    assert replay_queue_counts(r, keys) == (1_200, 1_200)
    events = queued_event_ids(r, keys)
    assert sorted(events) == sorted(f"evt-{i}" for i in range(1_200))
    summary = OutcomeStore(r, keys).summary()
    assert summary["pending"] == 1_200


def test_sigint_to_a_running_replay_then_resume_is_exactly_once(
    tmp_path: Path, namespace: str, r: redis.Redis, keys: Keys
) -> None:
    # Given a paced replay (200 tickets/s) of 600 tickets running in its own process
    path = write_jsonl(tmp_path / "paced.jsonl", 600)
    env = {**os.environ, "PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace}
    cmd = [sys.executable, "-m", "tests.producers.replay.helpers", "replay", str(path), "--json"]
    proc = subprocess.Popen(
        [*cmd, "--rate", "200"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 15
    while replay_queue_counts(r, keys)[0] < 100 and time.monotonic() < deadline:
        time.sleep(0.02)
    # When it gets Ctrl-C part-way
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    # Then it stops cleanly with exit 130 and a summary of what it did so far
    assert proc.returncode == 130, err.decode()
    first = json.loads(out)
    assert first["interrupted"] and 100 <= first["enqueued"] < 600
    assert replay_queue_counts(r, keys) == (first["enqueued"], first["enqueued"])
    # And a resume (no pacing) finishes the rest without a single duplicate message
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=30, check=True)
    second = json.loads(done.stdout)
    assert second["completed"] and second["resumed_from_offset"] == first["offset"]
    assert second["enqueued"] == 600 and second["duplicates"] == 0
    assert sorted(queued_event_ids(r, keys)) == sorted(f"evt-{i}" for i in range(600))


def test_repeated_deliveries_in_a_file_are_dropped(tmp_path: Path, namespace: str) -> None:
    # Given the bundled sample, which repeats a few deliveries on purpose
    from shared.data import load_sample, sample_path

    repeats = sum(1 for row in load_sample() if "duplicate_of" in row)
    # When it is replayed
    doc = _json(namespace, sample_path(), "--name", "sample")
    # Then each repeat is a duplicate, not a second job
    assert doc["duplicates"] == repeats and doc["enqueued"] == len(load_sample()) - repeats


def test_filters_by_tenant_and_time(tmp_path: Path, namespace: str, r: redis.Redis) -> None:
    # Given 300 tickets an hour apart from 2026-09-01, tenants in turn
    path = write_jsonl(tmp_path / "f.jsonl", 300)
    # When only globex tickets of 2026-09-02 (hours 24..47) are replayed
    doc = _json(
        namespace, str(path), "--tenant", "globex", "--since", "2026-09-02", "--until",
        "2026-09-03T00:00:00Z",
    )  # fmt: skip
    # Then 8 of them go (i in 24..47 with i % 3 == 1) and the rest are counted as skipped
    assert doc["enqueued"] == 8
    assert doc["skipped_by_filter"] == 292
    assert sorted(queued_event_ids(r, Keys(namespace))) == sorted(
        f"evt-{i}" for i in range(24, 48) if i % 3 == 1
    )


def test_bad_options_are_one_line_errors(tmp_path: Path, namespace: str) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", 3)
    csv_path = tmp_path / "x.csv"
    csv_path.write_text("Id,Subject\n1,hello\n")
    cases = [
        [str(path), "--since", "last tuesday"],
        [str(path), "--format", "xml"],
        [str(csv_path), "--preset", "salesforce"],
        [str(csv_path), "--columns", "subject"],
        [str(csv_path), "--preset", "jira"],  # no "Issue key" column
    ]
    for args in cases:
        result = _cli(namespace, *args)
        assert result.exit_code == 2, args
        assert len(result.stderr.strip().splitlines()) == 1
