"""The webhook app factory: `POST /webhooks/{source}[/{tenant}]`, `/healthz`, `/readyz`, `/ops`.

Per request, in this order: source known and a key configured for it (404) -> body within the
limit (413) -> signature and timestamp on the raw bytes (401) -> payload is a ticket (422) or
a handshake (200) -> dedupe claim, pending outcome, enqueue (202; 503 when Redis or the
broker is down, so the vendor retries and nothing is lost). Nothing else happens on the
request path.

The key that verifies decides the tenant. `/webhooks/{source}/{tenant}` verifies with that
tenant's own secret (the tenants file) and the ticket is that tenant's; `/webhooks/{source}`
verifies with the source-wide `PACELINE_WEBHOOK_SECRET_<SOURCE>`, a key bound to no tenant:
its tickets go to `PACELINE_WEBHOOK_DEFAULT_TENANT`, except that the generic source may name
another. A source or tenant with no key answers 404 like an unknown one: never accepted
unsigned. The app's metrics are not served here but on the internal metrics port.
"""

from __future__ import annotations

import logging

import dramatiq
import dramatiq.errors
import redis
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from producers.enqueue import Submitted, build_intake
from producers.webhook import responses
from producers.webhook.body import read_limited
from producers.webhook.metrics import count_requests
from producers.webhook.ops import mount_ops
from producers.webhook.readiness import unreachable
from shared.broker import build_broker
from shared.clock import Clock, SystemClock
from shared.errors import BodyTooLarge, DeliveryInFlight, NotATicket, SignatureError
from shared.models import Lane
from shared.redis_client import make_redis
from shared.settings import Settings
from shared.tenants import TenantRegistry, Tenants, load_tenants
from shared.vendors.base import Inbound, Parsed, Source
from shared.vendors.registry import build_sources

log = logging.getLogger(__name__)

# Failures of our own dependencies: the client did nothing wrong, so 503 and a retry.
_DEPENDENCY_ERRORS = (redis.RedisError, dramatiq.errors.DramatiqError, OSError, DeliveryInFlight)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    broker: dramatiq.Broker | None = None,
    redis_client: redis.Redis | None = None,
    tenants: Tenants | TenantRegistry | None = None,
) -> FastAPI:
    """Raises SettingsError (one line) when the tenants file or a secret it names is bad.
    The tenants file is re-read when it changes (a new tenant's key works without a
    restart; a bad new file keeps the last good one: shared/tenants/registry.py)."""
    clock = clock or SystemClock()
    if tenants is None:
        tenants = TenantRegistry(load_tenants(settings), settings.tenants_file)
    elif isinstance(tenants, Tenants):
        tenants = TenantRegistry(tenants)
    registry = tenants
    client = redis_client if redis_client is not None else make_redis(settings)
    broker = broker if broker is not None else build_broker(settings)
    intake = build_intake(settings, broker, client, clock)
    sources = build_sources()
    app = FastAPI(title="paceline webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    # The request counter and the state gauges (refreshed on scrape), for the process to serve
    # on the internal metrics port (`paceline webhook`); GET /ops, the operator's page.
    app.state.metrics = count_requests(
        app, settings, client=client, clock=clock, broker=broker, sources=frozenset(sources)
    )
    mount_ops(app, settings, client=client, clock=clock, broker=broker)

    def key_for(source_name: str, tenant: str | None) -> tuple[bytes, str, bool] | None:
        """(secret, tenant, bound to that tenant) of the key this route verifies with."""
        if tenant is None:
            secret = settings.webhook_secret(source_name)
            return (secret, settings.webhook_default_tenant, False) if secret else None
        own = registry.current().webhook_secret(tenant, source_name)
        return (own, tenant, True) if own else None

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        down = await run_in_threadpool(unreachable, client, broker)
        if down:
            return JSONResponse({"ok": False, "unreachable": down}, status_code=503)
        return JSONResponse({"ok": True})

    @app.post("/webhooks/{source_name}")
    async def receive(source_name: str, request: Request) -> JSONResponse:
        return await receive_for(source_name, None, request)

    @app.post("/webhooks/{source_name}/{tenant}")
    async def receive_for_tenant(source_name: str, tenant: str, request: Request) -> JSONResponse:
        return await receive_for(source_name, tenant, request)

    async def receive_for(source_name: str, tenant: str | None, request: Request) -> JSONResponse:
        source = sources.get(source_name)
        key = key_for(source_name, tenant) if source else None
        if source is None or key is None:
            return responses.not_found()
        secret, owner, bound = key
        try:
            body = await read_limited(request, settings.max_body_bytes)
        except BodyTooLarge:
            return responses.too_large(settings.max_body_bytes)
        inbound = Inbound(
            body=body,
            headers={k.lower(): v for k, v in request.headers.items()},
            now_s=clock.now_s(),
            tolerance_s=settings.webhook_tolerance_s,
            tenant=owner,
            bound=bound,
            allow_private_networks=settings.allow_private_networks,
        )
        try:
            source.verify(inbound, secret)
        except SignatureError as exc:
            log.info("webhook refused: source=%s reason=%s", source_name, exc)
            return responses.unauthorized(str(exc))
        parsed = _parse(source, inbound)
        if isinstance(parsed, JSONResponse):
            return parsed
        if parsed.handshake is not None or parsed.ticket is None:
            return JSONResponse(parsed.handshake or {"ok": True}, status_code=200)
        try:
            submitted: Submitted = await run_in_threadpool(
                intake.submit, parsed.ticket, Lane.LIVE, delivery_id=parsed.delivery_id
            )
        except _DEPENDENCY_ERRORS as exc:
            log.warning("enqueue failed: source=%s error=%s", source_name, type(exc).__name__)
            return responses.unavailable("queue")
        if submitted.handled is not None:
            # Ids only: what became of an event that is not answered (its own reply coming
            # back is how a self-triggered loop would start).
            log.info(
                "event %s: source=%s ticket=%s",
                submitted.handled,
                source_name,
                parsed.ticket.ticket_id,
            )
        return responses.accepted(submitted.job_id, submitted.duplicate, submitted.handled)

    return app


def _parse(source: Source, inbound: Inbound) -> Parsed | JSONResponse:
    try:
        return source.parse(inbound)
    except NotATicket as exc:
        return responses.not_a_ticket(str(exc))
    except Exception as exc:
        # A payload our normaliser did not foresee is still the client's input: 422, not 500.
        # Only the error type is logged; the body may hold personal data.
        log.warning("normaliser failed: source=%s error=%s", source.name, type(exc).__name__)
        return responses.not_a_ticket("payload could not be read")
