"""Producer fixtures: the webhook app on the real Redis, with every source's secret set."""

from __future__ import annotations

from collections.abc import Iterator

import dramatiq
import pytest
import redis
from fastapi.testclient import TestClient

from producers.webhook.app import create_app
from shared.broker import build_broker
from shared.clock import ManualClock
from shared.keys import Keys
from shared.settings import Settings
from tests.conftest import make_settings
from tests.producers.webhook.vendor_cases import secret_env

NOW_S = 1_795_000_000.0


@pytest.fixture
def hook_settings(namespace: str) -> Settings:
    return make_settings(namespace, **secret_env())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW_S)


@pytest.fixture
def broker(hook_settings: Settings) -> Iterator[dramatiq.Broker]:
    b = build_broker(hook_settings)
    yield b
    b.close()


@pytest.fixture
def client(
    hook_settings: Settings, clock: ManualClock, broker: dramatiq.Broker, r: redis.Redis
) -> Iterator[TestClient]:
    app = create_app(hook_settings, clock=clock, broker=broker, redis_client=r)
    with TestClient(app) as tc:
        yield tc


def queue_len(broker: dramatiq.Broker, keys: Keys, queue: str = "tickets_live") -> int:
    """Messages waiting in `<ns>:dq:<queue>`, read through the broker's own client."""
    n: int = broker.client.llen(f"{keys.dramatiq_namespace}:{queue}")  # type: ignore[attr-defined]
    return n


def pending_tickets(r: redis.Redis, keys: Keys) -> int:
    n: int = r.zcard(keys.outcomes_index)
    return n
