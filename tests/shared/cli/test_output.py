"""Output people can read, and that ticket text cannot take over: control characters and bidi
overrides shown as escapes, rich markup printed as text, ids with them refused at ingest;
`$` amounts, local ISO times, headers through a pipe, one layout for every `show`, newest
first; `--version` and `config` with secrets masked."""

from __future__ import annotations

import json
import re

import httpx
import redis

from shared.keys import Keys
from shared.models import Lane, Outcome, OutcomeStatus
from shared.stores.dead_letters import DeadLetter, DeadLetterRegistry
from shared.stores.outcomes import OutcomeStore
from tests.conftest import make_settings
from tests.helpers import WebhookServer, generic_ticket, sign_generic
from tests.shared.cli.helpers import clean_env, paceline

HOSTILE = "\x1b[2J\x1b[31mRED [link=https://evil.example]click[/link] \u202etxt.exe\x07"
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")


def _clean(text: str) -> None:
    """Nothing in `text` can move the cursor, recolour, ring, or reorder what follows."""
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, repr(text)


def _seed(r: redis.Redis, namespace: str) -> None:
    store = OutcomeStore(r, Keys(namespace))
    for i, (tenant, at_ms) in enumerate((("acme", 1_000), ("globex", 2_000), ("acme", 3_000))):
        store.force(
            Outcome(
                ticket_id=f"T-{i}",
                event_id=f"e-{i}",
                tenant_id=tenant,
                status=OutcomeStatus.ESCALATED,
                reason=HOSTILE,
                model="gpt-4o-mini",
                cost_micros=1234,
                updated_at_ms=1_764_000_000_000 + at_ms,
            )
        )
    DeadLetterRegistry(r, Keys(namespace)).record(
        DeadLetter(
            ticket_id="T-9",
            event_id="e-9",
            tenant_id="acme",
            lane=Lane.LIVE.value,
            reason=HOSTILE,
            error=HOSTILE,
            failed_at_ms=1_764_000_000_000,
            ticket=generic_ticket(9),
        )
    )


def test_ticket_text_is_escaped_in_every_listing_and_show(namespace: str, r: redis.Redis) -> None:
    _seed(r, namespace)
    env = clean_env(namespace)
    for args in (
        ("outcomes", "list"),
        ("outcomes", "show", "T-1"),
        ("dlq", "list"),
        ("dlq", "show", "T-9"),
        ("dlq", "reasons"),
    ):
        done = paceline(*args, env=env)
        assert done.returncode == 0, (args, done.stderr)
        _clean(done.stdout + done.stderr)
        # The characters are shown as escapes, and the markup as the text it is
        assert "\\x1b" in done.stdout and "\\u202e" in done.stdout, (args, done.stdout)
        assert "[link=https://evil.example]click[/link]" in done.stdout.replace("\n", ""), args


def test_ids_with_control_or_format_characters_are_refused_at_ingest(namespace: str) -> None:
    secret = "output-secret-0123456789"
    settings = make_settings(namespace, webhook_secret_generic=secret)
    with WebhookServer(settings) as app:
        for field, value in (
            ("ticket_id", "T-\x1b[2J"),
            ("ticket_id", "T-\u202eexe"),
            ("event_id", "e\x00"),
            ("tenant_id", "acme\u200b"),
        ):
            body = json.dumps(generic_ticket(1, **{field: value})).encode()
            resp = httpx.post(
                f"{app.url}/webhooks/generic", content=body, headers=sign_generic(secret, body)
            )
            assert resp.status_code == 422, (field, resp.text)
            assert resp.json()["reason"].startswith(field), resp.text
        body = json.dumps(generic_ticket(1, requester={"id": "u\x1b"})).encode()
        resp = httpx.post(
            f"{app.url}/webhooks/generic", content=body, headers=sign_generic(secret, body)
        )
        assert resp.status_code == 422 and "requester.id" in resp.json()["reason"]


def test_outcomes_list_is_newest_first_filterable_with_headers_through_a_pipe(
    namespace: str, r: redis.Redis
) -> None:
    _seed(r, namespace)
    env = clean_env(namespace)
    # When listed through a pipe (stdout is not a terminal here)
    done = paceline("outcomes", "list", env=env)
    lines = done.stdout.splitlines()
    # Then the headers are whole, rows are newest first, money is $ and times local ISO
    header = next(ln for ln in lines if "ticket" in ln)
    for name in ("updated", "ticket", "tenant", "status", "reason", "model", "cost", "latency ms"):
        assert name in header, header
    order = [m.group(0) for ln in lines if (m := re.search(r"T-\d", ln))]
    assert order == ["T-2", "T-1", "T-0"]
    assert "$0.001234" in done.stdout and _ISO.search(done.stdout)
    assert "None" not in done.stdout and "1764000003000" not in done.stdout
    # And --tenant, --since, --oldest-first narrow and order it
    docs = json.loads(paceline("outcomes", "list", "--tenant", "acme", "--json", env=env).stdout)
    assert [d["ticket_id"] for d in docs] == ["T-2", "T-0"]
    since = paceline("outcomes", "list", "--since", "1764000002000", "--oldest-first", "--json",
                     env=env)  # fmt: skip
    assert [d["ticket_id"] for d in json.loads(since.stdout)] == ["T-1", "T-2"]
    assert docs[0]["cost_micros"] == 1234 and docs[0]["cost_usd"] == 0.001234


def test_every_show_has_one_layout(namespace: str, r: redis.Redis) -> None:
    _seed(r, namespace)
    env = clean_env(namespace)
    for args in (("outcomes", "show", "T-0"), ("dlq", "show", "T-9")):
        text = paceline(*args, env=env).stdout
        assert re.search(r"field\s+\S?\s*value", text), text
        assert _ISO.search(text) and "None" not in text, text


def test_version_and_config_with_secrets_masked(namespace: str) -> None:
    env = clean_env(namespace, ops_token="a-very-secret-ops-token", model="gpt-4o-mini")
    done = paceline("--version", env=env)
    assert done.returncode == 0 and re.fullmatch(r"paceline \S+\n", done.stdout)
    done = paceline("config", env=env)
    assert done.returncode == 0
    assert "PACELINE_OPS_TOKEN" in done.stdout and "a-very-secret-ops-token" not in done.stdout
    assert "PACELINE_NAMESPACE" in done.stdout and namespace in done.stdout
    doc = json.loads(paceline("config", "--json", env=env).stdout)
    assert doc["PACELINE_OPS_TOKEN"] == "********" and doc["PACELINE_LLM_API_KEY"] is None
    assert doc["PACELINE_DAILY_CEILING_USD"] == "50"
