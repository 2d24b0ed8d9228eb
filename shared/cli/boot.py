"""What every long-running process does first: settings, logs, error reporting.

Sentry must be initialised before any broker is built (its dramatiq integration patches the
broker class), so this runs before anything else in a process.
"""

from __future__ import annotations

import logging

from shared.cli.common import Exit, fail, settings_or_exit
from shared.errors import SettingsError
from shared.logs import configure_logging
from shared.settings import Settings, ladder_warnings, price_table
from shared.telemetry import init_sentry
from shared.tenants import load_tenants


def boot(component: str) -> Settings:
    settings = settings_or_exit()
    try:
        # A bad tenants file, or a secret it names missing or weak, stops every process.
        # (and every model a profile names must be priced, as PACELINE_MODEL must).
        tenants = load_tenants(settings, prices=price_table(settings))
    except SettingsError as exc:
        fail(str(exc), Exit.CONFIG)
    # JSON lines, redacted (emails, ticket text, secrets, dramatiq message reprs).
    configure_logging(settings, component, secrets=tenants.secret_values())
    for line in settings.cap_warnings() + ladder_warnings(settings, price_table(settings)):
        logging.getLogger("paceline.settings").warning(line)
    init_sentry(settings, component=component)
    if component == "scheduler":
        _serve_state_metrics(settings)
    return settings


def _serve_state_metrics(settings: Settings) -> None:
    """The scheduler exports the state gauges (spend, parked, queues, ...) on metrics_port."""
    from shared.metrics_server import build_metrics, start_process_metrics
    from shared.redis_client import make_redis

    client = make_redis(settings, max_connections=2)
    start_process_metrics(settings, build_metrics(settings, client=client, state=True))
