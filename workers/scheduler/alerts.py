"""Alerts: spend thresholds of the day's ceiling, and a tenant whose spend suddenly spikes.

Each alert fires once per budget day (HSETNX `<ns>:alerts:<day>`), whichever scheduler leads,
and goes three ways: a log line, a Sentry message (a no-op when Sentry is not initialised), and
a POST of JSON to `PACELINE_ALERT_WEBHOOK_URL` when it is set. A failing webhook is logged,
never raised: alerting must not stop the scheduler.

Thresholds compare what the day has committed (spent + held by reservations in flight) with
the ceiling: that is the money no longer available, which is what an operator acts on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis
import sentry_sdk

from shared.clock import Clock, budget_day
from shared.errors import OutboundRefused
from shared.keys import RESERVED, SPENT, Keys
from shared.money import micros_to_usd
from shared.outbound import OutboundClient
from shared.settings import Settings
from workers.scheduler.velocity import SpendVelocity, Spike

log = logging.getLogger("paceline.alerts")

ALERTS_TTL_S = 8 * 24 * 3600
WEBHOOK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Alert:
    name: str  # "threshold:80" or "velocity:<tenant>"
    message: str
    details: dict[str, Any] = field(default_factory=dict)


class Alerts:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        settings: Settings,
        clock: Clock,
        *,
        velocity: SpendVelocity | None = None,
        http: OutboundClient | None = None,
    ) -> None:
        self._r = client
        self._keys = keys
        self._settings = settings
        self._clock = clock
        self.velocity = velocity or SpendVelocity(client, keys, settings, clock)
        self._http = http

    def check(self, ceiling_micros: int) -> list[Alert]:
        """Fire what is due now; returns the alerts that fired on this call."""
        day = budget_day(self._clock.now_s(), self._settings.tz)
        fired: list[Alert] = []
        spent_raw, reserved_raw = self._r.hmget(
            self._keys.books(day), [SPENT + "global", RESERVED + "global"]
        )
        spent, reserved = int(spent_raw or 0), int(reserved_raw or 0)
        committed = spent + reserved
        for pct in self._settings.thresholds_pct:
            if committed * 100 >= ceiling_micros * pct:
                alert = Alert(
                    f"threshold:{pct}",
                    f"budget {pct}% committed: ${micros_to_usd(committed)} of "
                    f"${micros_to_usd(ceiling_micros)} (spent ${micros_to_usd(spent)})",
                    {
                        "pct": pct,
                        "spent_usd": micros_to_usd(spent),
                        "committed_usd": micros_to_usd(committed),
                        "ceiling_usd": micros_to_usd(ceiling_micros),
                    },
                )
                if self._fire_once(day, alert):
                    fired.append(alert)
        for spike in self.velocity.check():
            alert = _spike_alert(spike)
            # The pause is written every time; the notification goes out once a day per tenant.
            if self._fire_once(day, alert):
                fired.append(alert)
        return fired

    def _fire_once(self, day: str, alert: Alert) -> bool:
        key = self._keys.alerts(day)
        now_ms = int(self._clock.now_s() * 1000)
        if not self._r.hsetnx(key, alert.name, now_ms):
            return False
        self._r.expire(key, ALERTS_TTL_S)
        self._send(day, alert)
        return True

    def _send(self, day: str, alert: Alert) -> None:
        urgent = alert.name.startswith(("velocity:", "threshold:100"))
        log.warning("alert %s: %s", alert.name, alert.message)
        sentry_sdk.capture_message(
            f"paceline alert: {alert.message}", level="error" if urgent else "warning"
        )
        url = self._settings.alert_webhook_url
        if not url:
            return
        doc = {
            "alert": alert.name,
            "message": alert.message,
            "day": day,
            "namespace": self._settings.namespace,
            **alert.details,
        }
        http = self._http or OutboundClient(
            allow_private=self._settings.allow_private_networks, timeout_s=WEBHOOK_TIMEOUT_S
        )
        try:
            http.request("POST", url, json=doc, timeout=WEBHOOK_TIMEOUT_S).raise_for_status()
        except (httpx.HTTPError, OutboundRefused) as exc:
            log.warning("alert webhook failed: %s", type(exc).__name__)
        finally:
            if http is not self._http:
                http.close()


def _spike_alert(spike: Spike) -> Alert:
    return Alert(
        f"velocity:{spike.tenant_id}",
        f"tenant {spike.tenant_id} paused: spent ${micros_to_usd(spike.recent_micros)} in the "
        f"last {spike.window_s // 60} min, {spike.ratio:.1f}x its usual rate",
        {
            "tenant_id": spike.tenant_id,
            "recent_usd": micros_to_usd(spike.recent_micros),
            "baseline_usd": micros_to_usd(spike.baseline_micros),
            "paused_until_ms": spike.paused_until_ms,
        },
    )
