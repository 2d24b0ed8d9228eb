"""`paceline send FILE|--example [--source S] [--tenant T] [--url U]`: post a ticket to the
running webhook app, signed with the configured secret, as the vendor would.

FILE holds one JSON body or JSONL, one body a line (a vendor source takes its own payload
shape). `--example` sends a fresh generic ticket (new event and ticket ids each time).
`--tenant` names the tenant: the generic body's `tenant_id`, and the tenant route
`/webhooks/<source>/<tenant>` for a vendor source.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.display import safe_text
from shared.settings import WEBHOOK_SOURCES

DEFAULT_URL = "http://127.0.0.1:8080"
# How each refusal of the app maps onto the exit-code table.
_REFUSAL_EXIT = {401: Exit.CONFIG, 404: Exit.CONFIG, 413: Exit.USAGE, 422: Exit.USAGE}


def example_ticket(tenant: str | None) -> dict[str, Any]:
    """The generic ticket JSON of the README, with fresh ids."""
    tag = uuid.uuid4().hex[:8]
    doc: dict[str, Any] = {
        "event_id": f"evt-{tag}",
        "ticket_id": f"T-{tag}",
        "requester": {"id": "u-9", "email": "ann@example.com", "name": "Ann"},
        "subject": "Where is my order?",
        "body": "Hi, my order has not arrived yet. Can you check the shipping status?",
        "priority": "normal",
        "tags": [],
    }
    if tenant:
        doc["tenant_id"] = tenant
    return doc


def _bodies(file: str | None, example: bool, source: str, tenant: str | None) -> list[bytes]:
    if example:
        if source != "generic":
            fail(f"--example sends a generic ticket; for --source {source} give a FILE", Exit.USAGE)
        return [json.dumps(example_ticket(tenant)).encode()]
    if file is None:
        fail("name a FILE (one JSON body, or JSONL) or use --example", Exit.USAGE)
    from shared.cli.cmd_enqueue import iter_documents

    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or type(exc).__name__}", Exit.USAGE)
    except UnicodeDecodeError:
        fail(f"cannot read {file}: not UTF-8 text", Exit.USAGE)
    bodies = []
    for number, raw in iter_documents(text):
        try:
            doc = json.loads(raw)
        except ValueError:
            fail(f"{file} line {number}: not JSON", Exit.USAGE)
        if source == "generic" and tenant and isinstance(doc, dict):
            doc["tenant_id"] = tenant
        bodies.append(json.dumps(doc).encode() if source == "generic" and tenant else raw)
    if not bodies:
        fail(f"{file}: no JSON body in it", Exit.USAGE)
    return bodies


def register(app: typer.Typer) -> None:
    @app.command("send")
    def send(
        file: Annotated[
            str | None, typer.Argument(help="A JSON body or JSONL of bodies, or - for stdin.")
        ] = None,
        example: Annotated[bool, typer.Option("--example", help="Send a fresh sample.")] = False,
        source: Annotated[str, typer.Option("--source", help="The webhook source.")] = "generic",
        tenant: Annotated[str | None, typer.Option("--tenant", help="The tenant.")] = None,
        url: Annotated[str, typer.Option("--url", help="The webhook app.")] = DEFAULT_URL,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Post a ticket to the webhook app, signed like the vendor signs it."""
        import httpx

        from shared.vendors.sending import sign_delivery

        settings = settings_or_exit()
        if source not in WEBHOOK_SOURCES:
            fail(f"--source: unknown source {source!r} ({', '.join(WEBHOOK_SOURCES)})", Exit.USAGE)
        secret = settings.webhook_secret(source)
        if secret is None:
            fail(
                f"PACELINE_WEBHOOK_SECRET_{source.upper()} is not set: the app refuses unsigned "
                "deliveries (paceline up prints the secret it made)",
                Exit.CONFIG,
            )
        path = f"/webhooks/{source}" + (f"/{tenant}" if tenant and source != "generic" else "")
        target = url.rstrip("/") + path
        results = []
        with httpx.Client(timeout=10) as http:
            for body in _bodies(file, example, source, tenant):
                headers = {"Content-Type": "application/json"}
                headers.update(sign_delivery(source, secret, body, time.time()))
                resp = http.post(target, content=body, headers=headers)
                results.append(_answer(resp.status_code, resp.text))
        if as_json:
            print_json(results if len(results) > 1 else results[0])
        for result in results:
            if not as_json:
                typer.echo(_line(result, target), err=result["status"] != 202)
        worst = max(
            (r for r in results if r["status"] != 202), key=lambda r: r["status"], default=None
        )
        if worst is not None:
            raise typer.Exit(int(_REFUSAL_EXIT.get(worst["status"], Exit.UNAVAILABLE)))


def _answer(status: int, text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        doc = {"error": text[:200]}
    return {"status": status, **(doc if isinstance(doc, dict) else {"body": doc})}


def _line(result: dict[str, Any], target: str) -> str:
    if result["status"] == 202:
        dup = " (a duplicate: already accepted)" if result.get("duplicate") else ""
        return f"accepted: job {safe_text(result.get('job_id'))}{dup}"
    why = safe_text(result.get("reason") or result.get("error") or "")
    return f"paceline: {target} answered {result['status']}: {why}"
