"""dramatiq logs whole messages (the ticket); our log pipeline writes `<message id>` instead."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from shared.broker import build_broker
from shared.logs import configure_logging
from shared.messages import ticket_message
from shared.models import Lane, Ticket
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import generic_ticket, tkey, wait_for
from workers.runtime import RunningWorker

BODY = "My grandmother's teapot arrived cracked in three places, please advise quickly."
EMAIL = "quentin.teapot@example.org"
NAME = "Quentin Teapotson"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        if getattr(handler, "_paceline_json", False):
            root.removeHandler(handler)
    root.setLevel(level)


def test_worker_logs_never_carry_the_message(
    namespace: str, simulator: SimulatorProcess, captured: io.StringIO
) -> None:
    # Given DEBUG logs through our pipeline (dramatiq then logs every message it receives)
    settings = make_settings(
        namespace, llm_base_url=simulator.base_url, llm_api_key="sk-test-logs", log_level="DEBUG"
    )
    configure_logging(settings, "worker", stream=captured)
    ticket = Ticket.model_validate(
        generic_ticket(7, body=BODY, requester={"id": "u-7", "email": EMAIL, "name": NAME})
    )
    first = ticket_message(ticket, Lane.LIVE)
    again = ticket_message(ticket, Lane.LIVE)  # a duplicate delivery: skipped, and logged so
    producer = build_broker(settings)
    try:
        with RunningWorker(settings, threads=1, lanes=[Lane.LIVE]) as worker:
            # When a real worker answers the ticket, then skips its duplicate
            producer.enqueue(first)
            store = OutcomeStore(worker.ctx.redis, worker.ctx.keys)
            assert wait_for(lambda: (o := store.get(tkey("T-7"))) is not None and o.status.is_final)
            producer.enqueue(again)
            assert wait_for(lambda: "was skipped" in captured.getvalue(), timeout_s=10)
    finally:
        producer.close()

    out = captured.getvalue()
    # Then dramatiq's lines are there, naming the messages by id only
    assert f"Received message <message {first.message_id}>" in out
    assert f"Message <message {again.message_id}> was skipped." in out
    # And nothing of the ticket or its requester was written
    for fragment in (BODY[:20], "teapot arrived", EMAIL, "quentin", NAME, "'body'", "'email'"):
        assert fragment not in out, fragment
