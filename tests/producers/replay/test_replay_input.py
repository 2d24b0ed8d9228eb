"""Replay input an operator gets wrong, and vendor exports that must meet their live tickets:
reasons for invalid rows, an unterminated quote, a CSV named .txt, vendor ids and tenants,
`--tenant`, and progress in rows."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import httpx
import redis
from typer.testing import CliRunner

from producers.replay.replayer import Replayer, ReplayFilter, ReplaySummary
from producers.replay.source import open_records
from shared.clock import SystemClock
from shared.keys import Keys
from shared.models import Lane
from shared.stores.outcomes import OutcomeStore
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import WebhookServer, tkey
from tests.producers.replay.helpers import cli_app, write_jsonl
from tests.producers.webhook.vendor_cases import encode, secret_env, signed_headers


def _replay(namespace: str, *args: str, **env: str) -> Any:
    full = {"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace}
    full.update({f"PACELINE_{k.upper()}": v for k, v in env.items()})
    return CliRunner().invoke(cli_app(), ["replay", *args], env=full)


def _queued(r: redis.Redis, namespace: str) -> list[dict[str, Any]]:
    queue = f"{Keys(namespace).dramatiq_namespace}:{Lane.REPLAY.queue_name}.msgs"
    return [json.loads(raw)["args"][0] for raw in r.hvals(queue)]


def test_invalid_rows_give_their_reasons_first_twenty_then_a_count(
    tmp_path: Path, namespace: str
) -> None:
    # Given 30 broken lines among 40 good ones
    extra = {i: json.dumps({"event_id": f"bad-{i}", "ticket_id": "x"}) for i in range(30)}
    path = write_jsonl(tmp_path / "t.jsonl", 40, extra_lines=extra)
    # When it is replayed (dry run)
    result = _replay(namespace, str(path), "--dry-run")
    # Then the first 20 are named with their reason, then a count of the rest
    assert result.exit_code == 0, result.output
    reasons = [ln for ln in result.stdout.splitlines() if ln.strip().startswith("invalid:")]
    assert len(reasons) == 20
    assert reasons[0].strip() == "invalid: line 1: requester: Field required"
    assert "and 10 more invalid rows" in result.stdout
    assert "bad-" not in result.stdout  # the reason, never the row's content


def test_an_unterminated_quote_is_an_error_not_a_swallowed_file(
    tmp_path: Path, namespace: str, r: redis.Redis
) -> None:
    # Given a CSV whose second row opens a quote it never closes
    path = tmp_path / "broken.csv"
    path.write_text(
        'ticket_id,subject,body\nT-1,ok,fine\nT-2,"oops,body\nT-3,a,b\nT-4,c,d\n', encoding="utf-8"
    )
    # When it is replayed
    result = _replay(namespace, str(path), "--preset", "generic")
    # Then it fails in one line naming the line, and says what to do
    assert result.exit_code == 2, result.output
    assert "line 3: a quote opened here is never closed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_csv_named_txt_is_read_as_csv_and_jsonl_garbage_gets_a_hint(
    tmp_path: Path, namespace: str, r: redis.Redis
) -> None:
    # Given a CSV export saved as .txt
    path = tmp_path / "export.txt"
    path.write_text("ticket_id,tenant_id,subject,body\nT-1,acme,Hi,Where is it?\n", "utf-8")
    # When it is replayed without --format
    result = _replay(namespace, str(path), "--json")
    # Then it is read as CSV
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["enqueued"] == 1
    # Given a .txt file that is neither (no comma on its first line)
    other = tmp_path / "notes.txt"
    other.write_text("hello there\nsecond line\n", "utf-8")
    result = _replay(namespace, str(other), "--dry-run")
    # Then nothing is a ticket, and the summary says how to read it as CSV (exit 2)
    assert result.exit_code == 2
    assert "hint: no line was a JSON ticket: if this file is CSV, add --format csv" in result.stdout


def _zendesk_export(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Id", "Subject", "Description", "Requester id", "Requester email", "Tags"])
        w.writerow(["101", "Refund", "My order never arrived", "77", "a@example.com", "vip"])
    return path


def test_a_vendor_preset_gives_the_ids_and_tenant_its_webhook_gives(
    tmp_path: Path, namespace: str, r: redis.Redis
) -> None:
    # Given Zendesk ticket 101 arriving live through the signed webhook (a trigger body: no
    # account, so the default tenant)
    settings = make_settings(namespace, **secret_env())
    body = encode({"ticket": {"id": "101", "subject": "Refund", "requester_id": "77"}})
    with WebhookServer(settings) as app:
        resp = httpx.post(
            f"{app.url}/webhooks/zendesk",
            content=body,
            headers=signed_headers("zendesk", body, time.time()),
            timeout=10,
        )
    assert resp.status_code == 202, resp.text
    live = OutcomeStore(r, Keys(namespace)).get(tkey("zd-101", "default", "zendesk"))
    assert live is not None
    live_msg = next(m for m in _queued_live(r, namespace) if m["ticket_id"] == "zd-101")
    # When the same ticket's history is replayed from a Zendesk export
    result = _replay(namespace, str(_zendesk_export(tmp_path / "z.csv")), "--preset", "zendesk")
    assert result.exit_code == 0, result.output
    (replayed,) = _queued(r, namespace)
    # Then both name the same ticket, source, tenant and requester
    for field in ("ticket_id", "source", "tenant_id"):
        assert replayed[field] == live_msg[field], field
    assert replayed["requester"]["id"] == live_msg["requester"]["id"] == "zd-77"
    assert live.tenant_id == replayed["tenant_id"] == "default"


def _queued_live(r: redis.Redis, namespace: str) -> list[dict[str, Any]]:
    queue = f"{Keys(namespace).dramatiq_namespace}:{Lane.LIVE.queue_name}.msgs"
    return [json.loads(raw)["args"][0] for raw in r.hvals(queue)]


def test_tenant_names_the_tenant_of_rows_that_carry_none_and_skips_others(
    tmp_path: Path, namespace: str, r: redis.Redis
) -> None:
    # Given an export without tenants, and a JSONL file with two tenants and one row with none
    csv_path = _zendesk_export(tmp_path / "z.csv")
    jsonl = tmp_path / "mixed.jsonl"
    rows = [
        {"event_id": "e1", "ticket_id": "A-1", "tenant_id": "acme", "requester": {"id": "u"}},
        {"event_id": "e2", "ticket_id": "G-1", "tenant_id": "globex", "requester": {"id": "u"}},
        {"event_id": "e3", "ticket_id": "N-1", "requester": {"id": "u"}},
    ]
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    # When each is replayed with --tenant acme
    for path, extra in ((csv_path, ["--preset", "zendesk"]), (jsonl, [])):
        result = _replay(namespace, str(path), "--tenant", "acme", *extra, "--json")
        assert result.exit_code == 0, result.output
    # Then every ticket sent is acme's: the export's, the acme row, the row that named none
    queued = {t["ticket_id"]: t["tenant_id"] for t in _queued(r, namespace)}
    assert queued == {"zd-101": "acme", "A-1": "acme", "N-1": "acme"}
    # And a bad tenant id is a one-line usage error
    result = _replay(namespace, str(jsonl), "--tenant", "no spaces")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_progress_counts_rows(tmp_path: Path, namespace: str, r: redis.Redis) -> None:
    # Given 600 tickets
    path = write_jsonl(tmp_path / "p.jsonl", 600)
    seen: list[tuple[int, int]] = []
    replayer = Replayer(client=r, keys=Keys(namespace), clock=SystemClock(), intake=None)
    summary = ReplaySummary(name="p", file=str(path), dry_run=True)
    records = open_records(path, "jsonl", mapping=None, default_tenant="default")
    # When it is read, reporting progress
    replayer.run(
        records,
        summary,
        name="p",
        filt=ReplayFilter(),
        on_progress=lambda o, n: seen.append((o, n)),
    )
    # Then progress is reported in rows (and the byte offset for the bar's share)
    assert [n for _, n in seen] == [256, 512, 600]
    assert seen[-1][0] == path.stat().st_size


def test_only_customers_messages_are_replayed(
    tmp_path: Path, namespace: str, r: redis.Redis
) -> None:
    # Given a history holding a customer's ticket, a person's reply, a bot's note and a status
    jsonl = tmp_path / "conversation.jsonl"
    base = {"ticket_id": "C-1", "tenant_id": "acme", "requester": {"id": "u"}}
    rows = [
        {**base, "event_id": "c1"},
        {**base, "event_id": "c2", "event_type": "message.created",
         "author": {"role": "agent", "id": "a"}},
        {**base, "event_id": "c3", "event_type": "message.created",
         "author": {"role": "bot", "id": "b"}},
        {**base, "event_id": "c4", "event_type": "ticket.solved"},
        {**base, "event_id": "c5", "event_type": "message.created"},
    ]  # fmt: skip
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    # When it is replayed
    result = _replay(namespace, str(jsonl), "--json")
    assert result.exit_code == 0, result.output
    # Then only the customer's two messages reach the replay lane; the rest are skipped
    assert sorted(t["event_id"] for t in _queued(r, namespace)) == ["c1", "c5"]
    assert json.loads(result.stdout)["skipped_by_filter"] == 3
