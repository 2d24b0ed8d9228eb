"""The same broker tests on Redis and on RabbitMQ (publisher confirms on)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.models import Lane
from shared.settings import Settings
from tests.conftest import make_settings

AMQP_URL = os.environ.get("PACELINE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def _rabbit_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=0.5):
            return True
    except OSError:
        return False


def delete_rabbit_queues(namespace: str) -> None:
    """Every queue this namespace could have declared (lanes, their delay and dead queues)."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = conn.channel()
        for lane in Lane:
            base = f"{namespace}.{lane.queue_name}"
            for name in (base, f"{base}.DQ", f"{base}.XQ"):
                channel.queue_delete(name)
    finally:
        conn.close()


@pytest.fixture(
    params=[
        "redis",
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    ]
)
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "rabbitmq" and not _rabbit_up():
        pytest.skip("RabbitMQ is not listening on 127.0.0.1:5672 (apt-get install rabbitmq-server)")
    return str(request.param)


@pytest.fixture
def broker_settings(kind: str) -> Iterator[Callable[..., Settings]]:
    """Settings for a namespace on this broker; RabbitMQ queues are deleted afterwards."""
    made: list[str] = []

    def build(namespace: str, **env: Any) -> Settings:
        made.append(namespace)
        if kind == "rabbitmq":
            env["broker_url"] = AMQP_URL
        return make_settings(namespace, **env)

    yield build
    if kind == "rabbitmq":
        for ns in made:
            delete_rabbit_queues(ns)
