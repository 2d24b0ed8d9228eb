"""A dead letter reaches Sentry: one scrubbed event per dead-lettered ticket, none per
transient attempt. A real worker, the simulator, and sentry-sdk's own HTTP transport posting
to a local stand-in whose bytes we read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import sentry_sdk

from shared.messages import HANDLE_TICKET
from shared.models import Lane, OutcomeStatus, Ticket
from shared.telemetry import init_sentry, shutdown_sentry
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import generic_ticket, tkey, wait_for, worker_intake
from tests.shared.telemetry.dsn_server import SentryStandIn
from workers.runtime import RunningWorker

EMAIL = "mallory.private@example.org"
SUBJECT = "Parcel for the lighthouse keeper went missing"
BODY = "The parcel with the brass telescope never reached the lighthouse on Skellig Rock."
FRAGMENTS = ["mallory", "example.org", "lighthouse", "brass telescope", "Skellig"]


@pytest.fixture
def sentry_server() -> Iterator[SentryStandIn]:
    server = SentryStandIn()
    yield server
    sentry_sdk.flush(timeout=2)
    shutdown_sentry()
    server.stop()


def ticket(n: int) -> Ticket:
    return Ticket.model_validate(
        generic_ticket(n, subject=SUBJECT, body=BODY, requester={"id": f"u-{n}", "email": EMAIL})
    )


def dead_letter_events(server: SentryStandIn) -> list[dict[str, Any]]:
    return [e for e in server.events() if e.get("fingerprint", [""])[0] == "dead-letter"]


def test_one_scrubbed_event_per_dead_letter_and_none_per_transient_attempt(
    namespace: str, private_simulator: SimulatorProcess, sentry_server: SentryStandIn
) -> None:
    sim = private_simulator
    settings = make_settings(
        namespace,
        llm_base_url=sim.base_url,
        llm_api_key="sk-test",
        sentry_dsn=sentry_server.dsn,
        pacing="off",
        max_retries=2,
        retry_base_ms=1,
        retry_max_ms=20,
    )
    # Sentry first: its dramatiq integration must see the broker being built.
    assert init_sentry(settings, component="worker")
    with RunningWorker(settings, threads=2) as worker:
        ctx = worker.ctx
        intake = worker_intake(worker)
        # Given a provider that refuses for good (quota): the ticket is dead-lettered
        sim.faults(error_rate=1.0, error_kind="insufficient_quota")
        intake.submit(ticket(1))
        assert wait_for(lambda: ctx.dead_letters.size() == 1, timeout_s=20)
        # And a provider that only rate-limits: each attempt fails transiently, the ticket
        # parks after its bounded retries and nothing is dead-lettered
        sim.faults(error_rate=1.0, error_kind="rate_limit", retry_after_ms=5)
        intake.submit(ticket(2))
        assert wait_for(
            lambda: (
                (o := ctx.outcomes.get(tkey("T-2"))) is not None
                and o.status is OutcomeStatus.PARKED
            ),
            timeout_s=20,
        )
        # And a poison message (no requester): dead-lettered by the actor
        poison = {"ticket_id": "P-1", "tenant_id": "acme", "subject": SUBJECT, "body": BODY}
        worker.broker.enqueue(
            dramatiq.Message(
                queue_name=Lane.LIVE.queue_name,
                actor_name=HANDLE_TICKET,
                args=(poison,),
                kwargs={"lane": "live"},
                options={},
            )
        )
        assert wait_for(lambda: ctx.dead_letters.size() == 2, timeout_s=20)
        transient_calls = int(sim.stats()["requests"])
    sentry_sdk.flush(timeout=5)

    # Then Sentry got exactly one event per dead letter, grouped by reason
    assert sentry_server.wait_for_events(2)
    events = dead_letter_events(sentry_server)
    by_reason = sorted(e["tags"]["reason"] for e in events)
    assert by_reason == ["insufficient_quota", "invalid_ticket"], events
    tickets = {e["extra"]["ticket_id"] for e in events}
    assert tickets == {"T-1", "P-1"}
    assert all(e["level"] == "error" and e["tags"]["tenant"] == "acme" for e in events)
    # And nothing for the transient attempts (several provider calls), nor anything else
    assert transient_calls >= 3
    assert len(sentry_server.events()) == len(events)
    # And no event carries the ticket's text or an email address
    text = sentry_server.all_bytes().decode("utf-8", errors="replace")
    assert not re.search(r"[\w.+-]+@[\w-]+\.[a-z]{2,}", text), "an email address was sent"
    for fragment in FRAGMENTS:
        assert fragment not in text, fragment
