"""Sentry events leave through the real HTTP transport to a local stand-in; we read the bytes."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import sentry_sdk

from shared.errors import PermanentError, ProviderUnavailable, TransientError
from shared.settings import Settings
from shared.stores.dead_letters import DeadLetter
from shared.telemetry import init_sentry, report_dead_letter, ticket_text
from tests.conftest import make_settings
from tests.shared.telemetry.dsn_server import SentryStandIn

EMAIL = "ann.private@example.com"
SUBJECT = "Refund for order 88412 never arrived"
BODY = (
    "Hello, my card ending 4242 was charged twice for the blue kettle and "
    "I would like the second charge refunded to my account please."
)
# Distinctive pieces of the ticket: none may appear anywhere in what was sent.
FRAGMENTS = ["ann.private", "example.com", "card ending 4242", "blue kettle", "order 88412"]


def assert_clean(raw: bytes) -> None:
    text = raw.decode("utf-8", errors="replace")
    assert not re.search(r"[\w.+-]+@[\w-]+\.[a-z]{2,}", text), "an email address was sent"
    for fragment in FRAGMENTS:
        assert fragment not in text, f"ticket text sent: {fragment!r}"


def test_off_without_a_dsn(namespace: str) -> None:
    # Given settings with no DSN / When initialising / Then nothing is set up
    assert init_sentry(make_settings(namespace), component="test") is False
    assert init_sentry(make_settings(namespace, sentry_dsn=""), component="test") is False
    assert not sentry_sdk.get_client().is_active()


def test_exception_with_ticket_text_everywhere_is_scrubbed(
    sentry_on: Callable[..., Settings], sentry_server: SentryStandIn
) -> None:
    # Given Sentry on, and a ticket whose text sits in locals, extra, breadcrumbs and the error
    sentry_on()
    body, subject, email = BODY, SUBJECT, EMAIL  # locals of the failing frame
    sentry_sdk.set_extra("body", body)
    sentry_sdk.set_extra("subject", subject)
    sentry_sdk.set_extra("note", f"requester {email}")
    sentry_sdk.set_extra("ticket_id", "T-1")
    sentry_sdk.add_breadcrumb(message=f"loaded ticket for {email}", data={"subject": subject})
    logging.getLogger("tests.shared.telemetry").info("agent saw: %s", body)

    # When an exception quoting the body and the email is captured
    try:
        raise ValueError(f"could not parse reply to {email}: {body[:70]}")
    except ValueError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush(timeout=5)

    # Then the event arrived, kept what helps debugging, and holds no email nor ticket text
    events = sentry_server.wait_for_events(1)
    assert len(events) == 1
    event = events[0]
    exc = event["exception"]["values"][0]
    assert exc["type"] == "ValueError"
    assert "[email]" in exc["value"] and "[ticket text]" in exc["value"]
    assert event["extra"]["ticket_id"] == "T-1"
    assert "body" not in event["extra"] and "subject" not in event["extra"]
    assert all("vars" not in f for f in exc["stacktrace"]["frames"])
    assert event["release"] == "paceline@0.1.0" and event["tags"]["component"] == "test"
    assert_clean(sentry_server.all_bytes())


def test_text_known_only_to_the_worker_is_masked(
    sentry_on: Callable[..., Settings], sentry_server: SentryStandIn
) -> None:
    # Given the worker declared the ticket's text, and nothing else names it
    sentry_on()
    with ticket_text(SUBJECT, BODY):
        # When an error message embeds a slice of the body
        try:
            raise RuntimeError(f"tool failed on input {BODY[20:95]!r}")
        except RuntimeError:
            sentry_sdk.capture_exception()
    sentry_sdk.flush(timeout=5)

    # Then the slice is masked
    events = sentry_server.wait_for_events(1)
    assert len(events) == 1
    assert "[ticket text]" in events[0]["exception"]["values"][0]["value"]
    assert_clean(sentry_server.all_bytes())


def test_secrets_are_masked(
    sentry_on: Callable[..., Settings], sentry_server: SentryStandIn
) -> None:
    # Given an API key in the settings
    sentry_on(llm_api_key="sk-live-very-secret-key-123")
    # When an error message contains it
    sentry_sdk.capture_message("provider refused key sk-live-very-secret-key-123")
    sentry_sdk.flush(timeout=5)
    # Then the key was not sent
    events = sentry_server.wait_for_events(1)
    assert len(events) == 1
    assert b"sk-live-very-secret" not in sentry_server.all_bytes()


def test_transient_errors_are_dropped_per_attempt(
    sentry_on: Callable[..., Settings], sentry_server: SentryStandIn
) -> None:
    # Given Sentry on
    sentry_on()
    # When transient errors are captured, then a permanent one
    for exc in (TransientError("blip"), ProviderUnavailable("503")):
        try:
            raise exc
        except TransientError:
            sentry_sdk.capture_exception()
    logging.getLogger("tests.shared.telemetry").error(
        "attempt failed", exc_info=ProviderUnavailable("x")
    )
    try:
        raise PermanentError("bad", reason="poison")
    except PermanentError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush(timeout=5)

    # Then only the permanent error was sent
    events = sentry_server.wait_for_events(2, timeout_s=1.0)
    assert [e["exception"]["values"][0]["type"] for e in events] == ["PermanentError"]


def test_report_dead_letter_sends_reason_ticket_and_tenant_only(
    sentry_on: Callable[..., Settings], sentry_server: SentryStandIn
) -> None:
    # Given a dead letter that holds the ticket (body and email)
    sentry_on()
    entry = DeadLetter(
        ticket_id="T-77",
        event_id="evt-77",
        tenant_id="acme",
        lane="live",
        reason="provider_unavailable",
        error=f"503 while answering {EMAIL}",
        attempts=4,
        failed_at_ms=1,
        ticket={"body": BODY, "subject": SUBJECT, "requester": {"email": EMAIL}},
    )
    # When it is reported
    event_id = report_dead_letter(entry)
    sentry_sdk.flush(timeout=5)

    # Then one message event names the reason, ticket and tenant, and nothing of the ticket
    events = sentry_server.wait_for_events(1)
    assert event_id is not None and len(events) == 1
    event = events[0]
    assert event["tags"]["reason"] == "provider_unavailable"
    assert event["tags"]["tenant"] == "acme"
    assert event["extra"]["ticket_id"] == "T-77"
    assert event["fingerprint"] == ["dead-letter", "provider_unavailable"]
    assert_clean(sentry_server.all_bytes())
