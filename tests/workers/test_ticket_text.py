"""While a worker handles a ticket, no log line quotes its text: the worker holds the ticket's
subject, body and requester for the redacting log handler (and the Sentry scrubber) from its
first middleware hook to its last, so whatever code logs during the ticket is masked."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import Middleware

from shared.keys import Keys
from shared.logs import configure_logging
from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import tkey, wait_for
from tests.workers.failures.helpers import enqueue
from workers.runtime import RunningWorker

WORDS = "the parcel with my grandmother's violin was left in the rain at the Leeds depot"


class CarelessLogger(Middleware):
    """Stands for any library or hook that logs what it is handed: the ticket's words."""

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        ticket = message.args[0]
        logging.getLogger("some.library").warning("handling: %s", ticket["body"])

    def after_process_message(self, broker: dramatiq.Broker, message: Any, **_: Any) -> None:
        logging.getLogger("some.library").warning("done with %r", message.args[0]["subject"])


def test_log_lines_written_while_a_ticket_is_handled_never_carry_its_text(
    namespace: str, r: redis.Redis, simulator: SimulatorProcess
) -> None:
    settings = make_settings(namespace, llm_base_url=simulator.base_url, llm_api_key="sk-test")
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(settings, "worker", stream=stream)
    try:
        worker = RunningWorker(settings, threads=1)
        worker.broker.add_middleware(CarelessLogger())
        with worker:
            # Given a ticket whose words are distinctive, handled by a worker with careless code
            enqueue(settings, r, 1, body=f"Hello. {WORDS}.", subject="My violin in the rain, Leeds")
            store = OutcomeStore(r, Keys(namespace))
            assert wait_for(lambda: (o := store.get(tkey("T-1"))) is not None and o.status.is_final)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    careless = [line["msg"] for line in lines if line["logger"] == "some.library"]
    # Then the careless lines were written (the check is not vacuous), with the text masked
    assert len(careless) == 2 and all("[ticket text]" in msg for msg in careless), careless
    text = stream.getvalue()
    for i in range(0, len(WORDS) - 20, 10):
        assert WORDS[i : i + 20] not in text, WORDS[i : i + 20]
    assert "My violin in the rain" not in text
