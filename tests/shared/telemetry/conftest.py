from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sentry_sdk

from shared.settings import Settings
from shared.telemetry import init_sentry, shutdown_sentry
from tests.conftest import make_settings
from tests.shared.telemetry.dsn_server import SentryStandIn


@pytest.fixture
def sentry_server() -> Iterator[SentryStandIn]:
    server = SentryStandIn()
    yield server
    server.stop()


@pytest.fixture
def sentry_on(namespace: str, sentry_server: SentryStandIn) -> Iterator[Callable[..., Settings]]:
    """Starts Sentry against the stand-in; always detaches the client afterwards."""

    def start(**env: object) -> Settings:
        settings = make_settings(namespace, sentry_dsn=sentry_server.dsn, **env)
        assert init_sentry(settings, component="test")
        return settings

    yield start
    sentry_sdk.flush(timeout=2)
    shutdown_sentry()
