"""One error style everywhere: every command run against a closed Redis port, and every
command given a bad file, says one line on stderr naming what failed, exits with the code
docs/cli.md lists for it, and never prints a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.helpers import generic_ticket
from tests.shared.cli.helpers import clean_env, paceline

UNAVAILABLE, USAGE = 4, 2

# Every command that reads or writes Redis (long-running ones stop at start).
NEEDS_REDIS: list[tuple[str, ...]] = [
    ("outcomes", "summary"),
    ("outcomes", "list"),
    ("outcomes", "show", "T-1"),
    ("budget", "status"),
    ("budget", "audit"),
    ("budget", "set", "tenant:acme", "5"),
    ("budget", "unset", "tenant:acme"),
    ("budget", "pause", "tenant:acme", "--reason", "x"),
    ("budget", "resume", "tenant:acme"),
    ("dlq", "list"),
    ("dlq", "reasons"),
    ("dlq", "show", "abc"),
    ("dlq", "requeue", "--all"),
    ("dlq", "requeue", "--all", "--dry-run"),
    ("dlq", "purge", "--all", "--yes"),
    ("dlq", "export"),
    ("dlq", "sweep"),
    ("enqueue", "{ticket}"),
    ("replay", "{ticket}"),
    ("replay", "{ticket}", "--dry-run"),
    ("simulate", "--hours", "1"),
    ("worker",),
    ("scheduler",),
    ("archive",),
    ("kb", "list", "--tenant", "acme"),
    ("kb", "search", "refund", "--tenant", "acme"),
]


def _one_line_no_traceback(done: object, code: int, *said: str) -> None:
    out, err, rc = done.stdout, done.stderr, done.returncode  # type: ignore[attr-defined]
    assert rc == code, (rc, out, err)
    assert "Traceback" not in out + err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("paceline"), lines[0]
    for word in said:
        assert word in lines[0], (word, lines[0])


@pytest.fixture
def ticket_file(tmp_path: Path) -> Path:
    path = tmp_path / "ticket.jsonl"
    path.write_text(json.dumps(generic_ticket(1)) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("args", NEEDS_REDIS, ids=lambda a: " ".join(a))
def test_a_closed_redis_port_is_one_line_and_exit_4(
    args: tuple[str, ...], namespace: str, ticket_file: Path
) -> None:
    env = clean_env(namespace, redis_url=f"redis://127.0.0.1:{free_port()}/0", metrics_port=0)
    argv = [a.replace("{ticket}", str(ticket_file)) for a in args]
    done = paceline(*argv, env=env, timeout_s=60)
    _one_line_no_traceback(done, UNAVAILABLE, "Redis")


def test_plan_and_check_still_answer_without_redis(namespace: str) -> None:
    env = clean_env(namespace, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    done = paceline(
        "plan", "--rph", "10", "--tokens-in", "100", "--tokens-out", "10", "--model",
        "gpt-4o-mini", env=env,
    )  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr
    assert "Redis unreachable" in done.stdout
    done = paceline("check", "--json", env=env)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert "redis" in json.loads(done.stdout)["failed"]


def _bad_files(tmp: Path) -> dict[str, Path]:
    binary = tmp / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage\x80")
    csv_path = tmp / "quote.csv"
    csv_path.write_text('ticket_id,subject\nT-1,"never closed\nT-2,x\n', encoding="utf-8")
    return {
        "missing": tmp / "nope" / "missing.jsonl",
        "directory": tmp,
        "binary": binary,
        "csv_quote": csv_path,
    }


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("enqueue", "{missing}"), "cannot read"),
        (("enqueue", "{directory}"), "cannot read"),
        (("enqueue", "{binary}"), "not UTF-8"),
        (("replay", "{missing}"), "does not exist"),
        (("replay", "{directory}"), "is a directory"),
        (("replay", "{csv_quote}"), "never closed"),
        (("send", "{missing}"), "cannot read"),
        (("send", "{binary}"), "not UTF-8"),
        (("dlq", "export", "--out", "{missing}"), "cannot write"),
        (("dlq", "list", "--since", "last tuesday"), "--since"),
        (("budget", "set", "tenant:acme", "abc"), "not an amount"),
        (("outcomes", "list", "--status", "lost"), "--status"),
        (("nonsense",), "No such command"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else v,
)
def test_a_bad_file_or_argument_is_one_line_and_exit_2(
    args: tuple[str, ...], said: str, namespace: str, tmp_path: Path
) -> None:
    files = _bad_files(tmp_path)
    argv = [a.format(**files) for a in args]
    env = clean_env(namespace, webhook_secret_generic="send-test-secret-0123456789abcdef")
    done = paceline(*argv, env=env)
    _one_line_no_traceback(done, USAGE, said)
