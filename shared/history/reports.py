"""What finance and audit ask of the history: spend over days grouped one way, the tickets
that cost the most. Days are the ledger's budget days (`PACELINE_TIMEZONE`), so a day here
is the same money as that day's books in Redis.

`resolutions`: per budget day (and tenant), the tickets the agent resolved
(`ticket_resolutions`, written when each was resolved), the tickets it handled (answered or
escalated outcomes of distinct tickets), all model spend, and what each resolution cost.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select, tuple_

from shared.history.schema import model_calls, ticket_outcomes, ticket_resolutions

SpendBy = Literal["tenant", "day", "model", "lane"]
_GROUP = {"tenant": "tenant_id", "day": "day", "model": "model", "lane": "lane"}


@dataclass(frozen=True)
class Period:
    """Budget days from `first` to `last`, both included."""

    first: date
    last: date


def spend(
    engine: Engine, period: Period, by: SpendBy, *, tenant: str | None = None
) -> list[dict[str, Any]]:
    """One row per group: calls, tokens and cost (micros), largest cost first (by day: in
    day order)."""
    c = model_calls.c
    key = c[_GROUP[by]]
    cost = func.sum(c.cost_micros).label("cost_micros")
    query = (
        select(
            key.label("key"),
            func.count().label("calls"),
            func.sum(c.prompt_tokens).label("prompt_tokens"),
            func.sum(c.cached_tokens).label("cached_tokens"),
            func.sum(c.completion_tokens).label("completion_tokens"),
            cost,
        )
        .where(c.day >= period.first, c.day <= period.last)
        .group_by(key)
    )
    if tenant is not None:
        query = query.where(c.tenant_id == tenant)
    query = query.order_by(key) if by == "day" else query.order_by(cost.desc(), key)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {
            by: row.key.isoformat() if by == "day" else row.key,
            "calls": int(row.calls),
            "prompt_tokens": int(row.prompt_tokens or 0),
            "cached_tokens": int(row.cached_tokens or 0),
            "completion_tokens": int(row.completion_tokens or 0),
            "cost_micros": int(row.cost_micros or 0),
        }
        for row in rows
    ]


def tickets(
    engine: Engine,
    period: Period,
    *,
    min_cost_micros: int,
    tenant: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Tickets whose calls in the period cost at least `min_cost_micros`, dearest first, each
    with its latest final status (none while it has not ended)."""
    c = model_calls.c
    cost = func.sum(c.cost_micros).label("cost_micros")
    query = (
        select(
            c.tenant_id,
            c.ticket_id,
            func.count().label("calls"),
            cost,
            func.min(c.day).label("first_day"),
            func.max(c.day).label("last_day"),
        )
        .where(c.day >= period.first, c.day <= period.last)
        .group_by(c.tenant_id, c.ticket_id)
        .having(func.sum(c.cost_micros) >= min_cost_micros)
        .order_by(cost.desc(), c.tenant_id, c.ticket_id)
        .limit(limit)
    )
    if tenant is not None:
        query = query.where(c.tenant_id == tenant)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        statuses = _latest_status(conn, [(r.tenant_id, r.ticket_id) for r in rows])
    return [
        {
            "tenant_id": r.tenant_id,
            "ticket_id": r.ticket_id,
            "calls": int(r.calls),
            "cost_micros": int(r.cost_micros),
            "first_day": r.first_day.isoformat(),
            "last_day": r.last_day.isoformat(),
            "status": statuses.get((r.tenant_id, r.ticket_id)),
        }
        for r in rows
    ]


def _latest_status(conn: Any, ids: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    if not ids:
        return {}
    o = ticket_outcomes.c
    rows = conn.execute(
        select(o.tenant_id, o.ticket_id, o.status)
        .where(tuple_(o.tenant_id, o.ticket_id).in_(ids))
        .order_by(o.finalized_at_ms)
    )
    return {(r.tenant_id, r.ticket_id): r.status for r in rows}  # the latest wins


def day_total(engine: Engine, day: date, *, tenant: str | None = None) -> tuple[int, int]:
    """(cost micros, calls) of one budget day: what the day's books say in Redis."""
    rows = spend(engine, Period(day, day), "day", tenant=tenant)
    return (rows[0]["cost_micros"], rows[0]["calls"]) if rows else (0, 0)


def resolutions(
    engine: Engine, period: Period, tz: ZoneInfo, *, tenant: str | None = None
) -> list[dict[str, Any]]:
    """One row per budget day and tenant: resolutions (and how), handled tickets, median
    messages to resolution, all model spend and the cost per resolution (None without any)."""
    from shared.conversation.report import histogram_median

    start_ms = _midnight_ms(period.first, tz)
    end_ms = _midnight_ms(period.last + timedelta(days=1), tz)
    r, o, c = ticket_resolutions.c, ticket_outcomes.c, model_calls.c
    rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"resolutions": 0, "handled": set(), "how": Counter(), "messages": Counter(),
                 "cost_micros": 0}
    )  # fmt: skip
    with engine.connect() as conn:
        found = select(r.tenant_id, r.how, r.messages, r.resolved_at_ms).where(
            r.resolved_at_ms >= start_ms, r.resolved_at_ms < end_ms
        )
        handled = select(o.tenant_id, o.ticket_id, o.finalized_at_ms).where(
            o.finalized_at_ms >= start_ms,
            o.finalized_at_ms < end_ms,
            o.status.in_(("answered", "escalated")),
            o.lane != "replay",
        )
        spent = (
            select(c.day, c.tenant_id, func.sum(c.cost_micros).label("cost_micros"))
            .where(c.day >= period.first, c.day <= period.last)
            .group_by(c.day, c.tenant_id)
        )
        if tenant is not None:
            found = found.where(r.tenant_id == tenant)
            handled = handled.where(o.tenant_id == tenant)
            spent = spent.where(c.tenant_id == tenant)
        for row in conn.execute(found):
            day = _day_of(row.resolved_at_ms, tz)
            got = rows[(day, row.tenant_id)]
            got["resolutions"] += 1
            got["how"][row.how] += 1
            got["messages"][int(row.messages)] += 1
        for h in conn.execute(handled):
            rows[(_day_of(h.finalized_at_ms, tz), h.tenant_id)]["handled"].add(h.ticket_id)
        for s in conn.execute(spent):
            rows[(s.day.isoformat(), s.tenant_id)]["cost_micros"] += int(s.cost_micros or 0)
    out = []
    for (day, tenant_id), got in sorted(rows.items()):
        n = got["resolutions"]
        out.append(
            {
                "day": day,
                "tenant_id": tenant_id,
                "resolutions": n,
                "handled": len(got["handled"]),
                "resolved_by": dict(sorted(got["how"].items())),
                "median_messages_to_resolution": histogram_median(got["messages"]),
                "cost_micros": got["cost_micros"],
                "cost_per_resolution_micros": got["cost_micros"] // n if n else None,
            }
        )
    return out


def _midnight_ms(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def _day_of(at_ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz).date().isoformat()
