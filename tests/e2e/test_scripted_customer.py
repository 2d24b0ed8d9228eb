"""The scripted customer plays whole conversations through the real stack: each message is
sent only once the previous one is answered, and it stops writing once a person has it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

import shared.models
from shared.simulator.customer import Conversation, ScriptedCustomer, load_conversations
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import CallbackReceiver, WebhookServer, sign_generic, tkey
from tests.shared.cli.helpers import clean_env, paceline
from workers.runtime import RunningWorker

SECRET = "e2e-webhook-secret-4b8c"
SCRIPTS = [
    {"ticket_id": "C-1", "tenant_id": "acme", "requester": {"id": "u-1"},
     "subject": "Password reset", "messages": ["How do I reset my password?",
                                               "Thanks, that worked!"]},
    {"ticket_id": "C-2", "tenant_id": "acme", "requester": {"id": "u-2"},
     "subject": "Refund", "messages": ["I want to talk to a human about my refund.",
                                       "Hello? Anyone there?"]},
]  # fmt: skip


def test_conversations_play_message_by_message(
    namespace: str, simulator: SimulatorProcess, tmp_path: Path
) -> None:
    settings = make_settings(namespace, llm_base_url=simulator.base_url,
                             llm_api_key="sk-test-e2e", webhook_secret_generic=SECRET)  # fmt: skip
    script = tmp_path / "conversations.jsonl"
    script.write_text("\n".join(json.dumps(s) for s in SCRIPTS) + "\n")
    conversations = load_conversations(script)
    with (
        CallbackReceiver() as callback,
        WebhookServer(settings) as app,
        RunningWorker(settings, threads=2) as worker,
        httpx.Client(timeout=10) as http,
    ):
        store = OutcomeStore(worker.ctx.redis, worker.ctx.keys)
        posted: list[str] = []

        def post(doc: dict[str, object]) -> None:
            body = json.dumps(doc).encode()
            resp = http.post(f"{app.url}/webhooks/generic", content=body,
                             headers=sign_generic(SECRET, body))  # fmt: skip
            assert resp.status_code == 202, resp.text
            posted.append(str(doc["event_id"]))

        def status(conv: Conversation, event_id: str) -> str | None:
            outcome = store.get(tkey(conv.ticket_id, conv.tenant_id))
            if outcome is None or outcome.event_id != event_id or not outcome.status.is_final:
                return None
            return outcome.status.value

        customer = ScriptedCustomer(post, status, callback_url=callback.url, timeout_s=30)
        played = customer.play_all(conversations)
    # The first: two messages, each answered before the next was sent
    assert (played[0].statuses, played[0].stopped) == (["answered", "answered"], "done")
    # The second: handed to a person at once, so the customer waits for them
    assert (played[1].statuses, played[1].stopped) == (["escalated"], "handed_over")
    assert posted == ["C-1-m1", "C-1-m2", "C-2-m1"]
    assert len(callback.received) == 3


def test_a_bad_script_line_is_named(tmp_path: Path) -> None:
    script = tmp_path / "bad.jsonl"
    script.write_text(json.dumps(SCRIPTS[0]) + "\n" + '{"ticket_id": "x", "messages": []}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: a conversation needs"):
        load_conversations(script)


def test_simulate_plays_conversations_through_the_running_stack(
    namespace: str, simulator: SimulatorProcess, tmp_path: Path
) -> None:
    settings = make_settings(namespace, llm_base_url=simulator.base_url,
                             llm_api_key="sk-test-e2e", webhook_secret_generic=SECRET)  # fmt: skip
    script = tmp_path / "conversations.jsonl"
    script.write_text("\n".join(json.dumps(s) for s in SCRIPTS) + "\n")
    env = clean_env(namespace, webhook_secret_generic=SECRET)
    with WebhookServer(settings) as app, RunningWorker(settings, threads=2):
        done = paceline("simulate", "--conversations", str(script), "--url", app.url, "--json",
                        env=env, timeout_s=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    rows = {r["ticket_id"]: r for r in doc["conversations"]}
    assert rows["C-1"]["statuses"] == ["answered", "answered"]
    # The thanks resolves it once the intake hears follow-ups; before, each is a new event
    thanks_heard = hasattr(shared.models, "EventType")
    assert rows["C-1"]["resolution"] == ("resolved" if thanks_heard else "awaiting")
    assert (rows["C-2"]["stopped"], rows["C-2"]["resolution"]) == ("handed_over", "unresolved")
    assert doc["today"]["handled"] == 2
    # A script that does not parse is one line naming it
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n")
    done = paceline("simulate", "--conversations", str(bad), env=env)
    assert done.returncode == 2 and "bad.jsonl:1" in done.stderr
