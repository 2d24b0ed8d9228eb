from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import redis
from typer.testing import CliRunner

from producers.replay.columns import PRESETS, ColumnMapping, parse_date
from shared.keys import Keys
from shared.models import Lane
from tests.conftest import REDIS_URL
from tests.producers.replay.helpers import cli_app, queued_event_ids


def _replay(namespace: str, *args: str) -> dict[str, Any]:
    env = {"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace}
    result = CliRunner().invoke(cli_app(), ["replay", *args, "--json"], env=env)
    assert result.exit_code in (0, 130), result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _queued(r: redis.Redis, namespace: str) -> list[dict[str, Any]]:
    queue = f"{Keys(namespace).dramatiq_namespace}:{Lane.REPLAY.queue_name}.msgs"
    return [json.loads(raw)["args"][0] for raw in r.hvals(queue)]


def _zendesk_csv(path: Path, n: int) -> Path:
    header = [*PRESETS["zendesk"].values(), "Status"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(n):
            body = f'Line one of {i}\nline two, with "quotes", and a comma\n\nsigned'
            w.writerow([
                str(1000 + i), f"Refund for order {i}", body, f"u-{i % 60 + 1}",
                f"c{i}@example.com", "Ann Example", "High" if i % 2 else "normal",
                "refund vip", f"2026-10-{1 + i % 28:02d} 09:30:00", "open",
            ])  # fmt: skip
    return path


def test_zendesk_preset_maps_columns_and_keeps_multiline_bodies(
    tmp_path: Path, namespace: str, r: redis.Redis
) -> None:
    # Given a Zendesk-style CSV export whose bodies hold newlines, quotes and commas
    path = _zendesk_csv(tmp_path / "zendesk.csv", 40)
    # When it is replayed with the zendesk preset
    doc = _replay(namespace, str(path), "--preset", "zendesk")
    # Then every row is one ticket with the mapped fields
    assert doc["enqueued"] == 40 and doc["invalid"] == 0
    tickets = {t["ticket_id"]: t for t in _queued(r, namespace)}
    t = tickets["zd-1007"]
    assert t["subject"] == "Refund for order 7"
    assert t["body"].startswith('Line one of 7\nline two, with "quotes", and a comma')
    assert t["requester"] == {"id": "zd-u-8", "email": "c7@example.com", "name": "Ann Example"}
    assert t["priority"] == "high" and t["tags"] == ["refund", "vip"]
    assert t["created_at"] == "2026-10-08T09:30:00Z"
    assert t["event_id"] == "csv:zd-1007" and t["tenant_id"] == "default"
    assert t["source"] == "zendesk"


def test_csv_resume_seeks_past_the_header(tmp_path: Path, namespace: str, r: redis.Redis) -> None:
    # Given a finished CSV replay that only took tickets created before 2026-10-10
    path = _zendesk_csv(tmp_path / "z.csv", 30)
    first = _replay(
        namespace, str(path), "--preset", "zendesk", "--name", "z", "--until", "2026-10-10"
    )
    assert first["enqueued"] == 11 and first["completed"]  # days 1-9: i 0..8, 28, 29
    # When the checkpoint is rewound to the middle and the replay resumed with no filter
    key = Keys(namespace).replay_checkpoint("z")
    with path.open("rb") as f:
        header_and_ten = b"".join(_records_bytes(f, 11))
    r.hset(key, mapping={"offset": len(header_and_ten), "line": 0, "completed": 0})
    second = _replay(namespace, str(path), "--preset", "zendesk", "--name", "z")
    # Then it starts right after row 10 (rows 11..30 are read, none twice on the queue)
    assert second["resumed_from_offset"] == len(header_and_ten)
    assert second["read"] - first["read"] == 20
    ids = sorted(t["ticket_id"] for t in _queued(r, namespace))
    expected = sorted({f"zd-{1000 + i}" for i in range(30) if i < 9 or i >= 10})
    assert ids == expected


def _records_bytes(f: Any, records: int) -> list[bytes]:
    """The raw bytes of the first `records` CSV records (each body spans 4 physical lines)."""
    out: list[bytes] = [f.readline()]
    for _ in range(records - 1):
        out.extend(f.readline() for _ in range(4))
    return out


def test_jira_repeated_labels_and_custom_columns(
    tmp_path: Path, namespace: str, r: redis.Redis
) -> None:
    # Given a Jira export (Labels repeated) plus a tenant column mapped with --columns
    path = tmp_path / "jira.csv"
    path.write_text(
        "Issue key,Summary,Description,Reporter,Priority,Labels,Labels,Created,Org\n"
        "SUP-1,Cannot log in,2FA fails,Bo,Highest,login,2fa,25/Nov/26 10:05 AM,globex\n"
        "SUP-2,Invoice,Need a copy,Cy,Lowest,,billing,2026-11-20T08:00:00+01:00,initech\n"
        "SUP-3,Bad date,x,Dee,Low,,,not a date,acme\n",
        encoding="utf-8",
    )
    doc = _replay(namespace, str(path), "--preset", "jira", "--columns", "tenant_id=Org")
    assert doc["enqueued"] == 2 and doc["invalid"] == 1 and doc["invalid_lines"] == [4]
    tickets = {t["ticket_id"].removeprefix("jira-"): t for t in _queued(r, namespace)}
    assert tickets["SUP-1"]["tags"] == ["login", "2fa"] and tickets["SUP-1"]["priority"] == "urgent"
    assert tickets["SUP-1"]["tenant_id"] == "globex"
    assert tickets["SUP-1"]["created_at"] == "2026-11-25T10:05:00Z"
    assert tickets["SUP-2"]["created_at"] == "2026-11-20T07:00:00Z"
    assert tickets["SUP-2"]["priority"] == "low"
    assert sorted(queued_event_ids(r, Keys(namespace))) == ["csv:jira-SUP-1", "csv:jira-SUP-2"]
    assert doc["invalid_reasons"][0].startswith("line 4: created_at: Input should be a valid")


def test_every_preset_names_a_ticket_id_and_known_fields() -> None:
    for name, mapping in PRESETS.items():
        assert "ticket_id" in mapping, name
        bound = ColumnMapping.build(name, None).bind(list(mapping.values()))
        assert bound.indexes["ticket_id"], name
    assert parse_date("2026-11-01") is not None and parse_date("soon") is None
