"""The HTTP clients' per-request lines stay out of the logs: a connector's URL names the
requester, and a model call's line is noise. Their warnings still pass."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import openai
import pytest

from shared.clock import SystemClock
from shared.connectors import ConnectorCaller, ConnectorDirectory, Requester
from shared.demo_store.tenants import demo_connectors
from shared.logs import QUIET_LOGGERS, configure_logging
from shared.outbound import OutboundClient
from tests.conftest import SimulatorProcess, make_settings


@pytest.fixture
def log_stream(namespace: str) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *QUIET_LOGGERS)}
    stream = io.StringIO()
    handler = configure_logging(make_settings(namespace, log_level="INFO"), "worker", stream=stream)
    yield stream
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_connector_and_model_requests_write_no_line(
    log_stream: io.StringIO, simulator: SimulatorProcess
) -> None:
    # Given INFO logging, a demo connector on the simulator's order system and the SDK
    http = OutboundClient(allow_private=True)
    connectors = ConnectorDirectory(
        demo_connectors(simulator.root_url), ConnectorCaller(http, SystemClock())
    )
    sdk = openai.OpenAI(base_url=simulator.base_url, api_key="sk-test-logs")
    # When a connector reads one requester and a model call is made
    try:
        result = connectors.call(
            "acme", "lookup_customer_history", {"kind": "all"}, Requester("u-7", "ann@x.example")
        )
        sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
        )
    finally:
        http.close()
        sdk.close()
    assert result.status == "ok"
    # Then neither request wrote a line (the connector's would name the requester)
    text = log_stream.getvalue()
    assert "u-7" not in text and "HTTP Request" not in text
    # And the clients' warnings still do
    logging.getLogger("httpx").warning("connection pool is full")
    (line,) = [json.loads(x) for x in log_stream.getvalue().splitlines()]
    assert (line["logger"], line["level"]) == ("httpx", "WARNING")


def test_debug_logging_keeps_them_quiet(namespace: str) -> None:
    # Given DEBUG logging / Then the clients' request lines stay off all the same
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *QUIET_LOGGERS)}
    stream = io.StringIO()
    handler = configure_logging(
        make_settings(namespace, log_level="DEBUG"), "worker", stream=stream
    )
    try:
        assert all(logging.getLogger(n).level == logging.WARNING for n in QUIET_LOGGERS)
        logging.getLogger("httpx").info("HTTP Request: GET http://x/customers/u-7")
        assert stream.getvalue() == ""
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
