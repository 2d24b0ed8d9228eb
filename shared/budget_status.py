"""The day's books as people read them: `paceline budget status` and the ops page."""

from __future__ import annotations

import getpass
import json
from typing import Any

from shared.clock import Clock, day_bounds_s
from shared.history.emit import cap_fields
from shared.ledger import Ledger
from shared.money import micros_to_usd, usd_to_micros
from shared.settings import Settings

AUDIT_KEEP = 1000
SCOPE_PREFIXES = ("global", "tenant:", "user:")


def budget_status(ledger: Ledger, settings: Settings, clock: Clock) -> dict[str, Any]:
    now_s = clock.now_s()
    start_s, end_s = day_bounds_s(now_s, settings.tz)
    books = ledger.day_books()
    caps = ledger.caps()
    ceiling = caps.get("global", settings.ceiling_micros)
    spent = books["spent"].get("global", 0)
    reserved = books["reserved"].get("global", 0)
    remaining_h = max((end_s - now_s) / 3600, 1 / 60)
    pace_line = ceiling * (now_s - start_s) / (end_s - start_s)
    tenants = sorted({s.split(":", 1)[1] for s in books["spent"] if s.startswith("tenant:")})
    return {
        "day": ledger.day(),
        "timezone": settings.timezone,
        "pacing": settings.pacing,
        "ceiling_usd": micros_to_usd(ceiling),
        "spent_usd": micros_to_usd(spent),
        "reserved_usd": micros_to_usd(reserved),
        "remaining_usd": micros_to_usd(max(ceiling - spent - reserved, 0)),
        "pace_usd_per_hour": micros_to_usd(int(max(ceiling - spent - reserved, 0) / remaining_h)),
        "pace_line_usd": micros_to_usd(int(pace_line)),
        "burst_usd": micros_to_usd(ledger.burst_micros()),
        "llm_calls": books["calls"].get("global", 0),
        "tenant_cap_usd": micros_to_usd(caps.get("tenant:*", settings.tenant_cap_micros)),
        "user_cap_usd": micros_to_usd(caps.get("user:*", settings.user_cap_micros)),
        "tenants": {
            t: {
                "spent_usd": micros_to_usd(books["spent"].get(f"tenant:{t}", 0)),
                "reserved_usd": micros_to_usd(books["reserved"].get(f"tenant:{t}", 0)),
                "cap_usd": micros_to_usd(
                    caps.get(f"tenant:{t}", caps.get("tenant:*", settings.tenant_cap_micros))
                ),
            }
            for t in tenants
        },
        "overrides": {k: micros_to_usd(v) for k, v in caps.items() if not k.startswith("paused:")},
    }


def set_cap(
    ledger: Ledger, scope: str, usd: str, *, who: str | None = None, note: str = ""
) -> dict[str, Any]:
    """Change a cap at runtime; every change is logged in `<ns>:caps:audit` with who and when."""
    if not (scope in ("global", "tenant:*", "user:*") or scope.startswith(SCOPE_PREFIXES)):
        raise ValueError(
            f"unknown scope {scope!r}: use global, tenant:<id>, tenant:*, "
            "user:<tenant>:<id>, user:*"
        )
    micros = usd_to_micros(usd)
    if micros <= 0:
        raise ValueError("a cap must be more than $0")
    r = ledger._r
    keys = ledger._keys
    old = r.hget(keys.caps, scope)
    at_ms = ledger.now_ms()
    entry = {
        "at": at_ms // 1000,
        "who": who or getpass.getuser(),
        "scope": scope,
        "old_usd": micros_to_usd(int(old)) if old else None,
        "new_usd": micros_to_usd(micros),
        "note": note,
    }
    pipe = r.pipeline(transaction=True)
    pipe.hset(keys.caps, scope, micros)
    pipe.lpush(keys.caps_audit, json.dumps(entry))
    pipe.ltrim(keys.caps_audit, 0, AUDIT_KEEP - 1)
    # The audit list keeps the last 1000; the history database keeps every change.
    change = cap_fields(scope=scope, old_micros=int(old) if old else None, new_micros=micros,
                        who=str(entry["who"]), note=note, at_ms=at_ms)  # fmt: skip
    pipe.xadd(keys.history_stream, change)  # type: ignore[arg-type]
    pipe.execute()
    return entry
