"""Simulator tests: every openai client a test made is closed when it ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.shared.simulator.helpers import OPEN_CLIENTS


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()
