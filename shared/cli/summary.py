"""`paceline outcomes summary`: counts by status, and resolutions with what each cost.

Without filters the counts are the store's O(1) counters; `--tenant` or `--day` counts the
outcomes of that tenant last updated on that budget day instead (a walk of the index from the
day's start). The resolution figures are one budget day's (today unless `--day`), or `--days
N` ending with it, for one tenant or all (shared/conversation/report.py).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from shared.cli.common import Exit, fail
from shared.cli.output import console, print_table
from shared.clock import SystemClock, budget_day
from shared.conversation.report import (
    COMMERCIAL_MICROS_PER_RESOLUTION,
    day_range_ms,
    per_tenant,
    resolution_report,
)
from shared.conversation.resolutions import Resolutions
from shared.display import TICKET_PLACES, usd
from shared.keys import Keys
from shared.ledger import Ledger
from shared.models import OutcomeStatus
from shared.redis_client import make_redis
from shared.settings import Settings
from shared.stores.outcomes import OutcomeStore


def summary_doc(
    settings: Settings, *, tenant: str | None, day: str | None, days: int = 1
) -> dict[str, Any]:
    clock = SystemClock()
    if day is None:
        day = budget_day(clock.now_s(), settings.tz)
    else:
        try:
            date.fromisoformat(day)
        except ValueError:
            fail(f"--day: {day!r} is not a date (YYYY-MM-DD)", Exit.USAGE)
    client = make_redis(settings, max_connections=4)
    keys = Keys(settings.namespace)
    store = OutcomeStore(client, keys)
    filtered = tenant is not None or day != budget_day(clock.now_s(), settings.tz)
    counts = _counts(store, settings, tenant, day) if filtered else store.summary()
    ledger = Ledger(client, keys, settings, clock)
    period = [str(date.fromisoformat(day) - timedelta(days=n)) for n in range(days - 1, -1, -1)]
    res = Resolutions(client, keys)
    figures = resolution_report(res, ledger, period, settings.tz, tenant)
    doc = {**counts, **figures.as_json(), "day": day, "days": period, "tenant": tenant}
    if tenant is None:
        tenants = per_tenant(res, ledger, period, settings.tz)
        doc["by_tenant"] = {t: s.as_json() for t, s in tenants.items()}
    return doc


def _counts(
    store: OutcomeStore, settings: Settings, tenant: str | None, day: str
) -> dict[str, int]:
    """Status counts of the outcomes of `tenant` (all when None) last updated on `day`."""
    start_ms, end_ms = day_range_ms(day, settings.tz)
    counts = {s.value: 0 for s in OutcomeStatus}
    for outcome in store.iter_outcomes(since_ms=start_ms):
        if outcome.updated_at_ms >= end_ms:
            continue
        if tenant is None or outcome.tenant_id == tenant:
            counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
    counts["total"] = sum(counts[s.value] for s in OutcomeStatus)
    return counts


def print_summary(doc: dict[str, Any]) -> None:
    statuses = [(s.value, doc[s.value]) for s in OutcomeStatus] + [("total", doc["total"])]
    print_table(("status", "tickets"), statuses, right=("tickets",))
    who = f"tenant {doc['tenant']}" if doc["tenant"] else "all tenants"
    rate = doc["resolution_rate"]
    ours = usd(doc["cost_per_resolution_micros"], TICKET_PLACES)
    median = doc["median_messages_to_resolution"]
    console().print(
        f"\nResolutions {_period(doc['days'])} ({who}): {doc['resolutions']} resolved, "
        f"rate {'—' if rate is None else f'{rate:.0%}'} of {doc['handled'] - doc['awaiting']} "
        f"decided ({doc['awaiting']} awaiting), median "
        f"{'—' if median is None else f'{median:g}'} messages\n"
        f"Cost per resolution: {ours} (all model spend {usd(doc['spend_micros'])}); "
        f"commercial agents charge {usd(COMMERCIAL_MICROS_PER_RESOLUTION, 2)}",
        highlight=False,
    )
    rows = _tenant_rows(doc)
    if rows:
        print_table(
            ("tenant", "resolved", "rate", "awaiting", "spend", "per resolution"),
            rows,
            right=("resolved", "rate", "awaiting", "spend", "per resolution"),
        )


def _tenant_rows(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for tenant, t in doc.get("by_tenant", {}).items():
        rate = t["resolution_rate"]
        rows.append((
            tenant, t["resolutions"], "—" if rate is None else f"{rate:.0%}", t["awaiting"],
            usd(t["spend_micros"]), usd(t["cost_per_resolution_micros"], TICKET_PLACES),
        ))  # fmt: skip
    return rows


def _period(days: list[str]) -> str:
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
