"""`/ops/month`: the month from the history database: spend by budget day against the daily
ceiling (an SVG bar chart and its table) and the top tenants.

Read-only: the page never migrates or writes the database. When the history extra is not
installed, the database does not answer or holds no schema yet, the page says so in one line
(503) instead of failing.
"""

from __future__ import annotations

import calendar
import re
import threading
from datetime import date, timedelta
from html import escape
from typing import Any

from shared.money import fmt_usd
from shared.settings import Settings

TOP_TENANTS = 10
WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 16, 30
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class MonthView:
    """Builds the engine on first use (a webhook app without the extra never imports it)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: Any = None
        self._lock = threading.Lock()

    def _db(self) -> Any:
        with self._lock:
            if self._engine is None:
                from shared.history.database import make_engine

                self._engine = make_engine(self._settings)
            return self._engine

    def data(self, first: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(spend by day, top tenants) of the month starting `first`. Raises `LookupError`
        with a one-line reason when the history cannot be read."""
        try:
            from sqlalchemy.exc import SQLAlchemyError

            from shared.history.reports import Period, spend
        except ImportError:
            raise LookupError("the history extra is not installed") from None
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        period = Period(first, last)
        try:
            engine = self._db()
            days = spend(engine, period, "day")
            tenants = spend(engine, period, "tenant")[:TOP_TENANTS]
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise LookupError(f"history database unavailable: {reason}") from None
        return days, tenants


def month_start(value: str | None, today: date) -> date | None:
    """The first day of `YYYY-MM` (this month when None); None when it does not parse."""
    if value is None:
        return today.replace(day=1)
    m = _MONTH.match(value)
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_chart(first: date, by_day: dict[str, int], ceiling_micros: int) -> str:
    """One bar a day (its spend) under a line at the daily ceiling; each bar carries its value
    in `data-spent-micros`."""
    n_days = calendar.monthrange(first.year, first.month)[1]
    top = max(ceiling_micros, max(by_day.values(), default=0), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n_days
    parts = [
        f"<svg id='month-chart' role='img' width='{WIDTH}' height='{HEIGHT}' "
        f"viewBox='0 0 {WIDTH} {HEIGHT}' xmlns='http://www.w3.org/2000/svg' "
        "aria-label='spend by day against the daily ceiling'>",
        f"<rect x='{LEFT}' y='{TOP}' width='{plot_w}' height='{plot_h}' fill='#fff' "
        "stroke='#dde2e8'/>",
    ]
    for i in range(n_days):
        day = first.replace(day=i + 1).isoformat()
        micros = by_day.get(day, 0)
        h = plot_h * micros / top
        x = LEFT + i * slot + slot * 0.15
        over = " fill='#b3261e'" if micros > ceiling_micros else " fill='#3867d6'"
        parts.append(
            f"<rect class='day' data-day='{day}' data-spent-micros='{micros}' x='{x:.1f}' "
            f"y='{TOP + plot_h - h:.1f}' width='{slot * 0.7:.1f}' height='{h:.1f}'{over}>"
            f"<title>{day}: {fmt_usd(micros)}</title></rect>"
        )
        if (i + 1) % 5 == 1:
            parts.append(f"<text x='{x:.1f}' y='{HEIGHT - 10}'>{i + 1}</text>")
    y = TOP + plot_h * (1 - ceiling_micros / top)
    parts += [
        f"<line id='ceiling-line' x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y:.1f}' y2='{y:.1f}' "
        "stroke='#b3261e' stroke-dasharray='5,4'/>",
        f"<text x='4' y='{y + 4:.1f}'>{escape(fmt_usd(ceiling_micros))}</text>",
        "</svg>",
    ]
    return "".join(parts)


def month_page(
    first: date,
    days: list[dict[str, Any]],
    tenants: list[dict[str, Any]],
    ceiling_micros: int,
    timezone: str,
) -> str:
    by_day = {row["day"]: row["cost_micros"] for row in days}
    total = sum(by_day.values())
    day_rows = (
        "".join(
            f"<tr data-day='{row['day']}'><td>{row['day']}</td><td class='n'>{row['calls']}</td>"
            f"<td class='n'>{fmt_usd(row['cost_micros'])}</td>"
            f"<td class='n'>{100 * row['cost_micros'] / max(ceiling_micros, 1):.1f}%</td></tr>"
            for row in days
        )
        or "<tr><td colspan='4'>no spend recorded this month</td></tr>"
    )
    tenant_rows = (
        "".join(
            f"<tr data-tenant='{escape(row['tenant'], quote=True)}'>"
            f"<td>{escape(row['tenant'])}</td>"
            f"<td class='n'>{row['calls']}</td><td class='n'>{fmt_usd(row['cost_micros'])}</td>"
            f"<td class='n'>{100 * row['cost_micros'] / max(total, 1):.1f}%</td></tr>"
            for row in tenants
        )
        or "<tr><td colspan='4'>no tenants</td></tr>"
    )
    month = first.strftime("%Y-%m")
    before = (first.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    after = (first.replace(day=28) + timedelta(days=4)).strftime("%Y-%m")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>paceline ops — {month}</title><style>"
        "body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2430;background:#fafbfc}"
        "table{border-collapse:collapse;background:#fff}th,td{border:1px solid #dde2e8;"
        "padding:.3rem .6rem}th{background:#f0f2f5}td.n{text-align:right;"
        "font-variant-numeric:tabular-nums}svg text{font:11px system-ui,sans-serif;fill:#5b6573}"
        "</style></head><body>"
        f"<h1>paceline — {month}</h1><p><a href='/ops'>today</a> · "
        f"<a href='/ops/month?month={before}'>{before}</a> · "
        f"<a href='/ops/month?month={after}'>{after}</a> · budget days in "
        f"{escape(timezone)} · spent <b id='month-total'>{fmt_usd(total)}</b> · daily "
        f"ceiling {fmt_usd(ceiling_micros)}</p>"
        f"<h2>Spend by day against the ceiling</h2>{month_chart(first, by_day, ceiling_micros)}"
        "<table id='month-days'><tr><th>day</th><th>calls</th><th>spent</th>"
        f"<th>of ceiling</th></tr>{day_rows}</table>"
        f"<h2>Top tenants</h2><table id='month-tenants'><tr><th>tenant</th><th>calls</th>"
        f"<th>spent</th><th>share</th></tr>{tenant_rows}</table></body></html>"
    )
