"""`/ops/month` over real HTTP: spend by day against the ceiling and the top tenants, from the
history database; refused without the token; one line when the history cannot be read."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import redis

from shared.clock import ManualClock
from shared.history.database import make_engine
from shared.history.migrate import upgrade
from shared.keys import Keys
from tests.conftest import make_settings
from tests.helpers import WebhookServer
from tests.shared.history.conftest import drain, make_archiver
from tests.shared.history.facts import add, call

TOKEN = "ops-token-for-tests-1234"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_the_month_view_shows_spend_by_day_against_the_ceiling_and_top_tenants(
    namespace: str, r: redis.Redis, tmp_path: Path
) -> None:
    # Given a month in the history: two days, three tenants, one day over the $1 ceiling
    settings = make_settings(namespace, ops_token=TOKEN, daily_ceiling_usd="1",
                             user_daily_cap_usd="0.5",
                             database_url=f"sqlite:///{tmp_path / 'h.db'}")  # fmt: skip
    engine = make_engine(settings)
    upgrade(engine)
    arch = make_archiver(settings, r, engine, ManualClock())
    arch.ensure_group()
    add(
        r, Keys(namespace),
        call(0, tenant_id="acme", day="2026-11-02", cost_micros=400_000, reservation_id="a"),
        call(1, tenant_id="zeta", day="2026-11-02", cost_micros=100_000, reservation_id="b"),
        call(2, tenant_id="acme", day="2026-11-05", cost_micros=900_000, reservation_id="c"),
        call(3, tenant_id="<b>x</b>", day="2026-11-05", cost_micros=300_000, reservation_id="d"),
        call(4, tenant_id="acme", day="2026-10-31", cost_micros=7_000_000, reservation_id="e"),
    )  # fmt: skip
    assert drain(arch) == (5, 0)
    engine.dispose()
    with WebhookServer(settings) as app:
        # When the operator opens November
        page = httpx.get(f"{app.url}/ops/month?month=2026-11", headers=BEARER)
        # Then each day's bar carries its spend, the ceiling is drawn, the days over it stand out
        assert page.status_code == 200, page.text
        html = page.text
        bars = dict(re.findall(r"data-day='([\d-]+)' data-spent-micros='(\d+)'", html))
        assert len(bars) == 30
        assert bars["2026-11-02"] == "500000" and bars["2026-11-05"] == "1200000"
        assert bars["2026-11-01"] == "0" and "2026-10-31" not in bars
        assert "id='ceiling-line'" in html and "fill='#b3261e'" in html
        assert "id='month-total'>$1.7000<" in html
        # And the top tenants, dearest first, their names escaped
        tenants = re.findall(r"<tr data-tenant='([^']+)'>", html)
        assert tenants == ["acme", "&lt;b&gt;x&lt;/b&gt;", "zeta"]
        assert "<b>x</b>" not in html
        # And it is linked from /ops, and refused without the token, and a bad month is 400
        assert 'href="/ops/month"' in httpx.get(f"{app.url}/ops", headers=BEARER).text
        assert httpx.get(f"{app.url}/ops/month").status_code == 401
        bad = httpx.get(f"{app.url}/ops/month?month=2026-13", headers=BEARER)
        assert bad.status_code == 400


def test_the_month_view_says_so_when_the_history_cannot_be_read(namespace: str) -> None:
    settings = make_settings(namespace, ops_token=TOKEN,
                             database_url="postgresql://postgres@127.0.0.1:1/none")  # fmt: skip
    with WebhookServer(settings) as app:
        page = httpx.get(f"{app.url}/ops/month", headers=BEARER, timeout=30)
    assert page.status_code == 503
    assert page.text.startswith("history database unavailable:") and "\n" not in page.text
