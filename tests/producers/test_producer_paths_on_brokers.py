"""Every path that publishes, end to end on Redis and on RabbitMQ: `paceline enqueue`, `paceline
replay`, `paceline dlq requeue`, the `/ops` requeue and `paceline send` each put tickets where a
running worker takes them, and a worker answers them. (`enqueue` on RabbitMQ once printed job
ids for tickets it never published.)"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from producers.webhook.ops_auth import BEARER_SESSION, OpsAuth
from shared.clock import SystemClock
from shared.keys import Keys
from shared.models import OutcomeStatus
from shared.settings import Settings
from shared.stores.dead_letters import DeadLetterRegistry
from shared.stores.outcomes import OutcomeStore
from tests.conftest import REDIS_URL, SimulatorProcess
from tests.helpers import CallbackReceiver, WebhookServer, generic_ticket, tkey, wait_for
from tests.producers.test_redrive import _dead
from tests.shared.broker.conftest import broker_settings, kind  # noqa: F401 (fixtures)
from tests.shared.cli.helpers import clean_env, paceline
from workers.runtime import RunningWorker

SECRET = "paths-secret-0123456789abcdef"
TOKEN = "paths-ops-token-0123456789abcdef"


@pytest.fixture
def setup(
    namespace: str,
    broker_settings: Callable[..., Settings],  # noqa: F811
    simulator: SimulatorProcess,
) -> Iterator[tuple[Settings, dict[str, str], redis.Redis]]:
    extra = {
        "llm_base_url": simulator.base_url,
        "llm_api_key": "sk-paths",
        "pacing": "off",
        "webhook_secret_generic": SECRET,
        "ops_token": TOKEN,
        "metrics_port": "0",
    }
    settings = broker_settings(namespace, **extra)
    env = clean_env(namespace, **extra)
    if settings.broker_url:
        env["PACELINE_BROKER_URL"] = settings.broker_url
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield settings, env, client
    client.close()


def _answered(client: redis.Redis, settings: Settings, ids: list[str]) -> bool:
    store = OutcomeStore(client, Keys(settings.namespace))
    done = [store.get(tkey(t)) for t in ids]
    return all(o is not None and o.status is OutcomeStatus.ANSWERED for o in done)


def test_enqueue_publishes_and_a_worker_answers(
    setup: tuple[Settings, dict[str, str], redis.Redis],
    tmp_path: Path,
    kind: str,  # noqa: F811
) -> None:
    settings, env, client = setup
    # Given three tickets in a JSONL file
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(generic_ticket(i)) + "\n" for i in range(3)), "utf-8")
    # When they are enqueued through the CLI (its broker closed at exit)
    done = paceline("enqueue", str(path), env=env)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split()) == 3
    # Then a worker started afterwards finds and answers every one
    with RunningWorker(settings, threads=2):
        assert wait_for(lambda: _answered(client, settings, ["T-0", "T-1", "T-2"]), 45)


def test_replay_publishes_answers_are_stored_and_not_posted_unless_asked(
    setup: tuple[Settings, dict[str, str], redis.Redis],
    tmp_path: Path,
    kind: str,  # noqa: F811
) -> None:
    settings, env, client = setup
    with CallbackReceiver() as callback:
        # Given two historical tickets whose callback is a live receiver
        old = tmp_path / "old.jsonl"
        old.write_text(
            "".join(
                json.dumps(generic_ticket(f"old{i}", callback_url=callback.url)) + "\n"
                for i in range(2)
            ),
            "utf-8",
        )
        again = tmp_path / "again.jsonl"
        again.write_text(json.dumps(generic_ticket("asked", callback_url=callback.url)) + "\n")
        # When they are replayed, and one more with --post-replies
        assert paceline("replay", str(old), env=env).returncode == 0
        assert paceline("replay", str(again), "--post-replies", env=env).returncode == 0
        with RunningWorker(settings, threads=2):
            ids = ["T-old0", "T-old1", "T-asked"]
            assert wait_for(lambda: _answered(client, settings, ids), 45)
            assert wait_for(lambda: len(callback.received) >= 1, 10)
    # Then every answer is stored, and only the replay that asked posted back
    assert [c["body"]["ticket_id"] for c in callback.received] == ["T-asked"]
    stored = OutcomeStore(client, Keys(settings.namespace)).get(tkey("T-old0"))
    assert stored is not None and stored.reply


def test_dlq_requeue_publishes_and_a_worker_answers(
    setup: tuple[Settings, dict[str, str], redis.Redis],
    kind: str,  # noqa: F811
) -> None:
    settings, env, client = setup
    keys = Keys(settings.namespace)
    for i in (1, 2):
        _dead(client, keys, i, "insufficient_quota", 3_000_000 + i)
    done = paceline("dlq", "requeue", "--reason", "insufficient_quota", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["requeued"] == 2
    with RunningWorker(settings, threads=2):
        assert wait_for(lambda: _answered(client, settings, ["T-1", "T-2"]), 45)
    assert DeadLetterRegistry(client, keys).size() == 0


def test_ops_requeue_publishes_and_a_worker_answers(
    setup: tuple[Settings, dict[str, str], redis.Redis],
    kind: str,  # noqa: F811
) -> None:
    settings, _env, client = setup
    keys = Keys(settings.namespace)
    for i in (1, 2):
        _dead(client, keys, i, "http_500", 3_000_000 + i)
    with WebhookServer(settings) as app:
        resp = httpx.post(
            f"{app.url}/ops/dlq/requeue",
            data={
                "form_token": OpsAuth(settings, SystemClock()).form_token(BEARER_SESSION),
                "reason": "http_500",
                "confirm": "1",
            },
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        assert "id='requeued-count'>2<" in resp.text
    with RunningWorker(settings, threads=2):
        assert wait_for(lambda: _answered(client, settings, ["T-1", "T-2"]), 45)


def test_send_through_the_webhook_and_a_worker_answers(
    setup: tuple[Settings, dict[str, str], redis.Redis],
    tmp_path: Path,
    kind: str,  # noqa: F811
) -> None:
    settings, env, client = setup
    path = tmp_path / "one.json"
    path.write_text(json.dumps(generic_ticket("sent"), indent=2), "utf-8")
    with WebhookServer(settings) as app:
        done = paceline("send", str(path), "--url", app.url, env=env)
        assert done.returncode == 0, done.stderr
        again = paceline("send", str(path), "--url", app.url, "--json", env=env)
        assert json.loads(again.stdout)["duplicate"] is True
    with RunningWorker(settings, threads=2):
        assert wait_for(lambda: _answered(client, settings, ["T-sent"]), 45)
