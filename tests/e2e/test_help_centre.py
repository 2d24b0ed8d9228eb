"""A tenant's help centre end to end: a folder of Markdown imported with one command, then a
ticket from that tenant through the signed webhook, answered citing the right article, and
visible to the running worker without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared.models import Outcome, OutcomeStatus
from shared.stores.outcomes import OutcomeStore
from tests.conftest import REDIS_URL, SimulatorProcess, make_settings
from tests.helpers import WebhookServer, generic_ticket, sign_generic, tkey, wait_for
from workers.runtime import RunningWorker

SECRET = "e2e-kb-webhook-secret-3f9b"
ARTICLES = {
    "battery.md": (
        "---\nid: battery\nurl: https://help.umbrella.test/battery\n---\n"
        "# Recharging the Zephyr scooter battery\n\n"
        "Charge the scooter battery for four hours with the supplied charger.\n\n"
        "## When it will not hold a charge\n\nA battery that drains overnight needs a reset: "
        "hold the power button for ten seconds, then charge it fully.\n"
    ),
    "helmet.md": (
        "---\nid: helmet\nurl: https://help.umbrella.test/helmet\n---\n"
        "# Choosing a helmet size\n\nMeasure around your head above the eyebrows.\n"
    ),
    "app.md": (
        "---\nid: app\nurl: https://help.umbrella.test/app\n---\n"
        "# Pairing the Zephyr app\n\nTurn on Bluetooth and open the app to pair the scooter.\n"
    ),
}


def _kb_import(namespace: str, folder: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PACELINE_")}
    env.update({"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace})
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "kb", "import", str(folder), "--tenant",
         "umbrella", "--json"],
        cwd=folder, env=env, capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    summary: dict[str, object] = json.loads(done.stdout)
    return summary


def _post(app_url: str, n: int, subject: str, body: str) -> None:
    doc = generic_ticket(n, tenant_id="umbrella", subject=subject, body=body)
    raw = json.dumps(doc).encode()
    resp = httpx.post(f"{app_url}/webhooks/generic", content=raw, headers=sign_generic(SECRET, raw))
    assert resp.status_code == 202, resp.text


def _final(store: OutcomeStore, ticket_id: str) -> Outcome:
    key = tkey(ticket_id, "umbrella")
    assert wait_for(lambda: (o := store.get(key)) is not None and o.status.is_final, 30)
    outcome = store.get(key)
    assert outcome is not None
    return outcome


def test_imported_folder_answers_a_webhook_ticket_citing_the_article(
    namespace: str, simulator: SimulatorProcess, tmp_path: Path
) -> None:
    settings = make_settings(
        namespace,
        llm_base_url=simulator.base_url,
        llm_api_key="sk-test-e2e",
        webhook_secret_generic=SECRET,
        knowledge_refresh_s=1,
    )
    folder = tmp_path / "umbrella-help"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text)
    with WebhookServer(settings) as app, RunningWorker(settings, threads=2) as worker:
        store = OutcomeStore(worker.ctx.redis, worker.ctx.keys)
        # Given a running worker and a tenant with no help centre yet: nothing to cite
        _post(app.url, 1, "Scooter battery", "My scooter battery will not hold a charge.")
        before = _final(store, "T-1")
        assert before.status == OutcomeStatus.ANSWERED and before.articles == []
        assert before.reply and "could not find an article" in before.reply
        # When the tenant's folder of Markdown articles is imported with one command
        summary = _kb_import(namespace, folder)
        assert summary["counts"] == {
            "added": 3, "updated": 0, "unchanged": 0, "removed": 0, "skipped": 0
        }  # fmt: skip
        time.sleep(1.5)  # the worker looks for a new version every second here (5 s default)
        # And a ticket from that tenant comes in through the signed webhook
        _post(app.url, 2, "Scooter battery", "My scooter battery will not hold a charge.")
        outcome = _final(store, "T-2")
    # Then it is answered citing the right article by title and URL, recorded on the outcome
    assert outcome.status == OutcomeStatus.ANSWERED, outcome.reason
    assert outcome.reply is not None
    assert '"Recharging the Zephyr scooter battery"' in outcome.reply
    assert "https://help.umbrella.test/battery" in outcome.reply
    assert outcome.articles == ["battery"]
    assert "search_knowledge_base" in outcome.tools_used
