"""Metrics from real work: a worker's ticket counters, the webhook app's state gauges
(read from Redis and dramatiq's queue), and the per-process server's port fallback."""

from __future__ import annotations

import json
import socket
import time

import dramatiq
import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

from producers.enqueue import Intake
from shared.broker import build_broker
from shared.clock import SystemClock
from shared.keys import Keys
from shared.ledger import AdmissionRequest, Candidate, Ledger
from shared.metrics_server import build_metrics, start_metrics_server, start_process_metrics
from shared.models import Lane, Ticket
from shared.stores.outcomes import OutcomeStore
from shared.stores.parking import ParkingLot
from shared.stores.spend import SpendSeries
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import WebhookServer, generic_ticket, sign_generic, wait_for
from tests.producers.webhook.ops_seed import dead_letter
from workers.runtime import RunningWorker, worker_metrics

SECRET = "metrics-webhook-secret-9d1e"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_worker_counts_what_happened_to_each_ticket(
    namespace: str, simulator: SimulatorProcess
) -> None:
    settings = make_settings(namespace, llm_base_url=simulator.base_url, llm_api_key="sk-m")
    broker = build_broker(settings)
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    intake = Intake(
        broker=broker, client=client, keys=Keys(namespace), clock=SystemClock(),
        dedupe_window_s=60,
    )  # fmt: skip
    try:
        with RunningWorker(settings, threads=2) as worker:
            # Given three tickets answered by a real worker through the simulator
            for i in range(3):
                intake.submit(Ticket.model_validate(generic_ticket(i)))
            store = OutcomeStore(client, Keys(namespace))
            assert wait_for(lambda: store.summary().get("answered", 0) == 3)
            reg = worker_metrics(worker.ctx).registry
            # Then (once the middleware ran after the last one) the counters say so
            done = {"status": "answered", "lane": "live"}
            assert wait_for(lambda: reg.get_sample_value("paceline_tickets_total", done) == 3)
    finally:
        broker.close()
        client.close()
    admits = sum(
        s.value
        for f in reg.collect()
        if f.name == "paceline_admission_decisions"
        for s in f.samples
        if s.name.endswith("_total") and s.labels["decision"] == "admit"
    )
    assert admits == 3
    assert reg.get_sample_value("paceline_agent_steps_count") == 3
    assert reg.get_sample_value("paceline_ticket_latency_seconds_count", done) == 3
    model = settings.model
    out = reg.get_sample_value("paceline_llm_tokens_total", {"kind": "output", "model": model})
    assert out is not None and out > 0
    # And the hourly spend series was sampled (throttled to once a second per process), and
    # reads as the day's spend now
    day_spent = worker.ctx.ledger.spent("global")
    hourly = client_hourly(namespace, worker.ctx.ledger)
    assert day_spent > 0 and 0 < max(hourly.values()) <= day_spent
    c = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        assert SpendSeries(c, settings, SystemClock()).hourly()[-1][1] == day_spent
    finally:
        c.close()


def client_hourly(namespace: str, ledger: Ledger) -> dict[str, int]:
    c = redis.Redis.from_url(make_settings(namespace).redis_url, decode_responses=True)
    try:
        return {k: int(v) for k, v in c.hgetall(Keys(namespace).spend_hourly(ledger.day())).items()}
    finally:
        c.close()


def test_webhook_metrics_expose_state_from_redis(namespace: str, r: redis.Redis) -> None:
    settings = make_settings(namespace, webhook_secret_generic=SECRET)
    keys = Keys(namespace)
    # Given spend on the ledger (admit, draw, settle), a parked ticket, a dead letter
    ledger = Ledger(r, keys, settings, SystemClock())
    d = ledger.admit(
        AdmissionRequest("generic:T-m:evt-m", "acme", "u-secret", "live",
                         [Candidate(settings.model, 20_000, 5_000)])
    )  # fmt: skip
    assert d.kind == "admit" and d.reservation_id
    assert ledger.draw(d.reservation_id, "c1", 10_000).ok
    ledger.settle(d.reservation_id, "c1", 1_234)
    ledger.release(d.reservation_id)
    ParkingLot(r, keys).park(
        dramatiq.Message(queue_name="tickets_live", actor_name="handle_ticket", args=(),
                         kwargs={}, options={}),
        Lane.LIVE, int(time.time() * 1000) + 60_000, "pace",
    )  # fmt: skip
    dead_letter(r, keys, 1, "http_500")
    with WebhookServer(settings) as app:
        # And two tickets waiting in the live queue (no worker), one unknown source request
        for i in range(2):
            body = json.dumps(generic_ticket(i)).encode()
            resp = httpx.post(
                f"{app.url}/webhooks/generic", content=body, headers=sign_generic(SECRET, body)
            )
            assert resp.status_code == 202
        assert httpx.post(f"{app.url}/webhooks/nope", content=b"{}").status_code == 404
        time.sleep(0.3)
        # When Prometheus scrapes the webhook app's metrics (served on the internal port)
        server = start_metrics_server(app.app.state.metrics.registry, 0, addr="127.0.0.1")
        try:
            text = httpx.get(f"http://127.0.0.1:{server.port}/metrics").text
        finally:
            server.stop()
    got = _samples(text)
    # Then the state is there, read from Redis and dramatiq's queue
    assert got[("paceline_spend_micros", (("scope", "global"),))] == 1_234
    assert got[("paceline_spend_micros", (("scope", "tenant:acme"),))] == 1_234
    assert got[("paceline_queue_depth", (("queue", "tickets_live"),))] == 2
    assert got[("paceline_queue_oldest_age_seconds", (("queue", "tickets_live"),))] >= 0.25
    assert got[("paceline_parked", (("lane", "live"),))] == 1
    assert got[("paceline_dlq_size", ())] == 1
    assert got[("paceline_circuit_state", ())] == 0
    # And the live lane's plan: no scheduler yet, so the default model and the fixed reserve
    assert got[("paceline_live_rung", ())] == 0
    assert got[("paceline_live_reserve_micros", ())] == 15_000_000
    ok = (("source", "generic"), ("status", "202"))
    assert got[("paceline_webhook_requests_total", ok)] == 2
    assert got[("paceline_webhook_requests_total", (("source", "unknown"), ("status", "404")))] == 1
    # And no requester became a label
    assert "u-secret" not in text and "user:" not in text and "@" not in text


def test_metrics_server_takes_the_next_free_port(namespace: str) -> None:
    # Given the configured port already taken (another worker process on this host)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = make_settings(namespace, metrics_port=port)
        metrics = build_metrics(settings)
        metrics.ticket_finished(lane="live", status="answered", latency_s=1.0)
        # When this process starts its metrics server
        server = start_process_metrics(settings, metrics)
        assert server is not None
        try:
            # Then it serves on another port, and 0 turns it off
            assert server.port != port
            body = httpx.get(f"http://127.0.0.1:{server.port}/metrics").text
            assert 'paceline_tickets_total{lane="live",status="answered"} 1.0' in body
        finally:
            server.stop()
    assert start_process_metrics(make_settings(namespace, metrics_port=0), metrics) is None
