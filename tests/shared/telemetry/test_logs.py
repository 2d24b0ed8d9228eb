"""JSON logs: the fields, the context from `extra=`, and what never gets written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.logs import configure_logging
from shared.redact import ticket_text
from tests.conftest import make_settings

API_KEY = "sk-test-abcdef0123456789"


@pytest.fixture
def json_log(namespace: str) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    settings = make_settings(namespace, llm_api_key=API_KEY, ops_token="ops-token-xyz-987")
    handler = configure_logging(settings, "worker", stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_fields_and_context(json_log: Callable[[], list[dict[str, Any]]]) -> None:
    # Given JSON logging / When a record carries ticket context through extra=
    log = logging.getLogger("paceline.test")
    log.info(
        "admitted %s",
        "T-1",
        extra={"ticket_id": "T-1", "tenant_id": "acme", "reservation_id": "r-1", "job_id": "j-1"},
    )
    # Then one JSON line with the standard fields and the context
    (line,) = json_log()
    assert line["msg"] == "admitted T-1"
    assert line["level"] == "INFO" and line["logger"] == "paceline.test"
    assert line["component"] == "worker" and line["ts"].endswith("+00:00")
    assert (line["ticket_id"], line["tenant_id"], line["reservation_id"], line["job_id"]) == (
        "T-1",
        "acme",
        "r-1",
        "j-1",
    )


def test_emails_ticket_text_and_secrets_never_written(
    json_log: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given a ticket in hand and a logger that is careless with it
    log = logging.getLogger("paceline.test")
    body = "My parcel with the red umbrella never arrived at the Leeds depot."
    with ticket_text("Where is my parcel?", body):
        log.warning("requester %s wrote: %s", "ann@example.com", body[:40])
        log.info("calling with key %s", API_KEY, extra={"body": body, "subject": "x" * 20,
                                                      "text": body, "messages": [body],
                                                      "note": "cc bob@example.org"})  # fmt: skip
        try:
            raise ValueError(f"bad reply for ann@example.com ops-token-xyz-987: {body}")
        except ValueError:
            log.exception("agent failed", extra={"ticket_id": "T-2"})

    # Then no line holds an email, the ticket's text or a secret; the masks show where
    lines = json_log()
    assert len(lines) == 3
    raw = json.dumps(lines)
    for leaked in ("@example", "red umbrella", "Leeds depot", API_KEY, "ops-token-xyz"):
        assert leaked not in raw, leaked
    assert "[email]" in lines[0]["msg"] and "[ticket text]" in lines[0]["msg"]
    assert "[secret]" in lines[1]["msg"]
    assert not {"body", "subject", "text", "messages"} & set(lines[1])
    assert lines[1]["note"] == "cc [email]"
    assert "ValueError" in lines[2]["exc"] and lines[2]["ticket_id"] == "T-2"


def test_configure_twice_keeps_one_handler(namespace: str) -> None:
    # Given logging configured twice / Then the root logger has one JSON handler
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    settings = make_settings(namespace)
    configure_logging(settings, "a", stream=io.StringIO())
    handler = configure_logging(settings, "b", stream=io.StringIO())
    try:
        assert len(root.handlers) == len(before) + 1
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_emails_in_any_script_and_with_a_fullwidth_at_are_masked(
    json_log: Callable[[], list[dict[str, Any]]],
) -> None:
    # Given addresses the ASCII pattern missed: accented, Cyrillic, a fullwidth at sign
    log = logging.getLogger("paceline.test")
    addresses = ["jürgen@exämple.de", "\u0430nna@example.com", "ann\uff20example.com"]
    log.warning("contacts: %s", ", ".join(addresses))
    # Then none is written, and a release tag is still not mistaken for one
    log.warning("running paceline@0.1.0")
    first, second = json_log()
    assert first["msg"] == "contacts: [email], [email], [email]"
    assert second["msg"] == "running paceline@0.1.0"
