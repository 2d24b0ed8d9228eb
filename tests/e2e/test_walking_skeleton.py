"""A ticket in through a signed webhook, an agent's answer out: every part real."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx

from shared.models import OutcomeStatus
from shared.stores.outcomes import OutcomeStore
from tests.conftest import REDIS_URL, ROOT, SimulatorProcess, make_settings
from tests.helpers import (
    CallbackReceiver,
    WebhookServer,
    generic_ticket,
    sign_generic,
    tkey,
    wait_for,
)
from workers.runtime import RunningWorker

SECRET = "e2e-webhook-secret-4b8c"


def test_signed_webhook_to_answer_to_callback(namespace: str, simulator: SimulatorProcess) -> None:
    settings = make_settings(
        namespace,
        llm_base_url=simulator.base_url,
        llm_api_key="sk-test-e2e",
        webhook_secret_generic=SECRET,
    )
    with (
        CallbackReceiver() as callback,
        WebhookServer(settings) as app,
        RunningWorker(settings, threads=2) as worker,
    ):
        # Given a signed ticket with a callback URL
        body = json.dumps(generic_ticket(1, callback_url=callback.url)).encode()
        # When the ticketing system posts it
        resp = httpx.post(
            f"{app.url}/webhooks/generic", content=body, headers=sign_generic(SECRET, body)
        )
        # Then it is accepted, answered by the agent through the simulator, and called back once
        assert resp.status_code == 202, resp.text
        job = resp.json()
        assert job["duplicate"] is False and job["job_id"]
        store = OutcomeStore(worker.ctx.redis, worker.ctx.keys)

        def final() -> bool:
            o = store.get(tkey("T-1"))
            return o is not None and o.status.is_final

        assert wait_for(final, timeout_s=30)
        assert wait_for(lambda: len(callback.received) >= 1, timeout_s=5)

    outcome = store.get(tkey("T-1"))
    assert outcome is not None
    assert outcome.status == OutcomeStatus.ANSWERED, outcome
    assert outcome.reply and outcome.prompt_tokens > 0 and outcome.completion_tokens > 0
    assert outcome.cost_micros > 0 and outcome.llm_calls >= 1
    assert len(callback.received) == 1
    got = callback.received[0]
    assert got["headers"]["Idempotency-Key"] == "4:acme:7:generic:3:T-1:5:evt-1"
    assert got["body"]["ticket_id"] == "T-1" and got["body"]["reply"] == outcome.reply

    # And the CLI reports it, as one JSON document
    env = {**os.environ, "PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace}
    shown = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "outcomes", "show", "T-1", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    doc = json.loads(shown.stdout)
    assert doc["status"] == "answered" and doc["cost_usd"] > 0
    assert doc["prompt_tokens"] == outcome.prompt_tokens
    summary = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "outcomes", "summary", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    counts = json.loads(summary.stdout)
    assert counts["answered"] == 1 and counts["total"] == 1
