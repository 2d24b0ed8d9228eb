"""`/ops`'s Resolutions panel: today's resolutions, rate and cost per resolution per tenant."""

from __future__ import annotations

import time

import httpx
import redis

from shared.clock import budget_day
from shared.conversation import hooks
from shared.keys import Keys
from tests.conftest import make_settings
from tests.helpers import WebhookServer

TOKEN = "ops-token-for-tests-1234"


def test_the_panel_shows_each_tenant_and_the_commercial_figure(
    namespace: str, r: redis.Redis
) -> None:
    settings = make_settings(namespace, ops_token=TOKEN)
    keys = Keys(namespace)
    now_ms = int(time.time() * 1000)
    day = budget_day(now_ms / 1000, settings.tz)

    def ticket(tenant: str, n: int) -> tuple[redis.Redis, Keys, str, str, str]:
        return (r, keys, tenant, "generic", f"T-{n}")

    # Given acme: 3 answered, 2 confirmed, 1 unsatisfied, $0.50 spent; globex: 1 awaiting
    r.hset(keys.books(day), mapping={"spent:tenant:acme": 500_000, "spent:global": 500_000})
    for n in range(3):
        hooks.on_agent_answered(*ticket("acme", n), now_ms, 0)
    hooks.on_customer_message(*ticket("acme", 0), "thanks, that worked", now_ms)
    hooks.on_customer_message(*ticket("acme", 1), "perfect, all good", now_ms)
    hooks.on_customer_message(*ticket("acme", 2), "that didn't help", now_ms)
    hooks.on_agent_answered(*ticket("globex", 9), now_ms, 0)
    # When the operator opens the page
    with WebhookServer(settings) as app:
        html = httpx.get(f"{app.url}/ops", headers={"Authorization": f"Bearer {TOKEN}"}).text
    # Then the panel has every tenant's row, ours beside the commercial $0.99
    assert '<table id="resolutions">' in html and "$0.99" in html
    acme_row = html.split("data-scope='tenant:acme'>")[1].split("</tr>")[0]
    cells = [c.split("</td>")[0] for c in acme_row.split("'>")[1:]]
    assert cells[:4] == ["2", "66.7%", "1", "0"], acme_row
    assert "$0.250000" in acme_row  # $0.50 over 2 resolutions
    globex_row = html.split("data-scope='tenant:globex'>")[1].split("</tr>")[0]
    assert "<td class='n'>1</td>" in globex_row  # awaiting
    assert "Answers in their window now: 1." in html
