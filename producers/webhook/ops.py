"""`/ops`: the operator's page (spend against the pace line, tenants, queues, dead letters,
circuit) and its one action, requeueing dead letters by reason.

Access needs `PACELINE_OPS_TOKEN` (ops_auth.py: the bearer token, or a session cookie traded
for it, and a form token against cross-site posts).

A requeue follows the CLI's rules through the failure engineer's `Redrive`: priced first (a
confirm step shows the estimate), refused when it exceeds what the redrive lane may spend today.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from html import escape
from itertools import islice
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import parse_qs

import dramatiq
import redis
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from producers.redrive import Redrive, redrive_headroom
from producers.webhook.ops_auth import COOKIE, SESSION_TTL_S, OpsAuth, refused, same, same_origin
from producers.webhook.ops_chart import spend_chart
from producers.webhook.ops_live import live_cards
from producers.webhook.ops_month import MonthView, month_page, month_start
from shared.broker import queue_prefix
from shared.budget_status import budget_status
from shared.clock import Clock, budget_day
from shared.conversation.report import COMMERCIAL_MICROS_PER_RESOLUTION
from shared.display import TICKET_PLACES, local_iso, safe_text, usd
from shared.keys import Keys
from shared.models import Lane
from shared.settings import Settings, price_table
from shared.stores.dead_letters import DLQFilter
from shared.stores.gauges import StateGauges

REFRESH_S = 30
REFRESH_MIN_S = 5
# Reasons are summed over at most this many entries, so a huge DLQ cannot stall the page.
DLQ_SCAN_MAX = 20_000
_PAGE = Template((Path(__file__).parent / "ops_page.html").read_text(encoding="utf-8"))


def mount_ops(
    app: FastAPI,
    settings: Settings,
    *,
    client: redis.Redis,
    clock: Clock,
    broker: dramatiq.Broker,
) -> None:
    auth = OpsAuth(settings, clock)
    gauges = StateGauges(settings, client, clock=clock, broker=broker)
    prices = price_table(settings)

    def redrive() -> Redrive:
        keys = Keys(settings.namespace)
        return Redrive(settings, client, keys, clock, prices, queue_prefix=queue_prefix(settings))

    @app.get("/ops", response_model=None)
    async def ops_page(request: Request) -> Response:
        token = request.query_params.get("token")
        if token is not None:
            if not auth.valid_token(token):
                return refused(auth)
            # Trade the token in the URL (history, logs) for a session, and leave the URL.
            # (uvicorn sets the scheme from X-Forwarded-Proto of a trusted proxy.)
            resp = RedirectResponse("/ops", status_code=303)
            resp.set_cookie(
                COOKIE, auth.new_session(), max_age=SESSION_TTL_S, httponly=True,
                samesite="strict", path="/ops",
                secure=settings.ops_secure_cookie or request.url.scheme == "https",
            )  # fmt: skip
            return resp
        session = auth.session_of(request)
        if session is None:
            return refused(auth)
        refresh_s = _refresh_s(request.query_params.get("refresh"))
        html = await run_in_threadpool(
            _render, settings, gauges, auth.form_token(session), "", refresh_s
        )
        return _page(html)

    month_view = MonthView(settings)

    @app.get("/ops/month", response_model=None)
    async def ops_month(request: Request) -> Response:
        if auth.session_of(request) is None:
            return refused(auth)
        today = date.fromisoformat(budget_day(clock.now_s(), settings.tz))
        first = month_start(request.query_params.get("month"), today)
        if first is None:
            return HTMLResponse("month: use YYYY-MM", status_code=400)
        try:
            days, tenants = await run_in_threadpool(month_view.data, first)
        except LookupError as exc:
            return _page(escape(str(exc)), 503)
        ceiling = gauges.ledger.caps().get("global", settings.ceiling_micros)
        return _page(month_page(first, days, tenants, ceiling, settings.timezone))

    @app.post("/ops/dlq/requeue", response_model=None)
    async def requeue(request: Request) -> Response:
        session = auth.session_of(request)
        if session is None:
            return refused(auth)
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        field = {k: v[0] for k, v in form.items() if v}
        form_token = auth.form_token(session)
        if not same_origin(request) or not same(field.get("form_token", ""), form_token):
            return HTMLResponse("cross-site request refused", status_code=403)
        reason = field.get("reason", "").strip()
        if not reason:
            return HTMLResponse("name a reason", status_code=400)
        confirm = field.get("confirm") == "1"
        status, notice = await run_in_threadpool(
            _requeue, redrive(), broker, reason, confirm, form_token
        )
        html = await run_in_threadpool(_render, settings, gauges, form_token, notice)
        return _page(html, status)


def _refresh_s(raw: str | None) -> int:
    """The page reloads itself every `REFRESH_S` (quietly: no script, a meta refresh);
    `?refresh=0` turns it off, `?refresh=N` sets N seconds (at least `REFRESH_MIN_S`)."""
    if raw is None:
        return REFRESH_S
    try:
        value = int(raw)
    except ValueError:
        return REFRESH_S
    return 0 if value <= 0 else max(value, REFRESH_MIN_S)


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'",
        },
    )


def _requeue(
    rd: Redrive, broker: dramatiq.Broker, reason: str, confirm: bool, form_token: str
) -> tuple[int, str]:
    """The CLI's `dlq requeue --reason R` (dry run unless `confirm`): (status, notice html)."""
    flt = DLQFilter(reason=reason)
    plan = rd.plan([], flt)
    room = redrive_headroom(rd.ledger, rd.settings)
    r = escape(reason)
    if plan.tickets == 0:
        return 200, _notice(f"Nothing to requeue for <b>{r}</b> ({plan.stale} stale).")
    priced = (
        f"{plan.tickets} tickets for <b>{r}</b>: estimated {usd(plan.worst_micros)} worst "
        f"case (likely {usd(plan.likely_micros)}); the redrive lane may spend "
        f"{usd(room['available_micros'])} today"
    )
    if plan.worst_micros > room["available_micros"]:
        return 409, _notice(
            f"Requeue refused: {priced} (ceiling {usd(room['ceiling_micros'])} - spent "
            f"{usd(room['spent_micros'])} - reserved {usd(room['reserved_micros'])} - "
            f"live reserve {usd(room['live_reserve_micros'])}).",
            refused=True,
        )
    if not confirm:
        button = _requeue_form(reason, form_token, "Confirm requeue", confirm=True, id_="confirm")
        return 200, _notice(f"Dry run: {priced}. {button}")
    broker.declare_queue(rd.queue_name)
    result = rd.requeue(broker, [], flt)
    return 200, _notice(
        f"Requeued <b id='requeued-count'>{result.requeued}</b> for <b>{r}</b> into the redrive "
        f"lane; skipped {result.stale}, failed {result.failed}.",
        refused=bool(result.failed),
    )


