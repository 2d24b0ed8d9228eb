"""`paceline enqueue`: JSON or JSONL into the live lane, one job id a line, bad lines named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
import typer
from typer.testing import CliRunner

from shared.cli import cmd_enqueue
from shared.keys import Keys
from tests.conftest import REDIS_URL
from tests.producers.webhook.vendor_cases import payload


def run(namespace: str, args: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    app = typer.Typer()
    cmd_enqueue.register(app)

    @app.callback()
    def _group() -> None:
        """Keeps `enqueue` a subcommand, as in `paceline`."""

    env = {"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace}
    result = CliRunner().invoke(app, ["enqueue", *args], input=stdin, env=env)
    return result.exit_code, result.stdout, result.stderr


def live_len(r: redis.Redis, keys: Keys) -> int:
    n: int = r.llen(f"{keys.dramatiq_namespace}:tickets_live")
    return n


def test_jsonl_enqueues_valid_lines_and_names_bad_ones(
    tmp_path: Path, namespace: str, r: redis.Redis, keys: Keys
) -> None:
    # Given JSONL with two good tickets, one invalid and one non-JSON line
    bad = {**payload("generic", 3), "ticket_id": "has space"}
    lines = [
        json.dumps(payload("generic", 1)),
        json.dumps(bad),
        "{oops",
        json.dumps(payload("generic", 2)),
    ]
    path = tmp_path / "tickets.jsonl"
    path.write_text("\n".join(lines) + "\n")
    # When enqueued
    code, out, err = run(namespace, [str(path)])
    # Then two job ids are printed, lines 2 and 3 are reported, and the exit is non-zero
    assert code != 0
    assert len(out.split()) == 2
    assert "line 2: ticket_id" in err and "line 3: body is not JSON" in err
    assert "has space" not in err
    assert live_len(r, keys) == 2


def test_single_pretty_json_from_stdin(namespace: str, r: redis.Redis, keys: Keys) -> None:
    # Given one pretty-printed ticket on stdin
    doc = json.dumps(payload("generic", 7), indent=2)
    # When enqueued with "-"
    code, out, err = run(namespace, ["-"], stdin=doc)
    # Then one job id, exit 0, one message queued
    assert code == 0, err
    assert len(out.split()) == 1
    assert live_len(r, keys) == 1


def test_missing_file_is_a_one_line_error(namespace: str) -> None:
    code, out, err = run(namespace, ["/nonexistent/tickets.jsonl"])
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("repeat", [2])
def test_same_event_twice_is_one_job(
    repeat: int, namespace: str, r: redis.Redis, keys: Keys
) -> None:
    # Given the same ticket event twice in one file / Then both lines print the same job id
    line = json.dumps(payload("generic", 9))
    code, out, _ = run(namespace, ["-"], stdin="\n".join([line] * repeat))
    assert code == 0
    assert len(set(out.split())) == 1
    assert live_len(r, keys) == 1
