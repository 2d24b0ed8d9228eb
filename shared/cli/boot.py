"""What every long-running process does first: settings, logs, error reporting.

Sentry must be initialised before any broker is built (its dramatiq integration patches the
broker class), so this runs before anything else in a process.
"""

from __future__ import annotations

import logging

from shared.cli.common import settings_or_exit
from shared.settings import Settings


def boot(component: str) -> Settings:
    settings = settings_or_exit()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return settings