def _notice(html: str, *, refused: bool = False) -> str:
    return f"<div class='notice{' refused' if refused else ''}' id='notice'>{html}</div>"


def _requeue_form(reason: str, form_token: str, label: str, *, confirm: bool, id_: str) -> str:
    return (
        "<form method='post' action='/ops/dlq/requeue' style='display:inline'>"
        f"<input type='hidden' name='form_token' value='{form_token}'>"
        f"<input type='hidden' name='reason' value='{escape(reason, quote=True)}'>"
        f"<input type='hidden' name='confirm' value='{1 if confirm else 0}'>"
        f"<button type='submit' id='{id_}'>{escape(label)}</button></form>"
    )


def _render(
    settings: Settings, gauges: StateGauges, form_token: str, notice: str, refresh_s: int = 0
) -> str:
    books = budget_status(gauges.ledger, settings, gauges.clock)
    snap = gauges.snapshot()
    series = gauges.spend.hourly()
    ceiling = snap["ceiling_micros"]
    tenant_rows = (
        "".join(
            f"<tr data-tenant='{escape(t, quote=True)}'><td>{escape(safe_text(t))}</td>"
            f"<td class='n'>{usd(v['spent_micros'])}</td>"
            f"<td class='n'>{usd(v['reserved_micros'])}</td>"
            f"<td class='n'>{usd(v['cap_micros'])}</td></tr>"
            for t, v in books["tenants"].items()
        )
        or "<tr><td colspan='4'>no spend today</td></tr>"
    )
    queue_rows = "".join(
        f"<tr data-lane='{lane.value}'><td>{lane.value}</td><td>{escape(q)}</td>"
        f"<td class='n'>{int(d['depth'])}</td><td class='n'>{d['oldest_age_s']:.1f}</td>"
        f"<td class='n'>{snap['parked'].get(lane.value, 0)}</td></tr>"
        for lane, (q, d) in zip(list(Lane), snap["queues"].items(), strict=True)
    )
    entries = gauges.dead_letters.iter_entries(DLQFilter())
    reasons = Counter(e.reason for e in islice(entries, DLQ_SCAN_MAX))
    dlq_rows = (
        "".join(
            f"<tr data-reason='{escape(reason, quote=True)}'><td>{escape(safe_text(reason))}</td>"
            f"<td class='n'>{n}</td><td>"
            f"{_requeue_form(reason, form_token, 'Requeue…', confirm=False, id_=f'requeue-{i}')}"
            "</td></tr>"
            for i, (reason, n) in enumerate(sorted(reasons.items()))
        )
        or "<tr><td colspan='3'>no dead letters</td></tr>"
    )
    resolution_rows = "".join(
        _resolution_row(scope, doc) for scope, doc in snap["resolutions"].items()
    )
    c = snap["circuit"]
    circuit_row = (
        f"<tr><td class='state-{c['state']}'>{c['state']}</td><td class='n'>{c['opens']}</td>"
        f"<td class='n'>{c['window_ok']}</td><td class='n'>{c['window_err']}</td>"
        f"<td>{escape(local_iso(c['retry_at_ms']))}</td></tr>"
    )
    return _PAGE.substitute(
        refresh=f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else "",
        refresh_note=(
            f"Refreshes every {refresh_s} s (<a href='/ops?refresh=0'>stop</a>)."
            if refresh_s
            else "Not refreshing (<a href='/ops'>refresh every 30 s</a>)."
        ),
        rendered_at=escape(local_iso(gauges.clock.now_s() * 1000)),
        **live_cards(books),
        day=escape(books["day"]),
        timezone=escape(books["timezone"]),
        pacing=escape(books["pacing"]),
        notice=notice,
        form_token=form_token,
        spent_usd=usd(series[-1][1]),
        reserved_usd=usd(snap["reserved"].get("global", 0)),
        ceiling_usd=usd(ceiling),
        pace_line_usd=usd(books["pace_line_micros"]),
        pace_rate_usd=usd(snap["pace_micros_per_hour"]),
        circuit_state=escape(c["state"]),
        chart=spend_chart(series, ceiling, gauges.spend.hour_now()),
        tenant_rows=tenant_rows,
        queue_rows=queue_rows,
        dlq_size=snap["dlq_size"],
        dlq_rows=dlq_rows,
        circuit_row=circuit_row,
        resolution_rows=resolution_rows,
        resolutions_awaiting=snap["resolutions_awaiting"],
        resolution_window_h=f"{settings.resolution_window_h:g}",
        commercial_usd=usd(COMMERCIAL_MICROS_PER_RESOLUTION, 2),
    )


def _resolution_row(scope: str, doc: dict[str, Any]) -> str:
    """One tenant's (or, first, every tenant's) resolutions today."""
    name = "all tenants" if scope == "global" else scope.removeprefix("tenant:")
    rate = doc["resolution_rate"]
    median = doc["median_messages_to_resolution"]
    return (
        f"<tr data-scope='{escape(scope, quote=True)}'><td>{escape(safe_text(name))}</td>"
        f"<td class='n'>{doc['resolutions']}</td>"
        f"<td class='n'>{'—' if rate is None else f'{rate:.1%}'}</td>"
        f"<td class='n'>{doc['unresolved']}</td><td class='n'>{doc['awaiting']}</td>"
        f"<td class='n'>{'—' if median is None else f'{median:g}'}</td>"
        f"<td class='n'>{usd(doc['spend_micros'])}</td>"
        f"<td class='n'>{usd(doc['cost_per_resolution_micros'], TICKET_PLACES)}</td></tr>"
    )
